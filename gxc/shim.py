"""The hot path: argv[0] -> resolve -> execve. About fifty lines, like rustup's proxy mode.

The launcher runs this with `python -I -S`, so only what is imported here is paid for: os, sys
and gxc's light modules (paths, versions, pins with its fast TOML reader, resolve, workdir).
A per-port shim (`riscv64-unknown-elf-go`) takes the slower path through gxc.portshim.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from gxc.ground.observe import Observed
    from gxc.project.resolve import Resolved, Selection

MAX_DEPTH = 8  # a shim that finds a shim that finds a shim...: a PATH loop, not a real use


def _fail(message: str, code: int) -> int:
    from gxc.ground.errors import for_terminal

    sys.stderr.write(f"gxc: error: {for_terminal(message)}\n")
    return code


def route(argv: list[str], name: str = "", record: bool = False) -> int:
    """Run the program `name` (default: argv[0]'s) of the toolchain selected here; `record` keeps the
    answer for gxc-native (gxc.toolchains.native), which handed this call over."""
    from gxc.ground.errors import GxcError

    name = name or os.path.basename(argv[0])
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
        return _route(name, args, _resolution_dir(args), override, record)
    except GxcError as e:
        hint = f" (hint: {e.hint})" if e.hint else ""
        return _fail(e.message + hint, e.exit_code)
    except OSError as e:  # the toolchain vanished under us (a concurrent uninstall), or its work dir is unwritable
        return _fail(f"cannot run {name}: {e.strerror or e}: {e.filename or ''}", 1)


def _route(name: str, args: list[str], where: str, override: str | None, record: bool) -> int:
    from gxc.ground import observe
    from gxc.ground.errors import GxcError
    from gxc.project import resolve
    from gxc.toolchains import workdir

    warnings: list[str] = []
    if record:
        from gxc.ground import notices

        warnings = notices.capture()
    with observe.watching() if record else observe.Unwatched() as seen:
        selection = resolve.select(where, override, "+ argument")
        toolchain = failure = None
        if not selection.system:
            try:
                toolchain = resolve.resolve(selection)
            except GxcError as e:
                failure = e
        binary = _binary(name, toolchain) if toolchain else None
        changes = (workdir.managed_changes(toolchain.ident, os.environ, selection.project_table.get("env"))
                   if toolchain and binary else None)
    stderr = [f"gxc: warning: {_for_terminal(w)}\n" for w in warnings]
    sys.stderr.write("".join(stderr))
    if selection.system:
        return _exec_system(name, args)
    if toolchain is None:
        from gxc.toolchains.autoinstall import install_if_configured

        assert failure is not None
        toolchain = install_if_configured(selection, failure)
        binary = _binary(name, toolchain)
    elif seen is not None and changes is not None:
        _keep(where, override or "", seen, toolchain, changes, stderr)
    _run(name, toolchain, args, binary, changes)
    return 1  # execve does not return


def _keep(where: str, override: str, seen: Observed, toolchain: Resolved,
          changes: tuple[dict[str, str], tuple[str, str]], stderr: list[str]) -> None:
    """Write this answer down for gxc-native (nothing is lost if it cannot be kept)."""
    from gxc.ground import launch
    from gxc.toolchains import native

    stderr = [text for text in (*stderr, _notes(toolchain.selection)) if text]
    answer = native.Answer(toolchain.root, changes[0], changes[1], launch.SECRETS)
    native.write_record(os.environ["GXC_HOME"], "shim", where, override, seen, answer, stderr)


def _run(name: str, toolchain: Resolved, args: list[str], binary: str | None,
         changes: tuple[dict[str, str], tuple[str, str]] | None = None) -> None:
    """Replace this process with the toolchain's `name` (`binary`, None for a per-port shim), in its
    managed environment."""
    from gxc.toolchains import workdir

    if binary is None:
        from gxc import portshim

        portshim.run(name, toolchain, args)
        return
    selection = toolchain.selection
    changes = changes or workdir.managed_changes(toolchain.ident, os.environ, selection.project_table.get("env"))
    env = workdir.applied(os.environ, *changes)
    notes = _notes(selection)
    if notes:
        sys.stderr.write(notes)
        sys.stderr.flush()  # before exec replaces this process
    from gxc.ground import launch

    launch.exec_user(binary, [binary, *args], env)


def _binary(name: str, toolchain: Resolved) -> str | None:
    """The toolchain's own program `name`, or None for a per-port shim (`riscv64-linux-go`)."""
    binary = os.path.join(toolchain.root, "bin", name)
    if not os.path.isdir(toolchain.root):  # uninstalled between resolving and here
        from gxc.ground.errors import ToolchainNotInstalled

        raise ToolchainNotInstalled(str(toolchain.version), toolchain.reason)
    return binary if os.path.isfile(binary) else None


def _notes(selection: Selection) -> str:
    """What the user should know about a toolchain they named for this one call ('' for a pin's choice)."""
    from gxc.ground.errors import for_terminal
    from gxc.project import resolve

    if selection.reason not in resolve.EXPLICIT_REASONS:
        return ""
    return "".join(f"gxc: note: {for_terminal(note)}\n" for note in selection.notes)


def _for_terminal(text: str) -> str:
    from gxc.ground.errors import for_terminal

    return for_terminal(text)


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
    """The launcher's entry: a shim (`go`), or the activate hook (`.gxc-shim hook SHELL [STAMP]`).
    gxc-native hands calls over with the program's name in the environment, and asks for a record."""
    from gxc.toolchains import native

    name = os.path.basename(os.environ.pop(native.NAME_VARIABLE, ""))  # a program's name, never a path
    record = native.asked_by_native() if name else False
    if (name or os.path.basename(sys.argv[0])) in (native.LAUNCHER, native.PYTHON_SHIM) and sys.argv[1:2] == ["hook"]:
        from gxc import hookenv

        hookenv.main(sys.argv[2:], os.path.dirname(os.path.dirname(os.path.realpath(sys.argv[0]))), record)
        return
    sys.exit(route(sys.argv, name, record))
