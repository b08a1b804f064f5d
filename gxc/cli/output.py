"""Shared output helpers for the verbs: JSON envelopes and the common options."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_toolchain_option(parser: argparse.ArgumentParser) -> None:
    """`-T V`: the first rule of resolution (DESIGN.md section 5), on every verb that runs a toolchain."""
    parser.add_argument("-T", "--toolchain", metavar="V", help="use this toolchain instead of the pinned one")


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))
