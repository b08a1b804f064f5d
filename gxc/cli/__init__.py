"""The command line: the only place that prints or exits.

Each verb group lives in its own module with a `register(subparsers)` function; verbs import the
core lazily so `gxc --help` stays fast. One `except GxcError` turns expected failures into one
line on stderr and the error's exit code; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gxc import __version__
from gxc.errors import EXIT_FAILED, GxcError


def build_parser() -> argparse.ArgumentParser:
    from gxc.cli import build, cachecmd, doctor, envcmd, install, platform, project

    parser = argparse.ArgumentParser(prog="gxc", description="Go toolchain manager with cross-compilation built in")
    parser.add_argument("--version", action="version", version=f"gxc {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notes")
    subparsers = parser.add_subparsers(dest="verb", metavar="COMMAND", required=True)
    for module in (install, project, envcmd, platform, build, doctor, cachecmd):
        module.register(subparsers)
    for verb in subparsers.choices.values():  # `gxc install -q` as well as `gxc -q install`
        verb.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        verb.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                          help="no progress bars or notes")
    return parser


def error_line(err: GxcError) -> str:
    return f"gxc: error: {err.message}" + (f" (hint: {err.hint})" if err.hint else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    if "--" in argv:  # what follows `--` goes to go (build flags, test flags) or is the command to exec
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1:]
    args = parser.parse_args(argv)
    args.rest = rest
    try:
        code: int = args.func(args)
    except GxcError as err:
        if args.debug:
            raise
        print(error_line(err), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("gxc: interrupted", file=sys.stderr)
        return 130
    except OSError as err:  # disk full, permission denied outside the install transaction
        if args.debug:
            raise
        where = f" {err.filename}" if err.filename else ""
        print(f"gxc: error:{where}: {err.strerror or err}", file=sys.stderr)
        return EXIT_FAILED
    return code
