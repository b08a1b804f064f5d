"""One soak worker: random gxc operations on two versions until a deadline.

Runs the CLI in-process with --debug, so expected failures surface as GxcError (fine: another worker
uninstalled the version, say) and anything else (an OSError from a race, a KeyError) is a failure.
Exits 1 and prints the traceback on the first unexpected exception.
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
from gxc.errors import GxcError


def cli(*args: str) -> None:
    # A GxcError is expected: another worker changed what this one acts on.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            contextlib.suppress(GxcError):
        main(["--debug", *args])


def shim(version: str) -> None:
    env = dict(os.environ, GXC_TOOLCHAIN=version)
    try:
        proc = subprocess.run([os.path.join(os.environ["GXC_HOME"], "shims", "go"), "version"], env=env,
                              capture_output=True, text=True, check=False, timeout=60)
    except FileNotFoundError:  # the last toolchain was just uninstalled, taking the shim with it
        return
    if "Traceback" in proc.stderr:
        raise AssertionError(f"shim traceback:\n{proc.stderr}")


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
            elif os.path.exists(os.path.join(os.environ["GXC_HOME"], "shims", "go")):
                shim(version)
            operations += 1
    except BaseException:  # noqa: BLE001 - the soak reports every unexpected failure
        traceback.print_exc()
        return 1
    print(operations)
    return 0


if __name__ == "__main__":
    sys.exit(main_loop(float(sys.argv[1]), sys.argv[2].split(","), int(sys.argv[3])))
