"""The activate hook's work: put the toolchain selected here on PATH, and undo it on leaving.

`gxc init --activate` installs a prompt hook that runs this module (with `python -I -S`, like the
shim) when the directory, a pin file, the default, the config or a trust record changed. As mise's
hook-env and direnv do, it first undoes what it set last time: `_GXC_DIFF` holds the value every
variable had before gxc set it (or that it was unset), and `_GXC_PATH` the PATH entries gxc added,
so leaving a project restores the shell and removes only gxc's own PATH entries, whatever else
changed PATH since. Errors (a pin that is not installed) go to stderr on each change; warnings
about untrusted project files once per shell, remembered in `_GXC_WARNED`.
Encoded without json (its import costs more than the rest of this path): `NAME=hex` or `NAME-`.
"""

from __future__ import annotations

import os
import sys

from gxc.ground import shells
from gxc.ground.activation import ADDED_PATH, DIFF, WARNED, decode_diff, encode_diff, encode_list, restored

TYPE_CHECKING = False
if TYPE_CHECKING:
    pass

def activated(base: dict[str, str], cwd: str) -> dict[str, str]:
    """`base` with the selected toolchain's managed environment, or `base` itself when none applies."""
    from gxc.ground.errors import GxcError, for_terminal
    from gxc.project import resolve
    from gxc.toolchains import workdir

    try:
        selection = resolve.select(cwd)
        if selection.spec is None and selection.minimum is None and not selection.system:
            return base  # nothing pinned, no default: leave the shell alone
        toolchain = resolve.resolve(selection)
    except GxcError as e:
        hint = f" (hint: {e.hint})" if e.hint else ""
        sys.stderr.write(f"gxc: error: {for_terminal(e.message + hint)}\n")
        return base
    return workdir.managed_env(toolchain.ident, base, selection.project_table.get("env"))


def _warning_ids(messages: list[str]) -> list[str]:
    from gxc.project.trust import sha256_hex

    return [sha256_hex(m.encode())[:16] for m in messages]


def script(current: dict[str, str], cwd: str, shell: str, stamp: str = "") -> str:
    from gxc.ground import notices
    from gxc.ground.errors import for_terminal

    warnings = notices.capture()
    base = restored(current)
    # the new directory's choice is made from the restored environment: a previous project's variables
    # never decide which toolchain, trust record or setting applies here
    os.environ.clear()
    os.environ.update(base)
    env = activated(base, cwd)
    keys = sorted({k for k in env if base.get(k) != env[k]} - {"PATH"})
    previous_diff = decode_diff(current.get(DIFF, ""))
    lines = [shells.assign(k, env.get(k), shell) for k in sorted(set(keys) | set(previous_diff))]
    base_path = base.get("PATH", "").split(os.pathsep)
    added = [p for p in env.get("PATH", "").split(os.pathsep) if p and p not in base_path]
    if env.get("PATH") != current.get("PATH"):
        lines.append(shells.assign("PATH", env.get("PATH"), shell))
    lines.append(shells.assign(DIFF, encode_diff({k: base.get(k) for k in keys}) or None, shell))
    lines.append(shells.assign(ADDED_PATH, encode_list(added) or None, shell))
    warned = [w for w in current.get(WARNED, "").split(",") if w]
    for message, ident in zip(warnings, _warning_ids(warnings), strict=True):
        if ident not in warned:
            sys.stderr.write(f"gxc: warning: {for_terminal(message)}\n")
            warned.append(ident)
    if warned:
        lines.append(shells.assign(WARNED, ",".join(warned), shell))
    _remove_dead_stamps(stamp)
    return "\n".join(lines)


def _remove_dead_stamps(stamp: str) -> None:
    """Stamp files of shells that are gone (stamp.<pid>), in the private directory the hook uses."""
    directory = os.path.dirname(stamp)
    if not stamp or not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        pid = name.rpartition(".")[2]
        if name.startswith("stamp.") and pid.isdigit() and not _alive(int(pid)):
            try:  # noqa: SIM105 - contextlib is one more import on the hook's light path
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main() -> None:
    """argv: [-c, package dir, shell, stamp file] (see gxc.cli.envcmd's activate hook)."""
    shell = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] in shells.SHELLS else "bash"
    stamp = sys.argv[3] if len(sys.argv) > 3 else ""
    try:
        cwd = os.getcwd()
    except FileNotFoundError:
        sys.stderr.write("gxc: error: the current directory was deleted (hint: cd to an existing directory)\n")
        return
    sys.stdout.write(script(dict(os.environ), cwd, shell, stamp) + "\n")
