"""The download cache and leftovers: list them, clean them, and prune unused toolchains.

Cleaning takes each version's lock without waiting, so an install running in another process keeps
its staging directory and partial download.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from gxc.ground import paths, settings
from gxc.ground.versions import Flavored, Version, VersionSpec
from gxc.project import tracked
from gxc.toolchains import objects, store


@dataclass(frozen=True)
class Entry:
    kind: str  # "archive", "partial", "index", "staging"
    path: str
    size: int
    version: str  # the version an archive belongs to, from the receipts, or ""
    role: str = ""  # what the file is to that toolchain, when it is not its release archive ("module zip")


def _size(path: str) -> int:
    if os.path.isdir(path) and not os.path.islink(path):
        return sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(path) for f in fs)
    return os.lstat(path).st_size


def _owners_by_download() -> dict[str, tuple[str, str]]:
    """What each cached download belongs to, from the receipts: an archive's, a source archive's, a
    module zip's or a source build's file name -> (the toolchain, what the file is to it)."""
    found = {}
    toolchains: list[Version | Flavored] = [*store.installed_versions(), *store.installed_flavors()]
    for version in toolchains:
        receipt = store.read_receipt(version) or {}
        name = str(version)
        source = receipt.get("source")
        if receipt.get("kind") == "source-build":
            found[str(receipt.get("filename", ""))] = (name, "its build")
            if isinstance(source, dict):
                found[str(source.get("sha256", ""))] = (name, f"source {source.get('filename', '')}")
        elif receipt.get("cache_key"):
            found[f"{receipt['cache_key']}.zip"] = (name, "module zip")
        elif receipt.get("sha256"):
            found[str(receipt["sha256"])] = (name, "")
    return found


_SIDE_FILES = (".lock", ".sha256", ".hmac")  # locks and proofs beside cached builds: not downloads


def entries() -> list[Entry]:
    owners = _owners_by_download()
    found = []
    downloads = paths.downloads_dir()
    for name in sorted(os.listdir(downloads)) if os.path.isdir(downloads) else []:
        if name.endswith(_SIDE_FILES):
            continue
        path = os.path.join(downloads, name)
        if name.startswith("build-"):  # a source build, named by its input key
            kind, owned_as = "build", name
        else:  # <sha256>, <digest>.zip, or <either>-<url hash>.partial
            kind, owned_as = ("partial" if name.endswith(".partial") else "archive"), \
                name.removesuffix(".partial").split("-", 1)[0]
        version, role = owners.get(owned_as, ("", ""))
        found.append(Entry(kind, path, _size(path), version, role))
    for name in ("index.json", "index.meta.json"):
        path = os.path.join(paths.cache_dir(), name)
        if os.path.exists(path):
            found.append(Entry("index", path, _size(path), ""))
    staging = paths.staging_dir()
    for name in sorted(os.listdir(staging)) if os.path.isdir(staging) else []:
        path = os.path.join(staging, name)
        found.append(Entry("staging", path, _size(path), name.split("-", 1)[0].removeprefix("go")))
    return found


def _lock_free(version: str) -> bool:
    from filelock import Timeout

    lock = store.version_lock(version)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    lock.release()
    return True


def clean() -> list[Entry]:
    """Remove cached archives, the index, leftovers of runs that are not running now, and unused objects."""
    removed = []
    for entry in entries():
        if entry.kind in ("staging", "partial") and entry.version and not _lock_free(entry.version):
            continue
        if entry.kind == "partial" and not entry.version and not _partial_is_idle(entry.path):
            continue
        if os.path.isdir(entry.path) and not os.path.islink(entry.path):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)
        removed.append(entry)
    collected = objects.collect()
    if collected is None:
        raise ObjectsBusy(removed)
    if collected.objects:
        removed.append(Entry("objects", paths.objects_dir(), collected.size, ""))
    return removed


class ObjectsBusy(Exception):
    """Clean did all but collect objects: an install held the store (`removed` is what it did remove)."""

    def __init__(self, removed: list[Entry]) -> None:
        super().__init__(objects.BUSY)
        self.removed = removed


def _partial_is_idle(path: str) -> bool:
    import time

    return time.time() - os.lstat(path).st_mtime > 60  # a live download writes every few milliseconds


def tracked_pins(extra_dirs: list[str] | None = None) -> list[tuple[str, VersionSpec]]:
    """Every version spec that any pin file (of every kind) in a tracked project directory names."""
    directories = dict.fromkeys([*tracked.known_projects(), *(extra_dirs or [])])
    return [(path, spec) for directory in directories for path, spec in _pins_in(directory)]


def _pins_in(directory: str) -> list[tuple[str, VersionSpec]]:
    from gxc.ground.errors import GxcError
    from gxc.project import pins

    try:
        infos = pins.read_dir(directory)
    except (GxcError, OSError):
        return []
    return [(info.path, spec) for info in infos for spec in info.alternatives]


def bootstraps() -> dict[str, list[str]]:
    """Installed releases that bootstrapped a source build, and the builds: prune says so of each."""
    found: dict[str, list[str]] = {}
    built_ones: list[Version | Flavored] = [*store.installed_flavors(), *store.installed_versions()]
    for built in built_ones:
        receipt = store.read_receipt(built) or {}
        if receipt.get("kind") == "source-build" and receipt.get("bootstrap"):
            found.setdefault(str(receipt["bootstrap"]), []).append(str(built))
    return found


def kept_versions(keep: list[str], cwd: str) -> dict[Version, str]:
    """Installed versions something still asks for, with the reason."""
    from gxc.ground.errors import GxcError
    from gxc.project import resolve

    installed = store.installed_versions()
    reasons: dict[Version, str] = {}

    def mark(spec_text: str, why: str) -> None:
        best = VersionSpec.parse(spec_text).best(installed)
        if best is not None:
            reasons.setdefault(best, why)

    default = settings.read_default()
    if default:
        mark(default, "default")
    for spec in keep:
        mark(spec, "--keep")
    for path, pinned in tracked_pins(extra_dirs=[cwd]):
        mark(str(pinned), f"pinned by {path}")
    try:
        here = resolve.resolve(resolve.select(cwd))
        reasons.setdefault(here.version, here.reason)
    except GxcError:
        pass
    return reasons
