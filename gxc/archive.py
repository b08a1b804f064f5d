"""Safe extraction of Go release archives into a staging directory.

The `.tar.gz` path streams: `StreamingExtract.feed()` inflates in the caller's thread (the one that
downloads and hashes), a worker thread parses tar headers and writes files, so inflating and file
creation overlap on two cores. Members are checked by their names alone (no filesystem round
trips): every path must sit under the top folder `go/`, which is stripped; absolute paths, `..`,
links escaping the root, writes through a link and device files are refused. Exec bits are kept.
The result is a `Manifest`: relative path -> sha256 of every file (and the target of every link),
which the receipt stores for `gxc verify`.
"""

from __future__ import annotations

import hashlib
import os
import queue
import stat
import threading
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from gxc.config import Limits
from gxc.errors import ArchiveTooLarge, GxcError, UnsafeArchive

Manifest = dict[str, str]


@dataclass(frozen=True)
class Extracted:
    manifest: Manifest
    size: int  # bytes of file content written
LINK_PREFIX = "symlink:"
TOP = "go"
_BLOCK = 512
_INFLATE_STEP = 4 << 20  # inflate at most this much per call, so a gzip bomb never sits in memory whole
_FILE_MODE = 0o644
_EXEC_MODE = 0o755


class TruncatedArchive(GxcError):
    def __init__(self) -> None:
        super().__init__("the archive ends in the middle of a file", "the download is incomplete or corrupt; retry")


def member_path(name: str, top: str = TOP) -> str:
    """The member's path relative to the stripped top folder ('' for the top folder itself)."""
    if "\x00" in name or name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(name, "absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(name, "path contains '..'")
    if not parts or parts[0] != top:
        raise UnsafeArchive(name, f"outside the top folder {top}/")
    return "/".join(parts[1:])


def check_link_target(rel: str, target: str, name: str) -> None:
    if not target or target.startswith("/") or "\x00" in target:
        raise UnsafeArchive(name, f"link to absolute path {target!r}")
    depth = rel.count("/")  # the link's directory depth below the root
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise UnsafeArchive(name, f"link target {target!r} escapes the toolchain root")
        elif part not in ("", "."):
            depth += 1


class _Tree:
    """Writes members under `root`, remembering links so nothing is written through one."""

    def __init__(self, root: str, limits: Limits) -> None:
        self.root = root
        self.limits = limits
        self.manifest: Manifest = {}
        self.dirs: set[str] = {""}
        self.links: set[str] = set()
        self.members = 0
        self.total = 0
        self.umask = os.umask(0)
        os.umask(self.umask)

    def admit(self, name: str, size: int) -> str:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArchiveTooLarge("member count", self.limits.max_members)
        self.total += size
        if self.total > self.limits.max_bytes:
            raise ArchiveTooLarge("uncompressed size", self.limits.max_bytes)
        rel = member_path(name)
        if self.links:
            parts = rel.split("/")
            for i in range(1, len(parts) + 1):
                if "/".join(parts[:i]) in self.links:
                    raise UnsafeArchive(name, "written through a link")
        return rel

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root

    def ensure_dir(self, rel: str) -> None:
        if rel in self.dirs:
            return
        parent = rel.rpartition("/")[0]
        self.ensure_dir(parent)
        try:
            os.mkdir(self._abs(rel), 0o755)
        except FileExistsError:
            if not os.path.isdir(self._abs(rel)) or os.path.islink(self._abs(rel)):
                raise UnsafeArchive(rel, "directory collides with a file") from None
        self.dirs.add(rel)

    def open_file(self, rel: str, mode: int) -> int:
        if not rel or rel in self.dirs:
            raise UnsafeArchive(rel or TOP, "file collides with a directory")
        self.ensure_dir(rel.rpartition("/")[0])
        perm = _EXEC_MODE if mode & 0o111 else _FILE_MODE
        fd = os.open(self._abs(rel), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, perm)
        if perm & self.umask:
            os.fchmod(fd, perm)
        return fd

    def symlink(self, rel: str, target: str, name: str) -> None:
        check_link_target(rel, target, name)
        self.ensure_dir(rel.rpartition("/")[0])
        os.symlink(target, self._abs(rel))
        self.links.add(rel)
        self.manifest[rel] = LINK_PREFIX + target

    def hardlink(self, rel: str, target_name: str, name: str) -> None:
        target = member_path(target_name)
        digest = self.manifest.get(target)
        if digest is None or digest.startswith(LINK_PREFIX):
            raise UnsafeArchive(name, f"hard link to {target_name!r}, which is not a file extracted before it")
        self.ensure_dir(rel.rpartition("/")[0])
        os.link(self._abs(target), self._abs(rel))
        self.manifest[rel] = digest


class _Reader:
    """Exact reads over a stream of chunks, without copying file bodies."""

    def __init__(self, next_chunk: Callable[[], bytes | None]) -> None:
        self.next_chunk = next_chunk
        self.buf = b""
        self.pos = 0

    def _fill(self) -> bool:
        chunk = self.next_chunk()
        if chunk is None:
            return False
        self.buf = self.buf[self.pos:] + chunk if self.pos < len(self.buf) else chunk
        self.pos = 0
        return True

    def read(self, n: int) -> bytes | None:
        while len(self.buf) - self.pos < n:
            if not self._fill():
                if self.pos == len(self.buf):
                    return None
                raise TruncatedArchive()
        data = self.buf[self.pos:self.pos + n]
        self.pos += n
        return data

    def copy(self, n: int, sink: Callable[[memoryview], None]) -> None:
        while n > 0:
            if self.pos == len(self.buf) and not self._fill():
                raise TruncatedArchive()
            take = min(len(self.buf) - self.pos, n)
            sink(memoryview(self.buf)[self.pos:self.pos + take])
            self.pos += take
            n -= take


def _octal(field: bytes, name: str) -> int:
    if field and field[0] & 0x80:  # GNU base-256 for sizes over 8 GiB
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\x00", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise UnsafeArchive(name, "corrupt tar header") from None


def _pax_records(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        key, _, value = data[space + 1:pos + length - 1].partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def _write_all(fd: int, hasher: hashlib._Hash) -> Callable[[memoryview], None]:
    def sink(view: memoryview) -> None:
        hasher.update(view)
        while view:
            view = view[os.write(fd, view):]

    return sink


def extract_tar_stream(next_chunk: Callable[[], bytes | None], root: str, limits: Limits) -> Extracted:
    """Parse an uncompressed tar stream (ustar, PAX, GNU long names) and write it under `root`."""
    tree = _Tree(root, limits)
    reader = _Reader(next_chunk)
    pax: dict[str, str] = {}
    long_name: str | None = None
    long_link: str | None = None
    while True:
        header = reader.read(_BLOCK)
        if header is None or header == bytes(_BLOCK):
            break
        raw_name = header[:100].split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
        if sum(header[:148]) + 256 + sum(header[156:]) != _octal(header[148:156], raw_name):
            raise UnsafeArchive(raw_name, "tar header checksum mismatch (corrupt archive)")
        size = _octal(header[124:136], raw_name)
        kind = header[156:157]
        padded = (size + _BLOCK - 1) // _BLOCK * _BLOCK
        if kind in (b"x", b"g", b"L", b"K"):
            if size > 1 << 20:
                raise UnsafeArchive(raw_name, "oversized extended header")
            body = reader.read(padded)
            if body is None:
                raise TruncatedArchive()
            if kind == b"x":
                pax = _pax_records(body[:size])
            elif kind == b"L":
                long_name = body[:size].split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
            elif kind == b"K":
                long_link = body[:size].split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
            continue
        prefix = header[345:500].split(b"\x00", 1)[0].decode("utf-8", "surrogateescape") if header[257:262] == b"ustar" else ""
        name = pax.get("path") or long_name or (f"{prefix}/{raw_name}" if prefix else raw_name)
        link = pax.get("linkpath") or long_link or header[157:257].split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
        if "size" in pax:
            size = int(pax["size"])
            padded = (size + _BLOCK - 1) // _BLOCK * _BLOCK
        pax, long_name, long_link = {}, None, None
        rel = tree.admit(name, size if kind in (b"0", b"\x00", b"7") else 0)
        mode = _octal(header[100:108], name)
        if kind in (b"0", b"\x00", b"7"):
            hasher = hashlib.sha256()
            fd = tree.open_file(rel, mode)
            try:
                reader.copy(size, _write_all(fd, hasher))
            finally:
                os.close(fd)
            tree.manifest[rel] = hasher.hexdigest()
            reader.copy(padded - size, lambda _view: None)
        elif kind == b"5":
            tree.ensure_dir(rel)
        elif kind == b"2":
            tree.symlink(rel, link, name)
        elif kind == b"1":
            tree.hardlink(rel, link, name)
        else:
            raise UnsafeArchive(name, "device, fifo or unknown member type")
    return Extracted(tree.manifest, tree.total)


_END = object()


class StreamingExtract:
    """Feed gzip bytes from one thread; a worker extracts them. `finish()` returns what was written."""

    def __init__(self, root: str, limits: Limits) -> None:
        self.root = root
        self.limits = limits
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._inflated = 0
        self._queue: queue.Queue[object] = queue.Queue(maxsize=16)
        self._error: BaseException | None = None
        self._result: Extracted | None = None
        self._thread = threading.Thread(target=self._work, name="gxc-extract", daemon=True)
        self._thread.start()

    def _next(self) -> bytes | None:
        item = self._queue.get()
        return None if item is _END else item  # type: ignore[return-value]

    def _work(self) -> None:
        try:
            self._result = extract_tar_stream(self._next, self.root, self.limits)
            while self._queue.get() is not _END:  # drain trailing padding so the feeder never blocks
                pass
        except BaseException as e:  # noqa: BLE001 - re-raised in the feeding thread
            self._error = e

    def _put(self, item: object) -> None:
        while True:
            if self._error is not None:
                raise self._error
            if not self._thread.is_alive():
                return
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def feed(self, data: bytes) -> None:
        try:
            self._inflate(data)
        except zlib.error as e:
            raise UnsafeArchive("(gzip stream)", f"not valid gzip data: {e}") from None

    def _inflate(self, data: bytes) -> None:
        while data:
            out = self._inflater.decompress(data, _INFLATE_STEP)
            data = self._inflater.unconsumed_tail
            if self._inflater.eof and self._inflater.unused_data:
                data = self._inflater.unused_data  # a multi-member gzip file
                self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self._inflated += len(out)
            if self._inflated > self.limits.max_bytes + (64 << 20):
                raise ArchiveTooLarge("uncompressed size", self.limits.max_bytes)
            if out:
                self._put(out)

    def finish(self) -> Extracted:
        if not self._inflater.eof:
            self._put(_END)
            self._thread.join()
            raise TruncatedArchive()
        self._put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def abort(self) -> None:
        """Stop the worker without raising; the caller removes the staging tree."""
        if self._thread.is_alive():
            try:
                self._queue.put(_END, timeout=1)
            except queue.Full:
                self._error = self._error or GxcError("aborted")
            self._thread.join(timeout=5)


def extract_zip(path: str, root: str, limits: Limits) -> Extracted:
    """The same contract for `.zip` archives (Windows releases)."""
    tree = _Tree(root, limits)
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            rel = tree.admit(info.filename, info.file_size)
            mode = info.external_attr >> 16
            if info.is_dir():
                tree.ensure_dir(rel)
            elif stat.S_ISLNK(mode):
                tree.symlink(rel, zf.read(info).decode("utf-8", "surrogateescape"), info.filename)
            elif mode and not stat.S_ISREG(mode):
                raise UnsafeArchive(info.filename, "device, fifo or unknown member type")
            else:
                hasher = hashlib.sha256()
                fd = tree.open_file(rel, mode)
                try:
                    with zf.open(info) as src:
                        sink = _write_all(fd, hasher)
                        while chunk := src.read(1 << 20):
                            sink(memoryview(chunk))
                finally:
                    os.close(fd)
                tree.manifest[rel] = hasher.hexdigest()
    return Extracted(tree.manifest, tree.total)
