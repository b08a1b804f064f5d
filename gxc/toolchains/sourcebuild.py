"""Toolchains built from source: official releases (`install --from-source`) and flavors (`tamago@1.25.5`).

The build is an install transaction like any other (DESIGN.md sections 4 and 9): under the
toolchain's lock, in `staging/`, ending in a receipt and one `rename`. Its inputs are checked by hash
before anything runs: the release's source archive against the index (or the project lock), each
patch against its recipe, a git fork's HEAD against the recipe's commit. The bootstrap is the oldest
installed release that meets the base's minimum (Go states it in `src/cmd/dist/notgo*.go`), else the
oldest the index offers, installed for the purpose. The built tree is packed into the build cache
under the hash of its inputs, so uninstall + install, `--repair` and every machine sharing the cache
reuse it instead of running make.bash again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from gxc.ground import beneath, launch, paths
from gxc.ground.config import Config
from gxc.ground.errors import ChecksumMismatch, DiskError, GxcError, UnsafeArchive, UsageError
from gxc.ground.fsutil import atomic_write, sha256_file
from gxc.ground.versions import Flavored, Version, VersionSpec
from gxc.sources import download, index
from gxc.sources.index import Release, ReleaseFile
from gxc.sources.proofs import archive_proof
from gxc.toolchains import buildcache, objects, store, workdir
from gxc.toolchains.archive import Extracted, StreamingExtract
from gxc.toolchains.flavors import Recipe

FROM_CACHE, FROM_OBJECTS = "from the build cache", "from the object store"
RECIPE_FORMAT = 1  # bump when the build steps change what a cached tree holds
LOG_TAIL_LINES = 15
# make.bash announces its phases on lines like these: shown as one progress line on a terminal.
PHASES = ("Building Go cmd/dist", "Building Go toolchain1", "Building Go bootstrap cmd/go",
          "Building Go toolchain2", "Building Go toolchain3", "Building packages and commands")
# What the environment of make.bash keeps from the user's: nothing that changes what gets built.
_KEEP_ENV = ("CC", "CXX")  # beside gxc.launch's allow-list: the host C compiler cmd/dist may use
_NOTGO = re.compile(r"package building_Go_requires_Go_(\d+)_(\d+)(?:_(\d+))?_or_later")


def documented_minimum(version: Version) -> Version:
    """The bootstrap a release needs, as go.dev/doc/install/source states it."""
    minor = version.minor
    if minor < 20:
        return Version(1, 4)
    if minor < 22:
        return Version(1, 17, 13)
    if minor < 24:
        return Version(1, 20, 6)
    # Go 1.N needs Go 1.M, M = N-2 rounded down to even, at its .6 point release (1.22.6 for 1.24 and 1.25)
    return Version(1, (minor - 2) // 2 * 2, 6)


def source_minimum(tree: str) -> Version | None:
    """The minimum the source tree itself encodes (`package building_Go_requires_Go_1_22_6_or_later`)."""
    dist = os.path.join(tree, "src", "cmd", "dist")
    try:
        names = sorted(n for n in os.listdir(dist) if n.startswith("notgo") and n.endswith(".go"))
    except FileNotFoundError:
        return None
    found = []
    for name in names:
        with open(os.path.join(dist, name), encoding="utf-8", errors="replace") as f:
            match = _NOTGO.search(f.read())
        if match:
            found.append(Version(int(match[1]), int(match[2]), int(match[3] or 0)))
    return max(found) if found else None


@dataclass(frozen=True)
class Build:
    """One toolchain to build: where it installs, from what, with which recipe."""

    ident: str  # "1.22.10" (an ordinary go1.22.10) or "tamago@1.25.5"
    base: Version
    recipe: Recipe | None
    why: str = ""  # said before building, e.g. "no binary for linux/riscv64"


def _source_file(release: Release) -> ReleaseFile:
    for f in release.files:
        if f.kind == "source":
            return f
    raise GxcError(f"go{release.version} has no source archive in the release index",
                   "use an index that lists go<V>.src.tar.gz (kind \"source\"), or install the binary release")


def choose_bootstrap(minimum: Version, config: Config, options: store.InstallOptions,
                     reporter: store.Reporter) -> Version:
    """The oldest installed release that meets `minimum`, else the oldest the index has, installed now."""
    installed = [v for v in store.installed_versions() if v >= minimum and v.is_stable]
    if installed:
        return min(installed)
    if options.offline:
        raise GxcError(f"no installed toolchain can bootstrap this build (it needs go{minimum} or newer), "
                       "and --offline forbids installing one", f"install one first: `gxc install {minimum.series}`")
    releases = index.load_releases(config.sources.index_url)
    host = index.host_platform()
    candidates = sorted(r.version for r in releases if r.version >= minimum and r.version.is_stable
                        and any(f.kind == "archive" and (f.os, f.arch) == host for f in r.files))
    if not candidates:
        raise GxcError(f"the release index has no binary release at or above go{minimum} to bootstrap with",
                       "install a bootstrap toolchain by hand, then retry")
    reporter.step(f"installing go{candidates[0]} to bootstrap the build (it needs go{minimum} or newer); it stays "
                  "installed, and `gxc prune` removes it once nothing pins it")
    store.install(index_spec(candidates[0]), config, store.InstallOptions(offline=options.offline), reporter)
    return candidates[0]


def index_spec(version: Version) -> VersionSpec:
    return VersionSpec.parse(str(version))


def _patch_bytes(location: str, expected: str, config: Config, offline: bool) -> bytes:
    """A patch's content, checked against its recipe's sha256 (URLs are fetched once into the download cache)."""
    if location.startswith(("http://", "https://")):
        cached = os.path.join(paths.downloads_dir(), expected)
        if not os.path.exists(cached):
            if offline:
                raise GxcError(f"patch {location} is not in the download cache and --offline is set",
                               "run once online")
            from gxc.sources import http

            response = http.document(location, "patch")
            os.makedirs(paths.downloads_dir(), exist_ok=True)
            atomic_write(cached, response.body)
        location = cached
    try:
        with open(location, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UsageError(f"cannot read patch {location}: {e.strerror}", "fix the path in the flavor recipe") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ChecksumMismatch(location, expected, actual, "the flavor recipe")
    return data


class SourceBuilder:
    """Build one toolchain from source inside the install transaction."""

    def __init__(self, build: Build, config: Config, options: store.InstallOptions, reporter: store.Reporter) -> None:
        self.build, self.config, self.options, self.reporter = build, config, options, reporter
        self.release = index.pick_release(index_spec(build.base),
                                          index.load_releases(config.sources.index_url, offline=options.offline))
        self.source = _source_file(self.release)
        archive_proof(self.source.filename, self.source.sha256, config.sources.index_url, options.locks)
        self.patches = [(p, _patch_bytes(p.location, p.sha256, config, options.offline))
                        for p in (build.recipe.patches if build.recipe else ())]
        self.bootstrap = choose_bootstrap(documented_minimum(build.base), config, options, reporter)

    def key(self) -> str:
        inputs = {"format": RECIPE_FORMAT, "base": str(self.build.base), "source": self.source.sha256,
                  "recipe": self.build.recipe.inputs() if self.build.recipe else None,
                  "bootstrap": str(self.bootstrap), "host": "/".join(index.host_platform())}
        return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()

    # -- the steps

    def _fetch_source(self, root: str) -> None:
        recipe = self.build.recipe
        if recipe and recipe.git:
            self._clone(root, recipe)
            return
        installer = store._Installer(self.release, self.source, self.config, self.options, self.reporter)
        installer._fetch_and_extract(root)
        for patch, data in self.patches:
            self._apply(root, patch.location, data)

    def _clone(self, root: str, recipe: Recipe) -> None:
        assert recipe.git is not None
        if self.options.offline:
            raise GxcError(f"flavor {recipe.flavor}@{recipe.version} clones {recipe.git.url}, and --offline is set",
                           "use a patches recipe with a local path, or run online")
        ceiling = os.path.dirname(root)
        proc = launch.git(["clone", "--quiet", "--depth", "1", "--branch", recipe.git.ref, recipe.git.url, root],
                          ceiling=ceiling, capture_output=True, text=True)
        if proc.returncode:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise GxcError(f"cannot clone {recipe.git.url} at {recipe.git.ref}: {last}",
                           "check the url and ref; without the network, give this version a patches recipe in a "
                           f"trusted toolchains.toml: [flavors.{recipe.flavor}.versions.\"{recipe.version}\"] "
                           "patches = [{ path = ..., sha256 = ... }] (examples/baremetal does)")
        head = launch.git(["-C", root, "rev-parse", "HEAD"], ceiling=ceiling, capture_output=True,
                          text=True).stdout.strip()
        if head != recipe.git.commit:
            raise GxcError(f"{recipe.git.url} at {recipe.git.ref} is commit {head or '(none)'}, but the recipe in "
                           f"{recipe.origin} names {recipe.git.commit}",
                           "the tag moved, or the url is not the fork the recipe means; nothing was installed")
        shutil.rmtree(os.path.join(root, ".git"))

    def _apply(self, root: str, location: str, data: bytes) -> None:
        # the ceiling: never an enclosing repository
        proc = launch.git(["apply", "-p1", "--whitespace=nowarn", "-"], cwd=root, ceiling=os.path.dirname(root),
                          input=data, capture_output=True)
        if proc.returncode:
            errors = [line.removeprefix("error: ") for line in proc.stderr.decode(errors="replace").splitlines()
                      if line.startswith("error: ")]
            first = errors[0] if errors else "it does not apply"
            raise GxcError(f"patch {location} does not apply to go{self.build.base}: {first}",
                           "is the recipe for this base version? nothing was installed")

    def _env(self, tmp: str) -> dict[str, str]:
        """make.bash's environment: everything it writes outside the tree (caches, dist's and go's work dirs,
        TMPDIR) lands in `tmp`, removed with it even when make.bash is killed before cleaning up."""
        keep = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
        return launch.helper_env({**keep, "GOROOT_BOOTSTRAP": paths.toolchain_dir(str(self.bootstrap)),
                                  "TMPDIR": os.path.join(tmp, "tmp"),
                                  "GOTOOLCHAIN": "local", "GOCACHE": os.path.join(tmp, "cache"),
                                  "GOPATH": os.path.join(tmp, "gopath"), "GOENV": "off", "GOFLAGS": "",
                                  "GO111MODULE": ""})

    def _log_path(self) -> str:
        return os.path.join(paths.work_dir(self.build.ident), "build.log")

    def _make(self, root: str) -> float:
        """Run make.bash, its output into the version's build log; return its wall time."""
        log_path = self._log_path()
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        started = time.monotonic()
        # ignore_cleanup_errors: an interrupt's own error must not turn into a cleanup's
        with tempfile.TemporaryDirectory(prefix="gxc-make-", ignore_cleanup_errors=True) as tmp, \
                open(log_path, "w", encoding="utf-8", buffering=1) as log:  # line-buffered: the log is live
            os.mkdir(os.path.join(tmp, "tmp"))  # make.bash's TMPDIR (`_env`)
            proc = launch.popen_group(["bash", "make.bash"], self._env(tmp), cwd=os.path.join(root, "src"),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
            assert proc.stdout is not None
            tail: list[str] = []
            try:
                for line in proc.stdout:
                    log.write(line)
                    tail = [*tail[-LOG_TAIL_LINES + 1:], line.rstrip()]
                    if line.startswith(PHASES):
                        elapsed = time.monotonic() - started
                        self.reporter.step(f"{self.build.ident}: {line.strip().rstrip('.')} ({elapsed:.0f} s)")
                code = proc.wait()
            except BaseException:  # Ctrl-C, kill: make.bash must not go on writing into a staging tree we remove
                launch.stop_group(proc)
                raise
        if code:
            shown_tail = " | ".join(tail[-5:])
            raise GxcError(f"make.bash failed for {self.build.ident} (exit {code}): {shown_tail}",
                           f"the full log is {log_path}; nothing was installed")
        for leftover in ("pkg/obj", "pkg/bootstrap"):
            shutil.rmtree(os.path.join(root, leftover), ignore_errors=True)
        return time.monotonic() - started

    def _pack(self, root: str, key: str, cache: beneath.Root) -> str:
        """Keep the built tree as `build-<key>.tar.gz` (top folder go/), vouched for by gxc.buildcache."""
        tmp = tempfile.mkdtemp(prefix="pack-", dir=paths.staging_dir())  # private until it has its name
        try:
            packed = os.path.join(tmp, buildcache.archive_name(key))
            with tarfile.open(packed, "w:gz", compresslevel=1) as tf:
                tf.add(root, arcname="go", filter=_normalized)
            digest = sha256_file(packed)
            target = cache.place(packed, buildcache.archive_name(key), 0o644)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        buildcache.remember(cache, key, digest)
        return target

    def _unpack(self, cache: beneath.Root, key: str, root: str, store: objects.Objects) -> Extracted | None:
        """Extract a cached build through the safe extractor; None when it is missing, unproven or its hash is off."""
        expected = buildcache.proven_sha256(cache, key)
        archive = cache.regular_file(buildcache.archive_name(key))
        if expected is None or not archive:
            return None
        stream = StreamingExtract(root, self.config.limits, store)
        try:
            hasher = hashlib.sha256()
            download.replay_file(archive, hasher, stream.feed)
            if hasher.hexdigest() != expected:
                stream.abort()
                return None
            extracted = stream.finish()
        except FileNotFoundError:
            stream.abort()
            return None
        except UnsafeArchive:  # an entry swapped for a hostile archive is refused by the extractor: a miss
            stream.abort()
            return None
        except BaseException:
            stream.abort()
            raise
        buildcache.remember(cache, key, expected)
        return extracted

    def run(self) -> store.Outcome:
        ident = self.build.ident
        target = paths.toolchain_dir(ident)
        collect = store._clean_stale(ident)
        os.makedirs(paths.staging_dir(), exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f"{paths.dir_name(ident)}-", dir=paths.staging_dir())
        key = self.key()
        archive = os.path.join(buildcache.directory(), buildcache.archive_name(key))
        try:
            with objects.using():
                store_ = objects.Objects.here()
                extracted, seconds, how = self._populate(staging, key, store_)
                if store_.fallback:
                    self.reporter.warn(store_.fallback)
                existed = store._swap_in(staging, target, ident, self._receipt(extracted, key, archive, seconds, how))
        except OSError as e:
            raise DiskError(e.filename or staging, e) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if collect:
            objects.collect(wait=0)
        workdir.ensure(ident)
        status = "reinstalled" if existed else "installed"
        return store.Outcome(self.build.base, f"{status} ({how})", target)

    def _populate(self, staging: str, key: str, store_: objects.Objects) -> tuple[Extracted, float, str]:
        """Objects when the receipt is this build's, else the build cache, else make.bash; how it was made."""
        restored, made = store.populate(self.build.ident, staging, store_, self.options.repair, self.reporter,
                                        lambda receipt: receipt.get("build_key") == key,
                                        lambda: self._build_or_reuse(staging, key, store_))
        if restored:
            receipt = store.read_receipt(self.build.ident) or {}
            return restored, float(receipt.get("build_seconds", 0.0)), FROM_OBJECTS
        assert made is not None
        extracted, seconds, cached = made
        return extracted, seconds, FROM_CACHE if cached else "built"

    def _build_or_reuse(self, staging: str, key: str, store_: objects.Objects) -> tuple[Extracted, float, bool]:
        cache = buildcache.checked_root()
        # one build per key for everyone sharing the cache (flock on a file opened without following links)
        with cache.lock(buildcache.archive_name(key) + ".lock"):
            cached = self._unpack(cache, key, staging, store_)
            if cached:
                return cached, 0.0, True
            shutil.rmtree(staging)
            os.mkdir(staging)
            self._fetch_source(staging)
            minimum = source_minimum(staging)
            if minimum is not None and self.bootstrap < minimum:
                raise GxcError(f"go{self.bootstrap} cannot bootstrap {self.build.ident}: its source needs go{minimum}",
                               f"install go{minimum} or newer, then retry")
            why = f"{self.build.why}: " if self.build.why else ""
            self.reporter.step(f"{why}building {self.build.ident} from source with bootstrap go{self.bootstrap} "
                               f"(make.bash takes minutes; its log is {self._log_path()})")
            seconds = self._make(staging)
            archive = self._pack(staging, key, cache)
            # the tree is installed from its packed copy, through the object store like any archive
            shutil.rmtree(staging)
            os.mkdir(staging)
            extracted = self._unpack(cache, key, staging, store_)
            if not extracted:
                raise GxcError(f"the build of {self.build.ident} was packed into {archive} but cannot be read back",
                               "check the disk, then retry")
            return extracted, seconds, False

    def _receipt(self, extracted: Extracted, key: str, archive: str, seconds: float, how: str) -> dict[str, Any]:
        """The tree's manifest and modes are what the extractor wrote: nothing is hashed again."""
        recipe = self.build.recipe
        return {
            "version": self.build.ident,
            "kind": "source-build",
            "base": str(self.build.base),
            "flavor": recipe.flavor if recipe else "",
            "source": {"filename": self.source.filename, "sha256": self.source.sha256,
                       "url": self.config.sources.archive_url(self.source.filename)},
            "patches": [{"location": p.location, "sha256": p.sha256} for p in (recipe.patches if recipe else ())],
            "git": ({"url": recipe.git.url, "ref": recipe.git.ref, "commit": recipe.git.commit}
                    if recipe and recipe.git else None),
            "recipe_origin": recipe.origin if recipe else "",
            "bootstrap": str(self.bootstrap),
            "build_key": key,
            "build_archive": archive,
            "build_seconds": round(seconds, 1),
            "from_build_cache": how != "built",
            "index_url": self.config.sources.index_url,
            "chosen_by": f"project {self.config.sources.project}" if self.config.sources.project else "user",
            "filename": os.path.basename(archive),
            "sha256": sha256_file(archive) if os.path.exists(archive) else "",
            "size": extracted.size,
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "manifest": extracted.manifest,
            "modes": extracted.modes,
        }


def _normalized(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Reproducible members: no owner names, no timestamps."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


def install_built(build: Build, config: Config, options: store.InstallOptions,
                  reporter: store.Reporter) -> store.Outcome:
    """Build (or reuse the cached build of) one toolchain and install it, under its lock."""
    target = Flavored(build.recipe.flavor, build.base) if build.recipe else build.base
    if not options.force and store.is_installed(target):
        return store.Outcome(build.base, "already installed", paths.toolchain_dir(build.ident))
    builder = SourceBuilder(build, config, options, reporter)
    with store.version_lock(build.ident):
        if not options.force and store.is_installed(target):
            return store.Outcome(build.base, "already installed", paths.toolchain_dir(build.ident))
        return builder.run()
