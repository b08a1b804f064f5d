"""Verbs that choose toolchains: pin, use, current."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from gxc.cli.output import add_toolchain_option, print_json

if TYPE_CHECKING:
    from gxc.ground.errors import ToolchainNotInstalled
    from gxc.project.resolve import Selection


def register(sub: Any) -> None:
    p = sub.add_parser("pin", help="pin this project's toolchain (and targets) in ./toolchains.toml")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-t", "--target", action="append", default=[], metavar="PORT", help="add a target port")
    p.add_argument("--lock", action="store_true",
                   help="record the archive sha256 (h1 from a module proxy) for each --host")
    p.add_argument("--host", action="append", default=[], metavar="OS/ARCH", help="host to lock (default: this one)")
    p.add_argument("--force", action="store_true",
                   help="pin even a version the index does not list or a port gxc does not know (with a warning)")
    p.set_defaults(func=cmd_pin)

    p = sub.add_parser("outdated", help="pins (default and tracked projects) behind the newest patch of their line")
    p.add_argument("--offline", action="store_true", help="use the cached release index")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_outdated)

    p = sub.add_parser("upgrade", help="move a project's pin to the newest patch release of its line")
    p.add_argument("path", nargs="?", default=".", metavar="PATH", help="the project directory (default: here)")
    p.add_argument("--lock", action="store_true", help="lock the new version's archive(s) in [lock]")
    p.add_argument("--host", action="append", default=[], metavar="OS/ARCH", help="host to lock (default: this one)")
    p.set_defaults(func=cmd_upgrade)

    p = sub.add_parser("use", help="set the global default toolchain")
    p.add_argument("spec", metavar="SPEC")
    p.set_defaults(func=cmd_use)

    p = sub.add_parser("current", help="the toolchain selected here, and why")
    add_toolchain_option(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_current)


def cmd_pin(args: argparse.Namespace) -> int:
    from gxc.ground.versions import VersionSpec
    from gxc.pinning import pinwrite

    spec = VersionSpec.parse(args.spec)
    path = os.path.join(os.getcwd(), "toolchains.toml")
    locks: dict[str, str] = {}
    published = True
    if args.lock:  # a lock names one archive, so the pin becomes that exact version
        version, locks = pinwrite.lock_entries(spec, args.host)
        locks.update(pinwrite.flavor_lock_entries(version, args.target, path))
        spec = VersionSpec.parse(str(version))
    else:
        published = _check_or_warn(lambda: pinwrite.check_published(spec), args.force)
    _check_or_warn(lambda: pinwrite.check_targets(spec, args.target), args.force)
    pinwrite.write_pin(path, str(spec), args.target, locks)
    targets = f" with targets {', '.join(args.target)}" if args.target else ""
    print(f"pinned go {spec}{targets} in {path}")
    _report_pinned(locks, spec, published)
    return 0


def _report_pinned(locks: dict[str, str], spec: Any, published: bool = True) -> None:
    """What a pin (or an upgrade) locked, and whether this machine has a toolchain for it: a pin of a
    version it lacks is fine, but not silent."""
    from gxc.project import resolve

    for filename, sha in locks.items():
        print(f"locked {filename} {sha if sha.startswith('h1:') else 'sha256 ' + sha}")
    if not published:
        print(f"gxc: note: nothing can install go {spec} until your index lists it "
              "(`gxc list-remote --all` shows what it has)", file=sys.stderr)
    elif spec.best(resolve.installed_versions()) is None:
        print(f"gxc: note: no installed toolchain matches go {spec}; `gxc install` in this directory installs it",
              file=sys.stderr)


def _check_or_warn(check: Any, force: bool) -> bool:
    """Run a pin check: its error stops the pin, or with --force is only a warning; whether it passed."""
    from gxc.ground.errors import GxcError

    try:
        check()
    except GxcError as e:
        if not force:
            raise
        print(f"gxc: warning: {e.message} (pinned anyway: --force)", file=sys.stderr)
        return False
    return True


def cmd_use(args: argparse.Namespace) -> int:
    from gxc.ground import settings
    from gxc.ground.errors import ToolchainNotInstalled
    from gxc.ground.versions import VersionSpec
    from gxc.project import resolve

    spec = VersionSpec.parse(args.spec)
    best = spec.best(resolve.installed_versions())
    if best is None:
        raise ToolchainNotInstalled(str(spec))
    settings.write_default(str(spec))
    print(f"default set to go {spec} (now go{best})")
    return 0


def cmd_current(args: argparse.Namespace) -> int:
    from gxc.cli import health
    from gxc.ground.errors import ToolchainNotInstalled
    from gxc.project import resolve

    selection = resolve.select(os.getcwd(), args.toolchain)
    try:
        toolchain = resolve.resolve(selection)
    except ToolchainNotInstalled as missing:
        return _report_missing(args, selection, missing)
    notes = list(selection.notes)
    newer = health.toolchain_line_newer(selection, toolchain.version)
    if newer:
        notes.append(newer)
    info = selection.project
    if info is not None and info.pin is None and selection.reason == "default":
        notes.append(f"{info.path} pins no version, so the default applies (`gxc pin SPEC` pins one)")
    trust = {"file": info.path, "state": info.trust_reason, "ignored": info.ignored} if info and info.trust_reason \
        else None
    if args.json:
        print_json({"version": str(toolchain.version), "reason": toolchain.reason, "installed": True,
                    "goroot": toolchain.root, "notes": notes, "trust": trust})
        return 0
    print(toolchain.describe())
    if trust:
        ignored = f": ignoring {', '.join(f'[{t}]' for t in trust['ignored'])}" if trust["ignored"] else ""
        print(f"  {trust['file']} is {trust['state']}{ignored}")
    for note in notes:
        print(f"  note: {note}")
    return 0


def _report_missing(args: argparse.Namespace, selection: Selection, missing: ToolchainNotInstalled) -> int:
    """A pin whose toolchain is not installed: `current` reports it and its state (as mise does), not an error."""
    name = missing.version if "@" in missing.version else f"go{missing.version}"
    if args.json:
        print_json({"version": missing.version, "reason": selection.reason, "installed": False, "goroot": None,
                    "notes": [missing.hint], "trust": None})
        return 0
    print(f"{name} ({selection.reason}): not installed")
    print(f"  note: {missing.hint}")
    return 0


def cmd_outdated(args: argparse.Namespace) -> int:
    from gxc.cli.output import print_json
    from gxc.pinning import patches

    lags = patches.outdated(os.getcwd(), offline=args.offline)
    if args.json:
        print_json({"outdated": [{"where": lag.where, "pinned": str(lag.pinned), "newest": str(lag.newest)}
                                 for lag in lags]})
        return 0
    for lag in lags:
        print(f"go{lag.pinned} -> go{lag.newest}  ({lag.where})")
    if not lags:
        print("every pin is on the newest patch of its line")
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    from gxc.ground.versions import VersionSpec
    from gxc.pinning import patches

    path, old, new, locks = patches.upgrade(os.path.abspath(args.path), args.lock, args.host)
    if new is None:
        print(f"go{old} in {path} is the newest patch of go{old.series}")
        return 0
    print(f"upgraded go{old} -> go{new} in {path}")
    _report_pinned(locks, VersionSpec.parse(str(new)))
    return 0
