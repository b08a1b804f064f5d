"""The content-addressed store, with real toolchains: shared inodes, reinstall and repair from objects,
collection, a drifted object, and homes where hard links cannot be made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import BASE, BOOTSTRAP, EARLIER, NEW, OLD, flavor_env, gxc, recipe_project
from tests.helpers import object_of, objects_used, receipt_of, store_problems, write_hello_module
from tests.mirror_server import MirrorServer

pytestmark = pytest.mark.slow

def disk_bytes(*paths: Path) -> int:
    """Bytes on disk, each inode counted once across all `paths`, as `du` counts them."""
    out = subprocess.run(["du", "-s", "-B1", "-c", *map(str, paths)], check=True, capture_output=True,
                         text=True).stdout
    return int(out.strip().splitlines()[-1].split()[0])


def files_of(receipt: dict[str, object]) -> dict[str, str]:
    manifest = receipt["manifest"]
    assert isinstance(manifest, dict)
    return {rel: d for rel, d in manifest.items() if not d.startswith("symlink:")}


def test_two_patch_releases_and_a_flavor_share_identical_files(patch_line_mirror: MirrorServer, tmp_path: Path,
                                                               tamago_home: dict[str, str]) -> None:
    project = recipe_project(tmp_path / "project")
    env = flavor_env(tmp_path, patch_line_mirror, project)
    gxc(env, "install", BOOTSTRAP, EARLIER, BASE)
    gxc(env, "install", f"tamago@{BASE}", cwd=project, timeout=1800)  # the build tamago_home left in the cache
    home = Path(env["GXC_HOME"])
    names = [f"go{EARLIER}", f"go{BASE}", f"tamago@{BASE}"]
    receipts = {name: receipt_of(home, name) for name in names}
    early, late, flavor = (files_of(receipts[n]) for n in names)

    def inode(name: str, rel: str) -> int:
        return (home / "toolchains" / name / rel).stat().st_ino

    same = [p for p in early.keys() & late.keys() if early[p] == late[p]]
    different = [p for p in early.keys() & late.keys() if early[p] != late[p]]
    assert len(same) > 0.9 * len(late) and different  # measured: 99.1% of the files
    assert all(inode(names[0], p) == inode(names[1], p) for p in same)
    assert all(inode(names[0], p) != inode(names[1], p) for p in different)
    from_release = [p for p in flavor.keys() & late.keys() if flavor[p] == late[p]]
    assert len(from_release) > 0.9 * len([p for p in late if p.startswith("src/")])  # the patch touches few files
    assert all(inode(names[2], p) == inode(names[1], p) for p in from_release)
    assert {oct((home / "toolchains" / names[1] / p).stat().st_mode & 0o777) for p in ("VERSION", "bin/go")} == \
        {"0o444", "0o555"}
    assert store_problems(home) == []
    assert gxc(env, "verify").stdout.splitlines() == [f"go{BOOTSTRAP}: ok", *(f"{n}: ok" for n in names)]

    module = write_hello_module(tmp_path / "hello")
    for name in names:  # every tree builds a program
        go = home / "toolchains" / name / "bin" / "go"
        out = subprocess.run([str(go), "run", "."], cwd=module, capture_output=True, text=True, check=True,
                             env={**env, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod",
                                  "GOCACHE": str(tmp_path / "gocache" / name)}).stdout
        assert out.startswith(f"hello from go{BASE if name != names[0] else EARLIER}")

    trees = [home / "toolchains" / n for n in names]
    together, apart = disk_bytes(*trees), sum(disk_bytes(t) for t in trees)
    print(f"du of the three trees together: {together >> 20} MiB, apart: {apart >> 20} MiB ({together / apart:.0%})")
    assert together < 0.65 * apart  # 58% measured; the target for two releases is 65%

    others = [receipt_of(home, f"go{BOOTSTRAP}"), receipts[names[1]], receipts[names[2]]]
    only_early = objects_used(home, receipts[names[0]]) - set().union(*(objects_used(home, r) for r in others))
    assert only_early and all(p.exists() for p in only_early)
    assert gxc(env, "uninstall", EARLIER).stdout == f"go{EARLIER} uninstalled\n"
    on_disk = set((home / "objects").glob("*/*"))
    kept = set().union(*(objects_used(home, r) for r in others))
    assert on_disk == kept  # exactly its own objects were collected, nothing another tree links
    assert not only_early & on_disk
    assert gxc(env, "verify").stdout.splitlines() == [f"go{BOOTSTRAP}: ok", *(f"{n}: ok" for n in names[1:])]


def test_reinstall_and_repair_from_objects_alone(gxc_env: dict[str, str], mirror: MirrorServer) -> None:
    gxc(gxc_env, "install", OLD, NEW)
    home = Path(gxc_env["GXC_HOME"])
    for archive in (home / "cache" / "downloads").iterdir():
        archive.unlink()  # no archive to fall back on
    mirror.stop()  # and no network
    tree = home / "toolchains" / f"go{NEW}"
    (tree / "stray").write_text("not from the archive")
    (tree / "VERSION").unlink()
    (tree / "src" / "fmt").rename(tree / "fmt-moved")
    proc = gxc(gxc_env, "install", "--repair", "--offline", NEW)
    assert proc.stdout == f"go{NEW} reinstalled (from the object store) in {tree}\n"
    assert gxc(gxc_env, "verify", NEW).stdout == f"go{NEW}: ok\n"
    assert not (tree / "stray").exists() and (tree / "VERSION").read_text().startswith(f"go{NEW}")
    proc = gxc(gxc_env, "install", "--force", "--offline", OLD)
    assert proc.stdout == f"go{OLD} reinstalled (from the object store) in {home / 'toolchains' / f'go{OLD}'}\n"
    assert store_problems(home) == []
    assert subprocess.run([str(tree / "bin" / "go"), "version"], capture_output=True, text=True,
                          check=True).stdout.startswith(f"go version go{NEW} ")


def shared_text_file(home: Path) -> str:
    """A non-executable file with the same content in both trees (one object, two trees)."""
    old, new = receipt_of(home, f"go{OLD}"), receipt_of(home, f"go{NEW}")
    candidates = sorted(p for p, d in files_of(new).items()
                        if files_of(old).get(p) == d and new["modes"][p] == "444" and p.endswith(".go"))
    assert candidates, "go1.21.13 and go1.22.10 share no source file: pick other versions"
    return candidates[0]


def test_a_drifted_object_is_named_by_verify_and_doctor_and_repaired(gxc_env: dict[str, str],
                                                                      mirror: MirrorServer) -> None:
    gxc(gxc_env, "install", OLD, NEW)
    home = Path(gxc_env["GXC_HOME"])
    rel = shared_text_file(home)
    obj = object_of(home, receipt_of(home, f"go{NEW}"), rel)
    with open(home / "toolchains" / f"go{NEW}" / rel, "r+b") as f:  # root ignores 0444; same size, other bytes
        first = f.read(1)
        f.seek(0)
        f.write(b"#" if first != b"#" else b"/")
    proc = gxc(gxc_env, "verify", check=False)
    assert proc.returncode == 1
    for version in (OLD, NEW):
        assert f"go{version}: drifted\n  modified {rel}\n  object   {obj.name} (linked by go{OLD}, go{NEW})\n" \
            in proc.stdout
    report = json.loads(gxc(gxc_env, "verify", "--json", check=False).stdout)
    assert report["drifted_objects"] == {obj.name: [f"go{OLD}", f"go{NEW}"]}
    findings = json.loads(gxc(gxc_env, "doctor", "--json", check=False).stdout)["problems"]
    assert {"check": "store", "message": f"object {obj.name} has drifted (its content no longer matches its "
                                         f"name); linked by go{OLD}, go{NEW}",
            "fix": f"run `gxc install --repair {OLD}`"} in findings

    proc = gxc(gxc_env, "install", "--repair", NEW)  # the archive is in the download cache: no request
    assert proc.stderr == f"gxc: warning: object {obj.name} had drifted; made it anew from the archive and " \
                          f"relinked it in go{OLD}, go{NEW}\n"
    assert gxc(gxc_env, "verify").stdout == f"go{OLD}: ok\ngo{NEW}: ok\n"  # the other tree was healed too
    assert store_problems(home) == []
    assert (home / "toolchains" / f"go{OLD}" / rel).stat().st_ino == obj.stat().st_ino


def test_unreferenced_objects_are_listed_and_collected(gxc_env: dict[str, str]) -> None:
    gxc(gxc_env, "install", OLD)
    home = Path(gxc_env["GXC_HOME"])
    used = objects_used(home, receipt_of(home, f"go{OLD}"))
    stray = home / "objects" / "ab" / ("ab" + "0" * 62)  # what a killed install leaves: an object no tree links
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"x" * 4096)
    store = json.loads(gxc(gxc_env, "cache", "list", "--json").stdout)["store"]
    assert store["objects"] == len(used) + 1
    assert store["saved"] >= 0 and store["size"] >= sum(p.stat().st_size for p in used)
    assert f"{len(used) + 1} objects" in gxc(gxc_env, "cache", "list").stdout.splitlines()[-1]
    gxc(gxc_env, "cache", "clean")
    assert not stray.exists()
    assert set((home / "objects").glob("*/*")) == used
    assert gxc(gxc_env, "uninstall", OLD).returncode == 0
    assert list((home / "objects").glob("*/*")) == []


def test_objects_on_another_filesystem_are_copied_and_said_once(gxc_env: dict[str, str], tmp_path: Path) -> None:
    """GXC_HOME split across file systems: objects/ on the tmpfs of /dev/shm, toolchains/ on this disk (EXDEV)."""
    elsewhere = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="gxc-objects-"))
    try:
        assert os.stat(elsewhere).st_dev != os.stat(tmp_path).st_dev, "/dev/shm is not another file system here"
        home = Path(gxc_env["GXC_HOME"])
        home.mkdir()
        (home / "objects").symlink_to(elsewhere)
        proc = gxc(gxc_env, "install", OLD)
        assert proc.stderr.count("hard links cannot be made") == 1
        assert proc.stderr.startswith(f"gxc: warning: hard links cannot be made between {home / 'objects'} and ")
        assert "(Invalid cross-device link); toolchains get their own copies" in proc.stderr
        tree = home / "toolchains" / f"go{OLD}"
        assert (tree / "bin" / "go").stat().st_nlink == 1
        assert [p for p in elsewhere.rglob("*") if p.is_file()] == []
        assert gxc(gxc_env, "verify", OLD).stdout == f"go{OLD}: ok\n"
        assert subprocess.run([str(tree / "bin" / "go"), "version"], capture_output=True, text=True,
                              check=True).stdout.startswith(f"go version go{OLD} ")
        assert gxc(gxc_env, "install", "--force", OLD).stdout == f"go{OLD} reinstalled in {tree}\n"
    finally:
        subprocess.run(["rm", "-rf", str(elsewhere)], check=True)


def test_a_file_system_that_refuses_hard_links_gets_copies(gxc_env: dict[str, str]) -> None:
    """The one function that links fails with EPERM, as on a file system without hard links."""
    code = ("import errno, os, sys\nimport gxc.toolchains.objects\n"
            "def refuse(src, dst):\n    raise OSError(errno.EPERM, os.strerror(errno.EPERM), dst)\n"
            "gxc.toolchains.objects.link = refuse\nfrom gxc.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    Path(gxc_env["HOME"]).mkdir(exist_ok=True)
    proc = subprocess.run([sys.executable, "-c", code, "install", OLD], env=gxc_env, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("gxc: warning: hard links cannot be made") == 1
    assert "(Operation not permitted)" in proc.stderr
    home = Path(gxc_env["GXC_HOME"])
    assert gxc(gxc_env, "verify", OLD).stdout == f"go{OLD}: ok\n"
    assert (home / "toolchains" / f"go{OLD}" / "bin" / "go").stat().st_nlink == 1
    assert [p for p in (home / "objects").rglob("*") if p.is_file()] == []


def test_a_build_cache_entry_is_proven_only_by_the_users_record_or_key(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    import hmac

    from gxc.ground import beneath
    from gxc.ground.errors import GxcError
    from gxc.toolchains import buildcache

    monkeypatch.setenv("GXC_HOME", str(tmp_path / "home"))
    cache = tmp_path / "shared"
    cache.mkdir(mode=0o755)
    monkeypatch.setenv("GXC_BUILD_CACHE", str(cache))
    monkeypatch.delenv("GXC_BUILD_CACHE_KEY", raising=False)
    entry = cache / buildcache.archive_name("k1")
    entry.write_bytes(b"forged tree")
    forged = hashlib.sha256(b"forged tree").hexdigest()
    (cache / f"{entry.name}.sha256").write_text(forged)  # what the old cache believed
    root = buildcache.checked_root()
    assert buildcache.proven_sha256(root, "k1") is None
    key = tmp_path / "fleet.key"
    key.write_bytes(b"k" * 32)
    key.chmod(0o600)
    monkeypatch.setenv("GXC_BUILD_CACHE_KEY", str(key))
    (cache / f"{entry.name}.hmac").write_text(f"{forged} {hmac.new(b'other' * 8, b'x', 'sha256').hexdigest()}\n")
    assert buildcache.proven_sha256(root, "k1") is None  # a MAC under someone else's key
    buildcache.remember(beneath.Root(str(cache)), "k2", "a" * 64)
    assert buildcache.proven_sha256(root, "k2") == "a" * 64
    (tmp_path / "home" / "state" / "builds" / "k2.json").unlink()  # another machine: the key alone vouches
    assert buildcache.proven_sha256(root, "k2") == "a" * 64
    key.chmod(0o644)
    with pytest.raises(GxcError, match="readable or owned by someone else"):
        buildcache.proven_sha256(root, "k2")
    cache.chmod(0o777)
    with pytest.raises(GxcError, match="writable by every user"):
        buildcache.checked_root()
