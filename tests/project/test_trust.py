"""Trust and repair: locks, verify and repair, doctor, cache and prune, hostile servers and archives."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tarfile
import time
import zlib
from pathlib import Path

import pytest
import requests

from gxc.ground.errors import BadIndex, NetworkError
from gxc.sources import http, index
from tests.conftest import NEW, NEWEST, OLD, gxc
from tests.helpers import file_member, object_of, receipt_of, tar_gz
from tests.mirror_server import Fault, MirrorServer
from tests.toolchains.test_install import archive_name, listed, serve_extra_release, toolchain

pytestmark = pytest.mark.slow


def evil_toolchain(version: str) -> bytes:
    script = b"#!/bin/sh\necho 'go version go" + version.encode() + b" linux/amd64 (trojaned)'\n"
    return tar_gz([file_member("go/VERSION", f"go{version}".encode()), file_member("go/bin/go", script, 0o755)])


def test_lock_refuses_archive_even_when_index_and_mirror_agree_on_it(gxc_env: dict[str, str], mirror: MirrorServer,
                                                                    tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    real_sha = hashlib.sha256(mirror.state.body(archive_name(OLD)) or b"").hexdigest()
    proc = gxc(gxc_env, "pin", "--lock", OLD, cwd=app)
    assert proc.stdout == (f"pinned go {OLD} in {app}/toolchains.toml\n"
                           f"locked {archive_name(OLD)} sha256 {real_sha}\n")
    assert (app / "toolchains.toml").read_text() == (
        f'[toolchain]\ngo = "{OLD}"\n\n[lock]\n"{archive_name(OLD)}" = "{real_sha}"\n')
    evil = evil_toolchain(OLD)
    real_index = json.loads(mirror.state.body("index.json") or b"[]")
    for release in real_index:  # an attacker controlling the mirror and the index
        if release["version"] == f"go{OLD}":
            release["files"][0].update(sha256=hashlib.sha256(evil).hexdigest(), size=len(evil))
    mirror.state.overrides["index.json"] = json.dumps(real_index).encode()
    mirror.state.overrides[archive_name(OLD)] = evil
    os.unlink(Path(gxc_env["GXC_HOME"]) / "cache" / "index.meta.json")  # the cached index expires
    proc = gxc(gxc_env, "install", cwd=app, check=False)
    assert proc.returncode == 1
    assert proc.stderr == (
        f"gxc: error: {archive_name(OLD)}: the [lock] of {app}/toolchains.toml says {real_sha}, the release index "
        f"({mirror.url}/index.json) says {hashlib.sha256(evil).hexdigest()} (hint: nothing was installed; a lock "
        "can refuse a toolchain but never redefine it (update it with `gxc pin --lock` if your source is right))\n")
    assert listed(gxc_env) == []
    assert mirror.state.requests_for(archive_name(OLD)) == []


def test_lock_refuses_a_mirror_that_serves_other_bytes(gxc_env: dict[str, str], mirror: MirrorServer,
                                                      tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    gxc(gxc_env, "pin", "--lock", OLD, cwd=app)
    mirror.state.add_fault(archive_name(OLD), Fault("corrupt"))
    proc = gxc(gxc_env, "install", cwd=app, check=False)
    assert proc.returncode == 1
    assert f"(the release index ({mirror.url}/index.json), and locked in {app}/toolchains.toml), got " in proc.stderr
    assert listed(gxc_env) == []


def test_pin_lock_refuses_versions_and_hosts_the_index_does_not_list(gxc_env: dict[str, str], tmp_path: Path) -> None:
    proc = gxc(gxc_env, "pin", "--lock", "1.19.3", cwd=tmp_path, check=False)
    assert (proc.returncode, proc.stderr) == (1, "gxc: error: no Go release matches \"1.19.3\" (hint: run "
                                                 "`gxc list-remote --all` to see what the index offers)\n")
    proc = gxc(gxc_env, "pin", "--lock", OLD, "--host", "darwin/arm64", cwd=tmp_path, check=False)
    assert (proc.returncode, proc.stderr) == (1, f"gxc: error: go{OLD} has no archive for darwin/arm64 (hint: pick "
                                                 "another version with `gxc list-remote`)\n")
    assert not (tmp_path / "toolchains.toml").exists()


def test_verify_reports_drift_and_repair_restores_from_the_cached_archive(
        gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    gxc(gxc_env, "install", OLD)
    root = toolchain(gxc_env, OLD)
    (root / "VERSION").write_text("go1.99.0\n")
    (root / "src" / "fmt" / "print.go").unlink()
    (root / "bin" / "extra-tool").write_text("#!/bin/sh\n")
    version_object = object_of(Path(gxc_env["GXC_HOME"]), receipt_of(Path(gxc_env["GXC_HOME"]), f"go{OLD}"),
                               "VERSION").name  # written in place: the store's object changed with it
    proc = gxc(gxc_env, "verify", OLD, check=False)
    assert (proc.returncode, proc.stdout) == (1, f"go{OLD}: drifted\n  modified VERSION\n  added    bin/extra-tool\n"
                                                 f"  removed  src/fmt/print.go\n  object   {version_object} "
                                                 f"(linked by go{OLD})\n")
    report = json.loads(gxc(gxc_env, "verify", "--json", check=False).stdout)
    assert report == {"ok": False, "toolchains": {OLD: {"modified": ["VERSION"], "added": ["bin/extra-tool"],
                                                        "removed": ["src/fmt/print.go"], "mode": [],
                                                        "object": [version_object]}},
                      "drifted_objects": {version_object: [f"go{OLD}"]}}
    repaired = gxc(gxc_env, "install", "--repair", OLD)
    assert repaired.stdout == f"go{OLD} reinstalled in {root}\n"  # from the archive: an object had drifted
    assert repaired.stderr == f"gxc: warning: object {version_object} had drifted; made it anew from the archive " \
                              f"and relinked it in go{OLD}\n"
    assert gxc(gxc_env, "verify", OLD).stdout == f"go{OLD}: ok\n"
    assert len(mirror.state.requests_for(archive_name(OLD))) == 1  # repaired from the verified cache


def doctor(env: dict[str, str], cwd: Path, **extra: str) -> tuple[int, list[dict[str, str]]]:
    proc = gxc(dict(env, **extra), "doctor", "--json", cwd=cwd, check=False)
    return proc.returncode, json.loads(proc.stdout)["problems"]


def test_doctor_reports_each_problem_with_its_fix(own_home: dict[str, str], tmp_path: Path) -> None:
    home = Path(own_home["GXC_HOME"])
    shims = home / "shims"
    gxc(own_home, "reshim")
    app = tmp_path / "app"
    app.mkdir()
    (app / "toolchains.toml").write_text(f'[toolchain]\ngo = "{NEW}"\ntargets = ["riscv64-linux"]\n')
    clean_path = f"{shims}:{own_home['PATH']}"
    assert doctor(own_home, app, PATH=clean_path) == (0, [])
    assert gxc(dict(own_home, PATH=clean_path), "doctor", cwd=app).stdout.splitlines() == [
        f"GOBIN      {home}/bin", f"GOPATH     {home}/work/go<V>/gopath (per version)", f"GOMODCACHE {home}/modcache",
        f"GOENV      {own_home['HOME']}/.config/go/env (yours, under every version)",
        f"GOCACHE    {home}/work/go<V>/cache (per version)", f"shims      {shims} (native)", "gxc doctor: all good"]

    assert doctor(own_home, app, PATH=clean_path, GOROOT="/usr/lib/go") == (1, [{
        "check": "env", "message": "GOROOT is exported (/usr/lib/go); it overrides the GOROOT gxc gives each toolchain",
        "fix": "remove `export GOROOT=...` from your shell setup"}])

    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "go").write_text("#!/bin/sh\necho system go\n")
    (fake / "go").chmod(0o755)
    assert doctor(own_home, app, PATH=f"{fake}:{clean_path}") == (1, [{
        "check": "path", "message": f"{fake}/go comes before the gxc shims on PATH and shadows them",
        "fix": f"put {shims} first on PATH (`eval \"$(gxc init bash)\"` last in your rc file)"}])
    assert doctor(own_home, app, PATH=own_home["PATH"])[1][0]["check"] == "path"

    no_qemu = tmp_path / "bin"
    no_qemu.mkdir()
    for tool in ("sh", "node"):
        if shutil.which(tool):
            (no_qemu / tool).symlink_to(shutil.which(tool) or "")
    assert doctor(own_home, app, PATH=f"{shims}:{no_qemu}") == (1, [{
        "check": "port", "message": "pinned port riscv64-linux: no runner found on PATH (qemu-riscv64)",
        "fix": "apt-get install qemu-user"}])

    (app / "toolchains.toml").write_text('[toolchain]\ngo = "1.23.4"\n')
    assert doctor(own_home, app, PATH=clean_path) == (1, [{
        "check": "pin", "message": f"go1.23.4 is not installed (pinned by {app}/toolchains.toml)",
        "fix": "run `gxc install 1.23.4`"}])


def test_doctor_finds_stale_leftovers_and_drifted_toolchains(gxc_env: dict[str, str], tmp_path: Path) -> None:
    gxc(gxc_env, "install", OLD)
    home = Path(gxc_env["GXC_HOME"])
    env = dict(gxc_env, PATH=f"{home}/shims:{gxc_env['PATH']}")
    partial = home / "cache" / "downloads" / ("f" * 64 + ".partial")
    partial.write_bytes(b"half an archive")
    old = time.time() - 7200
    os.utime(partial, (old, old))
    (toolchain(gxc_env, OLD) / "VERSION").write_text("tampered")
    code, problems = doctor(env, tmp_path)
    assert code == 1
    assert problems == [
        {"check": "leftovers", "message": f"1 stale staging dir(s) or partial download(s) from interrupted runs ({partial})",
         "fix": "run `gxc cache clean`"},
        {"check": "verify", "message": f"go{OLD} has drifted from its archive (1 file(s) changed)",
         "fix": f"run `gxc install --repair {OLD}`"},
        {"check": "store", "message": f"object {object_of(home, receipt_of(home, f'go{OLD}'), 'VERSION').name} has "
                                      f"drifted (its content no longer matches its name); linked by go{OLD}",
         "fix": f"run `gxc install --repair {OLD}`"}]
    listing = gxc(gxc_env, "cache", "list").stdout.splitlines()
    assert [line.split()[0] for line in listing] == ["archive", "partial", "index", "index", "total", "store"]
    assert gxc(gxc_env, "cache", "clean").stdout.startswith("removed 4 item(s), ")
    offline = gxc(gxc_env, "install", "--repair", "--offline", OLD, check=False)  # the archive cache is gone
    assert (offline.returncode, offline.stdout) == (1, "")
    # clean took the index too: the receipt names the archive, and the archive is what is missing
    assert offline.stderr.startswith(f"gxc: error: could not fetch {gxc_env['GXC_MIRROR']}/{archive_name(OLD)}: "
                                     "offline and the archive is not in the download cache")
    gxc(gxc_env, "install", "--repair", OLD)
    assert doctor(env, tmp_path) == (0, [])


def test_prune_keeps_pinned_and_default_versions(own_home: dict[str, str], tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    gxc(own_home, "pin", NEWEST, cwd=app)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert gxc(own_home, "prune", cwd=elsewhere).stdout == (
        f"projects known: {app}\nkeep   go{OLD} (default)\nkeep   go{NEWEST} (pinned by {app}/toolchains.toml)\n"
        f"remove go{NEW}\ndry run: pass --yes to remove\n")
    assert listed(own_home) == [NEWEST, NEW, OLD]
    assert gxc(own_home, "prune", "--yes", "--keep", "1.22", cwd=elsewhere).stdout == (
        f"projects known: {app}\nkeep   go{OLD} (default)\nkeep   go{NEW} (--keep)\nkeep   go{NEWEST} (pinned by {app}/toolchains.toml)\n")
    assert gxc(own_home, "prune", "--yes", cwd=elsewhere).stdout.endswith(f"remove go{NEW}: removed\n")
    assert listed(own_home) == [NEWEST, OLD]


@pytest.mark.parametrize(("name", "faults"), [
    ("three drops, then served", [Fault("drop_after", after=1 << 20)] * 3),
    ("503, then 200", [Fault("status", status=503)]),
    ("429 with Retry-After", [Fault("status", status=429, headers={"Retry-After": "1"})]),
    ("stall longer than the read timeout", [Fault("stall", after=4 << 20, seconds=10)]),
    ("Content-Length shorter than the body", [Fault("short_length")]),
])
def test_transient_server_faults_end_in_a_verified_install(gxc_env: dict[str, str], mirror: MirrorServer,
                                                          name: str, faults: list[Fault]) -> None:
    for fault in faults:
        mirror.state.add_fault(archive_name(OLD), fault)
    proc = gxc(dict(gxc_env, GXC_HTTP_TIMEOUT="2"), "install", OLD)
    assert proc.stdout == f"go{OLD} installed in {toolchain(gxc_env, OLD)}\n", name
    assert "Traceback" not in proc.stderr
    assert gxc(gxc_env, "verify", OLD).stdout == f"go{OLD}: ok\n"
    requests_made = mirror.state.requests_for(archive_name(OLD))
    assert len(requests_made) == len(faults) + 1
    size = len(mirror.state.body(archive_name(OLD)) or b"")
    assert sum(r.sent for r in requests_made) <= size + (1 << 20)  # resumed, not refetched from zero each time


def test_persistent_server_errors_end_in_one_clear_line(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    mirror.state.add_fault(archive_name(OLD), Fault("status", status=500), times=10)
    proc = gxc(gxc_env, "install", OLD, check=False)
    assert proc.returncode == 1
    assert proc.stderr == (f"gxc: error: could not fetch {mirror.url}/{archive_name(OLD)}: HTTP 500 (gave up after "
                           "5 attempts) (hint: check the network or the mirror (GXC_MIRROR, GXC_INDEX_URL), "
                           "or retry with --offline)\n")
    assert listed(gxc_env) == []
    mirror.state.faults.clear()
    gxc(gxc_env, "install", OLD)  # the partial download is resumed, then verified
    assert gxc(gxc_env, "verify", OLD).returncode == 0


def _tar_header(name: str, size: int, kind: bytes = b"0") -> bytes:
    header = bytearray(512)
    header[0:len(name)] = name.encode()
    header[100:108] = b"0000644\0"
    header[108:116] = header[116:124] = b"0000000\0"
    if size < 8**11:
        header[124:136] = f"{size:011o}\0".encode()
    else:
        header[124:136] = b"\x80" + size.to_bytes(11, "big")
    header[136:148] = b"00000000000\0"
    header[156:157] = kind
    header[257:263] = b"ustar\0"
    header[263:265] = b"00"
    header[148:156] = b"        "
    header[148:156] = f"{sum(header):06o}\0 ".encode()
    return bytes(header)


def assert_stopped_with_nothing_left(env: dict[str, str], limit: str) -> None:
    proc = gxc(env, "install", "1.99.0", check=False)
    assert (proc.returncode, proc.stderr) == (1, f"gxc: error: archive exceeds the {limit} (hint: raise [limits] in "
                                                 "config.toml if this archive is genuine; nothing was installed)\n")
    assert listed(env) == []
    assert list((Path(env["GXC_HOME"]) / "staging").iterdir()) == []
    assert not (Path(env["GXC_HOME"]) / "toolchains" / "go1.99.0").exists()


def test_gzip_bomb_is_stopped_by_the_size_limit(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    stream = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = stream.compress(_tar_header("go/bin/zeros", 10 * 1024**3)) + stream.compress(bytes(64 << 20)) + stream.flush()
    assert len(bomb) < 200_000
    serve_extra_release(mirror, "1.99.0", bomb)
    assert_stopped_with_nothing_left(gxc_env, "uncompressed size limit (4294967296)")


def test_bomb_whose_headers_lie_is_stopped_by_the_inflated_bytes(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    """Every header is small and honest about nothing: 300 MB of zeros follow the end-of-archive marker."""
    stream = zlib.compressobj(9, zlib.DEFLATED, 31)
    small = _tar_header("go/VERSION", 10) + b"go1.99.0\n\n".ljust(512, b"\0")
    bomb = stream.compress(small + bytes(1024))
    bomb += b"".join(stream.compress(bytes(16 << 20)) for _ in range(300 // 16)) + stream.flush()
    assert len(bomb) < 1_000_000
    serve_extra_release(mirror, "1.99.0", bomb)
    config = Path(gxc_env["GXC_HOME"]) / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[limits]\nmax_bytes = 100000000\n")
    assert_stopped_with_nothing_left(gxc_env, "uncompressed size limit (100000000)")


def test_million_member_archive_is_stopped_by_the_member_limit(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    stream = zlib.compressobj(1, zlib.DEFLATED, 31)
    parts = [stream.compress(b"".join(_tar_header(f"go/f{i:07d}", 0) for i in range(start, start + 10_000)))
             for start in range(0, 1_000_000, 10_000)]
    archive = b"".join(parts) + stream.compress(bytes(1024)) + stream.flush()
    assert gzip.decompress(archive).count(b"ustar\0") == 1_000_000
    serve_extra_release(mirror, "1.99.0", archive)
    config = Path(gxc_env["GXC_HOME"]) / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[limits]\nmax_members = 20000\n")
    assert_stopped_with_nothing_left(gxc_env, "member count limit (20000)")


def test_index_with_a_file_listed_twice_with_different_hashes_is_refused() -> None:
    file: dict[str, object] = {"filename": "go1.22.10.linux-amd64.tar.gz", "os": "linux", "arch": "amd64",
                               "sha256": "a" * 64, "size": 1, "kind": "archive"}
    entry = {"version": "go1.22.10", "stable": True, "files": [file]}
    twin = json.loads(json.dumps(entry))
    twin["files"][0]["sha256"] = "b" * 64
    with pytest.raises(BadIndex, match=r"lists go1\.22\.10\.linux-amd64\.tar\.gz twice with different sha256"):
        index.parse_index(json.dumps([entry, twin]).encode(), "test")
    file["sha256"] = "not-hex"
    with pytest.raises(BadIndex, match='has sha256 "not-hex", not 64 hex digits'):
        index.parse_index(json.dumps([entry]).encode(), "test")
    with pytest.raises(BadIndex, match="is not a JSON array of releases"):
        index.parse_index(b'{"version": "go1.22.10"}', "test")
    file.update(sha256="a" * 64, filename="../../etc/passwd")
    with pytest.raises(BadIndex, match="is not a plain file name"):
        index.parse_index(json.dumps([entry]).encode(), "test")


def test_https_to_http_redirect_is_refused() -> None:
    response = requests.Response()
    response.status_code = 200
    response.url = "http://mirror.invalid/go.tar.gz"
    first = requests.Response()
    first.status_code = 302
    first.url = "https://mirror.invalid/go.tar.gz"
    response.history = [first]
    with pytest.raises(NetworkError, match="redirected from https to plain http; refusing the downgrade"):
        http.check_response("https://mirror.invalid/go.tar.gz", response)
    http.check_response("http://127.0.0.1/plain-http-mirror-is-allowed", response)


def test_hostile_tar_through_the_cli_is_refused_with_a_symlink_escape(gxc_env: dict[str, str],
                                                                     mirror: MirrorServer, tmp_path: Path) -> None:
    canary = tmp_path / "canary"  # never a real system path: as root, a regression would write there
    canary.mkdir()
    link = tarfile.TarInfo("go/etc")
    link.type = tarfile.SYMTYPE
    link.linkname = str(canary)
    serve_extra_release(mirror, "1.99.0", tar_gz([(link, None), file_member("go/etc/cron.d/evil", b"* * * * * root")]))
    proc = gxc(gxc_env, "install", "1.99.0", check=False)
    assert (proc.returncode, proc.stderr) == (1, f"gxc: error: refusing archive member \"go/etc\": link to absolute path "
                                                 f"\"{canary}\" (hint: the archive is malformed or hostile; nothing was "
                                                 "installed)\n")
    assert list(canary.iterdir()) == []
    assert list((Path(gxc_env["GXC_HOME"]) / "staging").iterdir()) == []


def test_cache_list_shows_downloads_with_their_toolchain_and_never_locks_or_proofs(gxc_env: dict[str, str]) -> None:
    gxc(gxc_env, "install", OLD)
    downloads = Path(gxc_env["GXC_HOME"]) / "cache" / "downloads"
    for side in ("build-0123.tar.gz.lock", "build-0123.tar.gz.hmac", "build-0123.tar.gz.sha256"):
        (downloads / side).write_text("x")
    listing = gxc(gxc_env, "cache", "list").stdout.splitlines()
    assert [line.split()[0] for line in listing] == ["archive", "index", "index", "total", "store"]
    assert listing[0].endswith(f" (go{OLD})")
    assert "build-0123" not in "\n".join(listing)


def test_an_archive_the_index_lists_but_the_mirror_lacks_is_named_with_what_would_work(
        gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    mirror.state.add_fault(archive_name(OLD), Fault("status", status=404), times=10)
    proc = gxc(gxc_env, "install", OLD, check=False)
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert f"the mirror has no {archive_name(OLD)} ({mirror.url}/{archive_name(OLD)} answered 404), although the " \
           f"index ({gxc_env['GXC_INDEX_URL']}) lists it" in proc.stderr
    assert f"gxc install --from-source {OLD}" in proc.stderr and "--offline" not in proc.stderr
