"""One soak worker: random gxc operations on two versions until a deadline.

Runs the CLI in-process with --debug, so failures surface as exceptions. Only what a race may
legitimately produce is allowed: the version is not installed (another worker removed it, or has not
installed it yet). Anything else (a DiskError, an UnsafeArchive "duplicate member", a ChecksumMismatch,
an OSError, a KeyError) is a failure, and so is a shim that exits non-zero for another reason.
Exits 1 and prints the traceback on the first unexpected outcome.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import subprocess
import sys
import time
import traceback

from gxc.cli import main
from gxc.ground.errors import NoToolchainSelected, ToolchainNotInstalled

RACE_OUTCOMES = (ToolchainNotInstalled, NoToolchainSelected)  # another worker changed what this one acts on
# What the shim (exit 1) or go itself (exit 2, its tree removed right after the exec) may say when a
# toolchain is uninstalled under a running command.
SHIM_RACE_MESSAGES = ("is not installed", "no Go toolchain is installed", "cannot run go",
                      "cannot find GOROOT directory")


def cli(*args: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            contextlib.suppress(*RACE_OUTCOMES):
        main(["--debug", *args])


def shim(version: str) -> None:
    env = dict(os.environ, GXC_TOOLCHAIN=version)
    proc = subprocess.run([os.path.join(os.environ["GXC_HOME"], "shims", "go"), "version"], env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode == 0 and proc.stdout == f"go version go{version} linux/amd64\n":
        return
    if proc.returncode in (1, 2) and any(m in proc.stderr for m in SHIM_RACE_MESSAGES) and "Traceback" not in proc.stderr:
        return
    raise AssertionError(f"shim exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")


def main_loop(seconds: float, versions: list[str], seed: int) -> int:
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    operations = 0
    try:
        while time.monotonic() < deadline:
            version = rng.choice(versions)
            roll = rng.random()
            if roll < 0.15:
                cli("install", "--quiet", version)
            elif roll < 0.27:
                cli("uninstall", version)
            elif roll < 0.55:
                cli("current", "-T", version)
            elif roll < 0.7:
                cli("list", "--json")
            elif roll < 0.8:
                cli("which", "go", "-T", version)
            else:
                shim(version)  # the `go` shim stays even when no toolchain is installed
            operations += 1
    except BaseException:  # noqa: BLE001 - the soak reports every unexpected failure
        traceback.print_exc()
        return 1
    print(operations)
    return 0


if __name__ == "__main__":
    sys.exit(main_loop(float(sys.argv[1]), sys.argv[2].split(","), int(sys.argv[3])))
