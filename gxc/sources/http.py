"""HTTP with the retry policy of STYLE.md habit 6: retry only what is transient, and bounded reads.

Transient: a connection that could not be made or was cut, a read timeout, 5xx, and 429 (whose
Retry-After we honour up to a bound). Anything else (404, 403, a bad certificate) fails at once.

Every document gxc reads from a server (an index, a version list, a checksum database's lookup,
tile or latest note, a proxy's `.info` or `.mod`, a patch) comes through `document()`: at most
`DOCUMENT_LIMITS[kind]` bytes and a total deadline for the request, so a server that sends too
much, or one byte every two seconds, ends in one clear error instead of memory or time without
bound. Archives stream through `stream()` into the download, which bounds them by their size.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from typing import TypeVar
from urllib.parse import urljoin

import requests

from gxc.ground.errors import GxcError, NetworkError
from gxc.sources.limits import DOCUMENT_DEADLINE_SECONDS, DOCUMENT_LIMITS

MAX_ATTEMPTS = 5  # a flaky link gets four second chances; more only hides a dead mirror
BACKOFF_BASE_SECONDS = 0.25  # doubles each attempt: 0.25, 0.5, 1, 2
MAX_RETRY_AFTER_SECONDS = 10.0  # a server asking us to wait minutes is effectively down
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
CHUNK_BYTES = 1 << 20

T = TypeVar("T")


class Transient(Exception):
    """A failure worth retrying; `wait` is the server's Retry-After when it gave one."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.wait = wait


class RangeNotSatisfiable(GxcError):
    """The server has no bytes past `offset`: its file is shorter than the one we expect."""

    def __init__(self, url: str, offset: int) -> None:
        super().__init__(f"{url} ends at byte {offset}, before the size the release index lists",
                         "the mirror serves another file than the index names; check GXC_MIRROR")
        self.offset = offset


def timeouts() -> tuple[float, float]:
    """(connect, read) seconds; GXC_HTTP_TIMEOUT sets the read timeout (tests use a short one)."""
    read = float(os.environ.get("GXC_HTTP_TIMEOUT", "30"))
    return (min(10.0, read), read)


@functools.cache
def session() -> requests.Session:
    made = requests.Session()
    made.headers["User-Agent"] = "gxc/0.1"
    return made


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return min(float(value), MAX_RETRY_AFTER_SECONDS) if value.isdigit() else None


MAX_REDIRECTS = 10


def _send(url: str, headers: dict[str, str], stream: bool) -> requests.Response:
    """GET, following redirects ourselves: a hop from https to plain http is refused before it is made."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        response = session().get(current, headers=headers, stream=stream, timeout=timeouts(), allow_redirects=False)
        if not response.is_redirect:
            return response
        target = urljoin(current, response.headers.get("Location", ""))
        response.close()
        if url.startswith("https://") and not target.startswith("https://"):
            raise NetworkError(url, "redirected from https to plain http; refusing the downgrade")
        current = target
    raise NetworkError(url, f"more than {MAX_REDIRECTS} redirects")


def check_response(url: str, response: requests.Response) -> None:
    """Raise Transient for retryable statuses, NetworkError for the rest, and refuse https->http."""
    if url.startswith("https://") and any(r.url.startswith("http://") for r in [*response.history, response]):
        raise NetworkError(url, "redirected from https to plain http; refusing the downgrade")
    if response.status_code in TRANSIENT_STATUSES:
        raise Transient(f"HTTP {response.status_code}", _retry_after(response))
    if response.status_code >= 400:
        raise NetworkError(url, f"HTTP {response.status_code}", response.status_code)


def with_retries(url: str, attempt: Callable[[], T], on_retry: Callable[[str], None] | None = None) -> T:
    last = ""
    for n in range(MAX_ATTEMPTS):
        try:
            return attempt()
        except Transient as e:
            last, wait = str(e), e.wait
        except (requests.ConnectionError, requests.Timeout) as e:
            last, wait = _describe(e), None
        except requests.exceptions.ChunkedEncodingError as e:
            last, wait = f"connection cut mid-transfer ({type(e).__name__})", None
        if n + 1 < MAX_ATTEMPTS:
            if on_retry:
                on_retry(last)
            time.sleep(wait if wait is not None else BACKOFF_BASE_SECONDS * 2**n)
    raise NetworkError(url, f"{last} (gave up after {MAX_ATTEMPTS} attempts)")


def _describe(e: Exception) -> str:
    text = str(e)
    if isinstance(e, requests.Timeout) or "timed out" in text.lower():
        return "timed out (the server stalled)"
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return "host not found"
    return f"connection failed ({type(e).__name__})"


_READ_STEP = 64 << 10


class Document:
    """A bounded answer: status, body and headers."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status, self.body, self.headers = status, body, headers


def deadline_seconds() -> float:
    """GXC_HTTP_DEADLINE overrides the whole-request deadline (tests use a short one)."""
    return float(os.environ.get("GXC_HTTP_DEADLINE", DOCUMENT_DEADLINE_SECONDS))


def _read_bounded(url: str, response: requests.Response, kind: str) -> bytes:
    import urllib3

    limit, seconds = DOCUMENT_LIMITS[kind], deadline_seconds()
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise NetworkError(url, f"the server announces {declared} bytes for a {kind}; gxc reads at most {limit}")
    deadline = time.monotonic() + seconds
    body = bytearray()
    try:
        while chunk := response.raw.read1(_READ_STEP, decode_content=True):
            body += chunk
            if len(body) > limit:
                raise NetworkError(url, f"the server sent more than {limit} bytes for a {kind}; refusing the rest")
            if time.monotonic() > deadline:
                raise NetworkError(url, f"the server took more than {seconds:g} s to send a {kind} "
                                        f"({len(body)} bytes so far); giving up")
    except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError) as e:
        raise Transient(f"connection cut or stalled mid-transfer ({type(e).__name__})") from None
    return bytes(body)


def document(url: str, kind: str, headers: dict[str, str] | None = None) -> Document:
    """GET a small document, bounded in bytes (per kind) and in time (per request); 304 has no body."""

    def attempt() -> Document:
        response = _send(url, headers or {}, stream=True)
        try:
            if response.status_code == 304:
                return Document(304, b"", dict(response.headers))
            check_response(url, response)
            return Document(response.status_code, _read_bounded(url, response, kind), dict(response.headers))
        finally:
            response.close()

    return with_retries(url, attempt)


def stream(url: str, offset: int) -> tuple[requests.Response, Iterator[bytes]]:
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    response = _send(url, headers, stream=True)
    if response.status_code == 416:
        response.close()
        raise RangeNotSatisfiable(url, offset)
    check_response(url, response)
    return response, response.iter_content(CHUNK_BYTES)
