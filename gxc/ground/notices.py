"""Warnings that the core raises without failing (a project file's ignored tables): once per process.

The core never prints (STYLE.md); this is the one exception, because the shim and every verb must
say that part of a project file was ignored, and must say it once, not once per lookup. The
activate hook captures them instead, to say each once per shell rather than once per prompt.
"""

from __future__ import annotations

import sys

_seen: list[str] = []
_capturing = False


def warn_once(message: str) -> None:
    if message in _seen:
        return
    _seen.append(message)
    if not _capturing:
        from gxc.ground.errors import for_terminal

        sys.stderr.write(f"gxc: warning: {for_terminal(message)}\n")


def capture() -> list[str]:
    """From now on, collect warnings in the returned list instead of printing them."""
    global _capturing  # noqa: PLW0603 - one switch per process, set once by the activate hook
    _capturing = True
    return _seen
