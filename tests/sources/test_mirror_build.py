"""scripts/make-mirror on a cold cache under `pytest -n auto`: concurrent runs build once and never share a file."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VERSION = "1.21.13"

pytestmark = pytest.mark.slow


def cold_cache(tmp_path: Path, mirror_dir: Path) -> dict[str, str]:
    """A cache with the wheels already downloaded (no network here) and nothing built from them."""
    cache = tmp_path / "cache" / "gxc-mirror"
    cache.mkdir(parents=True)
    (cache / "wheels").symlink_to(mirror_dir.parent / "wheels")
    return dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))


def index_matches(out: Path) -> bool:
    releases = json.loads((out / "index.json").read_text())
    files = [f for r in releases for f in r["files"]]
    return bool(files) and all(
        hashlib.sha256((out / f["filename"]).read_bytes()).hexdigest() == f["sha256"] == (
            out / f"{f['filename']}.sha256").read_text().strip() for f in files)


def make_mirror(env: dict[str, str], out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(ROOT / "scripts" / "make-mirror"), "--out", str(out), VERSION],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_three_concurrent_builds_on_a_cold_cache_build_once(tmp_path: Path, mirror_dir: Path) -> None:
    env = cold_cache(tmp_path, mirror_dir)
    out = tmp_path / "mirror"
    procs = [make_mirror(env, out) for _ in range(3)]
    results = [(p.communicate(timeout=600), p.returncode) for p in procs]
    assert [code for _, code in results] == [0, 0, 0], [err for (_, err), _ in results]
    assert {outs.strip() for (outs, _), _ in results} == {str(out)}
    assert index_matches(out)
    assert sorted(p.name for p in out.iterdir()) == ["go1.21.13.linux-amd64.tar.gz",
                                                     "go1.21.13.linux-amd64.tar.gz.sha256", "go1.21.13.src.tar.gz",
                                                     "go1.21.13.src.tar.gz.sha256", "golang.org", "index.json"]
    at_v = out / "golang.org" / "toolchain" / "@v"
    assert sorted(p.name for p in at_v.iterdir()) == ["list", *(f"v0.0.1-go1.21.13.linux-amd64.{ext}"
                                                                for ext in ("info", "mod", "zip", "ziphash"))]


def test_a_cached_mirror_whose_archive_changed_is_rebuilt(tmp_path: Path, mirror_dir: Path) -> None:
    env = cold_cache(tmp_path, mirror_dir)
    out = tmp_path / "mirror"
    first = make_mirror(env, out)
    first.communicate(timeout=600)
    assert first.returncode == 0
    archive = out / f"go{VERSION}.linux-amd64.tar.gz"
    whole = archive.read_bytes()
    archive.write_bytes(whole[: len(whole) // 2])  # a builder killed mid-write in an older version left this
    again = make_mirror(env, out)
    again.communicate(timeout=600)
    assert again.returncode == 0
    assert archive.read_bytes() == whole  # the same bytes: the archives are reproducible
    assert index_matches(out)
