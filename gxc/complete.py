"""The completion entry point: `INDEX WORD...` in, one candidate per line out (gxc.cli.completion
prints the shell functions that run it).

It walks the real argument parser: verbs, each verb's flags, the values a flag or argument takes
(ports for `-t`, installed versions for `-T`, `use` and `uninstall`, versions from the cached release
index for `install` and `pin`: never the network), and nothing for a file, so the shell completes paths.
"""

from __future__ import annotations

import argparse
import os
import sys

_REMOTE_VERBS = frozenset({"install", "pin", "list-remote", "sync"})  # a version the index has, not only one installed


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _visible(names: dict[str, argparse.ArgumentParser], action: argparse._SubParsersAction[argparse.ArgumentParser]
             ) -> list[str]:
    shown = {choice.dest for choice in action._choices_actions}  # verbs with help; `__complete` has none
    return [name for name in names if name in shown]


def candidates(root: argparse.ArgumentParser, words: list[str], index: int) -> list[str]:
    """What may stand at `words[index]` (`words[0]` is gxc itself), filtered by what is typed there."""
    typed = words[index] if index < len(words) else ""
    parser, verb, positionals, expecting = root, "", 0, None
    for word in words[1:index]:
        if expecting is not None:
            expecting = None
        elif word == "--":
            return []  # what follows goes to go or is the command to run
        elif word.startswith("-"):
            action = parser._option_string_actions.get(word.split("=", 1)[0])
            if action is not None and action.nargs != 0 and "=" not in word:
                expecting = action
        elif (sub := _subcommands(parser)) is not None and word in sub.choices:
            parser, verb, positionals = sub.choices[word], word, 0
        else:
            positionals += 1
    found = _values(expecting, verb) if expecting is not None else _next_words(parser, verb, positionals, typed)
    return [f for f in dict.fromkeys(found) if f.startswith(typed)]


def _next_words(parser: argparse.ArgumentParser, verb: str, positionals: int, typed: str) -> list[str]:
    if typed.startswith("-"):
        return [o for a in parser._actions if a.help != argparse.SUPPRESS for o in a.option_strings]
    sub = _subcommands(parser)
    if sub is not None:
        return _visible(sub.choices, sub)
    args = [a for a in parser._actions if not a.option_strings]
    if not args:
        return []
    action = args[positionals] if positionals < len(args) else args[-1]
    if positionals >= len(args) and action.nargs not in ("*", "+", argparse.REMAINDER):
        return []
    return _values(action, verb)


def _values(action: argparse.Action, verb: str) -> list[str]:
    """The values an argument takes: its choices, ports, versions; nothing for a file or a free word."""
    if action.choices:
        return [str(c) for c in action.choices]
    name = f"{action.dest} {action.metavar or ''}".lower()
    if "target" in name or (action.dest == "name" and verb in ("show", "remove")):  # a port, by flag or by name
        return _ports()
    if any(word in name for word in ("toolchain", "version", "spec", "keep")):
        return [*_installed(), *(_remote() if verb in _REMOTE_VERBS else [])]
    return []


def _ports() -> list[str]:
    from gxc.ports import platforms

    try:
        return sorted(platforms.builtin_and_user_names())
    except Exception:  # noqa: BLE001 - a broken port file is reported by the verbs; completion offers the rest
        return []


def _installed() -> list[str]:
    from gxc.project import resolve
    from gxc.toolchains import store

    return [*(str(v) for v in reversed(resolve.installed_versions())), *(str(f) for f in store.installed_flavors())]


def _remote() -> list[str]:
    """Versions from the cached index only: completion never waits on a server."""
    from gxc.ground import config
    from gxc.sources import index

    try:
        releases = index.load_releases(config.load().sources.index_url, offline=True)
    except Exception:  # noqa: BLE001 - no cached index (or a broken config): offer what is installed
        return []
    return ["latest", *(str(r.version) for r in sorted(releases, key=lambda r: r.version, reverse=True))]


def main() -> None:
    """Run by the completion scripts as `python -I -S -c ... PACKAGE INDEX WORD...`."""
    from gxc.cli import build_parser

    args = sys.argv[2:]  # argv[1] is the package directory (see light_command)
    try:
        index = int(args[0])
    except (IndexError, ValueError):
        sys.exit(2)
    sys.stdout.write("".join(f"{c}\n" for c in candidates(build_parser(), args[1:], index)))
    sys.stdout.flush()
    os._exit(0)  # nothing to clean up; skip interpreter teardown
