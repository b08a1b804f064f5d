"""Installing real toolchains from the local mirror: side by side, resumed, refused, concurrent, killed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import NEW, NEWEST, OLD, gxc
from tests.helpers import file_member, on_a_terminal, tar_gz, write_hello_module
from tests.mirror_server import Fault, MirrorServer

pytestmark = pytest.mark.slow


def archive_name(version: str) -> str:
    return f"go{version}.linux-amd64.tar.gz"


def index_entry(version: str, data: bytes, stable: bool = True) -> dict[str, object]:
    return {"version": f"go{version}", "stable": stable, "files": [{
        "filename": archive_name(version), "os": "linux", "arch": "amd64", "version": f"go{version}",
        "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "kind": "archive"}]}


def serve_extra_release(server: MirrorServer, version: str, data: bytes, stable: bool = True) -> None:
    """Add a release (a synthetic archive) to the served index, keeping the real ones."""
    real = json.loads(server.state.body("index.json") or b"[]")
    server.state.overrides[archive_name(version)] = data
    server.state.overrides["index.json"] = json.dumps([index_entry(version, data, stable), *real]).encode()


def toolchain(env: dict[str, str], version: str) -> Path:
    return Path(env["GXC_HOME"]) / "toolchains" / f"go{version}"


def listed(env: dict[str, str]) -> list[str]:
    return [row["version"] for row in json.loads(gxc(env, "list", "--json").stdout)["installed"]]


def test_two_versions_install_side_by_side_and_each_builds_hello(installed_home: dict[str, str], tmp_path: Path) -> None:
    project = write_hello_module(tmp_path / "hello")
    for version in (OLD, NEW):
        go = toolchain(installed_home, version) / "bin" / "go"
        assert subprocess.run([go, "version"], capture_output=True, text=True, check=True).stdout == \
            f"go version go{version} linux/amd64\n"
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GOTOOLCHAIN": "local",
               "GOCACHE": str(tmp_path / f"cache{version}"), "GOPATH": str(tmp_path / f"gopath{version}")}
        run = subprocess.run([go, "run", "."], cwd=project, env=env, capture_output=True, text=True, check=True)
        assert run.stdout == f"hello from go{version} linux/amd64\n"


def test_list_shows_installed_versions_newest_first_with_default(installed_home: dict[str, str]) -> None:
    data = json.loads(gxc(installed_home, "list", "--json").stdout)
    assert [r["version"] for r in data["installed"]] == [NEWEST, NEW, OLD]
    assert data["default"] == OLD
    assert [r["default"] for r in data["installed"]] == [False, False, True]
    assert all(r["size"] > 150 * 1024**2 for r in data["installed"])
    text = gxc(installed_home, "list").stdout.splitlines()
    assert [line.split()[0] for line in text] == [f"go{NEWEST}", f"go{NEW}", f"go{OLD}"]
    assert text[2].endswith("(default)")


def test_install_of_installed_version_is_a_no_op_without_network(installed_home: dict[str, str],
                                                                   shared_mirror: MirrorServer) -> None:
    requests_before = len(shared_mirror.state.log)
    proc = gxc(installed_home, "install", f"go{NEW}")
    assert proc.stdout == f"go{NEW} already installed in {toolchain(installed_home, NEW)}\n"
    assert len(shared_mirror.state.log) == requests_before  # not even the index was asked


def test_spec_resolution_against_the_real_index(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    assert gxc(gxc_env, "list-remote", "1.22").stdout == f"go{NEW}\n"
    assert gxc(gxc_env, "list-remote").stdout == f"go{NEWEST}\ngo{NEW}\ngo{OLD}\n"
    serve_extra_release(mirror, "1.25rc1", b"never fetched", stable=False)
    expire_cached_index(gxc_env)  # its ETag no longer matches: the server sends the new index
    assert gxc(gxc_env, "list-remote", "--all").stdout == f"go1.25rc1\ngo{NEWEST}\ngo{NEW}\ngo{OLD}\n"
    assert gxc(gxc_env, "list-remote").stdout == f"go{NEWEST}\ngo{NEW}\ngo{OLD}\n"


def expire_cached_index(env: dict[str, str]) -> None:
    """Age the cached index past its TTL, keeping its ETag, as an hour's wait would."""
    meta_path = Path(env["GXC_HOME"]) / "cache" / "index.meta.json"
    meta = json.loads(meta_path.read_text())
    meta["fetched"] = 0
    meta_path.write_text(json.dumps(meta))


def test_an_expired_index_is_revalidated_by_its_etag(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    first = gxc(gxc_env, "list-remote").stdout
    assert gxc(gxc_env, "list-remote").stdout == first  # within the TTL: no request at all
    expire_cached_index(gxc_env)
    assert gxc(gxc_env, "list-remote").stdout == first
    assert [r.status for r in mirror.state.requests_for("index.json")] == [200, 304]
    meta = json.loads((Path(gxc_env["GXC_HOME"]) / "cache" / "index.meta.json").read_text())
    assert meta["fetched"] > 0  # a 304 renews the cached copy's age


def test_install_resolves_partial_spec_to_newest_stable_and_skips_release_candidates(
        gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    serve_extra_release(mirror, "1.22rc9", b"not an archive", stable=False)
    proc = gxc(gxc_env, "install", "1.22")
    assert proc.stdout == f"go{NEW} installed in {toolchain(gxc_env, NEW)}\n"
    assert listed(gxc_env) == [NEW]


def test_interrupted_download_resumes_without_refetching_bytes(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    name = archive_name(OLD)
    mirror.state.add_fault(name, Fault("drop_after", after=20 << 20))
    gxc(gxc_env, "install", OLD)
    size = len(mirror.state.body(name) or b"")
    # a connection the client dropped before any byte (a stale pooled socket) fetched nothing: not counted
    fetched = [(r.range, r.sent) for r in mirror.state.requests_for(name) if r.sent]
    assert fetched == [(None, 20 << 20), (f"bytes={20 << 20}-", size - (20 << 20))]  # the drop fired, then resumed
    assert gxc(gxc_env, "verify", OLD).returncode == 0


def test_tampered_archive_is_refused_and_removed(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    name = archive_name(OLD)
    mirror.state.add_fault(name, Fault("corrupt"))
    proc = gxc(gxc_env, "install", OLD, check=False)
    data = mirror.state.body(name) or b""
    expected = hashlib.sha256(data).hexdigest()
    mid = len(data) // 2
    actual = hashlib.sha256(data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]).hexdigest()
    assert proc.returncode == 1
    assert proc.stderr == (
        f"gxc: error: checksum mismatch for {mirror.url}/{name}: expected sha256 {expected} (the release index "
        f"({mirror.url}/index.json)), got {actual} (hint: the download was deleted; retry, and if it persists the mirror serves a bad archive)\n"
    )
    assert listed(gxc_env) == []
    home = Path(gxc_env["GXC_HOME"])
    assert list((home / "cache" / "downloads").iterdir()) == []
    assert list((home / "staging").iterdir()) == []


@pytest.mark.parametrize(("members", "reason"), [
    ([file_member("go/../evil")], "path contains '..'"),
    ([file_member("/abs/evil")], "absolute path"),
    ([file_member("go/bin/go"), file_member("elsewhere/x")], "outside the top folder go/"),
])
def test_hostile_archive_paths_are_refused(gxc_env: dict[str, str], mirror: MirrorServer, tmp_path: Path,
                                           members: list[tuple[object, bytes]], reason: str) -> None:
    serve_extra_release(mirror, "1.99.0", tar_gz(members))  # type: ignore[arg-type]
    proc = gxc(gxc_env, "install", "1.99.0", check=False)
    assert proc.returncode == 1
    assert reason in proc.stderr
    assert proc.stderr.startswith("gxc: error: refusing archive member ")
    assert listed(gxc_env) == []
    assert list((Path(gxc_env["GXC_HOME"]) / "staging").iterdir()) == []


def test_concurrent_installs_of_one_version_both_succeed_with_one_download(
        gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    procs = [subprocess.Popen([sys.executable, "-m", "gxc", "install", NEW], env=gxc_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = sorted(p.communicate(timeout=300)[0] for p in procs)
    assert [p.returncode for p in procs] == [0, 0]
    where = toolchain(gxc_env, NEW)
    assert outputs == [f"go{NEW} already installed in {where}\n", f"go{NEW} installed in {where}\n"]
    assert len(mirror.state.requests_for(archive_name(NEW))) == 1
    assert gxc(gxc_env, "verify", NEW).returncode == 0


def test_kill_during_extraction_leaves_nothing_visible_and_rerun_completes(
        gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    staging = Path(gxc_env["GXC_HOME"]) / "staging"
    proc = subprocess.Popen([sys.executable, "-m", "gxc", "install", NEW], env=gxc_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        trees = list(staging.glob("go*/bin")) if staging.exists() else []
        if trees:
            break
        time.sleep(0.01)
    assert trees, "the install finished or failed before a staging tree appeared: the kill would prove nothing"
    assert proc.poll() is None
    assert listed(gxc_env) == []
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert listed(gxc_env) == []
    assert not toolchain(gxc_env, NEW).exists()
    gxc(gxc_env, "install", NEW)
    assert listed(gxc_env) == [NEW]
    assert list(staging.iterdir()) == []
    assert gxc(gxc_env, "verify", NEW).returncode == 0


def test_offline_reinstall_uses_cached_index_and_archive(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    gxc(gxc_env, "install", OLD)
    gxc(gxc_env, "uninstall", OLD)
    mirror.stop()
    proc = gxc(gxc_env, "install", "--offline", "1.21")
    assert proc.stdout == f"go{OLD} installed in {toolchain(gxc_env, OLD)}\n"
    assert gxc(gxc_env, "verify", OLD).returncode == 0


def test_force_reinstall_replaces_tree(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    gxc(gxc_env, "install", OLD)
    stray = toolchain(gxc_env, OLD) / "stray-file"
    stray.write_text("not from the archive")
    assert gxc(gxc_env, "install", "--force", OLD).stdout == \
        f"go{OLD} reinstalled (from the object store) in {toolchain(gxc_env, OLD)}\n"
    assert not stray.exists()
    assert len(mirror.state.requests_for(archive_name(OLD))) == 1  # the store held every file


@pytest.mark.parametrize(("args", "message"), [
    (["install", "1.2x"], "gxc: error: \"1.2x\" is not a Go version or version spec (hint: use forms like "
                          "1.22.10, go1.22.10, 1.22, 1.22.x, 1.23rc1 or latest)\n"),
    (["install", "../1.21"], "gxc: error: \"../1.21\" is not a Go version or version spec (hint: use forms like "
                             "1.22.10, go1.22.10, 1.22, 1.22.x, 1.23rc1 or latest)\n"),
    (["install", "1.19.3"], "gxc: error: no Go release matches \"1.19.3\" (hint: run `gxc list-remote --all` "
                            "to see what the index offers)\n"),
    (["uninstall", "1.19.3"], "gxc: error: go1.19.3 is not installed (hint: nothing to uninstall; `gxc list` "
                              "shows what is installed)\n"),
])
def test_bad_input_gives_one_line_and_exit_code(gxc_env: dict[str, str], args: list[str], message: str) -> None:
    proc = gxc(gxc_env, *args, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2 if "spec" in message else 1, "", message)


def test_network_down_is_one_clear_line(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    mirror.stop()
    proc = gxc(gxc_env, "install", OLD, check=False)
    assert proc.returncode == 1
    assert proc.stderr == (
        f"gxc: error: could not fetch {mirror.url}/index.json: connection refused (gave up after 5 attempts) "
        "(hint: check the network or the mirror (GXC_MIRROR, GXC_INDEX_URL), or retry with --offline)\n"
    )


def test_index_that_is_html_is_refused(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    mirror.state.overrides["index.json"] = b"<!doctype html><html><body>Sign in</body></html>"
    proc = gxc(gxc_env, "install", OLD, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        f"gxc: error: the release index at {mirror.url}/index.json is not JSON (starts with \"<!doctype html>")
    assert "Traceback" not in proc.stderr


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8 << 20, 8 << 20))


def test_disk_full_fails_cleanly_and_keeps_earlier_installs(gxc_env: dict[str, str]) -> None:
    gxc(gxc_env, "install", OLD)
    proc = subprocess.run([sys.executable, "-m", "gxc", "install", NEW], env=gxc_env, capture_output=True,
                          text=True, preexec_fn=_limit_file_size, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("gxc: error: cannot write ")
    assert proc.stderr.endswith("(hint: free disk space or fix permissions, then retry; nothing was installed)\n")
    assert listed(gxc_env) == [OLD]
    assert list((Path(gxc_env["GXC_HOME"]) / "staging").iterdir()) == []
    assert gxc(gxc_env, "verify", OLD).returncode == 0


def test_windows_zip_archives_install_through_the_same_safe_extractor(gxc_env: dict[str, str],
                                                                     mirror: MirrorServer) -> None:
    from tests.helpers import zip_bytes

    data = zip_bytes({"go/VERSION": (b"go1.99.0", 0o644), "go/bin/go.exe": (b"MZ fake", 0o755)})
    real = json.loads(mirror.state.body("index.json") or b"[]")
    name = "go1.99.0.windows-amd64.zip"
    mirror.state.overrides[name] = data
    mirror.state.overrides["index.json"] = json.dumps([{"version": "go1.99.0", "stable": True, "files": [{
        "filename": name, "os": "windows", "arch": "amd64", "version": "go1.99.0",
        "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "kind": "archive"}]}, *real]).encode()
    env = dict(gxc_env, GXC_HOST="windows/amd64")
    assert gxc(env, "install", "1.99.0").stdout == f"go1.99.0 installed in {toolchain(gxc_env, '1.99.0')}\n"
    assert (toolchain(gxc_env, "1.99.0") / "bin" / "go.exe").read_bytes() == b"MZ fake"
    assert gxc(env, "verify", "1.99.0").stdout == "go1.99.0: ok\n"
    hostile = zip_bytes({"go/../../escape": (b"x", 0o644)})
    mirror.state.overrides[name] = hostile
    gxc(env, "uninstall", "1.99.0")
    os.unlink(Path(gxc_env["GXC_HOME"]) / "cache" / "downloads" / hashlib.sha256(data).hexdigest())
    mirror.state.overrides["index.json"] = mirror.state.overrides["index.json"].replace(
        hashlib.sha256(data).hexdigest().encode(), hashlib.sha256(hostile).hexdigest().encode()).replace(
        f'"size": {len(data)}'.encode(), f'"size": {len(hostile)}'.encode())
    os.unlink(Path(gxc_env["GXC_HOME"]) / "cache" / "index.meta.json")
    proc = gxc(env, "install", "1.99.0", check=False)
    assert (proc.returncode, proc.stderr) == (1, "gxc: error: refusing archive member \"go/../../escape\": path contains "
                                                 "'..' (hint: the archive is malformed or hostile; nothing was installed)\n")


def test_unwritable_home_is_one_clear_line(gxc_env: dict[str, str]) -> None:
    env = dict(gxc_env, GXC_HOME="/dev/null/gxc")
    proc = gxc(env, "install", OLD, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("gxc: error: ")
    assert "Not a directory" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_progress_bar_shows_on_a_terminal_only(gxc_env: dict[str, str]) -> None:
    code, out, shown = on_a_terminal(gxc_env, "install", OLD)
    assert (code, out) == (0, f"go{OLD} installed in {toolchain(gxc_env, OLD)}\n")
    assert shown.startswith(f"\rgo{OLD}:   0%|".encode())
    shown_percentages = {int(p) for p in re.findall(rb"(\d+)%\|", shown)}
    assert len(shown_percentages) >= 2 and max(shown_percentages) >= 50  # it moved; its layout is tqdm's business
    gxc(gxc_env, "uninstall", OLD)
    quiet = gxc(gxc_env, "install", OLD)  # not a terminal: no bar
    assert quiet.stderr == ""
