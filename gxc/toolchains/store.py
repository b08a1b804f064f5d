"""Installed toolchains: the install transaction, listing, uninstall, receipts and verify.

A toolchain `go<V>` is installed exactly when `toolchains/go<V>/` exists: it only ever appears
there by an atomic `rename` from `staging/`, after its archive's sha256 matched and its receipt
was written. Each version has its own cross-process lock in `locks/`, so two installs of one
version download once and the second finds the first's result.

Trees are hard links into the object store (`gxc.objects`). A reinstall or repair whose receipt
matches what is asked for rebuilds the tree from its receipt by linking objects, and reads the
archive only when an object is missing (or, under `--repair`, drifted: it is re-made and every tree
that still links the drifted copy is relinked). Uninstall collects the objects no tree uses.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from gxc.ground import paths
from gxc.ground.config import Config
from gxc.ground.errors import (
    ChecksumMismatch,
    DiskError,
    GxcError,
    NetworkError,
    SourceMismatch,
    UnsafeArchive,
)
from gxc.ground.fsutil import atomic_write, read_json_object, sha256_file
from gxc.ground.terminal import Progress
from gxc.ground.versions import Flavored, Version, VersionSpec
from gxc.sources import download, goproxy, index
from gxc.sources.index import Release, ReleaseFile
from gxc.sources.proofs import Lock, archive_proof, module_proof
from gxc.toolchains import objects, workdir
from gxc.toolchains.archive import LINK_PREFIX, Extracted, StreamingExtract, extract_module_zip, extract_zip


class Reporter(Protocol):
    def progress(self, total: int, label: str) -> Progress | None: ...
    def note(self, message: str) -> None: ...  # chatter: a terminal only
    def warn(self, message: str) -> None: ...  # what the user must learn even in a log
    def step(self, message: str) -> None: ...  # long work showing it is alive: a terminal and a log


class SilentReporter:
    def progress(self, total: int, label: str) -> Progress | None:
        return None

    def note(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    def step(self, message: str) -> None:
        pass


@dataclass(frozen=True)
class InstallOptions:
    force: bool = False
    offline: bool = False
    locks: dict[str, Lock] = field(default_factory=dict)  # archive filename or module key -> lock (gxc.proofs)
    user_index_url: str = ""  # the user's own index, checked when a project's [source] chose another
    allow_source_mismatch: bool = False
    skip_sumdb: bool = False  # --insecure-skip-sumdb: a module proxy's zip without lock entry goes unproven
    repair: bool = False  # re-hash every object the tree uses; re-make those that drifted


@dataclass(frozen=True)
class Outcome:
    version: Version
    status: str  # "installed", "reinstalled", "already installed"
    path: str


def installed_versions() -> list[Version]:
    from gxc.project.resolve import installed_versions as listing

    return listing()


def installed_flavors() -> list[Flavored]:
    """Flavored builds (`tamago@1.25.5`), installed beside the releases."""
    from gxc.project.resolve import installed_named

    return sorted(installed_named(lambda name: "@" in name, Flavored.parse))


def parse_installed_name(text: str) -> Version | Flavored:
    """What `uninstall`, `verify` and `list` take: `1.22.10`, `go1.22.10` or `tamago@1.25.5`."""
    return Flavored.parse(text) if "@" in text else Version.parse(text)


def is_installed(version: Version | Flavored) -> bool:
    return os.path.isdir(paths.toolchain_dir(str(version)))


def read_receipt(version: Version | Flavored | str) -> dict[str, Any] | None:
    return read_json_object(paths.receipt_path(str(version)))


def _remove_tree(path: str) -> None:
    """Delete a tree gxc made (staging, a swapped-out or uninstalled toolchain), the top folders two at a time."""
    try:
        tops = list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    with ThreadPoolExecutor(2) as pool:  # unlink and rmdir wait on the file system, not on Python
        list(pool.map(_remove_entry, tops))
    shutil.rmtree(path, ignore_errors=True)


def _remove_entry(entry: os.DirEntry[str]) -> None:
    if not entry.is_dir(follow_symlinks=False):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
        return
    directories, pending = [], [entry.path]
    try:
        while pending:
            directory = pending.pop()
            directories.append(directory)
            with os.scandir(directory) as it:
                for child in it:
                    if child.is_dir(follow_symlinks=False):
                        pending.append(child.path)
                    else:
                        os.unlink(child.path)
        for directory in reversed(directories):
            os.rmdir(directory)
    except OSError:
        shutil.rmtree(entry.path, ignore_errors=True)


def _clean_stale(version: str) -> bool:
    """Remove what a killed run left for this version (safe: we hold its lock); True if there was some."""
    leftovers = glob.glob(os.path.join(paths.staging_dir(), f"{glob.escape(paths.dir_name(version))}-*"))
    for leftover in leftovers:
        _remove_tree(leftover)
    return bool(leftovers)


class _Installer:
    """One version's install under its lock: fetch or reuse the archive, extract, swap into place."""

    def __init__(self, release: Release, archive: ReleaseFile, config: Config, options: InstallOptions,
                 reporter: Reporter, authority: str | None = None) -> None:
        self.release, self.archive, self.config = release, archive, config
        self.options, self.reporter = options, reporter
        self.version = str(release.version)
        self.url = config.sources.archive_url(archive.filename)
        if authority is None:  # the caller's proof, else the index's (a lock entry must agree with it)
            authority = archive_proof(archive.filename, archive.sha256, config.sources.index_url, options.locks).by
        self.expected, self.authority = archive.sha256, authority
        self.cached = os.path.join(paths.downloads_dir(), self.expected)
        self.objects: objects.Objects | None = None

    def _extract_from_file(self, path: str, root: str) -> Extracted:
        if self.archive.filename.endswith(".zip"):
            download.verify_digest(path, path, self.expected, sha256_file(path),
                                   f"{self.authority}; the cached copy was corrupt")
            return extract_zip(path, root, self.config.limits, self.objects)
        stream = StreamingExtract(root, self.config.limits, self.objects)
        try:
            hasher = hashlib.sha256()
            progress = self.reporter.progress(self.archive.size, f"go{self.version} (cached)")
            download.replay_file(path, hasher, stream.feed, progress)
            download.verify_digest(path, path, self.expected, hasher.hexdigest(),
                                   f"{self.authority}; the cached copy was corrupt")
            return stream.finish()
        except BaseException:
            stream.abort()
            raise

    def _download_and_extract(self, root: str) -> Extracted:
        if self.options.offline:
            raise NetworkError(self.url, "offline and the archive is not in the download cache")
        os.makedirs(paths.downloads_dir(), exist_ok=True)
        partial = download.partial_path(self.cached, self.url)
        resumed = os.path.exists(partial) and os.path.getsize(partial) > 0
        try:
            return self._download_once(root, partial)
        except NetworkError as e:
            if e.status in (404, 410):
                raise self._missing_on_mirror() from None
            raise
        except ChecksumMismatch:
            if not resumed:
                raise
            # the bytes we resumed from were bad (an earlier, broken transfer): start from zero, once
            self.reporter.note(f"the resumed download of {self.url} did not match; downloading it again from the start")
            _remove_tree(root)
            os.mkdir(root)
            return self._download_once(root, partial)

    def _missing_on_mirror(self) -> GxcError:
        """The index lists the archive, the mirror does not have it: say so, and what else would work."""
        source = any(f.kind == "source" for f in self.release.files)
        build = f"build it with `gxc install --from-source {self.version}`, or " if source else ""
        return GxcError(f"the mirror has no {self.archive.filename} ({self.url} answered 404), although the index "
                        f"({self.config.sources.index_url}) lists it", f"{build}point GXC_MIRROR at a mirror that "
                                                                          "serves what its index lists")

    def _download_once(self, root: str, partial: str) -> Extracted:
        is_zip = self.archive.filename.endswith(".zip")
        stream = None if is_zip else StreamingExtract(root, self.config.limits, self.objects)
        try:
            sink = stream.feed if stream else (lambda _chunk: None)
            progress = self.reporter.progress(self.archive.size, f"go{self.version}")
            actual = download.fetch(self.url, partial, self.archive.size, sink, progress,
                                    lambda why: self.reporter.note(f"retrying {self.url}: {why}"))
            download.verify_digest(self.url, partial, self.expected, actual, self.authority)
            os.replace(partial, self.cached)
            if stream is None:
                return extract_zip(self.cached, root, self.config.limits, self.objects)
            return stream.finish()
        except BaseException:
            if stream:
                stream.abort()
            raise

    def _fetch_and_extract(self, root: str) -> Extracted:
        if os.path.exists(self.cached):
            try:
                return self._extract_from_file(self.cached, root)
            except ChecksumMismatch:
                if self.options.offline:
                    raise
                _remove_tree(root)
                os.mkdir(root)
        return self._download_and_extract(root)

    def _tree_receipt(self, extracted: Extracted, root: str) -> dict[str, Any]:
        """What every receipt holds, whatever the source: the version, who chose it, and the tree."""
        project = self.config.sources.project
        return {
            "version": self.version,
            "source": f"project {project}" if project else "user",
            "size": extracted.size,
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "manifest": extracted.manifest,
            "modes": extracted.modes,
        }

    def _receipt(self, extracted: Extracted, root: str) -> dict[str, Any]:
        return {
            **self._tree_receipt(extracted, root),
            "filename": self.archive.filename,
            "url": self.url,
            "index_url": self.config.sources.index_url,
            "source_mismatch_allowed": self.options.allow_source_mismatch and bool(self.config.sources.project),
            "proved_by": f"sha256 {self.authority}",
            "sha256": self.expected,
            "archive_size": self.archive.size,
        }

    def same_install(self, receipt: dict[str, Any]) -> bool:
        """Whether `receipt` describes the tree this install would make (so its objects can make it)."""
        return receipt.get("filename") == self.archive.filename and receipt.get("sha256") == self.expected

    def _populate(self, root: str, store: objects.Objects) -> tuple[Extracted, str]:
        """Fill the staging tree: from the object store when the receipt allows, else from the archive."""
        restored, extracted = populate(self.version, root, store, self.options.repair, self.reporter,
                                       self.same_install, lambda: self._extract_with(store, root))
        if restored:
            return restored, " (from the object store)"
        assert extracted is not None
        return extracted, ""

    def _extract_with(self, store: objects.Objects, root: str) -> Extracted:
        self.objects = store
        return self._fetch_and_extract(root)

    def run(self) -> Outcome:
        target = paths.toolchain_dir(self.version)
        collect = _clean_stale(self.version)
        os.makedirs(paths.staging_dir(), exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f"go{self.version}-", dir=paths.staging_dir())
        try:
            with objects.using():
                store = objects.Objects.here()
                extracted, how = self._populate(staging, store)
                if store.fallback:
                    self.reporter.warn(store.fallback)
                existed = _swap_in(staging, target, self.version, self._receipt(extracted, staging))
        except FileExistsError as e:
            raise UnsafeArchive(str(e.filename), "duplicate member") from None
        except OSError as e:
            raise DiskError(e.filename or staging, e) from None
        finally:
            _remove_tree(staging)
        if collect:
            objects.collect(wait=0)  # what a killed run of this version left; never wait for another install
        workdir.ensure(self.version)
        return Outcome(self.release.version, ("reinstalled" if existed else "installed") + how, target)


T = TypeVar("T")


def populate(ident: str, root: str, store: objects.Objects, repair: bool, reporter: Reporter,
             belongs: Callable[[dict[str, Any]], bool], make: Callable[[], T]) -> tuple[Extracted | None, T | None]:
    """Fill a staging tree from the object store when the receipt is this install's (nothing fetched or built,
    no file hashed again: the receipt's manifest is the tree), else with `make()`, relinking drifted objects.
    Releases, proxy zips and source builds share it; the first of the pair is set when the objects sufficed."""
    receipt = read_receipt(ident)
    drifted: dict[str, tuple[int, int]] = {}
    if receipt and "modes" in receipt and belongs(receipt):
        restored = restore_tree(receipt, root, store, repair)
        if not restored.missing:
            return Extracted(receipt["manifest"], int(receipt.get("size", 0)), receipt["modes"]), None
        drifted = restored.drifted
        _remove_tree(root)
        os.mkdir(root)
    made = make()
    if drifted:
        relink_drifted(drifted, store, reporter)
    return None, made


def _swap_in(staging: str, target: str, version: str, receipt: dict[str, Any]) -> bool:
    """Write the receipt, then rename the staging tree into place (swapping out an old one); True if one was."""
    os.chmod(staging, 0o755)  # noqa: S103 - a shared GXC_HOME serves other accounts; mkdtemp made it 0700
    if not receipt.get("modes"):
        receipt["modes"] = tree_modes(staging)
    atomic_write(paths.receipt_path(version), json.dumps(receipt, sort_keys=True))
    existed = os.path.isdir(target)
    if existed:  # --force: swap the old tree out, the new one in, then delete the old
        os.rename(target, f"{staging}.old")
    os.makedirs(paths.toolchains_dir(), exist_ok=True)
    os.rename(staging, target)
    _remove_tree(f"{staging}.old")
    return existed


@dataclass(frozen=True)
class Restored:
    missing: list[str]  # files whose object is not in the store (or drifted)
    drifted: dict[str, tuple[int, int]]  # object name -> the inode of its drifted copy (removed from the store)


def _check_objects(receipt: dict[str, Any], store: objects.Objects) -> dict[str, tuple[int, int]]:
    """Re-hash every object the receipt's tree uses; drifted ones leave the store (their inodes are returned)."""
    drifted: dict[str, tuple[int, int]] = {}
    modes = receipt["modes"]
    wanted = {(digest, objects.is_executable(modes.get(rel, "444")))
              for rel, digest in receipt["manifest"].items() if not digest.startswith(LINK_PREFIX)}
    for digest, executable in sorted(wanted):
        path = store.path(digest, executable)
        node = objects.inode(path)
        if node is not None and sha256_file(path) != digest:
            os.unlink(path)
            drifted[objects.object_name(digest, executable)] = node
    return drifted


def restore_tree(receipt: dict[str, Any], root: str, store: objects.Objects, rehash: bool) -> Restored:
    """Make the receipt's tree under `root` from objects: directories, symlinks, and a hard link per file."""
    drifted = _check_objects(receipt, store) if rehash else {}
    manifest: dict[str, str] = receipt["manifest"]
    modes: dict[str, str] = receipt["modes"]
    for rel in sorted(p for p in modes if p not in manifest):
        os.makedirs(os.path.join(root, rel), 0o755, exist_ok=True)
    missing = []
    for rel, digest in manifest.items():
        dest = f"{root}/{rel}"
        if digest.startswith(LINK_PREFIX):
            os.symlink(digest[len(LINK_PREFIX):], dest)
        elif not store.link_existing(digest, objects.is_executable(modes.get(rel, "444")), None, dest):
            missing.append(rel)
    return Restored(missing, drifted)



def trees_using(name: str) -> list[tuple[str, list[str]]]:
    """Installed toolchains whose receipt lists object `name`, with the paths that hold it."""
    digest, executable = name.removesuffix(".x"), name.endswith(".x")
    found = []
    every: list[Version | Flavored] = [*installed_versions(), *installed_flavors()]
    for version in every:
        receipt = read_receipt(version) or {}
        modes = receipt.get("modes", {})
        rels = [rel for rel, d in receipt.get("manifest", {}).items()
                if d == digest and objects.is_executable(modes.get(rel, "444")) == executable]
        if rels:
            found.append((str(version), rels))
    return found


def relink_drifted(drifted: dict[str, tuple[int, int]], store: objects.Objects, reporter: Reporter) -> None:
    """Point every tree that still links a drifted object's old inode at the object made anew."""
    for name, node in sorted(drifted.items()):
        fresh = store.path(name.removesuffix(".x"), name.endswith(".x"))
        if objects.inode(fresh) is None:
            continue
        healed = []
        for version, rels in trees_using(name):
            root = paths.toolchain_dir(version)
            for rel in rels:
                if objects.inode(os.path.join(root, rel)) == node:
                    store.replace_with_link(fresh, os.path.join(root, rel))
                    healed.append(paths.dir_name(version))
        shown = ", ".join(sorted(set(healed))) or "no other toolchain"
        reporter.warn(f"object {name} had drifted; made it anew from the archive and relinked it in {shown}")


class _ModuleInstaller(_Installer):
    """The same transaction for a toolchain zip from a module proxy, proven by its h1 hash."""

    def __init__(self, module_zip: goproxy.ModuleZip, config: Config, options: InstallOptions,
                 reporter: Reporter) -> None:
        self.zip, self.config, self.options, self.reporter = module_zip, config, options, reporter
        self.version = str(module_zip.version)
        self.release = Release(module_zip.version, module_zip.version.is_stable, ())
        self.h1 = ""
        self.objects = None

    def same_install(self, receipt: dict[str, Any]) -> bool:
        proven = self.zip.proof.digest
        if receipt.get("filename") != self.zip.key or not proven or receipt.get("h1") != proven:
            return False
        self.h1 = proven
        return True

    def _extract_zip(self, root: str) -> Extracted:
        path = self.zip.download(self.reporter, self.config.limits.max_bytes, self.options.offline)
        try:
            extracted, self.h1 = extract_module_zip(path, root, self.config.limits, self.zip.key, self.objects)
        except zipfile.BadZipFile:
            os.unlink(path)
            raise ChecksumMismatch(self.zip.key, self.zip.proof.digest or "a zip archive", "not a zip archive",
                                   self.zip.proof.by) from None
        self.zip.check(self.h1)
        return extracted

    def _fetch_and_extract(self, root: str) -> Extracted:
        was_cached = os.path.exists(self.zip.cached)
        try:
            return self._extract_zip(root)
        except ChecksumMismatch:
            if not was_cached or self.options.offline:
                raise
            self.reporter.note(f"the cached zip of {self.zip.key} was corrupt; downloading it again")
            _remove_tree(root)
            os.mkdir(root)
            return self._extract_zip(root)

    def _receipt(self, extracted: Extracted, root: str) -> dict[str, Any]:
        return {
            **self._tree_receipt(extracted, root),
            "filename": self.zip.key,
            "url": self.zip.url or self.zip.cached,
            "goproxy": self.config.sources.goproxy,
            "h1": self.h1,
            "proved_by": f"h1 {self.zip.proof.by}",
            "cache_key": os.path.basename(self.zip.cached).removesuffix(".zip"),
        }


def _install_from_proxy(spec: VersionSpec, config: Config, options: InstallOptions, reporter: Reporter) -> Outcome:
    proxies = goproxy.parse_proxy_list(config.sources.goproxy or "")
    goos, goarch = index.host_platform()
    if spec.kind == "exact" and spec.version and options.offline:
        version = spec.version  # no version list needed: the lock or the verified lookup decides
    else:
        version = goproxy.available(proxies, spec, goos, goarch, options.offline)
    if not options.force and is_installed(version):
        return Outcome(version, "already installed", paths.toolchain_dir(str(version)))
    with version_lock(str(version)):
        if not options.force and is_installed(version):
            return Outcome(version, "already installed", paths.toolchain_dir(str(version)))
        key = goproxy.module_key(version, goos, goarch)
        proof = module_proof(key, options.locks, config.sources.sumdb, options.skip_sumdb, options.offline)
        if proof.digest is None:
            reporter.note(f"warning: {key} is not verified: {proof.by}")
        module_zip = goproxy.ModuleZip(proxies, version, goos, goarch, proof)
        return _ModuleInstaller(module_zip, config, options, reporter).run()


def user_index_sha256(version: Version, filename: str, user_index_url: str, offline: bool) -> str | None:
    """What the user's own index says the archive's sha256 is (None: it does not list the file)."""
    releases = index.load_releases(user_index_url, offline=offline)
    for release in releases:
        if release.version == version:
            return next((f.sha256 for f in release.files if f.filename == filename), None)
    return None


def check_source_identity(release: Release, archive: ReleaseFile, config: Config, options: InstallOptions) -> None:
    """A project's [source] must not decide which bytes are "go1.22.10" for every other project.

    When a trusted project's index chose the checksum, the user's own index must agree (or list no
    such file and the user accepts that with --allow-source-mismatch).
    """
    project = config.sources.project
    if not project or not options.user_index_url or config.sources.index_url == options.user_index_url:
        return
    if options.allow_source_mismatch:
        return
    try:
        theirs = user_index_sha256(release.version, archive.filename, options.user_index_url, options.offline)
    except GxcError as e:
        raise SourceMismatch(str(release.version), project, f"your own index could not be read ({e.message})") \
            from None
    if theirs is None:
        raise SourceMismatch(str(release.version), project, f"your own index ({options.user_index_url}) does not "
                                                            f"list {archive.filename}")
    if theirs != archive.sha256:
        raise SourceMismatch(str(release.version), project, f"its index says sha256 {archive.sha256}, your own "
                                                            f"index ({options.user_index_url}) says {theirs}")


def tree_modes(root: str) -> dict[str, str]:
    """Permission bits of every file and directory (not links), as octal text, for `gxc verify`."""
    modes: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            if not os.path.islink(full):
                modes[os.path.relpath(full, root)] = format(st.st_mode & 0o7777, "o")
    return modes


def version_lock(version: str) -> Any:
    from filelock import FileLock

    os.makedirs(paths.locks_dir(), exist_ok=True)
    return FileLock(os.path.join(paths.locks_dir(), f"{paths.dir_name(version)}.lock"))


def install(spec: VersionSpec, config: Config, options: InstallOptions | None = None,
            reporter: Reporter | None = None) -> Outcome:
    options = options or InstallOptions()
    reporter = reporter or SilentReporter()
    if spec.kind == "exact" and spec.version and not options.force and is_installed(spec.version):
        return Outcome(spec.version, "already installed", paths.toolchain_dir(str(spec.version)))
    if config.sources.goproxy:
        with _disk_errors():
            return _install_from_proxy(spec, config, options, reporter)
    authority: str | None = None
    try:
        releases = index.load_releases(config.sources.index_url, offline=options.offline)
    except NetworkError:
        known = _release_from_receipt(spec, config) if options.offline else None
        if known is None:
            raise
        releases, authority = [known[0]], known[1]
    release = index.pick_release(spec, releases)
    version = str(release.version)
    if not options.force and is_installed(release.version):
        return Outcome(release.version, "already installed", paths.toolchain_dir(version))
    archive = release.archive_for(*index.host_platform())
    check_source_identity(release, archive, config, options)
    proof = archive_proof(archive.filename, archive.sha256, config.sources.index_url, options.locks)  # before locking
    with _disk_errors(), version_lock(version):
        if not options.force and is_installed(release.version):
            return Outcome(release.version, "already installed", paths.toolchain_dir(version))
        return _Installer(release, archive, config, options, reporter, authority or proof.by).run()


def _release_from_receipt(spec: VersionSpec, config: Config) -> tuple[Release, str] | None:
    """Offline with no cached index: an installed exact version's receipt knows its archive.

    Only a receipt of a release archive from the same index qualifies (its sha256 was proven by that
    index when it was installed); a source build, a module zip or another source's install does not.
    """
    if spec.kind != "exact" or spec.version is None:
        return None
    receipt = read_receipt(spec.version)
    if (not receipt or "sha256" not in receipt or "filename" not in receipt or "h1" in receipt
            or receipt.get("kind") == "source-build"
            or receipt.get("index_url") != config.sources.index_url):
        return None
    goos, goarch = index.host_platform()
    archive = ReleaseFile(str(receipt["filename"]), goos, goarch, str(receipt["sha256"]),
                          int(receipt.get("archive_size", 0)), "archive")
    proved = str(receipt.get("proved_by", "")).removeprefix("sha256 ")
    return (Release(spec.version, True, (archive,)),
            f"the receipt of go{spec.version} (the index is not cached; proven at install by {proved})")


@contextlib.contextmanager
def _disk_errors() -> Iterator[None]:
    """A full, read-only or forbidden disk under an install is a DiskError (one line), not a crash."""
    try:
        yield
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EPERM, errno.EDQUOT):
            raise DiskError(e.filename or paths.home(), e) from None
        raise


def uninstall(version: Version | Flavored) -> bool:
    """Remove a toolchain, then the objects no tree links any more; False if an install kept them for later."""
    from gxc.ground.errors import ToolchainNotInstalled

    name = str(version)
    nothing_to_do = "nothing to uninstall; `gxc list` shows what is installed"
    if not is_installed(version):
        raise ToolchainNotInstalled(name, hint=nothing_to_do)
    with version_lock(name):
        if not is_installed(version):  # another process uninstalled it while we waited
            raise ToolchainNotInstalled(name, hint=nothing_to_do)
        os.makedirs(paths.staging_dir(), exist_ok=True)
        trash = tempfile.mkdtemp(prefix=f"go{name}-trash-", dir=paths.staging_dir())
        os.rename(paths.toolchain_dir(name), os.path.join(trash, "tree"))
        for path in (paths.receipt_path(name),):
            if os.path.exists(path):
                os.unlink(path)
        _remove_tree(paths.work_dir(name))
        _remove_tree(trash)
    return objects.collect() is not None


@dataclass(frozen=True)
class Drift:
    modified: list[str]
    added: list[str]
    removed: list[str]
    modes: list[str] = field(default_factory=list)  # "path: 755 -> 700"
    objects: list[str] = field(default_factory=list)  # names of drifted objects the tree links

    @property
    def clean(self) -> bool:
        return not (self.modified or self.added or self.removed or self.modes)


# Trees share inodes: one verify run hashes each inode once. Keyed by ctime too, which any write,
# chmod or link changes, so a file changed between two calls is hashed again.
_hashed: dict[tuple[int, int, int, int], str] = {}


def _digest(path: str) -> str:
    st = os.lstat(path)
    if os.path.islink(path):
        return LINK_PREFIX + os.readlink(path)
    key = (st.st_dev, st.st_ino, st.st_size, st.st_ctime_ns)
    if st.st_nlink > 1 and key in _hashed:
        return _hashed[key]
    digest = sha256_file(path)
    if st.st_nlink > 1:
        _hashed[key] = digest
    return digest


def current_tree(root: str) -> dict[str, str]:
    tree: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, name)
            tree[os.path.relpath(full, root)] = _digest(full)
    return tree


def verify(version: Version | Flavored) -> Drift:
    receipt = read_receipt(version)
    if receipt is None:
        raise GxcError(f"go{version} has no receipt to verify against", f"run `gxc install --force {version}`")
    expected: dict[str, str] = receipt["manifest"]
    root = paths.toolchain_dir(str(version))
    actual = current_tree(root)
    modes: list[str] = []
    if "modes" in receipt:  # receipts from before modes were recorded have none to compare
        now = tree_modes(root)
        modes = sorted(f"{p}: {m} -> {now[p]}" for p, m in receipt["modes"].items() if p in now and now[p] != m)
        if os.stat(root).st_mode & 0o777 != 0o755:
            modes.insert(0, f".: 755 -> {format(os.stat(root).st_mode & 0o777, 'o')}")
    modified = sorted(p for p in expected.keys() & actual.keys() if expected[p] != actual[p])
    return Drift(
        modified=modified,
        added=sorted(actual.keys() - expected.keys()),
        removed=sorted(expected.keys() - actual.keys()),
        modes=modes,
        objects=_drifted_objects(receipt, root, modified),
    )


def _drifted_objects(receipt: dict[str, Any], root: str, modified: list[str]) -> list[str]:
    """The objects among the modified files: the tree still links them, so their content changed in the store."""
    store = objects.Objects.here()
    found = set()
    for rel in modified:
        digest = receipt["manifest"][rel]
        if digest.startswith(LINK_PREFIX):
            continue
        executable = objects.is_executable(receipt.get("modes", {}).get(rel, "444"))
        if objects.inode(os.path.join(root, rel)) == objects.inode(store.path(digest, executable)):
            found.add(objects.object_name(digest, executable))
    return sorted(found)


def source_of(version: Version | Flavored) -> str:
    """"user", or "project <path>" for a toolchain a project's [source] chose."""
    receipt = read_receipt(version) or {}
    if receipt.get("kind") == "source-build":  # its "source" is the source archive it was built from
        return str(receipt.get("chosen_by", "user"))
    return str(receipt.get("source", "user"))


def built_from(version: Version | Flavored) -> str:
    """The source archive a source build was made from ("" for an installed release archive)."""
    receipt = read_receipt(version) or {}
    source = receipt.get("source") if receipt.get("kind") == "source-build" else None
    return str(source.get("filename", "")) if isinstance(source, dict) else ""


def installed_size(version: Version | Flavored) -> int:
    receipt = read_receipt(version)
    return int(receipt.get("size", 0)) if receipt else 0


