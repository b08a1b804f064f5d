"""The shims directory: one launcher and a symlink to it per program name.

`go` and `gofmt` (the programs a Go release ships in `bin/`) and `<port>-go` for every registered
port point at `.gxc-shim`; never other names found in a tree's `bin/`, which an archive chose and
which would then stand first on PATH (`ls`, `git`, `ssh`). `.gxc-shim` is gxc-native once `gxc init`
or `gxc reshim` built it (gxc.toolchains.native), else the Python launcher, which is always there as
`.gxc-shim.py` too: it runs `gxc.shim` with the interpreter's absolute path and `-I -S` (no
site-packages scan, no PATH lookup of python3: PERF-NOTES "Starting a shim").
"""

from __future__ import annotations

import os

from gxc.ground import paths
from gxc.ground.fsutil import atomic_write
from gxc.toolchains import native

LAUNCHER, PYTHON_SHIM, ID_FILE = native.LAUNCHER, native.PYTHON_SHIM, native.ID_FILE


# What a Go release ships in bin/; shimmed even with no toolchain, so `go` says so instead of running another.
RELEASE_PROGRAMS = ("go", "gofmt")


def wanted_names() -> set[str]:
    names: set[str] = set(RELEASE_PROGRAMS)
    from gxc.ports import platforms

    names.update(f"{name}-go" for name in platforms.builtin_and_user_names())
    return names


def _write_if_changed(path: str, source: str) -> None:
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == source:
                return
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    atomic_write(path, source, executable=True)


def _write_launchers(shim_dir: str) -> None:
    """The Python launcher, and `.gxc-shim`: this gxc's gxc-native if it is there, else the Python launcher."""
    source = native.python_launcher_source()
    _write_if_changed(os.path.join(shim_dir, PYTHON_SHIM), source)
    launcher = os.path.join(shim_dir, LAUNCHER)
    if native.installed_identity(shim_dir) == native.identity() and os.path.isfile(launcher):
        return
    if os.path.lexists(os.path.join(shim_dir, ID_FILE)):
        os.unlink(os.path.join(shim_dir, ID_FILE))  # another gxc's gxc-native: Python serves until it is rebuilt
    _write_if_changed(launcher, source)


def refresh() -> list[str]:
    """Make the shims directory hold exactly the shims the installed toolchains and ports need."""
    from filelock import FileLock

    shim_dir = paths.shims_dir()
    os.makedirs(shim_dir, exist_ok=True)
    os.makedirs(paths.locks_dir(), exist_ok=True)
    with FileLock(os.path.join(paths.locks_dir(), "shims.lock")):  # installs in parallel refresh too
        _write_launchers(shim_dir)
        wanted = wanted_names()
        for name in os.listdir(shim_dir):
            if name not in wanted and not name.startswith("."):  # the launchers are dot files
                os.unlink(os.path.join(shim_dir, name))
        for name in wanted:
            link = os.path.join(shim_dir, name)
            if not os.path.islink(link):
                if os.path.lexists(link):
                    os.unlink(link)
                os.symlink(LAUNCHER, link)
    return sorted(wanted)
