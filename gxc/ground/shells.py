"""Shell code that gxc prints for eval: quoting and variable assignment for bash, zsh and fish.

Names are checked before they get here (pins.env_name_problem); values may hold anything but NUL,
so every value is quoted for the dialect that will read it: POSIX single quotes for bash and zsh
(`'` becomes `'\\''`), and fish's single quotes, where `\\` and `'` are escaped with a backslash.
Imported by the activate hook's light path: `os` only.
"""

from __future__ import annotations

import os
import sys

SHELLS = ("bash", "zsh", "fish")


def light_command(module: str) -> list[str]:
    """How shell code gxc writes runs one of its light entry points (the activate hook, the BIOS helper):
    this interpreter with -I -S, the package on sys.path by hand, `module.main()`; argv[1] is the package."""
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = f"import sys; sys.path.insert(0, sys.argv[1]); from {module} import main; main()"
    return [sys.executable, "-I", "-S", "-c", code, package]


def quote(value: str, shell: str) -> str:
    if shell == "fish":
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + value.replace("'", "'\\''") + "'"


def assign(name: str, value: str | None, shell: str) -> str:
    """One statement that sets (or, for None, unsets) an exported variable."""
    if shell == "fish":
        if value is None:
            return f"set -e {name};"
        if name == "PATH":  # fish keeps PATH as a list
            return "set -gx PATH " + " ".join(quote(p, shell) for p in value.split(os.pathsep) if p) + ";"
        return f"set -gx {name} {quote(value, shell)};"
    if value is None:
        return f"unset {name};"
    return f"export {name}={quote(value, shell)};"


def render(env: dict[str, str], keys: list[str], shell: str) -> str:
    return "\n".join(assign(k, env.get(k), shell) for k in keys)
