"""`gxc platform list|show|add|remove`: the port registry."""

from __future__ import annotations

import argparse
import os
import shutil
from typing import Any

from gxc.cli.output import add_toolchain_option, print_json


def register(sub: Any) -> None:
    p = sub.add_parser("platform", help="the registry of target ports")
    verbs = p.add_subparsers(dest="platform_verb", metavar="VERB", required=True)
    q = verbs.add_parser("list", help="every port, and whether the selected toolchain can use it")
    q.add_argument("--all", action="store_true", help="also every GOOS/GOARCH pair of the toolchain")
    q.add_argument("--json", action="store_true")
    add_toolchain_option(q)
    q.set_defaults(func=cmd_list)
    q = verbs.add_parser("show", help="a port, merged with what it inherits")
    q.add_argument("name")
    add_toolchain_option(q)
    q.set_defaults(func=cmd_show)
    q = verbs.add_parser("add", help="validate a port file and register it for this user")
    q.add_argument("file")
    q.set_defaults(func=cmd_add)
    q = verbs.add_parser("remove", help="remove a port this user added")
    q.add_argument("name")
    q.set_defaults(func=cmd_remove)


def _context(toolchain_arg: str | None) -> tuple[Any, Any, Any]:
    """(registry, toolchain or None, why none): ports are listable even where no toolchain is selected."""
    from gxc.ground.errors import GxcError
    from gxc.ports import platforms
    from gxc.project import resolve

    selection = resolve.select(os.getcwd(), toolchain_arg)
    try:
        toolchain = resolve.resolve(selection)
    except GxcError as e:
        return platforms.registry_for(None, None, selection.project), None, platforms.Problem(e.message, e.hint)
    return platforms.registry(toolchain), toolchain, None


def cmd_list(args: argparse.Namespace) -> int:
    from gxc.delivery import build
    from gxc.ports import platforms

    registry, toolchain, missing = _context(args.toolchain)
    rows = []
    for name in registry.names(include_pairs=args.all):
        port = registry.get(name)
        used, problem = build.flavored_state(toolchain, port) if toolchain else (None, missing)
        if used is not None:
            pairs = registry.pairs if used is toolchain else platforms.registry(used).pairs
            problems = platforms.problems(port, used.version, pairs, used.root, need_runner=True)
        else:
            problems = [problem] if problem else []
        rows.append({"name": name, "goos": port.goos, "goarch": port.goarch, "usable": not problems,
                     "problems": [str(p) for p in problems], "origin": port.origin, "aliases": list(port.aliases),
                     "shadows": registry.shadowed.get(name), "toolchain": used.name if used else None})
    if args.json:
        print_json({"toolchain": str(toolchain.version) if toolchain else None, "ports": rows})
        return 0
    if toolchain:
        print(f"ports for go{toolchain.version}:")
    width = max((len(r["name"]) for r in rows), default=10)
    for r in rows:
        flavored = f" ({r['toolchain']})" if "@" in (r["toolchain"] or "") else ""
        status = f"ok{flavored}" if r["usable"] else "; ".join(r["problems"])
        if r["shadows"]:
            status += f" (shadows built-in from {r['shadows']}; defined in {r['origin']})"
        print(f"  {r['name']:<{width}}  {r['goos'] + '/' + r['goarch']:<16} {status}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    import tomlkit

    registry, _, _ = _context(args.toolchain)
    from gxc.ports.platforms import canonical_order

    port = registry.get(args.name)
    print(f"# {port.name} from {port.origin}")
    print(tomlkit.dumps(canonical_order(port.raw)), end="")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from gxc.ground import paths
    from gxc.ground.errors import UsageError, shown
    from gxc.ports import platforms
    from gxc.toolchains import shims

    raw, _ = platforms.read_port_file(args.file)
    registry, _, _ = _context(None)
    for name in (raw["name"], *raw.get("aliases", [])):
        origin = registry.origin_of(name)
        if origin not in (None, platforms.DIST_ORIGIN):
            raise UsageError(f"port name {shown(name)} is already taken by {origin}",
                             "rename the port or its alias, or `gxc platform remove` the old one")
    for parent in raw.get("inherits", []):
        registry.get(parent)
    os.makedirs(paths.user_platforms_dir(), exist_ok=True)
    target = os.path.join(paths.user_platforms_dir(), f"{raw['name']}.toml")
    shutil.copyfile(args.file, target)
    try:
        platforms.registry_for(None, None, None).get(raw["name"])  # merges cleanly with its parents
    except Exception:
        os.unlink(target)
        raise
    _record_added(raw["name"], add=True)
    shims.refresh()
    print(f"added port {raw['name']} ({target})")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from gxc.ground import paths
    from gxc.ground.errors import UsageError
    from gxc.ports.platforms import name_problem
    from gxc.toolchains import shims

    problem = name_problem(args.name)
    if problem:
        raise UsageError(problem, "name a port you added (`gxc platform list` shows them)")
    target = os.path.join(paths.user_platforms_dir(), f"{args.name}.toml")
    if args.name not in _added() or not os.path.isfile(target):
        raise UsageError(f"{args.name} is not a port you added with `gxc platform add`",
                         "built-in and project ports cannot be removed")
    os.unlink(target)
    _record_added(args.name, add=False)
    shims.refresh()
    print(f"removed port {args.name}")
    return 0


def _added_path() -> str:
    from gxc.ground import paths

    return os.path.join(paths.user_platforms_dir(), ".added")


def _added() -> list[str]:
    """Names of the ports `gxc platform add` created: the only ones `remove` deletes."""
    try:
        with open(_added_path(), encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def _record_added(name: str, add: bool) -> None:
    from gxc.ground.fsutil import atomic_write

    names = [n for n in _added() if n != name] + ([name] if add else [])
    atomic_write(_added_path(), "".join(f"{n}\n" for n in names))
