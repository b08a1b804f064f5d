"""A bounded soak: 20 processes installing, uninstalling and resolving two versions at once, while
installs are killed with SIGKILL midway; the object store must come out consistent."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import NEW, OLD, gxc
from tests.helpers import objects_used, receipt_of, store_problems

pytestmark = pytest.mark.slow

WORKERS = 20
SECONDS = 25


def test_twenty_processes_racing_leave_only_verified_trees(gxc_env: dict[str, str]) -> None:
    gxc(gxc_env, "install", OLD, NEW)  # fill the download cache so the soak races on extraction, not transfer
    worker = Path(__file__).parents[1] / "soak_worker.py"
    procs = [subprocess.Popen([sys.executable, str(worker), str(SECONDS), f"{OLD},{NEW}", str(seed)], env=gxc_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in range(WORKERS)]
    kills = kill_installs_midway(gxc_env, SECONDS)
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
    assert kills >= 3
    gxc(gxc_env, "cache", "clean")  # what the killed installs left: staging trees, then the objects only they linked
    assert list((home / "staging").iterdir()) == []
    assert sorted(p.name for p in (home / "toolchains").iterdir()) == sorted(f"go{v}" for v in installed)
    assert store_problems(home) == []  # no tree links a missing object, or a copy instead of its object
    used = set().union(*(objects_used(home, receipt_of(home, f"go{v}")) for v in installed))
    assert set((home / "objects").glob("*/*")) == used  # and nothing is left that no tree uses


def kill_installs_midway(env: dict[str, str], seconds: float) -> int:
    """While the workers race, start `install --force` and kill -9 it at a random moment; the count."""
    rng = random.Random(7)
    deadline, kills = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        proc = subprocess.Popen([sys.executable, "-m", "gxc", "install", "--quiet", "--force", rng.choice([OLD, NEW])],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 2.5))
        if proc.poll() is None:
            proc.kill()
            kills += 1
        proc.wait()
    return kills
