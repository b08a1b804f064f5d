"""The project's own checks run with the suite: ruff and mypy --strict, on the package, tests and scripts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(p for p in (ROOT / "scripts").iterdir()
                 if p.is_file() and p.read_text().startswith("#!/usr/bin/env python3"))
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name
    if not found.exists():
        pytest.fail(f"{name} is not installed next to {sys.executable} (pip install -e '.[dev]')")
    return str(found)


def test_python_scripts_are_found() -> None:
    assert {p.name for p in SCRIPTS} >= {"make-mirror", "bench-install", "bench-shim", "bench-cross"}


def test_ruff_is_clean() -> None:
    proc = subprocess.run([tool("ruff"), "check", "gxc", "tests", "scripts", *map(str, SCRIPTS)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_is_clean_on_package_and_tests() -> None:
    proc = subprocess.run([tool("mypy")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_mypy_strict_is_clean_on_scripts(script: Path) -> None:
    env = dict(os.environ, MYPYPATH=str(ROOT / "scripts"))
    proc = subprocess.run([tool("mypy"), "--strict", "--no-incremental", str(script)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shell_scripts_parse() -> None:
    for script in (ROOT / "scripts").iterdir():
        if script.read_text().startswith("#!/usr/bin/env bash"):
            subprocess.run(["bash", "-n", str(script)], check=True)
    assert shutil.which("bash")
