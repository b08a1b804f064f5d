"""The activate hook's work: put the toolchain selected here on PATH, and undo it on leaving.

`gxc init --activate` installs a prompt hook that runs the shims' launcher as `.gxc-shim hook SHELL
STAMP` (gxc-native, which answers from a record while it holds, else this module under `python -I -S`)
when the directory, a pin file, the default, the config or a trust record changed. As mise's
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
    from collections.abc import Mapping

    from gxc.ground.errors import GxcError
    from gxc.ground.observe import Observed


def _answer(base: Mapping[str, str], cwd: str) -> tuple[str, dict[str, str], tuple[str, str]] | None:
    """The toolchain root selected here with gxc's changes over `base`, or None when nothing applies."""
    from gxc.project import resolve
    from gxc.toolchains import workdir

    selection = resolve.select(cwd)
    if selection.spec is None and selection.minimum is None and not selection.system:
        return None  # nothing pinned, no default: leave the shell alone
    toolchain = resolve.resolve(selection)
    changes, path_first = workdir.managed_changes(toolchain.ident, base, selection.project_table.get("env"))
    return toolchain.root, changes, path_first


def _report(e: GxcError) -> None:
    from gxc.ground.errors import for_terminal

    hint = f" (hint: {e.hint})" if e.hint else ""
    sys.stderr.write(f"gxc: error: {for_terminal(e.message + hint)}\n")


def _warning_ids(messages: list[str]) -> list[str]:
    from gxc.project.trust import sha256_hex

    return [sha256_hex(m.encode())[:16] for m in messages]


def script(current: dict[str, str], cwd: str, shell: str, stamp: str = "", record_home: str = "") -> str:
    """The shell code for entering `cwd` from `current`; `record_home` keeps the answer for gxc-native."""
    from gxc.ground import notices, observe
    from gxc.ground.errors import GxcError, for_terminal
    from gxc.toolchains import workdir

    warnings = notices.capture()
    base = restored(current)
    # the new directory's choice is made from the restored environment: a previous project's variables
    # never decide which toolchain, trust record or setting applies here
    os.environ.clear()
    os.environ.update(base)
    failed = False
    with observe.watching() if record_home else observe.Unwatched() as seen:
        try:
            answer = _answer(os.environ, cwd)
        except GxcError as e:
            _report(e)
            answer, failed = None, True
    env = workdir.applied(base, answer[1], answer[2]) if answer else base
    if seen is not None and not failed:
        _keep(record_home, cwd, seen, answer, warnings)
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


def _keep(home: str, cwd: str, seen: Observed, answer: tuple[str, dict[str, str], tuple[str, str]] | None,
          warnings: list[str]) -> None:
    """Write this answer down for gxc-native, with the warnings it must give (once per shell, as here)."""
    from gxc.ground.errors import for_terminal
    from gxc.toolchains import native

    kept = native.Answer(*answer) if answer else native.Answer(None)
    said = list(zip(_warning_ids(warnings), [for_terminal(w) for w in warnings], strict=True))
    native.write_record(home, "hook", cwd, "", seen, kept, warnings=said)


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


def main(args: list[str] | None = None, record_home: str = "", record: bool = False) -> None:
    """args: [SHELL, STAMP] from the shims' launcher (`.gxc-shim hook SHELL STAMP`), whose home keeps the
    records; without them, sys.argv as an older `gxc init` wrote it: [-c, package dir, shell, stamp]."""
    argv = args if args is not None else sys.argv[2:]
    shell = argv[0] if argv and argv[0] in shells.SHELLS else "bash"
    stamp = argv[1] if len(argv) > 1 else ""
    try:
        cwd = os.getcwd()
    except FileNotFoundError:
        sys.stderr.write("gxc: error: the current directory was deleted (hint: cd to an existing directory)\n")
        return
    sys.stdout.write(script(dict(os.environ), cwd, shell, stamp, record_home if record else "") + "\n")
