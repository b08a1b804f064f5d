"""Safe extraction of Go release archives into a staging directory.

The `.tar.gz` path streams: `StreamingExtract.feed()` inflates in the caller's thread (the one that
downloads and hashes), a worker thread parses tar headers and writes files, so inflating and file
creation overlap on two cores. Members are checked by their names alone (no filesystem round
trips): every path must sit under the top folder `go/`, which is stripped; absolute paths, `..`,
links escaping the root, writes through a link and device files are refused. Files are written
read-only (0444; 0555 when the member is executable). Given the object store (`gxc.objects`), a member
up to 1 MiB is hashed before it is written, so one whose content the store holds costs a hard link;
every other file becomes an object once written.
The result is a `Manifest`: relative path -> sha256 of every file (and the target of every link),
which the receipt stores for `gxc verify`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import stat
import threading
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from gxc.ground.config import Limits
from gxc.ground.errors import ArchiveTooLarge, GxcError, UnsafeArchive, shown
from gxc.sources.modhash import dirhash_h1
from gxc.toolchains.objects import EXEC_MODE, FILE_MODE, Objects

Manifest = dict[str, str]


@dataclass(frozen=True)
class Extracted:
    manifest: Manifest
    size: int  # bytes of file content written
    modes: dict[str, str] = field(default_factory=dict)  # path -> octal permission bits, files and directories
LINK_PREFIX = "symlink:"
TOP = "go"
_BLOCK = 512
_INFLATE_STEP = 4 << 20  # inflate at most this much per call, so a gzip bomb never sits in memory whole
_FILE_MODE = FILE_MODE  # installed files are read-only: a tree shares its inodes with the object store
_EXEC_MODE = EXEC_MODE
_IN_MEMORY = 1 << 20  # a member up to this size is hashed before it is written, so a known one costs a link
Pump = Callable[[Callable[[memoryview], None]], None]  # pushes one member's bytes into a sink


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
    top_parts = top.split("/")
    if parts[: len(top_parts)] != top_parts:
        raise UnsafeArchive(name, f"outside the top folder {top}/")
    return "/".join(parts[len(top_parts):])


def check_link_target(rel: str, target: str, name: str) -> None:
    if not target or target.startswith("/") or "\x00" in target:
        raise UnsafeArchive(name, f"link to absolute path {shown(target)}")
    depth = rel.count("/")  # the link's directory depth below the root
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise UnsafeArchive(name, f"link target {shown(target)} escapes the toolchain root")
        elif part not in ("", "."):
            depth += 1


MAX_LINK_HOPS = 40  # as Linux's own limit on links followed in one path


def resolve_in_tree(links: dict[str, str], directory: list[str], target: str, name: str, hops: int = 0) -> list[str]:
    """Where `target`, read from `directory`, lands in the tree, following the tree's own links; refuse an escape."""
    parts = list(directory)
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise UnsafeArchive(name, f"link target {shown(target)} escapes the toolchain root through a link")
            parts.pop()
            continue
        parts.append(part)
        through = links.get("/".join(parts))
        if through is not None:
            if hops >= MAX_LINK_HOPS:
                raise UnsafeArchive(name, "links that loop")
            parts = resolve_in_tree(links, parts[:-1], through, name, hops + 1)
    return parts


class _Tree:
    """Writes members under `root`, remembering links so nothing is written through one."""

    def __init__(self, root: str, limits: Limits, top: str = TOP, objects: Objects | None = None) -> None:
        os.makedirs(root, exist_ok=True)
        self.root, self.top, self.objects = root, top, objects
        self.limits = limits
        self.manifest: Manifest = {}
        self.modes: dict[str, str] = {}
        self.dirs: set[str] = {""}
        self.links: set[str] = set()
        self.link_targets: dict[str, str] = {}
        self.members = 0
        self.total = 0
        self.umask = os.umask(0)
        os.umask(self.umask)
        self.dir_mode = format(0o755 & ~self.umask, "o")

    def admit(self, name: str, size: int) -> str:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArchiveTooLarge("member count", self.limits.max_members)
        self.total += size
        if self.total > self.limits.max_bytes:
            raise ArchiveTooLarge("uncompressed size", self.limits.max_bytes)
        rel = member_path(name, self.top)
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
        self.modes[rel] = self.dir_mode

    def _file_path(self, rel: str) -> str:
        if not rel or rel in self.dirs:
            raise UnsafeArchive(rel or TOP, "file collides with a directory")
        self.ensure_dir(rel.rpartition("/")[0])
        return self._abs(rel)

    def _create(self, path: str, executable: bool) -> int:
        perm = _EXEC_MODE if executable else _FILE_MODE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, perm)
        if perm & self.umask:
            os.fchmod(fd, perm)
        return fd

    def write_file(self, rel: str, mode: int, size: int, pump: Pump) -> str:
        """Write one member to `rel` (or link the object that holds its bytes); record and return its sha256."""
        executable = bool(mode & 0o111)
        path = self._file_path(rel)
        self.modes[rel] = format(_EXEC_MODE if executable else _FILE_MODE, "o")
        store = self.objects
        if store is not None and store.linking and size <= _IN_MEMORY:
            data = bytearray()
            pump(data.extend)
            digest = hashlib.sha256(data).hexdigest()
            if not store.link_existing(digest, executable, len(data), path):
                self._write_bytes(path, executable, memoryview(data))
                store.adopt(path, digest, executable)
        else:
            hasher = hashlib.sha256()
            fd = self._create(path, executable)
            try:
                pump(_write_all(fd, hasher))
            finally:
                os.close(fd)
            digest = hasher.hexdigest()
            if store is not None:
                store.adopt(path, digest, executable)
        self.manifest[rel] = digest
        return digest

    def _write_bytes(self, path: str, executable: bool, data: memoryview) -> None:
        fd = self._create(path, executable)
        try:
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)

    def symlink(self, rel: str, target: str, name: str) -> None:
        check_link_target(rel, target, name)
        self.link_targets[rel] = target
        # each link passes alone (`a/up -> ..`, `a/esc -> up/../..`), but chained they can leave the root:
        # resolve every link through the others, in the tree as it now stands, before making this one
        for link, link_target in self.link_targets.items():
            resolve_in_tree(self.link_targets, link.split("/")[:-1], link_target, name)
        self.ensure_dir(rel.rpartition("/")[0])
        os.symlink(target, self._abs(rel))
        self.links.add(rel)
        self.manifest[rel] = LINK_PREFIX + target

    def hardlink(self, rel: str, target_name: str, name: str) -> None:
        try:
            target = member_path(target_name)
        except UnsafeArchive:
            raise UnsafeArchive(name, f"hard link to {shown(target_name)}, outside the toolchain root") from None
        digest = self.manifest.get(target)
        if digest is None or digest.startswith(LINK_PREFIX):
            raise UnsafeArchive(name, f"hard link to {shown(target_name)}, which is not a file extracted before it")
        self.ensure_dir(rel.rpartition("/")[0])
        os.link(self._abs(target), self._abs(rel))
        self.manifest[rel] = digest
        self.modes[rel] = self.modes[target]


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


def _cstr(field: bytes) -> str:
    return field.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")


def _padded(size: int) -> int:
    return (size + _BLOCK - 1) // _BLOCK * _BLOCK


_REGULAR = (b"0", b"\x00", b"7")
_EXTENDED = (b"x", b"g", b"L", b"K")


class _TarParser:
    """Reads tar headers (ustar, PAX, GNU long names) and hands each member to the tree."""

    def __init__(self, reader: _Reader, tree: _Tree) -> None:
        self.reader, self.tree = reader, tree
        self.pending: dict[str, str] = {}  # path/linkpath/size from PAX or GNU headers for the next member

    def _header(self) -> bytes | None:
        header = self.reader.read(_BLOCK)
        if header is None or header == bytes(_BLOCK):
            return None
        if sum(header[:148]) + 256 + sum(header[156:]) != _octal(header[148:156], _cstr(header[:100])):
            raise UnsafeArchive(_cstr(header[:100]), "tar header checksum mismatch (corrupt archive)")
        return header

    def _extended(self, kind: bytes, size: int, name: str) -> None:
        if size > 1 << 20:
            raise UnsafeArchive(name, "oversized extended header")
        body = self.reader.read(_padded(size))
        if body is None:
            raise TruncatedArchive()
        if kind == b"x":
            self.pending.update(_pax_records(body[:size]))
        elif kind == b"L":
            self.pending["path"] = _cstr(body[:size])
        elif kind == b"K":
            self.pending["linkpath"] = _cstr(body[:size])

    def _regular(self, rel: str, mode: int, size: int) -> None:
        self.tree.write_file(rel, mode, size, lambda sink: self.reader.copy(size, sink))
        self.reader.copy(_padded(size) - size, lambda _view: None)

    def _member(self, header: bytes) -> None:
        raw_name = _cstr(header[:100])
        size = _octal(header[124:136], raw_name)
        kind = header[156:157]
        if kind in _EXTENDED:
            self._extended(kind, size, raw_name)
            return
        prefix = _cstr(header[345:500]) if header[257:262] == b"ustar" else ""
        pending, self.pending = self.pending, {}
        name = pending.get("path") or (f"{prefix}/{raw_name}" if prefix else raw_name)
        link = pending.get("linkpath") or _cstr(header[157:257])
        size = int(pending.get("size", size))
        rel = self.tree.admit(name, size if kind in _REGULAR else 0)
        if kind in _REGULAR:
            self._regular(rel, _octal(header[100:108], name), size)
        elif kind == b"5":
            self.tree.ensure_dir(rel)
        elif kind == b"2":
            self.tree.symlink(rel, link, name)
        elif kind == b"1":
            self.tree.hardlink(rel, link, name)
        else:
            raise UnsafeArchive(name, "device, fifo or unknown member type")

    def run(self) -> None:
        while (header := self._header()) is not None:
            self._member(header)


def extract_tar_stream(next_chunk: Callable[[], bytes | None], root: str, limits: Limits,
                       objects: Objects | None = None) -> Extracted:
    """Parse an uncompressed tar stream and write it under `root`."""
    tree = _Tree(root, limits, objects=objects)
    _TarParser(_Reader(next_chunk), tree).run()
    return Extracted(tree.manifest, tree.total, tree.modes)


_END = object()


class StreamingExtract:
    """Feed gzip bytes from one thread; a worker extracts them. `finish()` returns what was written."""

    def __init__(self, root: str, limits: Limits, objects: Objects | None = None) -> None:
        self.root = root
        self.limits = limits
        self.objects = objects
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
            result = extract_tar_stream(self._next, self.root, self.limits, self.objects)
        except BaseException as e:  # noqa: BLE001 - re-raised in the feeding thread
            self._error = e
            return
        while self._queue.get() is not _END:  # drain trailing padding so the feeder never blocks
            pass
        self._result = result

    def _put(self, item: object) -> None:
        while self._error is None and self._thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._queue.put(item, timeout=0.1)
                return

    def feed(self, data: bytes) -> None:
        """Inflate and hand over. Extraction errors wait for `finish()`: the caller checks the
        archive's sha256 first, so a corrupt download is reported as such, not as a bad member."""
        if self._error is not None:
            return
        try:
            self._inflate(data)
        except zlib.error as e:
            self._error = UnsafeArchive("(gzip stream)", f"not valid gzip data: {e}")

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
        self._put(_END)
        if self._error is not None:
            error = self._error
            self.abort()
            raise error
        self._thread.join()
        if self._error is not None:
            raise self._error
        if not self._inflater.eof:
            raise TruncatedArchive()
        assert self._result is not None
        return self._result

    def abort(self) -> None:
        """Stop the worker without raising; the caller removes the staging tree."""
        self._error = self._error or GxcError("aborted")
        while self._thread.is_alive():
            try:
                self._queue.put_nowait(_END)
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()  # make room for the end marker
            self._thread.join(timeout=0.05)


def extract_zip(path: str, root: str, limits: Limits, objects: Objects | None = None) -> Extracted:
    """The same contract for `.zip` archives (Windows releases)."""
    tree = _Tree(root, limits, objects=objects)
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
                _write_zip_member(tree, zf, info, rel, mode)
    return Extracted(tree.manifest, tree.total, tree.modes)


def _write_zip_member(tree: _Tree, zf: zipfile.ZipFile, info: zipfile.ZipInfo, rel: str, mode: int) -> str:
    """Write one zip member's bytes to `rel`, record its sha256 in the manifest, and return it."""
    def pump(sink: Callable[[memoryview], None]) -> None:
        with zf.open(info) as src:
            while chunk := src.read(1 << 20):
                sink(memoryview(chunk))

    return tree.write_file(rel, mode, info.file_size, pump)


# What a module zip cannot carry, restored as the go command does after downloading a toolchain
# (src/cmd/go/internal/toolchain/select.go), plus the scripts the release archives mark executable.
_EXEC_TREES = ("bin/", "pkg/tool/")
_EXEC_SUFFIXES = (".bash", ".sh", ".rc", ".pl")


def module_file_mode(rel: str) -> int:
    """The mode a toolchain module file has in the release archive."""
    name = rel.rpartition("/")[2]
    executable = (rel.startswith(_EXEC_TREES) or name.endswith(_EXEC_SUFFIXES)
                  or (name.startswith("go_") and name.endswith("_exec") and name.count("_") >= 3))
    return _EXEC_MODE if executable else _FILE_MODE


def extract_module_zip(path: str, root: str, limits: Limits, top: str,
                       objects: Objects | None = None) -> tuple[Extracted, str]:
    """Extract a module zip whose files sit under `top` (`golang.org/toolchain@v0.0.1-go1.22.10.linux-amd64`).

    Returns what was written and the zip's h1 hash, computed from the same reads. Every `_go.mod` becomes
    `go.mod` (module zips cannot hold nested go.mod files); modes are the release archive's (module zips
    carry none that Go honours); only regular files are accepted.
    """
    tree = _Tree(root, limits, top, objects)
    lines = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if "\n" in info.filename:
                raise UnsafeArchive(info.filename, "a file name with a newline")
            rel = tree.admit(info.filename, info.file_size)
            kind = stat.S_IFMT(info.external_attr >> 16)
            if info.is_dir() or (kind and kind != stat.S_IFREG):
                raise UnsafeArchive(info.filename, "a module zip holds only regular files")
            name = rel.rpartition("/")[2]
            if name == "go.mod" and rel != "go.mod":
                raise UnsafeArchive(info.filename, "a nested go.mod in a module zip")
            target = rel[: -len("_go.mod")] + "go.mod" if name == "_go.mod" else rel
            # as the go command does, ignore the zip's modes
            lines.append((info.filename, _write_zip_member(tree, zf, info, target, module_file_mode(rel))))
    return Extracted(tree.manifest, tree.total, tree.modes), dirhash_h1(lines)
