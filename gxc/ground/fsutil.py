"""File-system helpers shared by every module that writes state: atomic writes and file hashing.

Not imported by the shim's hot path (hashlib loads OpenSSL).
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any

_CHUNK = 1 << 20


def atomic_write(path: str, data: str | bytes, executable: bool = False) -> None:
    """Write through a temporary file beside `path`, then rename: readers see the old file or the new one."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        if executable:
            os.chmod(tmp, 0o755)  # noqa: S103 - launchers and runner wrappers are programs
        os.replace(tmp, path)
    except OSError as e:
        if os.path.lexists(tmp):  # a full disk leaves no half-written temporary behind
            os.unlink(tmp)
        if e.filename is None:  # a failed write names no file: name the one we were writing
            raise OSError(e.errno, e.strerror, path) from None
        raise
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def read_json_object(path: str) -> dict[str, Any] | None:
    """A JSON object from a file gxc wrote (a receipt); None when it is missing or unreadable."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
