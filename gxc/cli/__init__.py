"""The command line: the only place that prints or exits.

Each verb group lives in its own module with a `register(subparsers)` function; verbs import the
core lazily so `gxc --help` stays fast. One `except GxcError` turns expected failures into one
line on stderr and the error's exit code; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from gxc import __version__
from gxc.ground.errors import EXIT_FAILED, EXIT_USAGE, GxcError, UsageError, for_terminal, shown

# The module of gxc/cli that registers each verb, in the order `gxc --help` lists them. `gxc VERB` builds
# only its module's parser: argparse for every verb costs ~30 ms, a tenth of a warm `gxc build`.
# tests/cli/test_discoverability.py holds this table to what the modules register.
VERB_MODULES = {
    "install": "install", "uninstall": "install", "list": "install", "list-remote": "install",
    "pin": "project", "outdated": "project", "upgrade": "project", "use": "project", "current": "project",
    "exec": "envcmd", "env": "envcmd", "which": "envcmd", "init": "envcmd",
    "completion": "completion", "platform": "platform",
    "build": "build", "run": "build", "test": "build",
    "provenance": "delivery", "verify-artifact": "delivery", "inspect": "delivery", "keygen": "delivery",
    "verify": "doctor", "doctor": "doctor", "reshim": "doctor",
    "cache": "cachecmd", "prune": "cachecmd", "trust": "trustcmd", "untrust": "trustcmd", "mirror": "mirrorcmd",
}


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or, for a known `verb`, the global options and that verb's module only."""
    import importlib

    from gxc.cli import helptext

    parser = argparse.ArgumentParser(prog="gxc", description="Go toolchain manager with cross-compilation built in")
    parser.add_argument("--version", action="version", version=f"gxc {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes")
    subparsers = parser.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    names = [VERB_MODULES[verb]] if verb in VERB_MODULES else list(dict.fromkeys(VERB_MODULES.values()))
    for name in names:
        importlib.import_module(f"gxc.cli.{name}").register(subparsers)
    helptext.describe(parser)
    for verb_parser in subparsers.choices.values():  # `gxc install -q` as well as `gxc -q install`
        verb_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        verb_parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                                 help="no progress bars or notes")
    return parser


def error_line(err: GxcError) -> str:
    return for_terminal(f"gxc: error: {err.message}" + (f" (hint: {err.hint})" if err.hint else ""))


class TerminalText:
    """stdout or stderr on a terminal: what gxc prints (names, paths, values from files) cannot drive it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(for_terminal(text, "\n\t"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _guard_terminals() -> None:
    if sys.stdout.isatty():
        sys.stdout = TerminalText(sys.stdout)
    if sys.stderr.isatty():
        sys.stderr = TerminalText(sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    _guard_terminals()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
    rest: list[str] = []
    if "--" in argv:  # what follows `--` goes to go (build flags, test flags) or is the command to exec
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1:]
    argv, go_args = split_test_args(argv)
    early = _help_or_unknown_verb(parser, argv)
    if early is not None:
        return early
    args = parser.parse_args(argv)
    args.rest = [*go_args, *rest]
    return _run(args)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI runner cancelling a job): unwound like Ctrl-C, so every cleanup that stops
    make.bash or QEMU and removes a staging tree runs; reported with the signal's own exit status."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def _run(args: argparse.Namespace) -> int:
    """Run one verb: expected failures become one line on stderr and the error's exit code."""
    import signal

    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        _check_cwd()
        code: int = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not as an "Exception ignored" at exit
    except BrokenPipeError:  # `gxc list | head -1`: the reader left; say nothing more
        _silence_stdout()
        return 141
    except GxcError as err:
        if args.debug:
            raise
        print(error_line(err), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as stop:  # 128 + the signal's number, as a shell reports it
        terminated = isinstance(stop, Terminated)
        print(f"gxc: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130
    except OSError as err:  # disk full, permission denied outside the install transaction
        if args.debug:
            raise
        where = f": {err.filename}" if err.filename else ""
        print(f"gxc: error: {err.strerror or type(err).__name__}{where}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as err:  # a bug in gxc: still one line, and the way to see more
        if args.debug:
            raise
        print(f"gxc: internal error: {type(err).__name__}: {err} (hint: rerun with --debug and report it)",
              file=sys.stderr)
        return EXIT_FAILED
    return code


COMMON_VERBS = "install list pin current build run test doctor"


def _help_or_unknown_verb(parser: argparse.ArgumentParser, argv: list[str]) -> int | None:
    """Bare `gxc` and `gxc help [VERB]` print help (exit 0); a mistyped verb is one line naming the nearest."""
    verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    words = [a for a in argv if a not in ("-q", "--quiet", "--debug")]
    if not words:
        parser.print_help()
        print(f"\ncommon commands: {COMMON_VERBS.replace(' ', ', ')}; `gxc help COMMAND` tells more")
        return 0
    verb = words[0]
    if verb == "help":
        if len(words) > 1 and words[1] in verbs:
            verbs[words[1]].print_help()
            return 0
        if len(words) > 1:
            return _unknown_verb(words[1], list(verbs))
        parser.print_help()
        return 0
    if verb.startswith("-") or verb in verbs:
        return None
    return _unknown_verb(verb, list(verbs))


def _unknown_verb(verb: str, verbs: list[str]) -> int:
    import difflib

    close = difflib.get_close_matches(verb, verbs, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    print(error_line(UsageError(f"unknown command {shown(verb)}", f"{hint}`gxc help` lists the commands")),
          file=sys.stderr)
    return EXIT_USAGE


# gxc's own options of `gxc test`; everything else (packages, -run X, -v, -count=1) goes to go test in order.
_TEST_OPTIONS_WITH_VALUE = ("-t", "--target", "-T", "--toolchain", "--boot-timeout")
_TEST_FLAGS = ("-q", "--quiet", "--debug", "-h", "--help")


def split_test_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """For `gxc test`, pull gxc's options out and leave the rest to go test, as `go test` would see it."""
    verb_at = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if verb_at is None or argv[verb_at] != "test":
        return argv, []
    ours, theirs = argv[: verb_at + 1], []
    words = iter(argv[verb_at + 1:])
    for word in words:
        if word in _TEST_OPTIONS_WITH_VALUE:
            ours += [word, next(words, "")]
        elif word.startswith(tuple(f"{o}=" for o in _TEST_OPTIONS_WITH_VALUE)) or word in _TEST_FLAGS:
            ours.append(word)
        else:
            theirs.append(word)
    return ours, theirs


def _check_cwd() -> None:
    import os

    try:
        os.getcwd()
    except FileNotFoundError:
        raise GxcError("the current directory was deleted", "cd to an existing directory") from None


def _silence_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
