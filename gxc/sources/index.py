"""The release index: go.dev's `?mode=json&include=all` array, fetched, validated, cached with its ETag.

A `Release` is one version with its files; `ReleaseFile` is one downloadable file with its
sha256 and size. `host_platform()` names the archive this machine needs.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from typing import Any

from gxc.ground import paths
from gxc.ground.errors import BadIndex, BadVersion, NetworkError, NoArchiveForHost, UnknownVersion, shown
from gxc.ground.versions import Version, VersionSpec
from gxc.sources.limits import MAX_INDEX_BYTES

INDEX_TTL_SECONDS = 3600  # go.dev publishes a few releases a month; an hour keeps `install 1.22` offline-fast
_HEX = frozenset("0123456789abcdef")

_GOOS = {"linux": "linux", "darwin": "darwin", "win32": "windows", "cygwin": "windows"}
_GOARCH = {
    "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
    "i386": "386", "i686": "386", "x86": "386", "armv6l": "armv6l", "armv7l": "armv6l", "armv8l": "armv6l",
    "riscv64": "riscv64", "ppc64le": "ppc64le", "s390x": "s390x", "loongarch64": "loong64",
}


@dataclass(frozen=True)
class ReleaseFile:
    filename: str
    os: str
    arch: str
    sha256: str
    size: int
    kind: str


@dataclass(frozen=True)
class Release:
    version: Version
    stable: bool
    files: tuple[ReleaseFile, ...]

    def archive_for(self, goos: str, goarch: str) -> ReleaseFile:
        for f in self.files:
            if f.kind == "archive" and f.os == goos and f.arch == goarch:
                return f
        raise NoArchiveForHost(str(self.version), f"{goos}/{goarch}")


def host_platform() -> tuple[str, str]:
    """(goos, archive arch) of this machine; overridable for tests with GXC_HOST=os/arch."""
    override = os.environ.get("GXC_HOST")
    if override:
        goos, _, goarch = override.partition("/")
        return goos, goarch
    goos = _GOOS.get(sys.platform) or ("freebsd" if sys.platform.startswith("freebsd") else sys.platform)
    machine = platform.machine().lower()
    return goos, _GOARCH.get(machine, machine)


def _check_sha256(value: object, where: str) -> str:
    if not isinstance(value, str) or len(value) != 64 or not set(value) <= _HEX:
        raise BadIndex(f"index entry {where} has sha256 {shown(value)}, not 64 hex digits",
                       "the index is corrupt or forged")
    return value


def _parse_file(raw: Any, version: str) -> ReleaseFile:
    if not isinstance(raw, dict) or not isinstance(raw.get("filename"), str):
        raise BadIndex(f"index release go{version} has a file entry without a filename", "the index is corrupt")
    name = raw["filename"]
    if "/" in name or "\\" in name or name.startswith("."):
        raise BadIndex(f"index file name {shown(name)} is not a plain file name", "the index is corrupt or forged")
    kind = str(raw.get("kind", ""))
    sha = _check_sha256(raw.get("sha256"), name) if kind == "archive" else str(raw.get("sha256", ""))
    size = raw.get("size", 0)
    if not isinstance(size, int) or size < 0:
        raise BadIndex(f"index file {name} has size {shown(size)}", "the index is corrupt")
    return ReleaseFile(name, str(raw.get("os", "")), str(raw.get("arch", "")), sha, size, kind)


def parse_index(data: bytes, source: str) -> list[Release]:
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        snippet = data[:40].decode("utf-8", "replace").strip().replace("\n", " ")
        raise BadIndex(
            f"the release index at {source} is not JSON (starts with {shown(snippet)})",
            "check GXC_INDEX_URL or [source] index in config.toml; it must be go.dev's ?mode=json&include=all",
        ) from None
    if not isinstance(raw, list):
        raise BadIndex(f"the release index at {source} is not a JSON array of releases", "check GXC_INDEX_URL")
    releases: list[Release] = []
    seen: dict[str, str] = {}
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("version"), str) or not isinstance(
            entry.get("files"), list
        ):
            raise BadIndex(f"the release index at {source} has an entry without version and files", "check the index")
        try:
            version = Version.parse(entry["version"])
        except BadVersion:
            continue  # go.dev lists ancient names (go1, weekly) that no one installs
        files = tuple(_parse_file(f, str(version)) for f in entry["files"])
        for f in files:
            if f.kind == "archive" and seen.setdefault(f.filename, f.sha256) != f.sha256:
                raise BadIndex(f"the release index lists {f.filename} twice with different sha256",
                               "the index is corrupt or forged")
        releases.append(Release(version, bool(entry.get("stable", version.is_stable)), files))
    return releases


def _cache_paths() -> tuple[str, str]:
    base = paths.cache_dir()
    return os.path.join(base, "index.json"), os.path.join(base, "index.meta.json")


def _read_cached(url: str) -> tuple[bytes, dict[str, Any]] | None:
    data_path, meta_path = _cache_paths()
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        if meta.get("url") != url:
            return None
        with open(data_path, "rb") as f:
            return f.read(), meta
    except (OSError, ValueError):
        return None


def _write_cache(url: str, data: bytes, etag: str | None) -> None:
    data_path, meta_path = _cache_paths()
    os.makedirs(os.path.dirname(data_path), exist_ok=True)
    from gxc.ground.fsutil import atomic_write

    atomic_write(data_path, data)
    atomic_write(meta_path, json.dumps({"url": url, "etag": etag, "fetched": time.time()}))




def _fetch_file_url(url: str) -> bytes:
    path = url[len("file://"):]
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_INDEX_BYTES + 1)
    except OSError as e:
        raise NetworkError(url, e.strerror or str(e)) from None
    if len(data) > MAX_INDEX_BYTES:
        raise NetworkError(url, f"larger than the {MAX_INDEX_BYTES} bytes an index may have")
    return data


def _fetch_http(url: str, cached: tuple[bytes, dict[str, Any]] | None) -> bytes:
    from gxc.sources import http

    headers = {}
    if cached and cached[1].get("etag"):
        headers["If-None-Match"] = cached[1]["etag"]
    response = http.document(url, "index", headers=headers)
    if response.status == 304 and cached:
        _write_cache(url, cached[0], cached[1].get("etag"))
        return cached[0]
    data = response.body
    parse_index(data, url)  # never cache what we would refuse
    _write_cache(url, data, response.headers.get("ETag"))
    return data


def load_releases(url: str, *, offline: bool = False, refresh: bool = False) -> list[Release]:
    if url.startswith("file://"):
        return parse_index(_fetch_file_url(url), url)
    cached = _read_cached(url)
    if offline:
        if cached is None:
            raise NetworkError(url, "offline and the release index is not cached")
        return parse_index(cached[0], url)
    if cached and not refresh and time.time() - float(cached[1].get("fetched", 0)) < INDEX_TTL_SECONDS:
        return parse_index(cached[0], url)
    return parse_index(_fetch_http(url, cached), url)


def pick_release(spec: VersionSpec, releases: list[Release]) -> Release:
    """The newest release the spec matches, or UnknownVersion naming it."""
    by_version = {r.version: r for r in releases}
    best = spec.best(by_version)
    if best is None:
        raise UnknownVersion(spec.text)
    return by_version[best]
