"""Go's module hashes: dirhash Hash1 (`h1:`) of a module zip or a file list, and the hex an `h1:` names.

What the checksum database signs and a go.sum line holds; the module proxy client, the mirror sync and
the lock checks all compare these, and none of them needs the others to do it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zipfile

from gxc.ground.errors import GxcError, UnsafeArchive, shown


def h1_digest(h1: str) -> str:
    """The hex of an `h1:` hash: the download cache's name for the zip it proves."""
    try:
        raw = base64.b64decode(h1.removeprefix("h1:"), validate=True)
    except binascii.Error:
        raw = b""
    if not h1.startswith("h1:") or len(raw) != 32:
        raise GxcError(f"{shown(h1)} is not an h1: hash", "a lock entry for golang.org/toolchain must be h1:<base64>")
    return raw.hex()


def dirhash_h1(files: list[tuple[str, str]]) -> str:
    """dirhash Hash1 from (name, sha256 hex) pairs: the `<sha256>  <name>` lines sorted by name."""
    summary = "".join(f"{digest}  {name}\n" for name, digest in sorted(files)).encode()
    return "h1:" + base64.b64encode(hashlib.sha256(summary).digest()).decode()


def h1_of_zip(path: str) -> str:
    """Go's dirhash Hash1 of a module zip: sha256 over the `<sha256>  <name>` lines of its files, by name."""
    lines = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if "\n" in info.filename:
                raise UnsafeArchive(info.filename, "a file name with a newline")
            hasher = hashlib.sha256()
            with zf.open(info) as src:
                while chunk := src.read(1 << 20):
                    hasher.update(chunk)
            lines.append((info.filename, hasher.hexdigest()))
    return dirhash_h1(lines)
