"""Verbs that run things in the managed environment: exec, env, which, init."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from gxc.cli.output import add_toolchain_option
from gxc.resolve import Resolved

SHELLS = ("bash", "zsh", "fish")


def register(sub: Any) -> None:
    p = sub.add_parser("exec", help="run a command with the selected toolchain's environment")
    add_toolchain_option(p)
    p.add_argument("-t", "--target", metavar="PORT", help="add this port's environment")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD...")
    p.set_defaults(func=cmd_exec)

    p = sub.add_parser("env", help="print the managed environment (for eval and CI)")
    add_toolchain_option(p)
    p.add_argument("-t", "--target", metavar="PORT")
    p.add_argument("--shell", choices=(*SHELLS, "json"), default="bash")
    p.set_defaults(func=cmd_env)

    p = sub.add_parser("which", help="absolute path of a toolchain program (go, gofmt, compile, link, asm...)")
    p.add_argument("program")
    add_toolchain_option(p)
    p.set_defaults(func=cmd_which)

    p = sub.add_parser("init", help="shell code that puts the shims on PATH")
    p.add_argument("shell", choices=SHELLS)
    p.add_argument("--activate", action="store_true",
                   help="instead of shims, put the resolved toolchain on PATH from a prompt hook")
    p.set_defaults(func=cmd_init)


def selected(toolchain: str | None) -> Resolved:
    from gxc import resolve

    return resolve.resolve(resolve.select(os.getcwd(), toolchain))


def _strip_managed_path(path: str) -> str:
    """PATH without entries gxc put there earlier, so re-activation does not stack them."""
    from gxc import paths

    managed = (os.path.join(paths.toolchains_dir(), ""), os.path.join(paths.home(), "work", ""))
    return os.pathsep.join(p for p in path.split(os.pathsep) if p and not p.startswith(managed))


def environment(toolchain: Resolved, target: str | None) -> tuple[dict[str, str], list[str]]:
    """The environment to run in, and the keys gxc set in it."""
    from gxc import workdir

    base = dict(os.environ)
    base["PATH"] = _strip_managed_path(base.get("PATH", ""))
    project_env: dict[str, str] = toolchain.selection.project_table.get("env", {})
    env = workdir.managed_env(str(toolchain.version), base, project_env)
    keys = [*workdir.MANAGED_KEYS, *project_env]
    if target:
        from gxc import platforms

        port_env = platforms.port_env(platforms.registry(toolchain).get(target), toolchain)
        env.update(port_env)
        keys += list(port_env)
    return env, sorted(set(keys))


def cmd_exec(args: argparse.Namespace) -> int:
    command = args.command + args.rest
    if not command:
        from gxc.errors import UsageError

        raise UsageError("gxc exec needs a command", "gxc exec -- go version")
    env, _ = environment(selected(args.toolchain), args.target)
    sys.stdout.flush()
    try:
        os.execvpe(command[0], command, env)
    except FileNotFoundError:
        from gxc.errors import GxcError

        raise GxcError(f"command not found: {command[0]}", "check the name, or PATH") from None
    return 1


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def render(env: dict[str, str], keys: list[str], shell: str) -> str:
    if shell == "json":
        return json.dumps({k: env[k] for k in keys}, indent=2, sort_keys=True)
    if shell == "fish":
        lines = []
        for k in keys:
            if k == "PATH":
                parts = " ".join(_quote(p) for p in env[k].split(os.pathsep))
                lines.append(f"set -gx PATH {parts};")
            else:
                lines.append(f"set -gx {k} {_quote(env[k])};")
        return "\n".join(lines)
    return "\n".join(f"export {k}={_quote(env[k])};" for k in keys)


def cmd_env(args: argparse.Namespace) -> int:
    env, keys = environment(selected(args.toolchain), args.target)
    print(render(env, keys, args.shell))
    return 0


def cmd_which(args: argparse.Namespace) -> int:
    toolchain = selected(args.toolchain)
    candidates = [os.path.join(toolchain.root, "bin", args.program)]
    tool_root = os.path.join(toolchain.root, "pkg", "tool")
    if os.path.isdir(tool_root):
        candidates += [os.path.join(tool_root, d, args.program) for d in sorted(os.listdir(tool_root))]
    for path in candidates:
        if os.path.isfile(path):
            print(path)
            print(f"gxc: {toolchain.describe()}", file=sys.stderr)
            return 0
    from gxc.errors import GxcError

    raise GxcError(f"go{toolchain.version} has no program named {args.program!r}",
                   "programs live in bin/ (go, gofmt) and pkg/tool/<os>_<arch>/ (compile, link, asm, vet...)")


_ACTIVATE_POSIX = """\
_gxc_hook() {{
  local key="$PWD" d="$PWD" f changed=
  while :; do
    for f in {pin_files}; do
      if [ -f "$d/$f" ]; then
        key="$key:$d/$f"
        [ "$d/$f" -nt "$_GXC_STAMP" ] && changed=1
      fi
    done
    [ "$d" = / ] && break
    d="${{d%/*}}"; [ -z "$d" ] && d=/
  done
  [ "{settings}" -nt "$_GXC_STAMP" ] && changed=1
  if [ -n "$changed" ] || [ "$key" != "$_GXC_KEY" ]; then
    _GXC_KEY="$key"
    : > "$_GXC_STAMP"
    eval "$({gxc} env --shell {shell} 2>/dev/null)"
  fi
}}
_GXC_STAMP="${{TMPDIR:-/tmp}}/gxc-activate.$$"
"""


def _completion(shell: str) -> str:
    """Verb completion, where it costs one line: bash and fish."""
    from gxc.cli import build_parser

    verbs = " ".join(sorted(next(a for a in build_parser()._actions if a.dest == "verb").choices or []))
    if shell == "bash":
        return f"complete -W {_quote(verbs)} gxc;"
    if shell == "fish":
        return f"complete -c gxc -f -n __fish_use_subcommand -a {_quote(verbs)};"
    return ""


def _gxc_command() -> str:
    return f"{_quote(sys.executable)} -m gxc"


def cmd_init(args: argparse.Namespace) -> int:
    from gxc import paths

    shims = paths.shims_dir()
    home_line = ""
    if os.environ.get("GXC_HOME"):
        home_line = (f"set -gx GXC_HOME {_quote(paths.home())};" if args.shell == "fish"
                     else f"export GXC_HOME={_quote(paths.home())};")
    if not args.activate:
        path_line = (f"fish_add_path --prepend --global {_quote(shims)};" if args.shell == "fish"
                     else f'export PATH={_quote(shims)}":$PATH";')
        print("\n".join(filter(None, [home_line, path_line, _completion(args.shell)])))
        return 0
    if args.shell == "fish":
        print("\n".join(filter(None, [
            home_line,
            "function _gxc_hook --on-variable PWD --on-event fish_prompt",
            "  if test \"$PWD\" != \"$_gxc_dir\"",
            "    set -g _gxc_dir $PWD",
            f"    {_gxc_command()} env --shell fish 2>/dev/null | source",
            "  end",
            "end",
            "_gxc_hook",
        ])))
        return 0
    from gxc.pins import PIN_FILES

    hook = _ACTIVATE_POSIX.format(pin_files=" ".join(PIN_FILES), settings=paths.settings_path(), gxc=_gxc_command(),
                                  shell=args.shell)
    install = ('PROMPT_COMMAND="_gxc_hook${PROMPT_COMMAND:+;$PROMPT_COMMAND}"' if args.shell == "bash"
               else "autoload -Uz add-zsh-hook; add-zsh-hook precmd _gxc_hook")
    print("\n".join(filter(None, [home_line, hook, install, "_gxc_hook"])))
    return 0
