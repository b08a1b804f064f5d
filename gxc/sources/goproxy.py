"""Toolchains from a Go module proxy: the module `golang.org/toolchain`, as the go command fetches them.

A proxy lists `golang.org/toolchain/@v/list` (`v0.0.1-go<V>.<goos>-<goarch>` per line) and serves each
version's `.info`, `.mod` and `.zip`. GOPROXY's list semantics are Go's: entries separated by `,` fall
through to the next only on 404 or 410, entries separated by `|` on any error; `off` refuses to fetch.

A zip is believed by its `h1:` hash (Go's dirhash over the zip's files), as gxc.proofs decides it: the
user's checksum database (gxc.sumdb) proves it, and a project's `[lock]`
(`"golang.org/toolchain@v0.0.1-go1.22.10.linux-amd64" = "h1:..."`) can only add its condition. The
install runs in the same transaction as every other (gxc.store): the tree appears only after its hash
matched, and its receipt says which check proved it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gxc.ground import paths
from gxc.ground.errors import ChecksumMismatch, GxcError, NetworkError, UnknownVersion, shown
from gxc.ground.versions import Version, VersionSpec
from gxc.sources import download
from gxc.sources.limits import DOCUMENT_LIMITS
from gxc.sources.modhash import h1_digest
from gxc.sources.proofs import Proof

MODULE = "golang.org/toolchain"
_MODULE_PREFIX = "v0.0.1-go"


@dataclass(frozen=True)
class Proxy:
    url: str
    any_error_falls_through: bool  # `|` after it: any failure tries the next; `,`: only 404/410


def parse_proxy_list(text: str) -> list[Proxy]:
    """GOPROXY's syntax: `URL,URL|URL`; `off` and an empty list are errors."""
    entries: list[Proxy] = []
    rest = text.strip()
    while rest:
        cut = min((i for i in (rest.find(","), rest.find("|")) if i >= 0), default=len(rest))
        url, separator, rest = rest[:cut].strip(), rest[cut:cut + 1], rest[cut + 1:]
        if url == "off":
            raise GxcError("the module proxy list is `off`", "set GXC_GOPROXY or [source] goproxy to a proxy URL")
        if url == "direct":
            continue  # fetching golang.org/toolchain from its VCS is not a toolchain source
        if not url.startswith(("https://", "http://", "file://")):
            raise GxcError(f"the module proxy {shown(url)} is not a URL", "name proxies as https://host/path")
        entries.append(Proxy(url.rstrip("/"), separator == "|"))
    if not entries:
        raise GxcError(f"the module proxy list {shown(text)} names no proxy", "set GXC_GOPROXY to a proxy URL")
    return entries


def module_version(version: Version, goos: str, goarch: str) -> str:
    """`v0.0.1-go1.22.10.linux-amd64`; the archive arch armv6l is GOARCH arm here."""
    return f"{_MODULE_PREFIX}{version}.{goos}-{'arm' if goarch == 'armv6l' else goarch}"


def module_key(version: Version, goos: str, goarch: str) -> str:
    """The [lock] key: `golang.org/toolchain@v0.0.1-go1.22.10.linux-amd64`."""
    return f"{MODULE}@{module_version(version, goos, goarch)}"


def _get(url: str, kind: str) -> bytes:
    from gxc.sources import http

    if url.startswith("file://"):
        try:
            with open(url[len("file://"):], "rb") as f:
                data = f.read(DOCUMENT_LIMITS[kind] + 1)
        except FileNotFoundError:
            raise NetworkError(url, "HTTP 404 (no such file)", 404) from None
        except OSError as e:
            raise NetworkError(url, e.strerror or str(e)) from None
        if len(data) > DOCUMENT_LIMITS[kind]:
            raise NetworkError(url, f"larger than the {DOCUMENT_LIMITS[kind]} bytes a {kind} may have")
        return data
    return http.document(url, kind).body


def try_proxies(proxies: list[Proxy], attempt: Callable[[str], Any]) -> Any:
    """Run `attempt(proxy_url)` down the list with Go's fallback rules; the last error stands."""
    last: NetworkError | None = None
    for proxy in proxies:
        try:
            return attempt(proxy.url)
        except NetworkError as e:
            last = e
            if e.status in (404, 410) or proxy.any_error_falls_through:
                continue
            raise
    assert last is not None
    raise last


def fetch(proxies: list[Proxy], path: str, kind: str) -> bytes:
    """A small document from the first proxy that has it (`kind` bounds its size: see gxc.http)."""
    result: bytes = try_proxies(proxies, lambda base: _get(f"{base}/{path}", kind))
    return result


def _list_cache(proxies: list[Proxy]) -> str:
    key = hashlib.sha256("\n".join(p.url for p in proxies).encode()).hexdigest()[:16]
    return os.path.join(paths.cache_dir(), "goproxy", key, "list")


def list_versions(proxies: list[Proxy], goos: str, goarch: str, offline: bool = False) -> list[Version]:
    """Versions the proxies offer for this host, from `@v/list` (cached for --offline)."""
    from gxc.ground.fsutil import atomic_write

    cache = _list_cache(proxies)
    if offline:
        try:
            with open(cache, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NetworkError(proxies[0].url, "offline and the proxy's version list is not cached") from None
    else:
        data = fetch(proxies, f"{MODULE}/@v/list", "list")
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        atomic_write(cache, data)
    suffix = f".{goos}-{'arm' if goarch == 'armv6l' else goarch}"
    found = set()
    for line in data.decode("utf-8", "replace").splitlines():
        name = line.strip()
        if name.startswith(_MODULE_PREFIX) and name.endswith(suffix):
            try:
                found.add(Version.parse(name[len(_MODULE_PREFIX) - 2:-len(suffix)]))
            except GxcError:
                continue
    return sorted(found)


class ModuleZip:
    """One toolchain zip: where it comes from, where it is cached, and the hash it must have."""

    def __init__(self, proxies: list[Proxy], version: Version, goos: str, goarch: str, proof: Proof) -> None:
        self.proxies, self.version, self.proof = proxies, version, proof
        self.module_version = module_version(version, goos, goarch)
        self.key = f"{MODULE}@{self.module_version}"
        self.path = f"{MODULE}/@v/{self.module_version}.zip"
        digest = h1_digest(proof.digest) if proof.digest else hashlib.sha256(self.key.encode()).hexdigest()
        self.cached = os.path.join(paths.downloads_dir(), f"{digest}.zip")
        self.url = ""  # which proxy served it, once downloaded

    def download(self, reporter: Any, limit: int, offline: bool) -> str:
        """The zip in the download cache (fetched when missing); its sha256 is not the proof, h1 is."""
        if os.path.exists(self.cached) and self.proof.digest:
            return self.cached
        if offline:
            raise NetworkError(self.proxies[0].url, f"offline and {self.key} is not in the download cache")
        os.makedirs(paths.downloads_dir(), exist_ok=True)

        def attempt(base: str) -> str:
            url = f"{base}/{self.path}"
            partial = download.partial_path(self.cached, url)
            progress = reporter.progress(0, f"go{self.version} (module zip)")
            download.fetch(url, partial, None, lambda _chunk: None, progress,
                           lambda why: reporter.note(f"retrying {url}: {why}"), limit)
            os.replace(partial, self.cached)
            return url

        self.url = try_proxies(self.proxies, attempt)
        return self.cached

    def check(self, actual: str) -> None:
        if self.proof.digest is not None and actual != self.proof.digest:
            if os.path.exists(self.cached):
                os.unlink(self.cached)
            raise ChecksumMismatch(self.key, self.proof.digest, actual, self.proof.by)


def available(proxies: list[Proxy], spec: VersionSpec, goos: str, goarch: str, offline: bool) -> Version:
    versions = list_versions(proxies, goos, goarch, offline)
    best = spec.best(versions)
    if best is None:
        raise UnknownVersion(spec.text, f"the module proxy lists no golang.org/toolchain {spec.text} for "
                                        f"{goos}/{goarch}; run `gxc list-remote --all`")
    return best
