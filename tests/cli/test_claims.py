"""Claims from the README and the commit history that had no test: each one here can fail."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import NEW, OLD, gxc
from tests.helpers import on_a_terminal, write_hello_module
from tests.mirror_server import Fault, MirrorServer

pytestmark = pytest.mark.slow
ARCHIVE = f"go{OLD}.linux-amd64.tar.gz"


def test_retry_notes_show_on_a_terminal_only(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    mirror.state.add_fault(ARCHIVE, Fault("status", status=503))
    plain = gxc(gxc_env, "install", OLD)
    assert plain.stderr == ""  # a log keeps one line per failure, and this install did not fail
    gxc(gxc_env, "uninstall", OLD)
    for cached in (Path(gxc_env["GXC_HOME"]) / "cache" / "downloads").iterdir():
        cached.unlink()
    mirror.state.add_fault(ARCHIVE, Fault("status", status=503))
    code, _, shown = on_a_terminal(gxc_env, "install", OLD)
    assert code == 0
    assert f"gxc: retrying {mirror.url}/{ARCHIVE}: HTTP 503".encode() in shown


def test_a_mirror_shorter_than_the_index_says_resets_the_partial(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    real = mirror.state.body(ARCHIVE) or b""
    mirror.state.overrides[ARCHIVE] = real[: len(real) // 2]  # the index still lists the full size
    proc = gxc(gxc_env, "install", OLD, check=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (f"gxc: error: {mirror.url}/{ARCHIVE} ends at byte {len(real) // 2}, before the size the "
                           "release index lists (hint: the mirror serves another file than the index names; check "
                           "GXC_MIRROR)\n")
    assert [r.status for r in mirror.state.requests_for(ARCHIVE)][-1] == 416
    assert list((Path(gxc_env["GXC_HOME"]) / "cache" / "downloads").glob("*.partial")) == []
    del mirror.state.overrides[ARCHIVE]
    gxc(gxc_env, "install", OLD)
    assert mirror.state.requests_for(ARCHIVE)[-1].range is None  # started afresh


def test_a_corrupt_cached_archive_is_fetched_again(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    gxc(gxc_env, "install", OLD)
    gxc(gxc_env, "uninstall", OLD)
    [cached] = (Path(gxc_env["GXC_HOME"]) / "cache" / "downloads").iterdir()
    data = bytearray(cached.read_bytes())
    data[len(data) // 2] ^= 0xFF
    cached.write_bytes(bytes(data))
    gxc(gxc_env, "install", OLD)
    assert len(mirror.state.requests_for(ARCHIVE)) == 2
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == cached.name
    assert gxc(gxc_env, "verify", OLD).stdout == f"go{OLD}: ok\n"


def start_stalled_install(env: dict[str, str], mirror: MirrorServer) -> tuple[subprocess.Popen[bytes], Path]:
    """An install that stops mid-download (the server stalls after 8 MiB), once its partial file exists."""
    mirror.state.add_fault(ARCHIVE, Fault("stall", after=8 << 20, seconds=60))
    proc = subprocess.Popen([sys.executable, "-m", "gxc", "install", OLD], env=dict(env, GXC_HTTP_TIMEOUT="120"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    downloads = Path(env["GXC_HOME"]) / "cache" / "downloads"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        partials = list(downloads.glob("*.partial")) if downloads.exists() else []
        if partials and partials[0].stat().st_size >= 8 << 20:
            return proc, partials[0]
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the install never reached the stall")


def test_a_download_killed_midway_resumes_from_its_partial(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    proc, partial = start_stalled_install(gxc_env, mirror)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    held = partial.stat().st_size
    gxc(gxc_env, "install", OLD)
    assert mirror.state.requests_for(ARCHIVE)[-1].range == f"bytes={held}-"
    assert gxc(gxc_env, "verify", OLD).stdout == f"go{OLD}: ok\n"


def test_cache_clean_leaves_a_running_install_alone(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    proc, partial = start_stalled_install(gxc_env, mirror)
    try:
        cleaned = gxc(gxc_env, "cache", "clean")
        assert partial.exists()  # its version's lock is held: clean takes only what no process uses
        # and the install holds the object store: clean does not wait for the download to collect objects
        assert cleaned.stderr == "gxc: note: an install is using the object store; objects no toolchain uses " \
                                 "stay until `gxc cache clean`\n"
    finally:
        mirror.state.release_stalls()
    assert proc.wait(timeout=300) == 0  # the stall ends, the transfer completes
    assert gxc(gxc_env, "verify", OLD).stdout == f"go{OLD}: ok\n"


def module(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    (root / "go.mod").write_text("module example.com/m\n\ngo 1.21\n")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_one_failing_port_fails_the_build_and_the_others_still_build(installed_home: dict[str, str],
                                                                   tmp_path: Path) -> None:
    app = module(tmp_path / "app", {"main.go": 'package main\n\nfunc main() { println("hi") }\n',
                                    "broken_wasip1.go": "package main\n\nfunc broken() { undefined() }\n"})
    proc = gxc(installed_home, "build", "-t", "linux/riscv64", "-t", "wasip1", cwd=app, check=False)
    assert proc.returncode == 1
    assert proc.stdout == "linux/riscv64: dist/linux-riscv64/m\n"
    assert any(line.startswith("wasip1: ./broken_wasip1.go:3:") and line.endswith("undefined: undefined")
               for line in proc.stderr.splitlines())
    assert proc.stderr.endswith(f"gxc: error: build failed for wasip1 (go{OLD}) (hint: see the compiler output above)\n")


# Each port is one `go build` process: the tools it starts share it as their parent.
TOOLEXEC_LOG = """#!/bin/sh
echo "start $PPID $(date +%s.%N)" >> {log}
"$@"; rc=$?
echo "end $PPID $(date +%s.%N)" >> {log}
exit $rc
"""


def build_intervals(log: Path) -> dict[str, tuple[float, float]]:
    spans: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        _, build, when = line.split()
        spans.setdefault(build, []).append(float(when))
    return {build: (min(times), max(times)) for build, times in spans.items()}


def test_ports_build_in_parallel_and_j1_builds_one_at_a_time(installed_home: dict[str, str], tmp_path: Path) -> None:
    app = write_hello_module(tmp_path / "app")
    overlaps = []
    for jobs in ("2", "1"):
        log = tmp_path / f"tools-{jobs}.log"
        wrapper = tmp_path / f"wrap-{jobs}.sh"
        wrapper.write_text(TOOLEXEC_LOG.format(log=log))
        wrapper.chmod(0o755)
        env = dict(installed_home, GOCACHE=str(tmp_path / f"cache-{jobs}"))
        gxc(env, "build", "-j", jobs, "-t", "linux/riscv64", "-t", "linux/arm64", "-o", f"out-{jobs}", "--",
            f"-toolexec={wrapper}", cwd=app)
        (a_start, a_end), (b_start, b_end) = build_intervals(log).values()
        overlaps.append(a_start < b_end and b_start < a_end)
    assert overlaps == [True, False]


def test_gogc_for_the_compiler_leaves_binaries_identical(installed_home: dict[str, str], tmp_path: Path) -> None:
    app = write_hello_module(tmp_path / "app")
    digests = []
    for name, extra in (("tuned", {}), ("default", {"GOGC": "100"})):
        env = dict(installed_home, GOCACHE=str(tmp_path / f"cache-{name}"), **extra)
        gxc(env, "build", "--reproducible", "-t", "linux/riscv64", "-o", name, cwd=app)
        digests.append(hashlib.sha256((app / name / "linux-riscv64" / "hello").read_bytes()).hexdigest())
    assert digests[0] == digests[1]


NON_REPRODUCIBLE = """#!/bin/sh
"$@" || exit $?
case "$1" in
  */link) out=; prev=; for a in "$@"; do [ "$prev" = -o ] && out=$a; prev=$a; done
          if [ -n "$out" ]; then head -c 16 /dev/urandom >> "$out"; fi ;;  # not for `link -V=full`
esac
"""


def test_check_reproducible_catches_a_build_that_differs(installed_home: dict[str, str], tmp_path: Path) -> None:
    app = write_hello_module(tmp_path / "app")
    wrapper = tmp_path / "nondeterministic-link.sh"
    wrapper.write_text(NON_REPRODUCIBLE)
    wrapper.chmod(0o755)
    proc = gxc(installed_home, "build", "--check-reproducible", "-t", "linux/riscv64", "--", f"-toolexec={wrapper}",
               cwd=app, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("gxc: error: port linux/riscv64: hello is not reproducible (sha256 ")


def test_default_locations_follow_xdg_without_gxc_home(gxc_env: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in gxc_env.items() if k != "GXC_HOME"}
    user = Path(env["HOME"])
    app = tmp_path / "app"
    app.mkdir()
    (app / "toolchains.toml").write_text(f'[toolchain]\ngo = "{OLD}"\n[env]\nA = "1"\n')
    gxc(env, "install", OLD)
    gxc(env, "trust", str(app))
    assert (user / ".local" / "share" / "gxc" / "toolchains" / f"go{OLD}" / "bin" / "go").is_file()
    assert len(list((user / ".cache" / "gxc" / "downloads").iterdir())) == 1
    assert len(list((user / ".local" / "state" / "gxc" / "trust" / "allow").iterdir())) == 1
    xdg = dict(env, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CACHE_HOME=str(tmp_path / "cache"),
               XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    gxc(xdg, "install", NEW)
    assert (tmp_path / "data" / "gxc" / "toolchains" / f"go{NEW}").is_dir()
    assert len(list((tmp_path / "cache" / "gxc" / "downloads").iterdir())) == 1


def test_within_one_directory_the_first_pin_file_in_order_wins(installed_home: dict[str, str], tmp_path: Path) -> None:
    files = {"toolchains.toml": (f'[toolchain]\ngo = "{OLD}"\n', OLD), ".go-version": (f"{NEW}\n", NEW),
             ".tool-versions": (f"golang {OLD}\n", OLD), "go.work": (f"go 1.21\n\ntoolchain go{NEW}\n", NEW),
             "go.mod": (f"module m\n\ngo 1.21\n\ntoolchain go{OLD}\n", OLD)}
    for name, (text, _) in files.items():
        (tmp_path / name).write_text(text)
    for name, (_, version) in files.items():
        assert gxc(installed_home, "current", cwd=tmp_path).stdout.startswith(f"go{version} ("), name
        assert name in gxc(installed_home, "current", cwd=tmp_path).stdout
        (tmp_path / name).unlink()


def test_ports_that_inherit_in_a_cycle_are_one_clear_error(installed_home: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "toolchains.toml").write_text(
        f'[toolchain]\ngo = "{NEW}"\n[platforms.a]\ninherits = ["b"]\n[platforms.b]\ninherits = ["a"]\n')
    env = dict(installed_home, GXC_TRUSTED_PATHS=str(tmp_path))
    proc = gxc(env, "platform", "show", "a", cwd=tmp_path, check=False)
    assert (proc.returncode, proc.stderr) == (2, 'gxc: error: port "a" inherits itself (a -> b -> a) '
                                                 "(hint: break the cycle)\n")


def test_doctor_finds_a_lock_mismatch_and_an_exported_gotoolchain(own_home: dict[str, str], tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "toolchains.toml").write_text(f'[toolchain]\ngo = "{NEW}"\n[lock]\n"go{NEW}.linux-amd64.tar.gz" = '
                                         f'"{"0" * 64}"\n')
    shims = Path(own_home["GXC_HOME"]) / "shims"
    env = dict(own_home, PATH=f"{shims}:{own_home['PATH']}", GOTOOLCHAIN="go1.99.0")
    proc = gxc(env, "doctor", "--json", cwd=app, check=False)
    problems = json.loads(proc.stdout)["problems"]
    assert proc.returncode == 1
    assert [p["check"] for p in problems] == ["env", "lock"]
    assert problems[0]["message"] == "GOTOOLCHAIN is exported (go1.99.0); gxc sets it to local"
    assert problems[1]["message"].endswith(f"but {app}/toolchains.toml locks {'0' * 64}")


def test_fish_completes_gxc_verbs(installed_home: dict[str, str], tmp_path: Path) -> None:
    if not shutil.which("fish"):
        pytest.fail("fish is missing: scripts/install-system-deps installs it")
    script = f"{sys.executable} -m gxc init fish | source; complete -C 'gxc un'"
    proc = subprocess.run(["fish", "-c", script], env=installed_home, cwd=tmp_path, capture_output=True, text=True,
                          check=True)
    assert sorted(proc.stdout.split()) == ["uninstall", "untrust"]
