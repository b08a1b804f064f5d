"""A bounded soak: 20 processes installing, uninstalling and resolving two versions at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NEW, OLD, gxc

pytestmark = pytest.mark.slow

WORKERS = 20
SECONDS = 25


def test_twenty_processes_racing_leave_only_verified_trees(gxc_env: dict[str, str]) -> None:
    gxc(gxc_env, "install", OLD, NEW)  # fill the download cache so the soak races on extraction, not transfer
    worker = Path(__file__).with_name("soak_worker.py")
    procs = [subprocess.Popen([sys.executable, str(worker), str(SECONDS), f"{OLD},{NEW}", str(seed)], env=gxc_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in range(WORKERS)]
    outputs = [p.communicate(timeout=SECONDS + 300) for p in procs]
    results = [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]
    failures = [err for code, _, err in results if code != 0]
    assert failures == []
    operations = sum(int(out.strip() or 0) for _, out, _ in results)
    assert operations >= WORKERS * 5
    gxc(gxc_env, "install", OLD)  # at least one tree for verify to cover, whatever the race left
    installed = [row["version"] for row in json.loads(gxc(gxc_env, "list", "--json").stdout)["installed"]]
    verified = gxc(gxc_env, "verify").stdout.splitlines()
    assert sorted(verified) == sorted(f"go{v}: ok" for v in installed)
    assert OLD in installed
    home = Path(gxc_env["GXC_HOME"])
    assert list((home / "staging").iterdir()) == []
    assert sorted(p.name for p in (home / "toolchains").iterdir()) == sorted(f"go{v}" for v in installed)
