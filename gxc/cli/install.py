"""Verbs that manage installed toolchains: install, uninstall, list, list-remote."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from gxc.cli.output import print_json
from gxc.ground.terminal import TerminalReporter
from gxc.ground.versions import Flavored, Version, is_flavored


def add_source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mirror", metavar="URL", help="fetch archives from this go.dev-layout mirror")
    p.add_argument("--goproxy", metavar="URL", help="fetch golang.org/toolchain from this module proxy list")
    p.add_argument("--offline", action="store_true", help="use only the cached index and downloads")


def register(sub: Any) -> None:
    p = sub.add_parser("install", help="download, verify and install toolchains")
    p.add_argument("specs", nargs="*", metavar="SPEC",
                   help="1.22.10, go1.22.10, 1.22, 1.22.x, latest, 1.23rc1, or a flavor: tamago@1.25.5")
    p.add_argument("--force", action="store_true",
                   help="reinstall even if installed (from the object store when it holds every file)")
    p.add_argument("--repair", action="store_true",
                   help="rebuild a drifted toolchain: re-hash the objects it links, re-make the drifted ones "
                        "from the verified archive, relink the rest")
    p.add_argument("--from-source", action="store_true",
                   help="build the release from its source archive with make.bash (flavors always are)")
    p.add_argument("--insecure-skip-sumdb", action="store_true",
                   help="install a module proxy's zip that no lock entry proves without asking the checksum "
                        "database (nothing then checks its bytes)")
    p.add_argument("--allow-source-mismatch", action="store_true",
                   help="install from a trusted project's [source] even where your own index disagrees")
    add_source_options(p)
    p.set_defaults(func=cmd_install)

    p = sub.add_parser("uninstall", help="remove an installed toolchain and its work dir")
    p.add_argument("versions", nargs="+", metavar="VERSION")
    p.set_defaults(func=cmd_uninstall)

    p = sub.add_parser("list", help="installed toolchains")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("list-remote", help="versions the release index offers")
    p.add_argument("spec", nargs="?", metavar="SPEC")
    p.add_argument("--all", action="store_true", help="include release candidates and betas")
    p.add_argument("--json", action="store_true")
    add_source_options(p)
    p.set_defaults(func=cmd_list_remote)


def cmd_install(args: argparse.Namespace) -> int:
    from gxc.ground import config
    from gxc.ground.versions import VersionSpec
    from gxc.project import resolve
    from gxc.toolchains import autoinstall, shims, store

    requests: list[Any] = [Flavored.parse(s) if is_flavored(s) else VersionSpec.parse(s) for s in args.specs]
    selection = resolve.select(os.getcwd())
    if not requests:
        requests = [resolve.install_spec(selection)]
    locks = autoinstall.project_locks(selection)  # a project's lock binds every install made inside it
    cfg = autoinstall.project_config(selection, mirror=args.mirror, goproxy=args.goproxy)
    options = store.InstallOptions(force=args.force or args.repair, offline=args.offline, locks=locks,
                                   user_index_url=config.user_sources(args.mirror).index_url,
                                   allow_source_mismatch=args.allow_source_mismatch,
                                   skip_sumdb=args.insecure_skip_sumdb, repair=args.repair)
    reporter = TerminalReporter(args.quiet)
    from gxc.ground import settings

    for spec in requests:
        if isinstance(spec, Flavored):
            outcome = _install_flavor(spec, selection, cfg, options, reporter)
            print(f"{spec} {outcome.status} in {outcome.path}")
            continue
        outcome = _install_release(spec, args.from_source, cfg, options, reporter)
        print(f"go{outcome.version} {outcome.status} in {outcome.path}")
        if settings.read_default() is None:
            settings.write_default(str(outcome.version))
    shims.refresh()
    return 0


def _install_flavor(spec: Any, selection: Any, cfg: Any, options: Any, reporter: Any) -> Any:
    from gxc.toolchains import flavors, sourcebuild

    recipe = flavors.recipe(spec, selection.project)
    return sourcebuild.install_built(sourcebuild.Build(str(spec), spec.version, recipe), cfg, options, reporter)


def _install_release(spec: Any, from_source: bool, cfg: Any, options: Any, reporter: Any) -> Any:
    """A binary release; built from source when asked, or when the index has no binary for this host."""
    from gxc.ground.errors import NoArchiveForHost
    from gxc.sources import index
    from gxc.toolchains import sourcebuild, store

    if not from_source:
        try:
            return store.install(spec, cfg, options, reporter)
        except NoArchiveForHost:
            why = f"no binary for {'/'.join(index.host_platform())}"
        else:  # pragma: no cover - returned above
            raise AssertionError
    else:
        why = ""
    release = index.pick_release(spec, index.load_releases(cfg.sources.index_url, offline=options.offline))
    if why and not any(f.kind == "source" for f in release.files):
        raise NoArchiveForHost(str(release.version), "/".join(index.host_platform()))
    if why:
        print(f"gxc: {why}: building go{release.version} from source", file=sys.stderr)
    build = sourcebuild.Build(str(release.version), release.version, None, why)
    return sourcebuild.install_built(build, cfg, options, reporter)


def cmd_uninstall(args: argparse.Namespace) -> int:
    from gxc.ground import paths, settings
    from gxc.toolchains import objects, shims, store

    for text in args.versions:
        version = store.parse_installed_name(text)
        for warning in uninstall_warnings(version):
            print(f"gxc: warning: {warning}", file=sys.stderr)
        if not store.uninstall(version):
            print(f"gxc: note: {objects.BUSY}", file=sys.stderr)
        if settings.read_default() == str(version):
            settings.write_default(None)
        print(f"{paths.dir_name(str(version))} uninstalled")
    shims.refresh()
    return 0


def uninstall_warnings(version: Any) -> list[str]:
    """What removing this version changes for the default and for tracked projects."""
    from gxc.ground import settings
    from gxc.toolchains import cache, store

    if not store.is_installed(version) or isinstance(version, Flavored):
        return []
    warnings = []
    others = [v for v in store.installed_versions() if v != version]
    default = settings.read_default()
    if default is not None and str(version) == default:
        warnings.append(f"go{version} is the default; no default is left (set one with `gxc use`)")
    for path, spec in cache.tracked_pins():
        if spec.best([*others, version]) == version:
            after = spec.best(others)
            then = f"it will use go{after}" if after else f"it will need `gxc install {spec}`"
            warnings.append(f"{path} pins go {spec}: {then}")
    return warnings


def _human(size: int) -> str:
    return f"{size / 1024**2:.0f} MiB"


def cmd_list(args: argparse.Namespace) -> int:
    from gxc.ground import paths, settings
    from gxc.toolchains import store

    default = settings.read_default()
    names: list[Version | Flavored] = [*reversed(store.installed_versions()), *store.installed_flavors()]
    rows: list[dict[str, Any]] = [
        {"version": str(v), "size": store.installed_size(v), "default": str(v) == default,
         "path": paths.toolchain_dir(str(v)), "source": store.source_of(v), "built_from": store.built_from(v)}
        for v in names
    ]
    if args.json:
        print_json({"installed": rows, "default": default})
        return 0
    if not rows:
        print("no toolchains installed (try `gxc install latest`)", file=sys.stderr)
    for row in rows:
        mark = "  (default)" if row["default"] else ""
        origin = f"  (from the [source] of {row['source'].removeprefix('project ')})" if row["source"] != "user" else ""
        built = f"  (built from {row['built_from']})" if row["built_from"] else ""
        name = row["version"] if "@" in row["version"] else f"go{row['version']}"
        print(f"{name:<14} {_human(row['size']):>8}{mark}{built}{origin}")
    return 0


def cmd_list_remote(args: argparse.Namespace) -> int:
    from gxc.ground import config
    from gxc.ground.versions import VersionSpec
    from gxc.toolchains import store

    cfg = config.load(mirror=args.mirror, goproxy=args.goproxy)
    releases = _remote_releases(cfg, args.offline)
    spec = VersionSpec.parse(args.spec) if args.spec else None
    installed = set(store.installed_versions())
    shown = sorted(
        (r for r in releases
         if (args.all or r.version.is_stable)
         and (spec is None or spec.matches(r.version) or (args.all and spec.kind == "prefix"
                                                          and r.version.series == ".".join(map(str, spec.prefix))))),
        key=lambda r: r.version, reverse=True,
    )
    if args.json:
        print_json({"releases": [{"version": str(r.version), "stable": r.version.is_stable,
                                  "installed": r.version in installed} for r in shown]})
        return 0
    for r in shown:
        print(f"go{r.version}" + ("  (installed)" if r.version in installed else ""))
    return 0


def _remote_releases(cfg: Any, offline: bool) -> list[Any]:
    """The index's releases, or the versions the module proxy lists for this host."""
    from gxc.sources import goproxy, index

    if not cfg.sources.goproxy:
        return index.load_releases(cfg.sources.index_url, offline=offline)
    proxies = goproxy.parse_proxy_list(cfg.sources.goproxy)
    return [index.Release(v, v.is_stable, ())
            for v in goproxy.list_versions(proxies, *index.host_platform(), offline=offline)]
