"""`gxc mirror sync DIR` and `gxc mirror verify DIR`: a fleet's toolchain source, filled and re-checked."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from gxc.cli.output import print_json
from gxc.ground.terminal import TerminalReporter


def register(sub: Any) -> None:
    p = sub.add_parser("mirror", help="fill or check a directory that serves toolchains to a fleet")
    verbs = p.add_subparsers(dest="mirror_verb", metavar="ACTION", required=True)
    s = verbs.add_parser("sync", help="fetch and verify what DIR lacks (go.dev and/or GOPROXY layout)")
    s.add_argument("dir", metavar="DIR")
    s.add_argument("--versions", nargs="+", default=["latest"], metavar="SPEC",
                   help="versions to mirror: 1.22.10, 1.22, latest (default: latest)")
    s.add_argument("--hosts", nargs="+", default=[], metavar="OS/ARCH", help="hosts to mirror (default: this one)")
    s.add_argument("--layout", choices=("dl", "goproxy", "both"), default="dl",
                   help="dl: go.dev's index.json and archives; goproxy: golang.org/toolchain/@v/ (default: dl)")
    s.add_argument("--mirror", metavar="URL", help="upstream go.dev-layout mirror for the archives")
    s.add_argument("--goproxy", metavar="URL", help="upstream module proxy list")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_sync)
    v = verbs.add_parser("verify", help="re-check every file DIR serves against what proves it")
    v.add_argument("dir", metavar="DIR")
    v.add_argument("--offline", action="store_true", help="use only checksum database lookups verified before")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify)


def cmd_sync(args: argparse.Namespace) -> int:
    from gxc.ground import config
    from gxc.ground.versions import VersionSpec
    from gxc.sources import mirror

    cfg = config.load(mirror=args.mirror, goproxy=args.goproxy)
    request = mirror.Request([VersionSpec.parse(s) for s in args.versions], mirror.parse_hosts(args.hosts),
                             mirror.layouts_of(args.layout))
    root = os.path.abspath(args.dir)
    os.makedirs(root, exist_ok=True)
    syncer = mirror.Syncer(root, cfg, TerminalReporter(args.quiet))
    if "dl" in request.layouts:
        syncer.sync_dl(request)
    if "goproxy" in request.layouts:
        syncer.sync_goproxy(request)
    summary = syncer.summary
    if args.json:
        print_json({"dir": root, "fetched": summary.fetched, "bytes": summary.bytes, "skipped": summary.skipped,
                    "written": [os.path.relpath(p, root) for p in summary.written]})
    else:
        print(summary.line(root))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from gxc.ground import config
    from gxc.sources import mirror

    root = os.path.abspath(args.dir)
    problems = mirror.verify(root, config.user_sources().sumdb, args.offline)
    if args.json:
        print_json({"dir": root, "ok": not problems, "problems": problems})
    else:
        for problem in problems:
            print(f"{root}: {problem}", file=sys.stderr)
        if not problems:
            print(f"{root}: ok")
    return 1 if problems else 0
