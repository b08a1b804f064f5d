"""Writing toolchains.toml with tomlkit, keeping the user's comments, order and other keys."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gxc import pins
from gxc.errors import PinFileError
from gxc.fsutil import atomic_write
from gxc.versions import Version, VersionSpec

if TYPE_CHECKING:
    from tomlkit import TOMLDocument
    from tomlkit.items import Table


def _load(path: str) -> TOMLDocument:
    import tomlkit

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return tomlkit.document()
    pins.parse_toml(path, text)  # same errors, with line and column, as every other reader
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
        raise PinFileError("toolchains.toml", 1, 1, f"{name!r} must be a table")
    return table


def write_pin(path: str, spec: str, targets: list[str], locks: dict[str, str]) -> None:
    import tomlkit

    doc = _load(path)
    toolchain = _table(doc, "toolchain")
    toolchain["go"] = spec
    if targets:
        existing = [str(t) for t in toolchain.get("targets", [])]
        toolchain["targets"] = existing + [t for t in targets if t not in existing]
    if locks:
        lock = _table(doc, "lock")
        for filename, sha in locks.items():
            lock[filename] = sha
    text = tomlkit.dumps(doc)
    pins.parse_toml(path, text)
    atomic_write(path, text)
    track(path)


def tracked_path() -> str:
    from gxc import paths

    return os.path.join(paths.home(), "tracked-pins")


def track(path: str) -> None:
    """Remember pinned projects (as mise does), so `gxc prune` keeps what they use."""
    known = tracked()
    if path not in known:
        os.makedirs(os.path.dirname(tracked_path()), exist_ok=True)
        with open(tracked_path(), "a", encoding="utf-8") as f:
            f.write(path + "\n")


def tracked() -> list[str]:
    try:
        with open(tracked_path(), encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def lock_entries(spec: VersionSpec, hosts: list[str]) -> tuple[Version, dict[str, str]]:
    """The exact version, and archive name -> sha256 from the index for each host.

    Refuses a version the index does not list: a lock must come from a published checksum.
    """
    from gxc import config, index, store

    releases = index.load_releases(config.load().sources.index_url)
    release = store.pick_release(spec, releases)
    wanted = hosts or ["/".join(index.host_platform())]
    entries = {}
    for host in wanted:
        goos, _, goarch = host.partition("/")
        archive = release.archive_for(goos, "armv6l" if goarch == "arm" else goarch)
        entries[archive.filename] = archive.sha256
    return release.version, entries
