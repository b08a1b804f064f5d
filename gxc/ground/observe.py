"""What a computation read of the world: every environment variable, file, directory and link it consulted.

The native shim (gxc.toolchains.native) answers from a record of what the Python resolver read, and
trusts the record only while every one of those reads would give the same answer. So the reads are
not listed by hand, where the next feature would forget one: `watching()` wraps the process's own
`os.environ`, `os.stat`/`os.lstat`, `os.listdir`/`os.scandir`, `os.access`, `open`, `os.path.realpath`
and `os.geteuid` for the duration of the computation, and notes each path and variable as it is used.

A computation that reads the whole environment (iterates it) depends on everything and cannot be
recorded; `Observed.complete` says so. Each path is stat'ed when first seen and again at the end:
a path that changed meanwhile (the computation made a directory, or someone edited a file under it)
makes the observation unfit to reuse, as does one changed within `RACY_SECONDS` of now, whose next
edit could fall in the same clock tick and leave its times unchanged (git's "racily clean" entries).

On the shim's path: `os`, `builtins` and `time` only.
"""

from __future__ import annotations

import builtins
import os
import stat as _st
import time
from _collections_abc import MutableMapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

# A file changed this recently may change again within the same timestamp tick: not reused yet.
RACY_SECONDS = 1.0
ABSENT = "-"
_stat, _lstat, _geteuid, _real = os.stat, os.lstat, os.geteuid, os.path.realpath


def signature(path: str, follow: bool, listed: bool) -> str:
    """What stat (or lstat) says of a path, in the record's notation: the fields any change moves.

    A directory's times, size and link count move whenever anything inside it is made or removed, so
    they count only for a directory whose entries were read (`listed`); otherwise its identity does.
    """
    try:
        st = _stat(path) if follow else _lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return ABSENT
    except OSError as e:
        return f"E{e.errno}"
    if _st.S_ISDIR(st.st_mode) and not listed:
        return f"{st.st_mode}:{st.st_ino}:{st.st_dev}:0:{st.st_uid}:{st.st_gid}:0:0:0"
    return (f"{st.st_mode}:{st.st_ino}:{st.st_dev}:{st.st_nlink}:{st.st_uid}:{st.st_gid}:{st.st_size}:"
            f"{st.st_mtime_ns}:{st.st_ctime_ns}")


def _changed_ns(sig: str) -> int:
    if sig == ABSENT or sig.startswith("E"):
        return 0
    fields = sig.split(":")
    return max(int(fields[7]), int(fields[8]))


class Seen:
    """One path as the computation saw it: whether it listed its entries, and stat and lstat then."""

    __slots__ = ("follow", "link", "listed")

    def __init__(self, path: str, listed: bool) -> None:
        self.listed = listed
        self.follow, self.link = signature(path, True, listed), signature(path, False, listed)

    def now(self, path: str) -> tuple[str, str]:
        return signature(path, True, self.listed), signature(path, False, self.listed)


class Observed:
    """What one computation read: variables (None: unset), paths with their stat and lstat, link targets."""

    def __init__(self) -> None:
        self.env: dict[str, str | None] = {}
        self.paths: dict[str, Seen] = {}
        self.realpaths: dict[str, str] = {}
        self.euid: int | None = None
        self.complete = True  # False once the computation read something no record can replay
        self.why_incomplete = ""
        self.muted = False

    def give_up(self, why: str) -> None:
        if self.complete:
            self.complete, self.why_incomplete = False, why

    def saw_path(self, path: object, listed: bool = False) -> None:
        if self.muted:
            return
        if isinstance(path, int):
            self.give_up("a file read through a descriptor")
            return
        try:
            text = os.fsdecode(os.fspath(path))  # type: ignore[call-overload]
        except TypeError:
            self.give_up(f"a path of type {type(path).__name__}")
            return
        absolute = os.path.abspath(text)
        known = self.paths.get(absolute)
        if known is None or (listed and not known.listed):
            self.paths[absolute] = Seen(absolute, listed)

    def stable(self) -> bool:
        """Every path still as first seen, and none changed in the last RACY_SECONDS."""
        if not self.complete:
            return False
        now = time.time_ns()
        for path, seen in self.paths.items():
            after = seen.now(path)
            if after != (seen.follow, seen.link):
                self.give_up(f"{path} changed while it was read")
                return False
            if any(now - _changed_ns(sig) < RACY_SECONDS * 1e9 for sig in after):
                self.give_up(f"{path} changed less than {RACY_SECONDS:g} s ago")
                return False
        for path, target in self.realpaths.items():
            if _real(path) != target:
                self.give_up(f"{path} now resolves elsewhere")
                return False
        return True


class _WatchedEnviron(MutableMapping):  # type: ignore[type-arg]
    """os.environ as the computation sees it: reads are noted, writes go through, iterating gives up."""

    def __init__(self, real: Any, seen: Observed) -> None:
        self._real, self._seen = real, seen

    def __getitem__(self, key: str) -> str:
        value: str | None = self._real.get(key)
        self._seen.env.setdefault(key, value)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: str) -> None:
        self._seen.give_up(f"the computation set {key}")
        self._real[key] = value

    def __delitem__(self, key: str) -> None:
        self._seen.give_up(f"the computation unset {key}")
        del self._real[key]

    def __iter__(self) -> Iterator[str]:
        self._seen.give_up("the computation read the whole environment")
        return iter(self._real)

    def __len__(self) -> int:
        self._seen.give_up("the computation read the whole environment")
        return len(self._real)

    def copy(self) -> dict[str, str]:
        return dict(self)


class watching:  # noqa: N801 - used as a context manager, like contextlib's
    """`with watching() as seen:` notes in `seen` what the code inside reads; everything is restored after."""

    def __init__(self) -> None:
        self.seen = Observed()
        self._saved: list[tuple[Any, str, Any]] = []

    def _wrap(self, owner: Any, name: str, note: Any) -> None:
        original = getattr(owner, name)
        self._saved.append((owner, name, original))

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            note(*args, **kwargs)
            return original(*args, **kwargs)

        setattr(owner, name, wrapper)

    def __enter__(self) -> Observed:
        seen = self.seen
        self._saved.append((os, "environ", os.environ))
        os.environ = _WatchedEnviron(os.environ, seen)  # type: ignore[assignment]  # noqa: B003 - wrapped, not cleared

        def first(path: Any = ".", *_: Any, **options: Any) -> None:
            if options.get("dir_fd") is not None:
                seen.give_up("a path relative to a directory descriptor")
            seen.saw_path(path)

        def listed(path: Any = ".", *_: Any, **__: Any) -> None:
            seen.saw_path(path, listed=True)

        for name in ("stat", "lstat", "access", "open", "readlink"):
            self._wrap(os, name, first)
        for name in ("listdir", "scandir"):
            self._wrap(os, name, listed)
        self._wrap(builtins, "open", first)

        def realpath(path: Any, *args: Any, **options: Any) -> Any:
            key = os.path.abspath(os.fsdecode(os.fspath(path)))
            seen.muted = True  # its own lstat of every component is not a read of those directories
            try:
                target = _real(path, *args, **options)
            finally:
                seen.muted = False
            seen.realpaths.setdefault(key, os.fsdecode(target))
            return target

        self._saved.append((os.path, "realpath", os.path.realpath))
        os.path.realpath = realpath  # type: ignore[assignment]

        def geteuid() -> int:
            seen.euid = _geteuid()
            return seen.euid

        self._saved.append((os, "geteuid", os.geteuid))
        os.geteuid = geteuid
        return seen

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()
        if exc[0] is not None:
            self.seen.give_up("the computation failed")



class Unwatched:
    """What `with` gets where nobody asked what was read: watches nothing, gives None."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
