"""Verbs that choose toolchains: pin, use, current."""

from __future__ import annotations

import argparse
import os
from typing import Any

from gxc.cli.output import add_toolchain_option, print_json


def register(sub: Any) -> None:
    p = sub.add_parser("pin", help="pin this project's toolchain (and targets) in ./toolchains.toml")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-t", "--target", action="append", default=[], metavar="PORT", help="add a target port")
    p.add_argument("--lock", action="store_true", help="record the archive sha256 for each --host")
    p.add_argument("--host", action="append", default=[], metavar="OS/ARCH", help="host to lock (default: this one)")
    p.set_defaults(func=cmd_pin)

    p = sub.add_parser("use", help="set the global default toolchain")
    p.add_argument("spec", metavar="SPEC")
    p.set_defaults(func=cmd_use)

    p = sub.add_parser("current", help="the toolchain selected here, and why")
    add_toolchain_option(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_current)


def cmd_pin(args: argparse.Namespace) -> int:
    from gxc import pinwrite
    from gxc.versions import VersionSpec

    spec = VersionSpec.parse(args.spec)
    path = os.path.join(os.getcwd(), "toolchains.toml")
    locks: dict[str, str] = {}
    if args.lock:  # a lock names one archive, so the pin becomes that exact version
        version, locks = pinwrite.lock_entries(spec, args.host)
        spec = VersionSpec.parse(str(version))
    pinwrite.write_pin(path, str(spec), args.target, locks)
    targets = f" with targets {', '.join(args.target)}" if args.target else ""
    print(f"pinned go {spec}{targets} in {path}")
    for filename, sha in locks.items():
        print(f"locked {filename} sha256 {sha}")
    return 0


def cmd_use(args: argparse.Namespace) -> int:
    from gxc import resolve, settings
    from gxc.errors import ToolchainNotInstalled
    from gxc.versions import VersionSpec

    spec = VersionSpec.parse(args.spec)
    best = spec.best(resolve.installed_versions())
    if best is None:
        raise ToolchainNotInstalled(str(spec))
    settings.write_default(str(spec))
    print(f"default set to go {spec} (now go{best})")
    return 0


def cmd_current(args: argparse.Namespace) -> int:
    from gxc import resolve

    toolchain = resolve.resolve(resolve.select(os.getcwd(), args.toolchain))
    if args.json:
        print_json({"version": str(toolchain.version), "reason": toolchain.reason, "goroot": toolchain.root})
    else:
        print(toolchain.describe())
    return 0
