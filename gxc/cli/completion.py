"""`gxc completion bash|zsh|fish`: the completion script, whose function asks gxc itself.

The function runs gxc.complete (the entry point next to the shim and the activate hook) through the
interpreter and package that printed it, with `python -I -S`; `gxc init` includes the same script.
"""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh", "fish")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("completion", help="a completion script for bash, zsh or fish")
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    p.set_defaults(func=cmd_completion)


def cmd_completion(args: argparse.Namespace) -> int:
    print(script(args.shell))
    return 0


def script(shell: str) -> str:
    """The completion function for `shell`, calling this gxc."""
    from gxc.ground.shells import light_command, quote

    command = " ".join(quote(arg, shell) for arg in light_command("gxc.complete"))
    if shell == "bash":
        return ("_gxc_complete() { local IFS=$'\\n'; "
                f'COMPREPLY=($({command} "$COMP_CWORD" "${{COMP_WORDS[@]}}" 2>/dev/null)); }}\n'
                "complete -o default -F _gxc_complete gxc")
    if shell == "zsh":
        return ("_gxc_complete() { local -a found; "
                f'found=("${{(@f)$({command} $((CURRENT - 1)) "${{words[@]}}" 2>/dev/null)}}"); '
                "found=(${found:#}); if (( ${#found} )); then compadd -a found; else _files; fi; }\n"
                "(( $+functions[compdef] )) && compdef _gxc_complete gxc")
    return ("function _gxc_complete\n"
            f"  set -l found ({command} (count (commandline -opc)) (commandline -opc) (commandline -ct) 2>/dev/null)\n"
            "  if test (count $found) -eq 0; __fish_complete_path (commandline -ct); else; printf '%s\\n' $found; end\n"
            "end\n"
            "complete -c gxc -f -a '(_gxc_complete)'")
