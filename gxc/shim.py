"""The hot path: argv[0] -> resolve -> execve. About fifty lines, like rustup's proxy mode.

The launcher runs this with `python -I -S`, so only what is imported here is paid for: os, sys
and gxc's light modules (paths, versions, pins with its fast TOML reader, resolve, workdir).
A per-port shim (`riscv64-unknown-elf-go`) takes the slower path through gxc.portshim.
"""

from __future__ import annotations

import os
import sys

MAX_DEPTH = 8  # a shim that finds a shim that finds a shim...: a PATH loop, not a real use


def _fail(message: str, code: int) -> int:
    from gxc.ground.errors import for_terminal

    sys.stderr.write(f"gxc: error: {for_terminal(message)}\n")
    return code


def route(argv: list[str]) -> int:
    from gxc.ground.errors import GxcError
    from gxc.project import resolve
    from gxc.toolchains import workdir

    name = os.path.basename(argv[0])
    os.environ["GXC_HOME"] = os.path.dirname(os.path.dirname(os.path.realpath(argv[0])))
    depth = int(os.environ.get("GXC_SHIM_DEPTH", "0") or 0) + 1
    if depth > MAX_DEPTH:
        return _fail(f"shim loop: `{name}` keeps finding a gxc shim (check PATH)", 1)
    os.environ["GXC_SHIM_DEPTH"] = str(depth)
    args = argv[1:]
    override = None
    if args and args[0].startswith("+"):
        override, args = args[0][1:], args[1:]
    try:
        selection = resolve.select(_resolution_dir(args), override, "+ argument")
        if selection.system:
            return _exec_system(name, args)
        try:
            toolchain = resolve.resolve(selection)
        except GxcError as e:
            from gxc.toolchains.autoinstall import install_if_configured

            toolchain = install_if_configured(selection, e)
        binary = os.path.join(toolchain.root, "bin", name)
        if not os.path.isdir(toolchain.root):  # uninstalled between resolving and here
            from gxc.ground.errors import ToolchainNotInstalled

            raise ToolchainNotInstalled(str(toolchain.version), toolchain.reason)
        if not os.path.isfile(binary):
            from gxc import portshim

            return portshim.run(name, toolchain, args)
        env = workdir.managed_env(toolchain.ident, os.environ, selection.project_table.get("env"))
        from gxc.ground import launch

        if selection.notes and selection.reason in resolve.EXPLICIT_REASONS:
            from gxc.ground.errors import for_terminal

            sys.stderr.write("".join(f"gxc: note: {for_terminal(note)}\n" for note in selection.notes))
            sys.stderr.flush()  # before exec replaces this process

        launch.exec_user(binary, [binary, *args], env)
    except GxcError as e:
        hint = f" (hint: {e.hint})" if e.hint else ""
        return _fail(e.message + hint, e.exit_code)
    except OSError as e:  # the toolchain vanished under us (a concurrent uninstall), or its work dir is unwritable
        return _fail(f"cannot run {name}: {e.strerror or e}: {e.filename or ''}", 1)
    return 1  # execve does not return


def _resolution_dir(args: list[str]) -> str:
    """Where the toolchain is chosen: `go -C DIR ...` (also after the verb) runs in DIR, so resolve there."""
    for i, arg in enumerate(args[:3]):
        if arg in ("-C", "--C") and i + 1 < len(args):
            return os.path.abspath(args[i + 1])
        if arg.startswith(("-C=", "--C=")):
            return os.path.abspath(arg.partition("=")[2])
    try:
        return os.getcwd()
    except FileNotFoundError:
        from gxc.ground.errors import GxcError

        raise GxcError("the current directory was deleted", "cd to an existing directory") from None


def _exec_system(name: str, args: list[str]) -> int:
    """`.tool-versions` says `golang system`: run the next `name` on PATH that is not a gxc shim."""
    shims = os.path.dirname(os.path.abspath(sys.argv[0]))
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        candidate = os.path.join(entry, name)
        if entry and os.path.abspath(entry) != shims and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            from gxc.ground import launch

            launch.exec_user(candidate, [candidate, *args], os.environ)
    return _fail(f"`golang system` in .tool-versions, but no {name} on PATH outside gxc's shims", 1)


def main() -> None:
    sys.exit(route(sys.argv))
