"""Trust in project files (DESIGN.md section 5a): which toolchains.toml may run code or choose sources.

A project file may always *select* among what the user trusts (`[toolchain]`, `[lock]`). Its
tables that can run code or change where code comes from (`pins.GATED`) count only when the user
trusted that exact file: `gxc trust` records `sha256(canonical path + "\\n" + bytes)` under the state
dir (as direnv does), so any edit or move revokes it; `gxc untrust` records a deny keyed by the path
alone, which beats every allow rule. Directories listed in `GXC_TRUSTED_PATHS` or in config.toml's
`trusted_paths` (the user's own settings, never a project's) trust the files below them, unless a
file or its directory is owned by another user or writable by others (git's safe.directory rule).

Checking a file is on the shim's hot path when the file has gated tables: `os`, the builtin `_sha256` and gxc's
light modules only; writing records (the CLI) may use more.
"""

from __future__ import annotations

import os

from gxc.ground import paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RECORD_FORMAT = 1
ENV_TRUSTED_PATHS = "GXC_TRUSTED_PATHS"


def sha256_hex(data: bytes) -> str:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # builtin: hashlib costs 8 ms at start-up
    except ImportError:  # pragma: no cover - every CPython build we support has it
        from hashlib import sha256
    digest: str = sha256(data).hexdigest()
    return digest


def canonical(path: str) -> str:
    """The one spelling of a path used for every record and rule: absolute, symlinks resolved."""
    return os.path.realpath(os.path.abspath(path))


def record_id(path: str, data: bytes) -> str:
    return sha256_hex(canonical(path).encode() + b"\n" + data)


def path_id(path: str) -> str:
    return sha256_hex(canonical(path).encode())


def allow_record(path: str, data: bytes) -> str:
    return os.path.join(paths.trust_dir(), "allow", record_id(path, data) + ".json")


def deny_record(path: str) -> str:
    return os.path.join(paths.trust_dir(), "deny", path_id(path))


def approved_copy(path: str) -> str:
    """The content the user last approved for this path, to show what changed since."""
    return os.path.join(paths.trust_dir(), "approved", path_id(path))


def ownership_problem(path: str) -> str:
    """Why a file may not be trusted implicitly: owned by someone else, or writable by others."""
    me = os.geteuid()
    for target in (path, os.path.dirname(path)):
        try:
            st = os.stat(target)
        except OSError:
            continue
        if st.st_uid != me:
            return f"{target} is owned by uid {st.st_uid}, not by you"
        if st.st_mode & 0o022:
            return f"{target} is writable by group or others"
    return ""


def _is_below(path: str, directory: str) -> bool:
    base = canonical(directory)
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def _configured_trusted_paths() -> list[str]:
    """config.toml `trusted_paths`: read only when a gated file is not trusted by a record or the env."""
    config = paths.config_path()
    if not os.path.isfile(config):
        return []
    from gxc.ground import tomlfile

    try:
        with open(config, "rb") as f:
            doc = tomlfile.parse_toml(config, f.read().decode("utf-8-sig"))
    except Exception:  # noqa: BLE001 - a broken config.toml is reported by the commands that load it
        return []
    value = doc.get("trusted_paths", [])
    return [str(v) for v in value] if isinstance(value, list) else []


def allow_listed(path: str) -> str:
    """The allow-list entry that covers this canonical path, or ''."""
    entries = [p for p in os.environ.get(ENV_TRUSTED_PATHS, "").split(os.pathsep) if p]
    for entry in entries:
        if _is_below(path, entry):
            return f"{ENV_TRUSTED_PATHS} ({entry})"
    for entry in _configured_trusted_paths():
        if _is_below(path, os.path.expanduser(entry)):
            return f"trusted_paths in {paths.config_path()} ({entry})"
    return ""


class Verdict:
    __slots__ = ("reason", "trusted")

    def __init__(self, trusted: bool, reason: str) -> None:
        self.trusted, self.reason = trusted, reason


def linked_elsewhere(path: str) -> bool:
    """A pin file that is a link into another directory: its relative paths (GOENV = "go.env", a
    patch) would resolve beside the link, among files its trust never covered."""
    return os.path.dirname(canonical(path)) != canonical(os.path.dirname(os.path.abspath(path)))


def verdict(path: str, data: bytes) -> Verdict:
    real = canonical(path)
    if linked_elsewhere(path):
        return Verdict(False, f"not trusted (a link to {real}, outside its own directory; copy the file instead)")
    if os.path.isfile(deny_record(real)):
        return Verdict(False, "untrusted with `gxc untrust`")
    record = allow_record(real, data)
    if os.path.isfile(record) and not os.path.islink(record):
        return Verdict(True, "trusted with `gxc trust`")
    problem = ownership_problem(real)
    if problem:
        return Verdict(False, f"not trusted ({problem}, so no allow-list applies)")
    listed = allow_listed(real)
    if listed:
        return Verdict(True, f"trusted by {listed}")
    return Verdict(False, "not trusted")


def ignored_message(path: str, ignored: list[str], reason: str) -> str:
    tables = ", ".join(f"[{name}]" for name in ignored)
    return f"ignoring {tables} in {path}: {reason} (review it, then run `gxc trust {path}`)"


# Writing records: the CLI's side (`gxc trust`, `gxc untrust`, and `gxc pin` re-recording its own edits).

def _write_private(path: str, data: bytes) -> None:
    from gxc.ground.fsutil import atomic_write

    for directory in (paths.state_dir(), paths.trust_dir(), os.path.dirname(path)):
        os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(paths.trust_dir(), 0o700)
    atomic_write(path, data)
    os.chmod(path, 0o600)


def records() -> list[dict[str, Any]]:
    """Every allow record, with its status now: current, changed (the file was edited) or missing."""
    import json

    directory = os.path.join(paths.trust_dir(), "allow")
    found = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        full = os.path.join(directory, name)
        try:
            with open(full, encoding="utf-8") as f:
                record: dict[str, Any] = json.load(f)
        except (OSError, ValueError):
            continue
        record["record"] = full
        try:
            with open(record["path"], "rb") as f:
                current = sha256_hex(f.read())
            record["status"] = "current" if current == record.get("sha256") else "changed"
        except OSError:
            record["status"] = "missing"
        found.append(record)
    return found


def forget(path: str) -> int:
    """Remove every allow record of this path (whatever content it had); return how many."""
    real = canonical(path)
    gone = 0
    for record in records():
        if record.get("path") == real:
            os.unlink(record["record"])
            gone += 1
    return gone


def changes_since_approval(path: str, data: bytes) -> str:
    """A unified diff of what changed since the user last trusted this path ('' when nothing or new)."""
    try:
        with open(approved_copy(path), "rb") as f:
            before = f.read()
    except OSError:
        return ""
    if before == data:
        return ""
    import difflib

    return "".join(difflib.unified_diff(before.decode("utf-8", "replace").splitlines(True),
                                        data.decode("utf-8", "replace").splitlines(True),
                                        "last trusted", "now"))


def allow(path: str, data: bytes) -> str:
    """Trust exactly these bytes at this path; lifts a deny; returns the record's path."""
    import json
    import time

    real = canonical(path)
    forget(real)
    if os.path.exists(deny_record(real)):
        os.unlink(deny_record(real))
    record = allow_record(real, data)
    body = {"format": RECORD_FORMAT, "path": real, "sha256": sha256_hex(data),
            "trusted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _write_private(record, json.dumps(body, indent=1).encode())
    _write_private(approved_copy(real), data)
    return record


def deny(path: str) -> None:
    real = canonical(path)
    forget(real)
    _write_private(deny_record(real), real.encode() + b"\n")


def retrust_after_edit(path: str, before: bytes, after: bytes) -> bool:
    """gxc's own edit of a file the user trusted keeps it trusted (TRUST-NOTES item 9)."""
    if verdict(path, before).reason != "trusted with `gxc trust`":
        return False
    allow(path, after)
    return True


def prune() -> list[dict[str, Any]]:
    """Drop records whose file is gone or changed."""
    dropped = [r for r in records() if r["status"] != "current"]
    for record in dropped:
        os.unlink(record["record"])
    return dropped
