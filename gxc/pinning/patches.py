"""Staying patched: which pins lag the newest patch release of their line, and moving a pin forward.

Go's security fixes arrive as patch releases (1.22.10 -> 1.22.12), so an exact pin that is not the
newest patch of its line in the release index is `outdated`; `upgrade` rewrites a project's pin to that
patch (toolchains.toml through tomlkit, keeping comments; a .go-version line), and with `--lock`
replaces the lock entries with the new version's archives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from gxc.ground import config, settings
from gxc.ground.errors import GxcError, UsageError, public_path
from gxc.ground.fsutil import atomic_write
from gxc.ground.versions import Version, VersionSpec
from gxc.sources import index


@dataclass(frozen=True)
class Lag:
    where: str  # "default" or the pin file
    pinned: Version
    newest: Version


def newest_patch(version: Version, releases: list[Version]) -> Version | None:
    """The newest stable release of `version`'s line, when it is newer than `version`."""
    line = [r for r in releases if r.is_stable and r.series == version.series]
    best = max(line, default=None)
    return best if best is not None and best > version else None


def index_versions(offline: bool) -> list[Version]:
    return [r.version for r in index.load_releases(config.load().sources.index_url, offline=offline)]


def outdated(cwd: str, offline: bool = False) -> list[Lag]:
    """The default and every exact pin of the tracked projects (and the one here) that lags its line."""
    from gxc.toolchains import cache

    releases = index_versions(offline)
    candidates: list[tuple[str, VersionSpec]] = []
    default = settings.read_default()
    if default:
        candidates.append(("default", VersionSpec.parse(default)))
    candidates += cache.tracked_pins(extra_dirs=[cwd])
    found, seen = [], set()
    for where, spec in candidates:
        if spec.kind != "exact" or spec.version is None or (where, str(spec)) in seen:
            continue
        seen.add((where, str(spec)))
        newer = newest_patch(spec.version, releases)
        if newer is not None:
            found.append(Lag(where, spec.version, newer))
    return found


def _pin_file(directory: str) -> str:
    for name in ("toolchains.toml", ".go-version"):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise UsageError(f"no toolchains.toml or .go-version in {public_path(directory)} to upgrade",
                     "run it in the project directory, or pass it: gxc upgrade PATH")


def _pinned(path: str) -> Version:
    from gxc.project import pins

    info = pins.read_project(path) if path.endswith(".toml") else pins.read_go_version(path)
    if info.pin is None or info.pin.kind != "exact" or info.pin.version is None:
        shown = info.pin.text if info.pin else "nothing"
        raise UsageError(f"{public_path(path)} pins {shown}, not an exact version",
                         "a version spec such as 1.22 already follows its line's newest patch")
    return info.pin.version


def upgrade(directory: str, lock: bool, hosts: list[str]) -> tuple[str, Version, Version | None, dict[str, str]]:
    """Move the pin in `directory` to the newest patch of its line: (file, old, new or None, lock entries)."""
    from gxc.pinning import pinwrite

    path = _pin_file(directory)
    old = _pinned(path)
    new = newest_patch(old, index_versions(offline=False))
    if new is None:
        return path, old, None, {}
    if path.endswith(".go-version"):
        if lock:
            raise UsageError(f"{public_path(path)} cannot hold a lock", "pin with toolchains.toml to use --lock")
        atomic_write(path, f"{new}\n")
        return path, old, new, {}
    locks: dict[str, str] = {}
    if lock:
        _, locks = pinwrite.lock_entries(VersionSpec.parse(str(new)), hosts)
    elif _has_lock(path):
        raise GxcError(f"{public_path(path)} locks go{old}: upgrading its pin would leave the lock behind",
                       "run `gxc upgrade --lock` to lock the new version")
    pinwrite.write_pin(path, str(new), [], locks)
    return path, old, new, locks


def _has_lock(path: str) -> bool:
    from gxc.ground import tomlfile

    with open(path, encoding="utf-8") as f:
        return bool(tomlfile.parse_toml(path, f.read()).get("lock"))
