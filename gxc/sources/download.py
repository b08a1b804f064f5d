"""Streamed, resumable, hashed download of one archive into the content-addressed cache.

Bytes go to `downloads/<sha256>.partial` and, in the same pass, into the hash and into a sink
(the streaming extractor), so there is no second pass over the archive. An interrupted transfer
resumes with HTTP Range from the partial file's size; the partial's bytes are replayed into the
sink from disk first. Only a complete file whose sha256 equals the expected one is renamed to
`downloads/<sha256>`; a mismatch deletes it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

from gxc.ground.errors import ChecksumMismatch, NetworkError
from gxc.ground.terminal import Progress

Sink = Callable[[bytes], None]
READ_BYTES = 1 << 20


def replay_file(path: str, hasher: hashlib._Hash, sink: Sink, progress: Progress | None = None) -> int:
    """Feed a file on disk through the hash and the sink; return its size."""
    total = 0
    with open(path, "rb") as f:
        while chunk := f.read(READ_BYTES):
            hasher.update(chunk)
            sink(chunk)
            total += len(chunk)
            if progress:
                progress.update(len(chunk))
    return total


def partial_path(cached: str, url: str) -> str:
    """`<sha256>-<url key>.partial`: a partial from one source never resumes a download from another."""
    return f"{cached}-{hashlib.sha256(url.encode()).hexdigest()[:16]}.partial"


def verify_digest(url: str, path: str, expected: str, actual: str, authority: str) -> None:
    if actual != expected:
        os.unlink(path)
        raise ChecksumMismatch(url, expected, actual, authority)


class _Transfer:
    """One archive's transfer state, shared by the retried attempts."""

    def __init__(self, url: str, fd: int, offset: int, size: int | None, hasher: hashlib._Hash, sink: Sink,
                 progress: Progress | None, limit: int) -> None:
        self.url, self.fd, self.offset, self.size, self.limit = url, fd, offset, size, limit
        self.hasher, self.sink, self.progress = hasher, sink, progress

    def _accept(self, chunk: bytes) -> None:
        if self.size is not None and self.offset + len(chunk) > self.size:
            raise NetworkError(self.url, f"the server sent more than the index's {self.size} bytes")
        if self.offset + len(chunk) > self.limit:
            raise NetworkError(self.url, f"the server sent more than {self.limit} bytes (the archive size limit)")
        view = memoryview(chunk)
        while view:
            view = view[os.write(self.fd, view):]
        self.hasher.update(chunk)
        self.sink(chunk)
        self.offset += len(chunk)
        if self.progress:
            self.progress.update(len(chunk))

    def attempt(self) -> None:
        from gxc.sources import http

        response, chunks = http.stream(self.url, self.offset)
        with response:
            skip = 0
            if self.offset and response.status_code == 200:
                skip = self.offset  # the server ignored Range: drop what we already have
            elif self.offset and not response.headers.get("Content-Range", "").startswith(f"bytes {self.offset}-"):
                raise NetworkError(self.url, "the server answered a Range request with the wrong range")
            end = self.size if self.size is not None else _announced_end(response, self.offset)
            for received in chunks:
                cut = min(skip, len(received))
                skip -= cut
                if cut < len(received):
                    self._accept(received[cut:] if cut else received)
        if end is not None and self.offset < end:
            raise http.Transient(f"connection closed at byte {self.offset} of {end}")


def _announced_end(response: object, offset: int) -> int | None:
    """Where the body ends, by the response's own headers (a proxy gives no size in advance)."""
    headers = getattr(response, "headers", {})
    total = headers.get("Content-Range", "").rpartition("/")[2]
    if total.isdigit():
        return int(total)
    length = headers.get("Content-Length", "")
    if not length.isdigit():
        return None
    return int(length) + (offset if getattr(response, "status_code", 200) == 206 else 0)


def fetch(url: str, partial: str, size: int | None, sink: Sink, progress: Progress | None = None,
          on_retry: Callable[[str], None] | None = None, limit: int = 1 << 40) -> str:
    """Download `url` into `partial` (resuming it), feeding every byte to `sink`. Returns the sha256.

    `size` is what the index promised; None when the source gives none (a module proxy), and then the
    server's own Content-Length decides whether a transfer was cut, and `limit` bounds it.
    """
    from gxc.sources import http  # requests costs 0.2 s to import: only commands that download pay it

    hasher = hashlib.sha256()
    offset = 0
    if os.path.exists(partial):
        if os.path.getsize(partial) > (size if size is not None else limit):
            os.unlink(partial)
        else:
            offset = replay_file(partial, hasher, sink, progress)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    try:
        transfer = _Transfer(url, fd, offset, size, hasher, sink, progress, limit)
        if size is None or offset < size:
            http.with_retries(url, transfer.attempt, on_retry)
    except http.RangeNotSatisfiable:
        os.unlink(partial)  # what we hold cannot be completed from this server: start afresh next time
        raise
    finally:
        os.close(fd)
    return hasher.hexdigest()
