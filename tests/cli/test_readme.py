"""The README stays honest: its usage commands are the demo's, and the demo runs end to end offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BUILD_CACHE, build_cache_key

ROOT = Path(__file__).resolve().parents[2]


def readme_usage_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    usage = text.split("## Usage", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = []
    for line in usage.strip().splitlines():
        command = line.split("  #", 1)[0].strip()
        commands.append(command)
    return commands


def executed_commands(demo_output: str) -> list[str]:
    """The commands the demo ran: each is echoed as `$ command` just before it runs."""
    return [line[2:] for line in demo_output.splitlines() if line.startswith("$ ")]


def test_readme_first_command_is_the_demo_and_second_is_ci_test_command() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Two commands on a fresh machine", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    first, second = (line.split("  #", 1)[0].strip() for line in block.strip().splitlines())
    assert first == "scripts/demo"
    assert (ROOT / "scripts" / "demo").read_text().rstrip().endswith("exec scripts/demo-run")
    assert "exec unshare --net sh -c 'ip link set lo up && exec scripts/demo-run'" in (
        ROOT / "scripts" / "demo").read_text()
    assert (ROOT / ".ci" / "run").read_text().rstrip().splitlines()[-1] == second


@pytest.mark.slow
@pytest.mark.emulator
def test_demo_runs_end_to_end_offline(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(home),
        "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")),  # the mirror, read only
        "GXC_BUILD_CACHE": str(BUILD_CACHE),  # the tamago build the flavor tests share
        "GXC_BUILD_CACHE_KEY": build_cache_key(),
        "TMPDIR": str(tmp_path),
        "LANG": "C.UTF-8",  # no PYTHONPATH: scripts/demo has none, gxc comes from the venv's editable install
    }
    # Offline for real: a network namespace whose only interface is loopback (the mirror server is on 127.0.0.1).
    offline = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec bash "$0"', str(ROOT / "scripts" / "demo-run")]
    proc = subprocess.run(offline, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ran = executed_commands(proc.stdout)
    usage = readme_usage_commands()
    assert len(usage) >= 14
    assert [c for c in usage if c not in ran] == []  # every README usage command was run, not just mentioned
    lines = proc.stdout.splitlines()
    for expected in ("go version go1.22.10 linux/amd64", "go version go1.21.13 linux/amd64",
                     "hello from go1.21.13 on linux/riscv64 (args: from qemu)",
                     "hello from go1.21.13 on wasip1/wasm (args: from node)",
                     "riscv64-linux: dist/riscv64-linux/hello", "wasip1: dist/wasip1/hello.wasm",
                     "go1.22.10 (pinned by " + str(ROOT / "toolchains.toml") + ")",
                     "hello from go1.25.5 on tamago/riscv64, no operating system below",
                     "the bare-metal program exited with 3"):
        assert expected in lines
    assert [p for p in tmp_path.iterdir() if p.name.startswith("gxc-demo.")] == []  # it cleans up after itself
