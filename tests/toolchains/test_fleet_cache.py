"""The fleet build cache against a real server: Debian's nginx with WebDAV PUT, a fault proxy in front.

Two homes on one machine stand for two CI runners: the first builds and fills the remote, the second
starts with an empty local cache. The cache program is the real one (Go, built once per session with
the installed go1.24) speaking Go's own GOCACHEPROG protocol to the real go command.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import NEW, NEWEST, OLD, ROOT, copy_home, gxc
from tests.fleet_cache import FaultProxy, Nginx

PORTS = ["linux-amd64", "riscv64-linux"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def cacheprog(installed_home: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gxc-cacheprog built once, by gxc, with the installed go1.24; every test home gets a copy."""
    home = tmp_path_factory.mktemp("cacheprog")
    env = dict(installed_home, GXC_HOME=str(home))
    goroot = Path(installed_home["GXC_HOME"]) / "toolchains" / f"go{NEWEST}"
    code = ("import sys\nfrom gxc.toolchains import gocache\n"
            "print(gocache.ensure_helper(sys.argv[1], sys.argv[2]))\n")
    gocache = Path(installed_home["GXC_HOME"]) / "work" / f"go{NEWEST}" / "cache"  # its std packages, compiled once
    proc = subprocess.run([sys.executable, "-c", code, str(goroot), str(gocache)], env=env,
                          capture_output=True, text=True, check=True)
    return Path(proc.stdout.strip())


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    server = Nginx(tmp_path / "nginx")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def filled(installed_home: dict[str, str], cacheprog: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Nginx, dict[str, str]]]:
    """A remote one runner filled (tests only read it), and the artifacts that runner built."""
    root = tmp_path_factory.mktemp("filled")
    server = Nginx(root / "nginx")
    _, built = _fill(installed_home, cacheprog, server.url, root)
    yield server, built
    server.stop()


@pytest.fixture
def proxy(filled: tuple[Nginx, dict[str, str]]) -> Iterator[FaultProxy]:
    front = FaultProxy(filled[0].url)
    yield front
    front.stop()


def runner(installed_home: dict[str, str], cacheprog: Path, root: Path, remote: str, **cache: object) -> dict[str, str]:
    """A fresh CI runner: the toolchains, an empty local cache, config.toml's [cache] pointing at `remote`.
    Runners of one fleet share paths (GOROOT is part of what go hashes for `go list`), so a second runner
    replaces the first at the same place, with nothing of its local state."""
    if root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
    env = copy_home(installed_home, root)
    libexec = Path(env["GXC_HOME"]) / "libexec"
    libexec.mkdir()
    shutil.copy2(cacheprog, libexec / cacheprog.name)
    settings = {"remote": remote, "timeout_seconds": 2, **cache}
    lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    (Path(env["GXC_HOME"]) / "config").mkdir(exist_ok=True)
    (Path(env["GXC_HOME"]) / "config" / "config.toml").write_text("[cache]\n" + "\n".join(lines) + "\n")
    return env


def sensorhub(root: Path) -> Path:
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(ROOT / "examples" / "sensorhub", root, ignore=shutil.ignore_patterns("dist"))
    return root


def build(env: dict[str, str], project: Path, *ports: str) -> subprocess.CompletedProcess[str]:
    args = [a for p in ports for a in ("-t", p)]
    # --reproducible (-trimpath): runners check out to different paths, and the artifacts must still be equal
    return gxc(env, "build", "--reproducible", "-T", NEWEST, *args, "./cmd/sensorhub", cwd=project, timeout=900)


def artifacts(project: Path) -> dict[str, str]:
    return {str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((project / "dist").rglob("sensorhub"))}


def stats(env: dict[str, str]) -> dict[str, int]:
    totals: dict[str, int] = json.loads(gxc(env, "cache", "stats", "--json").stdout)["totals"]
    return totals


def notes(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if "remote build cache" in line]


def test_a_second_runner_builds_from_what_the_first_put_and_gets_the_same_bytes(
        installed_home: dict[str, str], cacheprog: Path, nginx: Nginx, tmp_path: Path) -> None:
    first = runner(installed_home, cacheprog, tmp_path / "runner", nginx.url)
    project = sensorhub(tmp_path / "checkout")
    build(first, project, *PORTS)
    built = artifacts(project)
    filled = stats(first)
    assert filled["uploads"] > 100 and filled["remote_hits"] < 20  # ports building at once may share a few
    assert len(list((nginx.root / "data" / "cas").iterdir())) >= filled["uploads"] // 2
    second = runner(installed_home, cacheprog, tmp_path / "runner", nginx.url)
    project = sensorhub(tmp_path / "checkout")
    build(second, project, *PORTS)
    got = stats(second)
    assert got["remote_hits"] > 100 and got["misses"] < got["remote_hits"] // 10, got  # what the first put
    assert got["bytes_down"] > 1 << 20 and got["uploads"] < filled["uploads"] // 10
    assert artifacts(project) == built and len(built) == len(PORTS)
    text = gxc(second, "cache", "stats").stdout.splitlines()
    assert text[0] == f"remote     {nginx.url}"
    assert text[3].startswith(f"remote     {got['remote_hits']} hits, ")
    doctor = gxc(second, "doctor", cwd=project, check=False).stdout
    remote = next(line for line in doctor.splitlines() if line.startswith("REMOTE "))
    assert remote == (f"REMOTE     {nginx.url} for go1.24 and newer, from config.toml [cache]; go{OLD}, go{NEW} keep "
                      "the local GOCACHE only (GOCACHEPROG needs go1.24)")
    assert "cache:" not in doctor  # reachable and writable: no finding


def _fill(installed_home: dict[str, str], cacheprog: Path, remote: str, tmp_path: Path,
          **cache: object) -> tuple[Path, dict[str, str]]:
    first = runner(installed_home, cacheprog, tmp_path / "runner", remote, **cache)
    project = sensorhub(tmp_path / "checkout")
    build(first, project, "linux-amd64")
    return project, artifacts(project)


def test_a_forged_object_is_a_miss_never_a_build_input(installed_home: dict[str, str], cacheprog: Path,
                                                       nginx: Nginx, tmp_path: Path) -> None:
    _, expected = _fill(installed_home, cacheprog, nginx.url, tmp_path)
    objects = sorted((nginx.root / "data" / "cas").iterdir(), key=lambda p: p.stat().st_size, reverse=True)
    for forged in objects[:20]:  # the largest: compiled packages the build links
        forged.write_bytes(b"not what its name says" + forged.read_bytes()[24:])
    for record in sorted((nginx.root / "data" / "ac").iterdir())[:5]:  # claims no reader may believe
        record.write_text(json.dumps({**json.loads(record.read_text()), "size": 1 << 40}))
    second = runner(installed_home, cacheprog, tmp_path / "runner", nginx.url)
    project = sensorhub(tmp_path / "checkout")
    build(second, project, "linux-amd64")
    got = stats(second)
    assert got["rejected"] >= 1 and got["remote_hits"] > 50, got
    assert artifacts(project) == expected


def test_an_action_record_without_the_fleet_key_is_ignored(installed_home: dict[str, str], cacheprog: Path,
                                                           nginx: Nginx, tmp_path: Path) -> None:
    key = tmp_path / "fleet.key"
    key.write_text(secrets.token_hex(32))
    _, expected = _fill(installed_home, cacheprog, nginx.url, tmp_path, key_file=str(key))
    records = sorted((nginx.root / "data" / "ac").iterdir())
    assert all(json.loads(r.read_text())["mac"] for r in records)
    # a writer without the key points every action at one real object of the cache: a poisoning attempt
    victim = json.loads(records[0].read_text())
    for record in records[1:]:
        record.write_text(json.dumps({"output": victim["output"], "size": victim["size"]}))
    second = runner(installed_home, cacheprog, tmp_path / "runner", nginx.url, key_file=str(key))
    project = sensorhub(tmp_path / "checkout")
    build(second, project, "linux-amd64")
    got = stats(second)
    assert got["rejected"] > 100 and got["remote_hits"] <= 2, got  # every forged record it asked for
    assert artifacts(project) == expected


@pytest.mark.parametrize("fault", ["down", "500", "stall", "truncate"])
def test_a_faulty_remote_degrades_to_a_local_build_with_one_note(installed_home: dict[str, str], cacheprog: Path,
                                                                 filled: tuple[Nginx, dict[str, str]],
                                                                 proxy: FaultProxy, tmp_path: Path, fault: str) -> None:
    expected = filled[1]
    proxy.state.fault, proxy.state.stall_seconds = ("" if fault == "down" else fault), 5
    remote = "http://127.0.0.1:9" if fault == "down" else proxy.url  # port 9 (discard): nothing listens
    second = runner(installed_home, cacheprog, tmp_path / "runner", remote)
    project = sensorhub(tmp_path / "checkout")
    proc = build(second, project, "linux-amd64")
    assert artifacts(project) == expected
    assert len(notes(proc)) == 1, proc.stderr
    assert notes(proc)[0].startswith(f"gxc: note: the remote build cache {remote} failed (")
    assert notes(proc)[0].endswith("); this build goes on with the local cache only")
    if fault != "down":
        assert proxy.state.log, "the fault proxy saw no request: the fault never fired"


def test_read_only_never_puts(installed_home: dict[str, str], cacheprog: Path, proxy: FaultProxy,
                              tmp_path: Path) -> None:
    reader = runner(installed_home, cacheprog, tmp_path / "runner", proxy.url, read_only=True)
    project = sensorhub(tmp_path / "checkout")
    (project / "cmd" / "sensorhub" / "extra.go").write_text("package main\n\nvar built = \"by a pull request\"\n")
    build(reader, project, "linux-amd64")  # what the PR changed is built here and stays here
    got = stats(reader)
    assert proxy.methods() and set(proxy.methods()) == {"GET"}
    assert got["uploads"] == 0 and got["puts"] > 0 and got["remote_hits"] > 100


def test_a_crashed_cache_program_falls_back_to_the_local_cache(installed_home: dict[str, str], cacheprog: Path,
                                                              nginx: Nginx, tmp_path: Path) -> None:
    env = runner(installed_home, cacheprog, tmp_path / "runner", nginx.url)
    helper = Path(env["GXC_HOME"]) / "libexec" / cacheprog.name
    helper.unlink()
    # a program that says hello as a cache program must, then dies: go stops ("exited pre-Close")
    helper.write_text('#!/bin/sh\necho \'{"ID":0,"KnownCommands":["get","put","close"]}\'\nexit 3\n')
    helper.chmod(0o755)
    project = sensorhub(tmp_path / "checkout")
    proc = build(env, project, "linux-amd64")
    assert (project / "dist" / "linux-amd64" / "sensorhub").is_file()
    assert "gxc: note: the fleet cache program failed (" in proc.stderr
    assert "built again with the local cache only" in proc.stderr


def test_the_cache_program_is_set_only_for_go124_and_newer_and_never_by_a_project(
        installed_home: dict[str, str], cacheprog: Path, nginx: Nginx, tmp_path: Path) -> None:
    env = runner(installed_home, cacheprog, tmp_path / "runner", nginx.url)
    assert "GOCACHEPROG" in gxc(env, "env", "-T", NEWEST, "--shell", "json").stdout
    assert "GOCACHEPROG" not in gxc(env, "env", "-T", NEW, "--shell", "json").stdout
    plain = dict(env)
    os.remove(Path(env["GXC_HOME"]) / "config" / "config.toml")
    project = tmp_path / "p"
    project.mkdir()
    (project / "toolchains.toml").write_text(f'[toolchain]\ngo = "{NEWEST}"\n[env]\nGXC_CACHE_REMOTE = "{nginx.url}"\n')
    proc = gxc(dict(plain, GXC_TRUSTED_PATHS=str(project)), "env", "--shell", "json", cwd=project, check=False)
    assert proc.returncode == 2 and "GXC_CACHE_REMOTE" in proc.stderr  # gxc's own variables are not a project's


def test_a_full_local_disk_builds_anyway_with_one_note(installed_home: dict[str, str], cacheprog: Path,
                                                       filled: tuple[Nginx, dict[str, str]], tmp_path: Path,
                                                       small_fs: Callable[[Path, str], Path]) -> None:
    env = runner(installed_home, cacheprog, tmp_path / "runner", filled[0].url)
    local = small_fs(Path(env["GXC_HOME"]) / "work" / f"go{NEWEST}" / "cacheprog", "2m")  # fills at once
    project = sensorhub(tmp_path / "checkout")
    proc = build(env, project, "linux-amd64")
    assert artifacts(project) == filled[1]
    said = [line for line in proc.stderr.splitlines() if "cannot be written" in line]
    assert len(said) == 1, proc.stderr
    assert said[0].startswith(f"gxc: note: the local build cache {local} cannot be written (")
    assert said[0].endswith("no space left on device); this build goes on without caching")


@pytest.mark.parametrize("program", ["cacheprog", "native"])
def test_gxcs_go_programs_are_gofmt_and_vet_clean(installed_home: dict[str, str], tmp_path: Path, program: str) -> None:
    """gxc-cacheprog and gxc-native; vet shares the build cache their builds warmed."""
    goroot = Path(installed_home["GXC_HOME"]) / "toolchains" / f"go{NEWEST}"
    source = ROOT / "gxc" / "toolchains" / program / "main.go"
    fmt = subprocess.run([str(goroot / "bin" / "gofmt"), "-l", str(source)], capture_output=True, text=True,
                         check=True)
    assert fmt.stdout == ""
    shutil.copy(source, tmp_path / "main.go")
    (tmp_path / "go.mod").write_text("module gxccacheprog\n\ngo 1.21\n")
    cache = Path(installed_home["GXC_HOME"]) / "work" / f"go{NEWEST}" / "cache"
    env = dict(os.environ, GOROOT=str(goroot), GOTOOLCHAIN="local", GOCACHE=str(cache), GOFLAGS="")
    vet = subprocess.run([str(goroot / "bin" / "go"), "vet", "."], cwd=tmp_path, env=env, capture_output=True,
                         text=True, check=False)
    assert vet.returncode == 0, vet.stderr
