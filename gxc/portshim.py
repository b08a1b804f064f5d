"""Placeholder until ports land."""

from __future__ import annotations

from gxc.errors import GxcError
from gxc.resolve import Resolved


def run(name: str, toolchain: Resolved, args: list[str]) -> int:
    raise GxcError(f"go{toolchain.version} has no program named {name!r}", "run `gxc which go` to see the toolchain")
