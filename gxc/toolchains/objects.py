"""The content-addressed store: every distinct file of the installed toolchains, once.

`GXC_HOME/objects/<2 hex>/<sha256>` holds a file's content, read-only (0444); `<sha256>.x` the same
content executable (0555), because a hard link shares its mode and a toolchain may hold one content
under both. An installed tree is made of hard links to objects (directories and symlinks are real),
so a file shared by go1.25.0, go1.25.5 and tamago@1.25.5 takes its bytes once.

An object is trusted by its name once it is a read-only regular file of the right size; `--repair`
and `gxc verify` re-hash. Installs hold the store's lock shared while they link; collection (an object
with one link is used by no tree) holds it exclusively, so no install ever links an object that is
being removed. Where links cannot be made (objects on another filesystem, a filesystem without hard
links, a link count at its limit) a tree gets its own copies and stays usable: `Objects.fallback`
says why, once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from gxc.ground import paths
from gxc.ground.errors import public_path

BUSY = "an install is using the object store; objects no toolchain uses stay until `gxc cache clean`"
FILE_MODE = 0o444
EXEC_MODE = 0o555
_NO_LINKS = (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES, errno.ENOSYS)


def object_name(digest: str, executable: bool) -> str:
    return f"{digest}.x" if executable else digest


_EXEC_MODES = frozenset(format(m, "o") for m in range(0o7777 + 1) if m & 0o111)


def is_executable(mode_text: str) -> bool:
    """A receipt's mode entry ("555", "755", "444") says whether the file is a program."""
    return mode_text in _EXEC_MODES


def link(src: str, dst: str) -> None:
    """The one place the store makes a hard link (tests make it fail to prove the copy fallback)."""
    os.link(src, dst)


class NoLinks(Exception):
    """Hard links cannot be made between the store and a tree."""


@dataclass
class Objects:
    """The store of one GXC_HOME, as an install sees it."""

    root: str
    fallback: str = ""  # why this install copies instead of linking ("" while linking works)

    @classmethod
    def here(cls) -> Objects:
        return cls(paths.objects_dir())

    def path(self, digest: str, executable: bool) -> str:
        return f"{self.root}/{digest[:2]}/{object_name(digest, executable)}"

    @property
    def linking(self) -> bool:
        return not self.fallback

    def _intact(self, path: str, size: int | None, executable: bool) -> bool:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        mode = EXEC_MODE if executable else FILE_MODE
        return (st.st_mode & 0o170000 == 0o100000 and st.st_mode & 0o7777 == mode
                and (size is None or st.st_size == size))

    def link_existing(self, digest: str, executable: bool, size: int | None, dest: str) -> bool:
        """Link the object into `dest` when it exists and looks intact; False: write the file instead."""
        if not self.linking:
            return False
        source = self.path(digest, executable)
        if not self._intact(source, size, executable):
            return False
        try:
            link(source, dest)
        except FileNotFoundError:  # collected between the check and the link: impossible under the lock
            return False
        except OSError as e:
            self._refuse(e, dest)
            return False
        return True

    def adopt(self, written: str, digest: str, executable: bool) -> None:
        """Make the file just written at `written` the object, or link it to the one another install made."""
        if not self.linking:
            return
        target = self.path(digest, executable)
        try:
            try:
                link(written, target)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                link(written, target)
        except FileExistsError:
            if self._intact(target, os.lstat(written).st_size, executable):
                self.replace_with_link(target, written)
        except OSError as e:
            self._refuse(e, written)

    def replace_with_link(self, source: str, dest: str) -> None:
        tmp = f"{dest}.gxc-link"
        try:
            link(source, tmp)
            os.replace(tmp, dest)
        except OSError as e:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            self._refuse(e, dest)

    def _refuse(self, e: OSError, where: str) -> None:
        if e.errno == errno.EMLINK:
            return  # this one content is linked as often as the filesystem allows: this tree keeps a copy
        if e.errno not in _NO_LINKS:
            raise e
        self.fallback = (f"hard links cannot be made between {public_path(self.root)} and "
                         f"{public_path(os.path.dirname(where))} ({e.strerror}); toolchains get their own "
                         f"copies and do not share disk space")


@contextlib.contextmanager
def _flock(kind: int, wait: float | None = None) -> Iterator[bool]:
    """Hold the store's lock (`wait` None: as long as it takes); yields False when `wait` ran out."""
    os.makedirs(paths.locks_dir(), exist_ok=True)
    fd = os.open(os.path.join(paths.locks_dir(), "objects.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        if wait is None:
            fcntl.flock(fd, kind)
            yield True
            return
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, kind | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        yield True
    finally:
        os.close(fd)


def using() -> contextlib.AbstractContextManager[bool]:
    """Held by every install while it links objects: collection waits for it, or leaves the objects for later."""
    return _flock(fcntl.LOCK_SH)


def _entries() -> Iterator[os.DirEntry[str]]:
    root = paths.objects_dir()
    try:
        prefixes = list(os.scandir(root))
    except FileNotFoundError:
        return
    for prefix in prefixes:
        if prefix.is_dir(follow_symlinks=False) and len(prefix.name) == 2:
            with os.scandir(prefix.path) as it:
                yield from (e for e in it if e.is_file(follow_symlinks=False))


@dataclass(frozen=True)
class Collected:
    objects: int
    size: int


def collect(wait: float = 5.0) -> Collected | None:
    """Remove every object no tree links (its link count is 1), under the store's exclusive lock.

    None when installs held the store for longer than `wait` seconds: the objects stay for a later
    uninstall or `gxc cache clean` (an install that downloads holds the store for as long as that takes).
    """
    count = size = 0
    with _flock(fcntl.LOCK_EX, wait) as held:
        if not held:
            return None
        for entry in _entries():
            st = entry.stat(follow_symlinks=False)
            if st.st_nlink == 1:
                os.unlink(entry.path)
                count, size = count + 1, size + st.st_size
    return Collected(count, size)


@dataclass(frozen=True)
class Usage:
    objects: int
    size: int  # bytes the objects take
    linked: int  # bytes the trees would take without sharing

    @property
    def saved(self) -> int:
        return max(self.linked - self.size, 0)


def usage() -> Usage:
    count = size = linked = 0
    for entry in _entries():
        st = entry.stat(follow_symlinks=False)
        count, size = count + 1, size + st.st_size
        linked += st.st_size * max(st.st_nlink - 1, 1)
    return Usage(count, size, linked)


def inode(path: str) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino
