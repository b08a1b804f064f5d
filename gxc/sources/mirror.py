"""`gxc mirror`: fill a directory that any static HTTP server can serve as a fleet's toolchain source.

Two layouts, either or both:

- `dl`, go.dev's: `index.json` (the `?mode=json&include=all` shape, listing what the directory holds),
  the archives, and `<archive>.sha256`. Fleets point `GXC_INDEX_URL` at `<url>/index.json` and
  `GXC_MIRROR` at `<url>`.
- `goproxy`, a module proxy's: `golang.org/toolchain/@v/{list,<v>.info,<v>.mod,<v>.zip}`. Fleets point
  `GXC_GOPROXY` (or Go's own `GOPROXY`) at `<url>`.

Every file is verified as an install verifies it (an archive by the index's sha256, a zip and its .mod by
the h1 hashes the checksum database proves) before it is renamed into place, so the directory never
holds an unverified file under a served name. A sync is incremental (a file already there is skipped; a
run that changes nothing writes nothing) and resumable (partial downloads live in gxc's own cache,
`mirror-partial/`, and continue with HTTP Range). DIR is written through `gxc.beneath`: a link planted in
it is refused, never followed, and a file found under a served name is skipped only when its bytes
prove out (else it is fetched again). `verify` re-checks every file a directory serves.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gxc.ground import beneath, paths
from gxc.ground.config import Config
from gxc.ground.errors import ChecksumMismatch, GxcError, UsageError, shown
from gxc.ground.fsutil import sha256_file
from gxc.ground.versions import Version, VersionSpec
from gxc.sources import download, goproxy, index
from gxc.sources.limits import MAX_INDEX_BYTES
from gxc.sources.modhash import dirhash_h1, h1_of_zip

LAYOUTS = ("dl", "goproxy", "both")
SMALL_FILE = 1 << 20  # index.json, list, .mod and .info files a mirror serves are far smaller


@dataclass
class Summary:
    fetched: int = 0
    bytes: int = 0
    skipped: int = 0
    written: list[str] = field(default_factory=list)

    def line(self, root: str) -> str:
        return (f"mirror {root}: {self.fetched} files fetched ({self.bytes / 1024**2:.1f} MiB), "
                f"{self.skipped} already there")


@dataclass(frozen=True)
class Request:
    specs: list[VersionSpec]
    hosts: list[tuple[str, str]]
    layouts: tuple[str, ...]


def parse_hosts(texts: list[str]) -> list[tuple[str, str]]:
    hosts = []
    for text in texts or ["/".join(index.host_platform())]:
        goos, _, goarch = text.partition("/")
        if not goos.isalnum() or not goarch.replace("_", "").isalnum():
            raise UsageError(f"--hosts {shown(text)} is not a host", "name hosts as OS/ARCH, like linux/amd64")
        hosts.append((goos, goarch))
    return hosts


def layouts_of(text: str) -> tuple[str, ...]:
    return ("dl", "goproxy") if text == "both" else (text,)


@dataclass(frozen=True)
class Proof:
    """What a served file must hash to, how to hash it, and who says so."""

    expected: str
    digest: Callable[[str], str]
    authority: str


def partials_dir(root: str) -> str:
    """Where a sync of `root` keeps its resumable downloads: gxc's cache, never the served directory."""
    return os.path.join(paths.cache_dir(), "mirror-partial", hashlib.sha256(os.path.abspath(root).encode())
                        .hexdigest()[:16])


class Syncer:
    """One `gxc mirror sync`: fetch what DIR lacks, verify it, rename it into place."""

    def __init__(self, root: str, config: Config, reporter: Any, offline: bool = False) -> None:
        self.root, self.config, self.reporter, self.offline = root, config, reporter, offline
        self.dir = beneath.Root(root)
        self.summary = Summary()

    def _write_if_changed(self, rel: str, data: bytes) -> None:
        if self.dir.read(rel, SMALL_FILE) == data:
            return
        self.summary.written.append(self.dir.write(rel, data))

    def _fetch_verified(self, url: str, rel: str, size: int | None, proof: Proof) -> None:
        """Download url to DIR/rel through a resumable partial; its bytes must prove out first."""
        existing = self.dir.regular_file(rel)
        if existing and proof.digest(existing) == proof.expected:
            self.summary.skipped += 1
            return
        if existing:
            self.reporter.warn(f"{rel} in {self.root} does not match {proof.authority}; fetching it again")
        os.makedirs(partials_dir(self.root), exist_ok=True)
        partial = os.path.join(partials_dir(self.root), hashlib.sha256(url.encode()).hexdigest()[:32])
        progress = self.reporter.progress(size or 0, os.path.basename(rel))
        download.fetch(url, partial, size, lambda _chunk: None, progress,
                       lambda why: self.reporter.note(f"retrying {url}: {why}"), self.config.limits.max_bytes)
        if progress is not None and hasattr(progress, "close"):
            progress.close()
        actual = proof.digest(partial)
        if actual != proof.expected:
            os.unlink(partial)
            raise ChecksumMismatch(url, proof.expected, actual, proof.authority)
        size_now = os.path.getsize(partial)
        self.summary.written.append(self.dir.place(partial, rel, 0o644))
        self.summary.fetched += 1
        self.summary.bytes += size_now

    # --- go.dev layout ---

    def sync_dl(self, request: Request) -> None:

        releases = index.load_releases(self.config.sources.index_url, offline=self.offline)
        chosen: dict[Version, list[index.ReleaseFile]] = {}
        for spec in request.specs:
            release = index.pick_release(spec, releases)
            for goos, goarch in request.hosts:
                archive = release.archive_for(goos, "armv6l" if goarch == "arm" else goarch)
                chosen.setdefault(release.version, []).append(archive)
        for files in chosen.values():
            for archive in files:
                self._sync_archive(archive)
        self._write_index(chosen, {r.version: r.stable for r in releases})

    def _sync_archive(self, f: index.ReleaseFile) -> None:
        url = self.config.sources.archive_url(f.filename)
        proof = Proof(f.sha256, sha256_file, f"the release index ({self.config.sources.index_url})")
        self._fetch_verified(url, f.filename, f.size, proof)
        self._write_if_changed(f"{f.filename}.sha256", f"{f.sha256}\n".encode())

    def _write_index(self, chosen: dict[Version, list[index.ReleaseFile]], stable: dict[Version, bool]) -> None:
        entries: dict[str, dict[str, Any]] = {}
        existing = self.dir.read("index.json", MAX_INDEX_BYTES)
        if existing is not None:
            for release in index.parse_index(existing, self.dir.path("index.json")):
                entries[str(release.version)] = _entry(release.version, release.stable, list(release.files))
        for version, files in chosen.items():
            known = {x["filename"]: x for x in entries.get(str(version), {"files": []})["files"]}
            for f in files:
                known[f.filename] = _file_entry(version, f)
            entries[str(version)] = _entry(version, stable.get(version, version.is_stable), [], list(known.values()))
        ordered = sorted(entries.values(), key=lambda e: Version.parse(e["version"]), reverse=True)
        self._write_if_changed("index.json", (json.dumps(ordered, indent=1) + "\n").encode())

    # --- GOPROXY layout ---

    def sync_goproxy(self, request: Request) -> None:
        if not self.config.sources.goproxy:
            raise GxcError("--layout goproxy needs a module proxy to copy from",
                           "set GXC_GOPROXY, [source] goproxy in config.toml, or pass --goproxy URL")
        proxies = goproxy.parse_proxy_list(self.config.sources.goproxy)
        at_v = f"{goproxy.MODULE}/@v"
        for spec in request.specs:
            for goos, goarch in request.hosts:
                version = goproxy.available(proxies, spec, goos, goarch, self.offline)
                self._sync_module(proxies, at_v, goproxy.module_version(version, goos, goarch))
        listed = sorted(name[:-len(".zip")] for name in self.dir.listdir(at_v) if name.endswith(".zip"))
        self._write_if_changed(f"{at_v}/list", "".join(f"{v}\n" for v in listed).encode())

    def _sync_module(self, proxies: list[goproxy.Proxy], at_v: str, version: str) -> None:
        key = f"{goproxy.MODULE}@{version}"
        lines = _proved_lines(key, self.config.sources.sumdb, self.offline)
        proof = Proof(lines[version], h1_of_zip, "the checksum database")
        goproxy.try_proxies(proxies, lambda base: self._fetch_verified(f"{base}/{goproxy.MODULE}/@v/{version}.zip",
                                                                       f"{at_v}/{version}.zip", None, proof))
        mod = f"{at_v}/{version}.mod"
        existing = self.dir.read(mod, SMALL_FILE)
        if existing is None or mod_h1(existing) != lines[f"{version}/go.mod"]:
            data = goproxy.fetch(proxies, f"{goproxy.MODULE}/@v/{version}.mod", "mod")
            if mod_h1(data) != lines[f"{version}/go.mod"]:
                raise ChecksumMismatch(f"{key}/go.mod", lines[f"{version}/go.mod"], mod_h1(data),
                                       "the checksum database")
            self._write_if_changed(mod, data)
        info = f"{at_v}/{version}.info"
        if not _info_describes(self.dir.read(info, SMALL_FILE), version):
            fetched = goproxy.fetch(proxies, f"{goproxy.MODULE}/@v/{version}.info", "info")
            self._write_if_changed(info, _checked_info(fetched, version))


def _file_entry(version: Version, f: index.ReleaseFile) -> dict[str, Any]:
    return {"filename": f.filename, "os": f.os, "arch": f.arch, "version": f"go{version}", "sha256": f.sha256,
            "size": f.size, "kind": f.kind}


def _entry(version: Version, stable: bool, files: list[index.ReleaseFile],
           raw: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    listed = raw if raw is not None else [_file_entry(version, f) for f in files]
    return {"version": f"go{version}", "stable": stable, "files": sorted(listed, key=lambda x: x["filename"])}


def mod_h1(go_mod: bytes) -> str:
    """dirhash Hash1 of a module's go.mod alone, as go.sum's `/go.mod` lines hold it."""
    return dirhash_h1([("go.mod", hashlib.sha256(go_mod).hexdigest())])


def _proved_lines(key: str, sumdb_setting: str | None, offline: bool) -> dict[str, str]:
    """`<version>` and `<version>/go.mod` -> h1, as the checksum database proves them."""
    from gxc.sources import sumdb

    client = sumdb.client_for(sumdb_setting, offline, GxcError(
        "GOSUMDB is off: a mirror's zips must be proven by a checksum database",
        "unset GOSUMDB or name a checksum database"))
    module, _, version = key.partition("@")
    found = client.hashes(module, version)
    if version not in found or f"{version}/go.mod" not in found:
        raise GxcError(f"the checksum database has no complete record for {key}", "the database is incomplete")
    return found


def _info_describes(data: bytes | None, version: str) -> bool:
    try:
        info = json.loads(data) if data is not None else None
    except ValueError:
        info = None
    return isinstance(info, dict) and info.get("Version") == version


def _checked_info(data: bytes, version: str) -> bytes:
    if not _info_describes(data, version):
        raise GxcError(f"the proxy's {version}.info does not describe {version}", "the proxy is broken or hostile")
    return data


# --- verify ---------------------------------------------------------------------------------------


def verify(root: str, sumdb_setting: str | None, offline: bool) -> list[str]:
    """Every problem with what DIR serves; [] when each file matches what proves it."""
    problems: list[str] = []
    index_path = os.path.join(root, "index.json")
    at_v = os.path.join(root, goproxy.MODULE, "@v")
    if not os.path.exists(index_path) and not os.path.isdir(at_v):
        raise GxcError(f"{root} is not a gxc mirror (no index.json, no {goproxy.MODULE}/@v)",
                       "fill it with `gxc mirror sync DIR`")
    if os.path.exists(index_path):
        problems += _verify_dl(root, index_path)
    if os.path.isdir(at_v):
        problems += _verify_goproxy(at_v, sumdb_setting, offline)
    return problems


def _verify_dl(root: str, index_path: str) -> list[str]:
    problems = []
    with open(index_path, "rb") as raw:
        releases = index.parse_index(raw.read(), index_path)
    for release in releases:
        for f in release.files:
            path = os.path.join(root, f.filename)
            if not os.path.exists(path):
                problems.append(f"{f.filename}: listed in index.json but missing")
                continue
            actual = sha256_file(path)
            if actual != f.sha256:
                problems.append(f"{f.filename}: sha256 {actual}, index.json says {f.sha256}")
            try:
                with open(f"{path}.sha256", encoding="utf-8") as side:
                    if side.read().strip() != f.sha256:
                        problems.append(f"{f.filename}.sha256 disagrees with index.json")
            except FileNotFoundError:
                problems.append(f"{f.filename}.sha256: missing")
    return problems


def _verify_goproxy(at_v: str, sumdb_setting: str | None, offline: bool) -> list[str]:
    problems = []
    try:
        with open(os.path.join(at_v, "list"), encoding="utf-8") as f:
            listed = set(f.read().split())
    except FileNotFoundError:
        listed = set()
        problems.append(f"{goproxy.MODULE}/@v/list: missing")
    zips = {name[:-len(".zip")] for name in os.listdir(at_v) if name.endswith(".zip")}
    problems += [f"{goproxy.MODULE}/@v/list names {v}, which has no zip" for v in sorted(listed - zips)]
    problems += [f"{goproxy.MODULE}/@v/{v}.zip is not in the list" for v in sorted(zips - listed)]
    for version in sorted(zips):
        key = f"{goproxy.MODULE}@{version}"
        try:
            proved = _proved_lines(key, sumdb_setting, offline)
        except GxcError as e:
            problems.append(f"{key}: {e.message}")
            continue
        actual = h1_of_zip(os.path.join(at_v, f"{version}.zip"))
        if actual != proved[version]:
            problems.append(f"{version}.zip: {actual}, the checksum database proves {proved[version]}")
        try:
            with open(os.path.join(at_v, f"{version}.mod"), "rb") as f:
                if mod_h1(f.read()) != proved[f"{version}/go.mod"]:
                    problems.append(f"{version}.mod: does not match the checksum database")
        except FileNotFoundError:
            problems.append(f"{version}.mod: missing")
        if not os.path.exists(os.path.join(at_v, f"{version}.info")):
            problems.append(f"{version}.info: missing")
    return problems
