"""Verbs that reclaim disk: cache list|clean, prune."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from gxc.cli.output import print_json


def register(sub: Any) -> None:
    p = sub.add_parser("cache", help="cached archives, the index, leftovers of interrupted runs, the object store")
    verbs = p.add_subparsers(dest="cache_verb", metavar="VERB", required=True)
    q = verbs.add_parser("list", help="show what is cached")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_list)
    q = verbs.add_parser("clean", help="remove cached archives, the index, leftovers and objects no toolchain uses")
    q.set_defaults(func=cmd_clean)
    q = verbs.add_parser("stats", help="hits, misses and bytes per tier of the fleet build cache, for the last builds")
    q.add_argument("--last", type=int, default=20, metavar="N", help="how many go commands to count (default: 20)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_stats)

    p = sub.add_parser("prune", help="remove toolchains that no pin, default or --keep mentions")
    p.add_argument("--keep", action="append", default=[], metavar="SPEC")
    p.add_argument("--yes", action="store_true", help="remove them (the default is a dry run)")
    p.set_defaults(func=cmd_prune)


_COUNTED = ("gets", "local_hits", "remote_hits", "misses", "puts", "uploads", "requests", "bytes_down", "bytes_up",
            "rejected")


def cmd_stats(args: argparse.Namespace) -> int:
    from gxc.toolchains import gocache, workdir

    chosen = gocache.settings(workdir.user_config(), os.environ)
    records = gocache.recent_stats(max(1, args.last))
    totals = {k: sum(int(r.get(k, 0)) for r in records) for k in _COUNTED}
    errors = sorted({str(r["remote_error"]) for r in records if r.get("remote_error")})
    if args.json:
        print_json({"remote": chosen.remote if chosen else None, "read_only": bool(chosen and chosen.read_only),
                    "commands": len(records), "totals": totals, "remote_errors": errors, "last": records})
        return 0
    print(f"remote     {chosen.remote + (' (read-only)' if chosen.read_only else '') if chosen else 'none configured'}")
    print(f"go commands {len(records)} (the last {args.last} at most)")
    print(f"local      {totals['local_hits']} hits")
    print(f"remote     {totals['remote_hits']} hits, {_mib(totals['bytes_down'])} down; {totals['uploads']} uploads, "
          f"{_mib(totals['bytes_up'])} up; {totals['requests']} requests")
    print(f"misses     {totals['misses']} (built), {totals['rejected']} remote answers refused (forged or truncated)")
    for error in errors:
        print(f"note: the remote failed: {error}")
    print("note: coverage builds (-cover) add an entry per instrumented package: give them a read-only remote or none")
    return 0


def _mib(size: int) -> str:
    return f"{size / 1024**2:.1f} MiB"


def cmd_list(args: argparse.Namespace) -> int:
    from gxc.ground import paths
    from gxc.toolchains import cache, objects

    found = cache.entries()
    usage = objects.usage()
    if args.json:
        print_json({"entries": [{"kind": e.kind, "path": e.path, "size": e.size, "version": e.version, "role": e.role}
                                for e in found],
                    "store": {"path": paths.objects_dir(), "objects": usage.objects, "size": usage.size,
                              "unshared_size": usage.linked, "saved": usage.saved}})
        return 0
    for e in found:
        role = f" {e.role}" if e.role else ""
        label = f" ({'' if '@' in e.version else 'go'}{e.version}{role})" if e.version else ""
        print(f"{e.kind:<8} {_mib(e.size):>10}  {e.path}{label}")
    print(f"total {_mib(sum(e.size for e in found))}")
    print(f"store    {_mib(usage.size):>10}  {paths.objects_dir()}: {usage.objects} objects, "
          f"{_mib(usage.saved)} saved by sharing ({_mib(usage.linked)} without it)")
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    from gxc.toolchains import cache

    try:
        removed = cache.clean()
    except cache.ObjectsBusy as busy:
        removed = busy.removed
        print(f"gxc: note: {busy}", file=sys.stderr)
    print(f"removed {len(removed)} item(s), {_mib(sum(e.size for e in removed))}")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from gxc.ground import settings
    from gxc.ground.paths import dir_name
    from gxc.project import tracked
    from gxc.toolchains import cache, objects, shims, store

    kept = cache.kept_versions(args.keep, os.getcwd())
    print(f"projects known: {', '.join(tracked.known_projects()) or 'none (`gxc pin` and `gxc trust` add them)'}")
    # a flavor's build stays while its release is kept or pinned: a project pinned to go1.25.5 builds its
    # tamago ports with it, whether or not go1.25.5 itself is installed
    pinned = cache.tracked_pins(extra_dirs=[os.getcwd()])
    flavors_kept: dict[Any, str] = {}
    for f in store.installed_flavors():
        pinned_by = next((path for path, spec in pinned if spec.best([f.version]) is not None), None)
        if f.version in kept:
            flavors_kept[f] = f"the {f.flavor} build of kept go{f.version}"
        elif pinned_by:
            flavors_kept[f] = f"the {f.flavor} build of go{f.version}, pinned by {pinned_by}"
    doomed: list[Any] = [v for v in store.installed_versions() if v not in kept]
    doomed += [f for f in store.installed_flavors() if f not in flavors_kept]
    for name, why in [*((dir_name(str(v)), w) for v, w in sorted(kept.items())),
                      *((str(f), w) for f, w in sorted(flavors_kept.items()))]:
        print(f"keep   {name} ({why})")
    bootstraps = cache.bootstraps()
    for version in doomed:
        name = dir_name(str(version))
        built = bootstraps.get(str(version))
        role = f" (the bootstrap of {', '.join(built)}; a rebuild installs it again)" if built else ""
        if args.yes:
            if not store.uninstall(version):
                print(f"gxc: note: {objects.BUSY}", file=sys.stderr)
            if settings.read_default() == str(version):
                settings.write_default(None)
            print(f"remove {name}{role}: removed")
        else:
            print(f"remove {name}{role}")
    if doomed and not args.yes:
        print("dry run: pass --yes to remove")
    if args.yes:
        shims.refresh()
    return 0
