"""Writing toolchains.toml with tomlkit, keeping the user's comments, order and other keys."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gxc.ground import paths, tomlfile
from gxc.ground.errors import PinFileError, shown
from gxc.ground.fsutil import atomic_write
from gxc.ground.versions import Version, VersionSpec
from gxc.project import pins, tracked

if TYPE_CHECKING:
    from tomlkit import TOMLDocument
    from tomlkit.items import Table

    from gxc.ground.config import Sources


def _load(path: str) -> TOMLDocument:
    import tomlkit

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return tomlkit.document()
    tomlfile.parse_toml(path, text)  # same errors, with line and column, as every other reader
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as e:
        raise PinFileError(path, e.line, e.col, str(e).split(" at line ")[0]) from None


def _table(doc: TOMLDocument, name: str) -> Table:
    import tomlkit
    from tomlkit.items import Table

    if name not in doc:
        doc[name] = tomlkit.table()
    table = doc[name]
    if not isinstance(table, Table):
        raise PinFileError("toolchains.toml", 1, 1, f"{shown(name)} must be a table")
    return table


def write_pin(path: str, spec: str, targets: list[str], locks: dict[str, str]) -> None:
    import tomlkit

    doc = _load(path)
    toolchain = _table(doc, "toolchain")
    toolchain["go"] = spec
    if targets:
        existing = [str(t) for t in toolchain.get("targets", [])]
        toolchain["targets"] = existing + [t for t in targets if t not in existing]
    if "lock" in doc or locks:
        lock = _table(doc, "lock")
        # a new lock replaces the old; a plain re-pin drops the entries of versions it no longer allows
        for filename in [str(f) for f in lock if locks or not _lock_matches(str(f), spec)]:
            del lock[filename]
        for filename, sha in locks.items():
            lock[filename] = sha
        if not lock:
            del doc["lock"]
    text = tomlkit.dumps(doc).rstrip("\n") + "\n"  # a removed [lock] leaves no trailing blank lines
    tomlfile.parse_toml(path, text)
    before = _bytes_or_none(path)
    atomic_write(path, text)
    if before is not None:
        from gxc.project import trust

        trust.retrust_after_edit(path, before, text.encode())
    tracked.track(path)


def _bytes_or_none(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _lock_matches(filename: str, spec: str) -> bool:
    """Does a locked archive (`go1.22.10.linux-amd64.tar.gz`) belong to a version the pin allows?"""
    from gxc.ground.errors import GxcError

    name = filename.partition("@v0.0.1-")[2] if filename.startswith("golang.org/toolchain@") else filename
    if " " in name:  # an input of a source build: `tamago@1.25.5 patch tamago.patch`
        name = "go" + name.partition(" ")[0].partition("@")[2] + "."
    parts = name.removeprefix("go").split(".")
    version = ".".join(next((parts[:i] for i, p in enumerate(parts) if "-" in p), parts))
    try:
        return VersionSpec.parse(spec).matches(Version.parse(version))
    except GxcError:
        return False


def check_published(spec: VersionSpec) -> None:
    """A pin must name a version the index publishes (pick_release raises UnknownVersion otherwise)."""
    from gxc.ground import config
    from gxc.sources import goproxy, index

    sources = config.load().sources
    if sources.goproxy:
        goproxy.available(goproxy.parse_proxy_list(sources.goproxy), spec, *index.host_platform(), offline=False)
        return
    index.pick_release(spec, index.load_releases(sources.index_url))


def check_targets(spec: VersionSpec, targets: list[str]) -> None:
    """Every target must be a port gxc knows (built-in, the user's, or a pair of an installed toolchain)."""
    if not targets:
        return
    from gxc.ports import platforms
    from gxc.project import resolve

    installed = resolve.installed_versions()
    version = spec.best(installed) or (max(installed) if installed else None)
    goroot = paths.toolchain_dir(str(version)) if version else None
    registry = platforms.registry_for(goroot, str(version) if version else None, None)
    for name in targets:
        registry.get(name)


def lock_entries(spec: VersionSpec, hosts: list[str]) -> tuple[Version, dict[str, str]]:
    """The exact version, and archive name -> sha256 from the index for each host.

    Refuses a version the index does not list: a lock must come from a published checksum.
    """
    from gxc.ground import config
    from gxc.sources import index

    sources = config.load().sources
    wanted = [_host(text) for text in hosts or ["/".join(index.host_platform())]]
    if sources.goproxy:
        return _module_lock_entries(spec, wanted, sources)
    release = index.pick_release(spec, index.load_releases(sources.index_url))
    entries = {}
    for goos, goarch in wanted:
        archive = release.archive_for(goos, "armv6l" if goarch == "arm" else goarch)
        entries[archive.filename] = archive.sha256
    return release.version, entries


def flavor_lock_entries(version: Version, targets: list[str], project_file: str) -> dict[str, str]:
    """What a source-built flavor of `version` is made of, for each flavored port in `targets`.

    The release's source archive (sha256 from the index), each patch of the recipe and the fork's
    commit: `gxc verify-artifact` accepts a flavor's artifact only when all of them match.
    """
    from gxc.ground import config
    from gxc.ground.versions import Flavored
    from gxc.ports import platforms
    from gxc.sources import index
    from gxc.toolchains import flavors

    project = pins.read_project(project_file) if os.path.isfile(project_file) else None
    registry = platforms.registry_for(None, None, project)
    wanted = sorted({port.flavor for port in map(registry.get, targets) if port.flavor})
    if not wanted:
        return {}
    release = index.pick_release(VersionSpec.parse(str(version)), index.load_releases(config.load().sources.index_url))
    entries = {f.filename: f.sha256 for f in release.files if f.kind == "source"}
    for flavor in wanted:
        recipe = flavors.recipe(Flavored(flavor, version), project)
        entries.update({source_lock_key(recipe.toolchain, "patch", os.path.basename(p.location)): p.sha256
                        for p in recipe.patches})
        if recipe.git:
            entries[source_lock_key(recipe.toolchain, "fork", f"{recipe.git.url}@{recipe.git.ref}")] = recipe.git.commit
    return entries


def source_lock_key(toolchain: object, kind: str, name: str) -> str:
    """The [lock] key of one input of a source build: `tamago@1.25.5 patch tamago.patch`."""
    return f"{toolchain} {kind} {name}"


def _host(text: str) -> tuple[str, str]:
    goos, _, goarch = text.partition("/")
    if not goos or not goarch or "/" in goarch:
        from gxc.ground.errors import UsageError

        raise UsageError(f"--host {shown(text)} is not a host", "name one as OS/ARCH, like linux/amd64 or darwin/arm64")
    return goos, goarch


def _module_lock_entries(spec: VersionSpec, hosts: list[tuple[str, str]],
                         sources: Sources) -> tuple[Version, dict[str, str]]:
    """`golang.org/toolchain@<version>` -> the h1 the checksum database proves, for each host."""
    from gxc.sources import goproxy
    from gxc.sources.proofs import module_proof

    proxies = goproxy.parse_proxy_list(sources.goproxy or "")
    version = goproxy.available(proxies, spec, *hosts[0], offline=False)
    entries = {}
    for goos, goarch in hosts:
        key = goproxy.module_key(version, goos, goarch)
        proof = module_proof(key, {}, sources.sumdb, skip_sumdb=False, offline=False)
        entries[key] = str(proof.digest)
    return version, entries
