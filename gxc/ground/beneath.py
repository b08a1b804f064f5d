"""Writes into a directory that a project or an argument chose: `dist/`, `-o DIR`, a mirror, a build cache.

Such a directory may hold links planted by whoever wrote the project (`dist -> ~/.ssh`). `Root` walks
every component below the chosen root with `O_NOFOLLOW | O_DIRECTORY` on a directory descriptor
(openat-style), creates what is missing the same way, writes files under a fresh `O_EXCL` name and
renames them into place within that descriptor, so nothing below the root is ever reached through a
symbolic link. The root itself is the user's own spelling and is followed. A file found under a name
is "there" only when it is a regular file reached without a link (the callers then verify its bytes).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from gxc.ground.errors import GxcError, public_path, shown

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


class PlantedLink(GxcError):
    def __init__(self, root: str, rel: str) -> None:
        super().__init__(f"{public_path(os.path.join(root, rel))} is a symbolic link (or not a directory) inside "
                         f"{public_path(root)}; gxc does not write through links there",
                         "remove the link, or choose another output directory")


def _parts(rel: str) -> list[str]:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if rel.startswith("/") or ".." in parts or "\0" in rel:
        raise GxcError(f"{shown(rel)} is not a path inside the output directory", "name a relative path without ..")
    return parts


class Root:
    """One chosen directory; every path given to its methods is relative to it and never crosses a link."""

    def __init__(self, root: str, create: bool = True) -> None:
        self.root = os.path.abspath(root)
        if create:
            os.makedirs(self.root, exist_ok=True)

    @contextmanager
    def directory(self, rel: str, create: bool = True) -> Iterator[int]:
        """A descriptor of `rel` (made when missing and `create`), reached component by component."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        walked: list[str] = []
        try:
            for part in _parts(rel):
                walked.append(part)
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    # FileExistsError: made by a concurrent writer, or a dangling link: the open below decides
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=fd)
                    child = self._open_child(fd, part, "/".join(walked))
                except OSError as e:
                    if e.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise PlantedLink(self.root, "/".join(walked)) from None
                    raise
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    @contextmanager
    def lock(self, rel: str) -> Iterator[None]:
        """Hold an exclusive flock on `rel` (created, never truncated, never through a link): a lock that
        other users of a shared directory can delay but cannot turn into a write elsewhere."""
        import fcntl

        directory, name = self._split(rel)
        with self.directory(directory) as dir_fd:
            try:
                fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
            except OSError as e:
                if e.errno == errno.ELOOP:
                    raise PlantedLink(self.root, rel) from None
                raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise PlantedLink(self.root, rel)
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _open_child(self, fd: int, part: str, rel: str) -> int:
        try:
            return os.open(part, _DIR_FLAGS, dir_fd=fd)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise PlantedLink(self.root, rel) from None
            raise

    def path(self, rel: str) -> str:
        return os.path.join(self.root, *_parts(rel))

    def write(self, rel: str, data: bytes | str, mode: int = 0o644) -> str:
        """Write a whole file atomically (a fresh O_EXCL name, then a rename within the directory)."""
        chunks = [data.encode() if isinstance(data, str) else data]
        return self._write_chunks(rel, iter(chunks), mode)

    def place(self, source: str, rel: str, mode: int | None = None) -> str:
        """Move a finished file gxc made elsewhere to `rel` (a rename, or a copy across file systems)."""
        head, name = self._split(rel)
        with self.directory(head) as fd:
            try:
                if mode is not None:
                    os.chmod(source, mode)
                os.rename(source, name, dst_dir_fd=fd)
                return self.path(rel)
            except OSError as e:
                if e.errno != errno.EXDEV:
                    raise
        with open(source, "rb") as f:
            st = os.fstat(f.fileno())
            written = self._write_chunks(rel, iter(lambda: f.read(_CHUNK), b""),
                                         mode if mode is not None else st.st_mode & 0o777)
        os.unlink(source)
        return written

    def _split(self, rel: str) -> tuple[str, str]:
        parts = _parts(rel)
        if not parts:
            raise GxcError(f"{shown(rel)} names no file", "name a file inside the output directory")
        return "/".join(parts[:-1]), parts[-1]

    def _write_chunks(self, rel: str, chunks: Iterator[bytes], mode: int) -> str:
        head, name = self._split(rel)
        with self.directory(head) as fd:
            tmp = f".{name}.{secrets.token_hex(6)}.tmp"
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fd)
            try:
                with os.fdopen(out, "wb") as f:
                    for chunk in chunks:
                        f.write(chunk)
                    os.fchmod(f.fileno(), mode)
                os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=fd)
                raise
        return self.path(rel)

    def regular_file(self, rel: str) -> str:
        """`rel` as a path when it is a regular file reached without a link; '' otherwise."""
        head, name = self._split(rel)
        try:
            with self.directory(head, create=False) as fd:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except (FileNotFoundError, PlantedLink, NotADirectoryError):
            return ""
        import stat

        return self.path(rel) if stat.S_ISREG(st.st_mode) else ""

    def read(self, rel: str, limit: int) -> bytes | None:
        """A regular file's bytes (None when it is missing, a link, or larger than `limit`)."""
        head, name = self._split(rel)
        try:
            with self.directory(head, create=False) as fd:
                f = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        except (FileNotFoundError, PlantedLink, NotADirectoryError):
            return None
        except OSError as e:
            if e.errno == errno.ELOOP:
                return None
            raise
        with os.fdopen(f, "rb") as stream:
            data = stream.read(limit + 1)
        return data if len(data) <= limit else None

    def remove(self, rel: str) -> None:
        """Unlink `rel` (a file or a link, never what a link points at)."""
        head, name = self._split(rel)
        try:
            with self.directory(head, create=False) as fd:
                os.unlink(name, dir_fd=fd)
        except (FileNotFoundError, PlantedLink):
            pass

    def listdir(self, rel: str) -> list[str]:
        try:
            with self.directory(rel, create=False) as fd:
                return os.listdir(fd)
        except (FileNotFoundError, PlantedLink):
            return []


def chosen_root(path: str, cwd: str) -> tuple[Root, str]:
    """Split an output path into the root the user chose and the part below it that gxc walks safely.

    A relative path (or an absolute one inside `cwd`) is walked from `cwd`, so a link a project planted
    anywhere below it is refused; an absolute path elsewhere is the user's own spelling.
    """
    full = os.path.abspath(os.path.join(cwd, path))
    base = os.path.abspath(cwd)
    if full == base or full.startswith(base.rstrip(os.sep) + os.sep):
        return Root(base), os.path.relpath(full, base)
    return Root(full), "."


def write_path(path: str, data: bytes | str, mode: int = 0o644) -> str:
    """Write `path` (an output beside an artifact, a provenance file) without following a link below the cwd."""
    root, rel = chosen_root(os.path.dirname(path) or ".", os.getcwd())
    return root.write(os.path.join(rel, os.path.basename(path)), data, mode)
