"""The shims directory: one small Python launcher and a symlink to it per program name.

`go` and `gofmt` (the programs a Go release ships in `bin/`) and `<port>-go` for every registered
port point at `.gxc-shim`; never other names found in a tree's `bin/`, which an archive chose and
which would then stand first on PATH (`ls`, `git`, `ssh`). The launcher runs `gxc.shim` with the
interpreter's absolute path and `-I -S` (no site-packages scan, no PATH lookup of python3: PERF-NOTES
"Starting a shim").
"""

from __future__ import annotations

import os
import sys

from gxc.ground import paths
from gxc.ground.fsutil import atomic_write

LAUNCHER = ".gxc-shim"


def launcher_source() -> str:
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return (
        f"#!{sys.executable} -IS\n"
        "# gxc shim launcher: routes go, gofmt and <port>-go to the selected toolchain\n"
        "import sys\n"
        f"sys.path.insert(0, {package_parent!r})\n"
        "from gxc.shim import main\n"
        "main()\n"
    )


# What a Go release ships in bin/; shimmed even with no toolchain, so `go` says so instead of running another.
RELEASE_PROGRAMS = ("go", "gofmt")


def wanted_names() -> set[str]:
    names: set[str] = set(RELEASE_PROGRAMS)
    from gxc.ports import platforms

    names.update(f"{name}-go" for name in platforms.builtin_and_user_names())
    return names


def _write_launcher(shim_dir: str) -> None:
    path = os.path.join(shim_dir, LAUNCHER)
    source = launcher_source()
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == source:
                return
    except FileNotFoundError:
        pass
    atomic_write(path, source, executable=True)


def refresh() -> list[str]:
    """Make the shims directory hold exactly the shims the installed toolchains and ports need."""
    from filelock import FileLock

    shim_dir = paths.shims_dir()
    os.makedirs(shim_dir, exist_ok=True)
    os.makedirs(paths.locks_dir(), exist_ok=True)
    with FileLock(os.path.join(paths.locks_dir(), "shims.lock")):  # installs in parallel refresh too
        _write_launcher(shim_dir)
        wanted = wanted_names()
        for name in os.listdir(shim_dir):
            if name not in wanted and not name.startswith("."):
                os.unlink(os.path.join(shim_dir, name))
        for name in wanted:
            link = os.path.join(shim_dir, name)
            if not os.path.islink(link):
                if os.path.lexists(link):
                    os.unlink(link)
                os.symlink(LAUNCHER, link)
    return sorted(wanted)
