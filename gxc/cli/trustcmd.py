"""`gxc trust` and `gxc untrust`: the user's decisions about project files (gxc.trust)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from gxc.cli.output import print_json
from gxc.ground.errors import for_terminal


def register(sub: Any) -> None:
    p = sub.add_parser("trust", help="let a project's toolchains.toml set [env], [source], ports and flavors")
    p.add_argument("path", nargs="?", metavar="PATH", help="a toolchains.toml or its directory (default: the nearest)")
    p.add_argument("--show", action="store_true", help="list trust records and whether each file changed since")
    p.add_argument("--prune", action="store_true", help="drop records whose file is gone or changed")
    p.add_argument("--json", action="store_true", help="with --show: JSON")
    p.set_defaults(func=cmd_trust)

    p = sub.add_parser("untrust", help="stop trusting a project file (a deny that beats every allow rule)")
    p.add_argument("path", nargs="?", metavar="PATH")
    p.set_defaults(func=cmd_untrust)


def project_file(path: str | None) -> str:
    """The toolchains.toml named, in the directory named, or the nearest one above here."""
    from gxc.ground.errors import UsageError
    from gxc.project import pins

    if path:
        candidate = os.path.join(path, pins.PROJECT_FILE) if os.path.isdir(path) else path
        if not os.path.isfile(candidate):
            raise UsageError(f"no such file: {candidate}", "name a toolchains.toml or the directory holding one")
        return os.path.abspath(candidate)
    for directory in pins.parents(os.getcwd()):
        candidate = os.path.join(directory, pins.PROJECT_FILE)
        if os.path.isfile(candidate):
            return candidate
    raise UsageError("no toolchains.toml here or above", "run it inside a project, or name the file")


def cmd_trust(args: argparse.Namespace) -> int:
    from gxc.ground.errors import UsageError
    from gxc.project import pins, trust

    if args.show or args.prune:
        return _show_or_prune(args)
    path = project_file(args.path)
    with open(path, "rb") as f:
        data = f.read()
    pins.read_project(path)  # a file that does not parse is not worth trusting: say why first
    if trust.linked_elsewhere(path):
        raise UsageError(f"{path} is a link to {trust.canonical(path)}, outside its own directory",
                         "trust the file where it is, or copy it here: its relative paths resolve beside the link")
    changes = trust.changes_since_approval(path, data)
    if changes:
        print(f"changes since you last trusted {path}:")
        print(for_terminal(changes, "\n\t"), end="" if changes.endswith("\n") else "\n")
    problem = trust.ownership_problem(trust.canonical(path))
    if problem:
        print(f"gxc: warning: {problem}; others can change what you trust now", file=sys.stderr)
    trust.allow(path, data)
    print(f"trusted {trust.canonical(path)} (sha256 {trust.sha256_hex(data)}); any edit revokes it")
    return 0


def _show_or_prune(args: argparse.Namespace) -> int:
    from gxc.project import trust

    if args.prune:
        dropped = trust.prune()
        for record in dropped:
            print(f"dropped {record['path']} ({record['status']})")
        print(f"{len(dropped)} record(s) dropped")
        return 0
    rows = [{"path": r["path"], "sha256": r.get("sha256"), "trusted_at": r.get("trusted_at"), "status": r["status"]}
            for r in trust.records()]
    if args.json:
        print_json({"records": rows})
        return 0
    if not rows:
        print("no trusted project files")
    for row in rows:
        print(f"{row['status']:<8} {row['trusted_at']}  {row['path']}")
    return 0


def cmd_untrust(args: argparse.Namespace) -> int:
    from gxc.project import trust

    path = project_file(args.path)
    trust.deny(path)
    print(f"untrusted {trust.canonical(path)}: its [env], [source], ports and flavors are ignored until `gxc trust`")
    return 0
