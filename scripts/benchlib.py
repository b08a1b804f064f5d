"""Shared by the benchmark scripts: the local mirror, a server, a home with toolchains, timing."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.mirror_server import MirrorServer  # noqa: E402 - after the sys.path line above

PYTHON = sys.executable


def mirror_dir(versions: Sequence[str]) -> Path:
    out = subprocess.run([PYTHON, str(ROOT / "scripts" / "make-mirror"), *versions], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return Path(out)


def start_server(versions: Sequence[str]) -> MirrorServer:
    return MirrorServer(mirror_dir(versions)).start()


def gxc_env(home: Path, server: MirrorServer) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "GXC_TOOLCHAIN"):
        env.pop(key, None)
    env.update(GXC_HOME=str(home), GXC_MIRROR=server.url, GXC_INDEX_URL=f"{server.url}/index.json",
               PYTHONPATH=str(ROOT))
    return env


def gxc(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    return subprocess.run([PYTHON, "-m", "gxc", *args], env=env, cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def timed(command: Sequence[str] | Callable[[], object], env: dict[str, str] | None = None,
          cwd: Path | None = None, shell: bool = False) -> float:
    started = time.perf_counter()
    if callable(command):
        command()
    else:
        subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, shell=shell,
                       executable="/bin/bash" if shell else None)
    return time.perf_counter() - started


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def report(rows: list[tuple[str, float]], baseline: str) -> None:
    base = dict(rows)[baseline]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value * 1000:9.1f} ms   {value / base:5.2f}x {baseline}")
