"""Writing toolchains.toml with tomlkit, keeping the user's comments, order and other keys."""

from __future__ import annotations

import os

from gxc import pins
from gxc.errors import PinFileError
from gxc.versions import VersionSpec


def _load(path: str) -> object:
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


def _table(doc: object, name: str) -> object:
    import tomlkit

    if name not in doc:  # type: ignore[operator]
        doc[name] = tomlkit.table()  # type: ignore[index]
    return doc[name]  # type: ignore[index]


def write_pin(path: str, spec: str, targets: list[str], locks: dict[str, str]) -> None:
    import tomlkit

    doc = _load(path)
    toolchain = _table(doc, "toolchain")
    toolchain["go"] = spec  # type: ignore[index]
    if targets:
        existing = list(toolchain.get("targets", []))  # type: ignore[attr-defined]
        merged = existing + [t for t in targets if t not in existing]
        toolchain["targets"] = merged  # type: ignore[index]
    if locks:
        lock = _table(doc, "lock")
        for filename, sha in locks.items():
            lock[filename] = sha  # type: ignore[index]
    text = tomlkit.dumps(doc)
    pins.parse_toml(path, text)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def lock_entries(spec: VersionSpec, hosts: list[str]) -> dict[str, str]:
    """Archive name -> sha256 from the index, for each host; refuses versions the index does not list."""
    from gxc import config, index, store

    releases = index.load_releases(config.load().sources.index_url)
    release = store.pick_release(spec, releases)
    wanted = hosts or ["/".join(index.host_platform())]
    entries = {}
    for host in wanted:
        goos, _, goarch = host.partition("/")
        archive = release.archive_for(goos, "armv6l" if goarch == "arm" else goarch)
        entries[archive.filename] = archive.sha256
    return entries
