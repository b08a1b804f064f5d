"""Verbs that run things in the managed environment: exec, env, which, init."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from gxc.cli.output import add_toolchain_option
from gxc.ground.shells import SHELLS
from gxc.project.resolve import Resolved


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
    from gxc.project import resolve

    return resolve.resolve(resolve.select(os.getcwd(), toolchain))


def environment(toolchain: Resolved, target: str | None) -> tuple[dict[str, str], list[str]]:
    """The environment to run in, and the keys gxc set in it."""
    from gxc.ground import activation
    from gxc.toolchains import workdir

    base = activation.restored(dict(os.environ))  # what an activate hook set is not the user's own setting
    project_env: dict[str, str] = toolchain.selection.project_table.get("env", {})
    env = workdir.managed_env(toolchain.ident, base, project_env)
    if target:
        from gxc.ports import platforms

        env.update(platforms.port_env(platforms.registry(toolchain).get(target), toolchain))
    return env, workdir.set_keys(base, env)


def cmd_exec(args: argparse.Namespace) -> int:
    command = args.command + args.rest
    if not command:
        from gxc.ground.errors import UsageError

        raise UsageError("gxc exec needs a command", "gxc exec -- go version")
    env, _ = environment(selected(args.toolchain), args.target)
    sys.stdout.flush()
    try:
        from gxc.ground import launch

        launch.exec_user(command[0], command, env, search=True)
    except FileNotFoundError:
        from gxc.ground.errors import GxcError

        raise GxcError(f"command not found: {command[0]}", "check the name, or PATH") from None
    return 1


def _quote(value: str) -> str:
    from gxc.ground.shells import quote

    return quote(value, "bash")


def render(env: dict[str, str], keys: list[str], shell: str) -> str:
    if shell == "json":
        return json.dumps({k: env[k] for k in keys}, indent=2, sort_keys=True)
    from gxc.ground.shells import render as render_for_shell

    return render_for_shell(env, keys, shell)


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
            return 0
    from gxc.ground.errors import GxcError, shown

    raise GxcError(f"go{toolchain.version} has no program named {shown(args.program)}",
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
  for f in {watched}; do
    [ "$f" -nt "$_GXC_STAMP" ] && changed=1
  done
  if [ -n "$changed" ] || [ "$key" != "$_GXC_KEY" ]; then
    _GXC_KEY="$key"
    : > "$_GXC_STAMP"
    eval "$({hook} {shell} "$_GXC_STAMP")"
  fi
}}
_GXC_STAMP={stamp_dir}/stamp.$$
"""


def _stamp_dir() -> str:
    """A private directory (0700) for the hook's stamp files: never a predictable name in /tmp."""
    from gxc.ground import paths

    runtime = os.environ.get("XDG_RUNTIME_DIR")
    directory = os.path.join(runtime, "gxc") if runtime and os.path.isdir(runtime) else os.path.join(
        paths.state_dir(), "activate")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    return directory


def _hook_command(shell: str) -> str:
    """The hook's recompute runs the shims' launcher: gxc-native when built, else the shim's light Python path."""
    from gxc.ground import paths
    from gxc.ground.shells import quote
    from gxc.toolchains.native import LAUNCHER

    return f"{quote(os.path.join(paths.shims_dir(), LAUNCHER), shell)} hook"


def _watched_files() -> list[str]:
    """Files and directories whose change means the hook must recompute: default, config, trust records."""
    from gxc.ground import paths

    return [paths.settings_path(), paths.config_path(), os.path.join(paths.trust_dir(), "allow"),
            os.path.join(paths.trust_dir(), "deny")]


def _fish_activate(home_line: str) -> str:
    hook = _hook_command("fish")  # fish re-evaluates on directory change: no stamp needed
    return "\n".join(filter(None, [
        home_line,
        "function _gxc_hook --on-variable PWD --on-event fish_prompt",
        "  if test \"$PWD\" != \"$_gxc_dir\"",
        "    set -g _gxc_dir $PWD",
        f"    {hook} fish | source",
        "  end",
        "end",
        "_gxc_hook",
    ]))


def _native_shim() -> None:
    """gxc init builds the native shim once a toolchain can; stderr says so, or why the shims stay on Python."""
    from gxc.ground.errors import for_terminal
    from gxc.toolchains import native

    said = native.try_ensure()
    if said and said != native.NO_BUILDER:
        sys.stderr.write(f"gxc: {for_terminal(said)}\n")


def cmd_init(args: argparse.Namespace) -> int:
    from gxc.cli import completion
    from gxc.ground import paths
    from gxc.ground.shells import assign, quote

    shims = paths.shims_dir()
    from gxc.toolchains import native

    if not os.path.exists(os.path.join(shims, "go")) or not os.path.exists(os.path.join(shims, native.PYTHON_SHIM)):
        from gxc.toolchains import shims as shim_dir

        shim_dir.refresh()  # a fresh home: `go` routes through gxc from the start
    _native_shim()
    home_line = assign("GXC_HOME", paths.home(), args.shell) if os.environ.get("GXC_HOME") else ""
    if not args.activate:
        gobin = paths.gobin_dir()
        path_line = (f"fish_add_path --prepend --global {quote(shims, 'fish')} {quote(gobin, 'fish')};"
                     if args.shell == "fish"
                     else f'export PATH={_quote(shims)}:{_quote(gobin)}":$PATH";')
        print("\n".join(filter(None, [home_line, path_line, completion.script(args.shell)])))
        return 0
    if args.shell == "fish":
        print(_fish_activate(home_line) + "\n" + completion.script(args.shell))
        return 0
    from gxc.project.pins import PIN_FILES

    hook = _ACTIVATE_POSIX.format(pin_files=" ".join(PIN_FILES), watched=" ".join(map(_quote, _watched_files())),
                                  hook=_hook_command(args.shell), shell=args.shell, stamp_dir=_quote(_stamp_dir()))
    if args.shell == "bash":
        install = ('PROMPT_COMMAND="_gxc_hook${PROMPT_COMMAND:+;$PROMPT_COMMAND}"\n'
                   "[ -z \"$(trap -p EXIT)\" ] && trap 'rm -f \"$_GXC_STAMP\"' EXIT")
    else:
        install = ("autoload -Uz add-zsh-hook; add-zsh-hook precmd _gxc_hook\n"
                   "_gxc_unstamp() { rm -f \"$_GXC_STAMP\"; }; add-zsh-hook zshexit _gxc_unstamp")
    print("\n".join(filter(None, [home_line, hook, install, "_gxc_hook", completion.script(args.shell)])))
    return 0
