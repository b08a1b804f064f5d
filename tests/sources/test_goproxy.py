"""Fleet sources: toolchains from a module proxy, proven by a checksum database; `gxc mirror`.

The test proxy is scripts/make-mirror's GOPROXY layout and the test checksum database is
tests/sumdb_server.py; both are first proven faithful with the real go command (a go1.21.13 that switches
to go1.22.10 through them, and refuses the same download when the database lies).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NEW, OLD, base_env, gxc
from tests.mirror_server import Fault, MirrorServer
from tests.sumdb_server import SumdbDouble, key_pair

pytestmark = pytest.mark.slow
MODULE = "golang.org/toolchain"


def module_version(version: str) -> str:
    return f"v0.0.1-go{version}.linux-amd64"


def zip_name(version: str) -> str:
    return f"{MODULE}/@v/{module_version(version)}.zip"


@pytest.fixture
def proxy(mirror: MirrorServer) -> MirrorServer:
    mirror.serve_sumdb()
    return mirror


def proxy_env(tmp_path: Path, server: MirrorServer, name: str = "home") -> dict[str, str]:
    env = base_env(tmp_path / name, server)
    for key in ("GXC_MIRROR", "GXC_INDEX_URL"):  # nothing may come from the go.dev layout
        env[key] = "http://127.0.0.1:9/unused"
    env.update(GXC_GOPROXY=server.url, GOSUMDB=server.gosumdb())
    Path(env["HOME"]).mkdir(parents=True)
    return env


def real_go(installed: dict[str, str], version: str) -> str:
    return str(Path(installed["GXC_HOME"]) / "toolchains" / f"go{version}" / "bin" / "go")


def go_switch(go: str, server: MirrorServer, gosumdb: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "GOPATH": str(tmp / "gopath"), "GOFLAGS": "-modcacherw",
           "GOCACHE": str(tmp / "gocache"), "GOTOOLCHAIN": f"go{NEW}", "GOPROXY": server.url, "GOSUMDB": gosumdb}
    tmp.mkdir()
    return subprocess.run([go, "version"], env=env, cwd=tmp, capture_output=True, text=True, timeout=300, check=False)


def test_the_real_go_command_accepts_the_test_proxy_and_checksum_database(
        proxy: MirrorServer, installed_home: dict[str, str], tmp_path: Path) -> None:
    done = go_switch(real_go(installed_home, OLD), proxy, proxy.gosumdb(), tmp_path / "honest")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"go version go{NEW} linux/amd64"
    paths = [r.path for r in proxy.state.log]
    assert zip_name(NEW) in paths and any(p.startswith("sumdb/sum.gxc.test/tile/8/0/") for p in paths)

    proxy.state.sumdb.signer = key_pair("sum.gxc.test", "another key")[0]  # the same go refuses a forged note
    forged = go_switch(real_go(installed_home, OLD), proxy, proxy.gosumdb(), tmp_path / "forged")
    assert forged.returncode != 0
    assert "verifying" in forged.stderr and "go version" not in forged.stdout


def test_a_toolchain_from_the_proxy_is_the_tree_of_the_release_archive(
        proxy: MirrorServer, installed_home: dict[str, str], tmp_path: Path) -> None:
    env = proxy_env(tmp_path, proxy)
    done = gxc(env, "install", NEW)
    assert f"go{NEW} installed" in done.stdout
    from_zip = Path(env["GXC_HOME"]) / "toolchains" / f"go{NEW}"
    from_tar = Path(installed_home["GXC_HOME"]) / "toolchains" / f"go{NEW}"

    def listing(root: Path) -> dict[str, tuple[int, int]]:
        return {str(p.relative_to(root)): (p.lstat().st_mode, p.lstat().st_size if p.is_file() else 0)
                for p in root.rglob("*")}

    assert listing(from_zip) == listing(from_tar)  # same paths, same modes (exec bits), same sizes
    zip_receipt = json.loads((Path(env["GXC_HOME"]) / "receipts" / f"go{NEW}.json").read_text())
    tar_receipt = json.loads((Path(installed_home["GXC_HOME"]) / "receipts" / f"go{NEW}.json").read_text())
    assert zip_receipt["manifest"] == tar_receipt["manifest"]  # and the same bytes, file by file
    assert zip_receipt["proved_by"].startswith("h1 the checksum database sum.gxc.test (tree of size 3)")
    assert zip_receipt["h1"] == (proxy.state.root / f"{MODULE}/@v/{module_version(NEW)}.ziphash").read_text().strip()

    src = tmp_path / "hello"
    src.mkdir()
    (src / "go.mod").write_text("module hello\n\ngo 1.21\n")
    (src / "main.go").write_text('package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hi from the proxy") }\n')
    go = str(from_zip / "bin" / "go")
    run_env = {**env, "GOROOT": str(from_zip), "GOTOOLCHAIN": "local", "GOCACHE": str(tmp_path / "gocache"),
               "GOPATH": str(tmp_path / "gopath")}
    ran = subprocess.run([go, "run", "."], cwd=src, env=run_env, capture_output=True, text=True, timeout=300, check=False)
    assert ran.stdout == "hi from the proxy\n", ran.stderr
    cross = subprocess.run([go, "build", "-o", "hello.arm64", "."], cwd=src, capture_output=True, text=True,
                           env={**run_env, "GOOS": "linux", "GOARCH": "arm64"}, timeout=300, check=False)
    assert cross.returncode == 0, cross.stderr
    assert (src / "hello.arm64").read_bytes()[18] == 0xB7  # e_machine EM_AARCH64


def test_list_lock_verify_repair_and_offline_through_the_proxy(proxy: MirrorServer, tmp_path: Path) -> None:
    env = proxy_env(tmp_path, proxy)
    assert gxc(env, "list-remote").stdout.split() == [f"go{v}" for v in ("1.24.11", NEW, OLD)]
    project = tmp_path / "project"
    project.mkdir()
    locked = gxc(env, "pin", "--lock", OLD, cwd=project)
    key = f"{MODULE}@{module_version(OLD)}"
    h1 = (proxy.state.root / f"{MODULE}/@v/{module_version(OLD)}.ziphash").read_text().strip()
    assert f"locked {key} {h1}" in locked.stdout
    assert f'"{key}" = "{h1}"' in (project / "toolchains.toml").read_text()

    gxc(env, "install", cwd=project)
    receipt = json.loads((Path(env["GXC_HOME"]) / "receipts" / f"go{OLD}.json").read_text())
    # the user's checksum database proves it; the lock (untrusted here) only had to agree
    assert receipt["proved_by"] == (f"h1 the checksum database sum.gxc.test (tree of size 3), "
                                    f"and locked in {project / 'toolchains.toml'}")

    gofmt = Path(env["GXC_HOME"]) / "toolchains" / f"go{OLD}" / "src" / "fmt" / "print.go"
    gofmt.write_text("tampered\n")
    drift = gxc(env, "verify", OLD, check=False)
    assert drift.returncode == 1 and "src/fmt/print.go" in drift.stdout + drift.stderr
    gxc(env, "install", "--repair", OLD, cwd=project)
    assert gxc(env, "verify", OLD).returncode == 0

    gxc(env, "install", NEW)  # proven by the checksum database, whose verified lookup is kept
    assert gxc(env, "verify", "--against-index", NEW).returncode == 0
    other_key = SumdbDouble(proxy.state.root, name="sum.other.test").verifier_key
    forged = {**env, "GOSUMDB": f"{other_key} {proxy.url}/sumdb/sum.gxc.test"}
    refused = gxc(forged, "verify", "--against-index", NEW, check=False)
    assert refused.returncode == 1 and "checksum database sum.other.test" in refused.stderr

    (project / "toolchains.toml").write_text(f'[toolchain]\ngo = "{NEW}"\n\n[lock]\n"{MODULE}@{module_version(NEW)}" = '
                                             f'"{h1}"\n')
    doctor = gxc(env, "doctor", cwd=project, check=False)
    assert f"go{NEW} was installed from an archive with hash h1:" in doctor.stdout + doctor.stderr
    proxy.stop()
    again = gxc(env, "install", "--offline", "--force", NEW)
    assert f"go{NEW} reinstalled" in again.stdout
    assert gxc(env, "list-remote", "--offline").stdout.split()[0] == "go1.24.11"


def _refused(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    done = gxc(env, "install", *args, check=False, cwd=cwd)
    assert done.returncode != 0, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gxc: error: "), done.stderr
    assert "Traceback" not in done.stderr
    assert not (Path(env["GXC_HOME"]) / "toolchains" / f"go{NEW}").exists()
    staging = Path(env["GXC_HOME"]) / "staging"
    assert not staging.exists() or not any(staging.iterdir())
    return lines[0]


def test_a_proxy_serving_another_zip_is_refused(proxy: MirrorServer, tmp_path: Path) -> None:
    import io
    import zipfile

    forged = io.BytesIO()  # a well-formed toolchain zip of the right name whose go is someone else's
    with zipfile.ZipFile(forged, "w") as zf:
        zf.writestr(f"{MODULE}@{module_version(NEW)}/bin/go", "#!/bin/sh\ntouch /tmp/owned\n")
        zf.writestr(f"{MODULE}@{module_version(NEW)}/VERSION", f"go{NEW}\n")
    proxy.state.overrides[zip_name(NEW)] = forged.getvalue()
    line = _refused(proxy_env(tmp_path, proxy), NEW)
    assert f"checksum mismatch for {MODULE}@{module_version(NEW)}: expected h1:" in line
    assert "checksum database sum.gxc.test" in line

    proxy.state.overrides[zip_name(NEW)] = (proxy.state.root / zip_name(OLD)).read_bytes()
    assert "outside the top folder" in _refused(proxy_env(tmp_path, proxy, "other"), NEW)


def test_a_checksum_database_signed_by_another_key_is_refused(proxy: MirrorServer, tmp_path: Path) -> None:
    proxy.state.sumdb.signer = key_pair("sum.gxc.test", "another key")[0]
    line = _refused(proxy_env(tmp_path, proxy), NEW)
    assert "signature does not verify with the configured key" in line


def test_a_checksum_database_under_another_key_is_refused(proxy: MirrorServer, tmp_path: Path) -> None:
    env = proxy_env(tmp_path, proxy)
    other = SumdbDouble(proxy.state.root, seed="an impostor")
    env["GOSUMDB"] = f"{other.verifier_key} {proxy.url}/sumdb/sum.gxc.test"
    assert "not signed by the configured key" in _refused(env, NEW)


def test_a_forked_log_is_refused_after_a_verified_tree(proxy: MirrorServer, tmp_path: Path) -> None:
    env = proxy_env(tmp_path, proxy)
    gxc(env, "install", OLD)  # the machine now holds a verified tree of size 3
    latest = (Path(env["GXC_HOME"]) / "sumdb" / "sum.gxc.test" / "latest").read_bytes()
    proxy.state.sumdb.fork(b"example.com/evil v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
                           b"example.com/evil v1.0.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
    line = _refused(env, NEW)
    assert "inconsistent with the tree of size 3 verified before: the log has forked" in line
    assert (Path(env["GXC_HOME"]) / "sumdb" / "sum.gxc.test" / "latest").read_bytes() == latest
    gxc(env, "cache", "clean")  # the verified tree is state, not cache
    assert (Path(env["GXC_HOME"]) / "sumdb" / "sum.gxc.test" / "latest").read_bytes() == latest


def test_a_lookup_answered_with_another_modules_record_is_refused(proxy: MirrorServer, tmp_path: Path) -> None:
    proxy.state.sumdb.lookup_swap[f"{MODULE}@{module_version(NEW)}"] = f"{MODULE}@{module_version(OLD)}"
    line = _refused(proxy_env(tmp_path, proxy), NEW)
    assert "is about another module" in line


def test_a_lock_that_disagrees_with_the_checksum_database_is_refused(proxy: MirrorServer, tmp_path: Path) -> None:
    env = proxy_env(tmp_path, proxy)
    project = tmp_path / "project"
    project.mkdir()
    other = (proxy.state.root / f"{MODULE}/@v/{module_version(OLD)}.ziphash").read_text().strip()
    (project / "toolchains.toml").write_text(
        f'[toolchain]\ngo = "{NEW}"\n\n[lock]\n"{MODULE}@{module_version(NEW)}" = "{other}"\n')
    line = _refused(env, cwd=project)
    assert f"the [lock] of {project / 'toolchains.toml'} says {other}" in line
    theirs = (proxy.state.root / f"{MODULE}/@v/{module_version(NEW)}.ziphash").read_text().strip()
    assert f"the checksum database sum.gxc.test says {theirs}" in line


def test_gosumdb_off_needs_the_explicit_flag(proxy: MirrorServer, tmp_path: Path) -> None:
    env = {**proxy_env(tmp_path, proxy), "GOSUMDB": "off"}
    assert "--insecure-skip-sumdb" in _refused(env, NEW)
    done = gxc(env, "install", "--insecure-skip-sumdb", NEW)
    receipt = json.loads((Path(env["GXC_HOME"]) / "receipts" / f"go{NEW}.json").read_text())
    assert receipt["proved_by"].startswith("h1 nothing: --insecure-skip-sumdb"), done.stderr


@pytest.fixture
def empty_proxy(tmp_path: Path) -> Iterator[MirrorServer]:
    (tmp_path / "empty").mkdir()
    server = MirrorServer(tmp_path / "empty").start()
    yield server
    server.stop()


@pytest.mark.parametrize(("separator", "status", "falls_through"),
                         [(",", 404, True), (",", 500, False), ("|", 500, True), ("|", 404, True)])
def test_proxy_lists_fall_through_as_go_does(proxy: MirrorServer, empty_proxy: MirrorServer, tmp_path: Path,
                                             separator: str, status: int, falls_through: bool) -> None:
    if status != 404:
        empty_proxy.state.add_fault(f"{MODULE}/@v/list", Fault("status", status=status), times=10)
    env = {**proxy_env(tmp_path, proxy), "GXC_GOPROXY": f"{empty_proxy.url}{separator}{proxy.url}"}
    listed = gxc(env, "list-remote", check=False)
    if falls_through:
        assert listed.returncode == 0 and f"go{NEW}" in listed.stdout.split(), listed.stderr
    else:
        assert listed.returncode != 0 and f"HTTP {status}" in listed.stderr
        assert not any(r.path == f"{MODULE}/@v/list" for r in proxy.state.log)


def _static_server(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)], cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return server, url


def test_mirror_sync_fills_a_directory_that_a_static_server_serves_in_both_layouts(
        proxy: MirrorServer, tmp_path: Path) -> None:
    env = proxy_env(tmp_path, proxy)
    env.update(GXC_MIRROR=proxy.url, GXC_INDEX_URL=f"{proxy.url}/index.json")
    fleet = tmp_path / "fleet"
    first = json.loads(gxc(env, "mirror", "sync", str(fleet), "--versions", NEW, "--layout", "both", "--json").stdout)
    assert first["fetched"] == 2 and first["skipped"] == 0
    assert sorted(first["written"]) == sorted([
        f"go{NEW}.linux-amd64.tar.gz", f"go{NEW}.linux-amd64.tar.gz.sha256", "index.json",
        f"{MODULE}/@v/{module_version(NEW)}.zip", f"{MODULE}/@v/{module_version(NEW)}.mod",
        f"{MODULE}/@v/{module_version(NEW)}.info", f"{MODULE}/@v/list"])
    before = {p: p.stat().st_mtime_ns for p in fleet.rglob("*")}
    second = json.loads(gxc(env, "mirror", "sync", str(fleet), "--versions", NEW, "--layout", "both",
                            "--json").stdout)
    assert second == {**second, "fetched": 0, "bytes": 0, "skipped": 2, "written": []}
    assert {p: p.stat().st_mtime_ns for p in fleet.rglob("*")} == before
    assert gxc(env, "mirror", "verify", str(fleet)).stdout.strip() == f"{fleet}: ok"

    server, url = _static_server(fleet)
    try:
        for layout, extra in (("dl", {"GXC_GOPROXY": "", "GXC_MIRROR": url, "GXC_INDEX_URL": f"{url}/index.json"}),
                              ("goproxy", {"GXC_GOPROXY": url})):
            client = {**proxy_env(tmp_path, proxy, f"client-{layout}"), **extra}
            done = gxc(client, "install", NEW)
            assert f"go{NEW} installed" in done.stdout, layout
            receipt = json.loads((Path(client["GXC_HOME"]) / "receipts" / f"go{NEW}.json").read_text())
            assert receipt["url"].startswith(url), layout
    finally:
        server.terminate()
        server.wait()

    (fleet / f"go{NEW}.linux-amd64.tar.gz.sha256").write_text("0" * 64 + "\n")
    broken = gxc(env, "mirror", "verify", str(fleet), check=False)
    assert broken.returncode == 1 and f"go{NEW}.linux-amd64.tar.gz.sha256 disagrees with index.json" in broken.stderr


def test_an_interrupted_sync_resumes_where_it_stopped(proxy: MirrorServer, tmp_path: Path) -> None:
    env = proxy_env(tmp_path, proxy)
    fleet = tmp_path / "fleet"
    proxy.state.add_fault(zip_name(NEW), Fault("stall", after=8 << 20, seconds=60))
    sync = subprocess.Popen([sys.executable, "-m", "gxc", "mirror", "sync", str(fleet), "--versions", NEW,
                             "--layout", "goproxy"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import hashlib  # where gxc keeps a sync's partials: its own cache, keyed by the directory (gxc.mirror)

    partials = (Path(env["GXC_HOME"]) / "cache" / "mirror-partial" /
                hashlib.sha256(str(fleet).encode()).hexdigest()[:16])
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.stat().st_size >= 8 << 20 for p in partials.glob("*")):
        time.sleep(0.1)
    sync.send_signal(signal.SIGINT)
    _, err = sync.communicate(timeout=60)
    assert sync.returncode == 130 and err.strip().endswith("gxc: interrupted"), err
    assert not (fleet / zip_name(NEW)).exists()

    done = gxc(env, "mirror", "sync", str(fleet), "--versions", NEW, "--layout", "goproxy")
    assert "1 files fetched" in done.stdout
    resumed = [r for r in proxy.state.requests_for(zip_name(NEW)) if r.range]
    assert resumed and resumed[-1].range == f"bytes={8 << 20}-"
    assert gxc(env, "mirror", "verify", str(fleet)).returncode == 0


def test_a_checksum_database_name_that_would_leave_its_directory_is_refused(proxy: MirrorServer,
                                                                           tmp_path: Path) -> None:
    env = proxy_env(tmp_path, proxy)
    env["GOSUMDB"] = f"{key_pair('../evil', 'any seed')[1]} {proxy.url}/sumdb/sum.gxc.test"
    assert 'the checksum database name "../evil" is not a plain name' in _refused(env, NEW)
    assert not (Path(env["GXC_HOME"]).parent / "evil").exists()


def _dirhash_h1(files: dict[str, bytes]) -> str:
    """Go's dirhash.Hash1 (golang.org/x/mod/sumdb/dirhash), written out here so the test does not trust gxc's."""
    import base64
    import hashlib

    summary = "".join(f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n" for name in sorted(files))
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


def test_a_forged_zip_with_a_lock_that_vouches_for_it_is_refused_by_the_checksum_database(
        proxy: MirrorServer, tmp_path: Path) -> None:
    from tests.helpers import zip_bytes

    prefix = f"{MODULE}@{module_version(NEW)}/"
    files = {f"{prefix}bin/go": (b"#!/bin/sh\necho forged\n", 0o755), f"{prefix}bin/ls": (b"#!/bin/sh\n", 0o755),
             f"{prefix}VERSION": (f"go{NEW}\n".encode(), 0o644)}
    forged_h1 = _dirhash_h1({name: data for name, (data, _) in files.items()})
    proxy.state.overrides[zip_name(NEW)] = zip_bytes(files)  # a hostile proxy
    clone = tmp_path / "clone"  # and a hostile repository whose untrusted lock agrees with the proxy
    clone.mkdir()
    (clone / "toolchains.toml").write_text(
        f'[toolchain]\ngo = "{NEW}"\n\n[lock]\n"{MODULE}@{module_version(NEW)}" = "{forged_h1}"\n')
    env = proxy_env(tmp_path, proxy)
    line = _refused(env, cwd=clone)
    real_h1 = (proxy.state.root / f"{MODULE}/@v/{module_version(NEW)}.ziphash").read_text().strip()
    assert f"says {forged_h1}, the checksum database sum.gxc.test says {real_h1}" in line
    assert proxy.state.requests_for(zip_name(NEW)) == []  # refused before a byte of the zip was read
    shims = Path(env["GXC_HOME"]) / "shims"
    assert not (shims / "ls").exists()


@pytest.mark.parametrize("trusted", [True, False])
def test_a_trusted_lock_stands_in_only_when_the_checksum_database_cannot_be_reached(
        proxy: MirrorServer, tmp_path: Path, trusted: bool) -> None:
    env = proxy_env(tmp_path, proxy)
    project = tmp_path / "project"
    project.mkdir()
    gxc(env, "pin", "--lock", NEW, cwd=project)
    key = f"{MODULE}@{module_version(NEW)}"
    proxy.state.add_fault(f"sumdb/sum.gxc.test/lookup/{key}", Fault("status", status=503), times=50)
    home = proxy_env(tmp_path, proxy, "fresh")  # no lookup verified before
    if trusted:
        home["GXC_TRUSTED_PATHS"] = str(project)
        gxc(home, "install", cwd=project)
        receipt = json.loads((Path(home["GXC_HOME"]) / "receipts" / f"go{NEW}.json").read_text())
        assert receipt["proved_by"].startswith(f"h1 locked in {project / 'toolchains.toml'} (a file you trust): the "
                                               "checksum database sum.gxc.test could not be reached")
    else:
        assert "HTTP 503" in _refused(home, cwd=project)


def test_a_projects_gosumdb_is_for_the_go_command_never_for_what_proves_toolchains(
        proxy: MirrorServer, tmp_path: Path) -> None:
    from tests.cli.test_shell_env import interactive

    env = proxy_env(tmp_path, proxy)
    project = tmp_path / "project"
    project.mkdir()
    (project / "toolchains.toml").write_text(f'[toolchain]\ngo = "{OLD}"\n\n[env]\nGOSUMDB = "off"\n')
    env.update(GXC_TRUSTED_PATHS=str(project), TERM="dumb")
    gxc(env, "install", OLD)  # the project's toolchain, so the hook applies its [env]
    proc = interactive("bash", tmp_path, env, [f"cd {project}", f'echo "$GOSUMDB" > {tmp_path / "seen"}',
                                               f"{sys.executable} -m gxc install {NEW} > {tmp_path / 'out'} 2>&1"])
    assert (tmp_path / "seen").read_text() == "off\n", proc.stderr  # the go command gets the project's choice
    assert f"go{NEW} installed" in (tmp_path / "out").read_text()
    receipt = json.loads((Path(env["GXC_HOME"]) / "receipts" / f"go{NEW}.json").read_text())
    assert receipt["proved_by"].startswith("h1 the checksum database sum.gxc.test")  # gxc kept the user's
