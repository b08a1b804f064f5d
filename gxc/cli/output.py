"""Shared output helpers for the verbs: JSON envelopes and the progress reporter."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gxc.download import Progress
from gxc.errors import for_terminal


def add_toolchain_option(parser: argparse.ArgumentParser) -> None:
    """`-T V`: the first rule of resolution (DESIGN.md section 5), on every verb that runs a toolchain."""
    parser.add_argument("-T", "--toolchain", metavar="V", help="use this toolchain instead of the pinned one")


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


class TerminalReporter:
    """tqdm bars on stderr only when it is a terminal; notes on stderr unless quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def progress(self, total: int, label: str) -> Progress | None:
        if self.quiet or not sys.stderr.isatty():
            return None
        from tqdm import tqdm

        stream = getattr(sys.stderr, "stream", sys.stderr)  # tqdm draws with \r: the raw terminal, not TerminalText
        bar: Progress = tqdm(total=total, desc=for_terminal(label), unit="B", unit_scale=True, unit_divisor=1024,
                             file=stream, leave=False)
        return bar

    def note(self, message: str) -> None:
        """Progress chatter (retries): on a terminal only, so a failure stays one line in logs."""
        if not self.quiet and sys.stderr.isatty():
            print(f"gxc: {for_terminal(message)}", file=sys.stderr)

    def step(self, message: str) -> None:
        """A phase of long work (make.bash): on a terminal and in a CI log alike, unless quiet."""
        if not self.quiet:
            print(f"gxc: {for_terminal(message)}", file=sys.stderr)

    def warn(self, message: str) -> None:
        """What changes how the result behaves (no shared disk space, a repaired object): always shown."""
        print(f"gxc: warning: {for_terminal(message)}", file=sys.stderr)
