"""The progress reporter every long operation writes to: tqdm bars and notes on stderr.

Installs, source builds and mirror syncs take a Reporter; this is the one that draws on a terminal.
It sits in the ground so that an install started by the shim or a build (not only by a verb) reports
the same way.
"""

from __future__ import annotations

import sys
from typing import Protocol

from gxc.ground.errors import for_terminal


class Progress(Protocol):
    """A progress bar: told how many more bytes arrived."""

    def update(self, n: int) -> object: ...


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
