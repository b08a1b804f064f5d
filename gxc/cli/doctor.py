"""Verbs that check and repair a setup: verify, doctor, reshim."""

from __future__ import annotations

import argparse
from typing import Any

from gxc.cli.output import print_json


def register(sub: Any) -> None:
    p = sub.add_parser("verify", help="re-hash installed toolchains (and the objects they link) against their receipts")
    p.add_argument("versions", nargs="*", metavar="VERSION")
    p.add_argument("--against-index", action="store_true",
                   help="also compare each receipt's archive sha256 with your own release index (a module "
                        "proxy's zip: its h1 with your checksum database)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("doctor", help="check the setup; one line per problem with its fix")
    p.add_argument("--json", action="store_true")
    p.add_argument("--policy", metavar="FILE", help="also check a fleet policy ([policy] table; default: the one "
                                                    "in config.toml, if any)")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("reshim", help="recreate the shims for installed toolchains and ports")
    p.set_defaults(func=cmd_reshim)


def cmd_verify(args: argparse.Namespace) -> int:
    from gxc.ground import paths
    from gxc.ground.errors import ToolchainNotInstalled
    from gxc.toolchains import store

    versions = ([store.parse_installed_name(v) for v in args.versions] or
                [*store.installed_versions(), *store.installed_flavors()])
    report: dict[str, dict[str, list[str]]] = {}
    shared: dict[str, list[str]] = {}  # drifted object -> the toolchains that link it
    for version in versions:
        if not store.is_installed(version):
            raise ToolchainNotInstalled(str(version))
        drift = store.verify(version)
        report[str(version)] = {"modified": drift.modified, "added": drift.added, "removed": drift.removed,
                                "mode": drift.modes, "object": drift.objects}
        for name in drift.objects:
            shared.setdefault(name, [paths.dir_name(v) for v, _ in store.trees_using(name)])
        if args.against_index:
            report[str(version)]["index"] = _index_disagreement(version)
    bad = [v for v, d in report.items() if any(d.values())]
    if args.json:
        print_json({"ok": not bad, "toolchains": report, "drifted_objects": shared})
    else:
        for name, changes in report.items():
            if not any(changes.values()):
                print(f"{paths.dir_name(name)}: ok")
                continue
            print(f"{paths.dir_name(name)}: drifted")
            for kind, files in changes.items():
                for path in files:
                    users = f" (linked by {', '.join(shared[path])})" if kind == "object" else ""
                    print(f"  {kind:<8} {path}{users}")
    return 1 if bad else 0


def _index_disagreement(version: Any) -> list[str]:
    """The receipt's archive sha256 against the user's own index: [] when they agree."""
    from gxc.ground import config
    from gxc.toolchains import store

    receipt = store.read_receipt(version) or {}
    if receipt.get("h1"):
        return _sumdb_disagreement(receipt)
    filename, sha = str(receipt.get("filename", "")), str(receipt.get("sha256", ""))
    source = receipt.get("source")
    if receipt.get("kind") == "source-build" and isinstance(source, dict):  # the source archive it was built from
        from gxc.ground.versions import Version

        filename, sha, version = str(source.get("filename", "")), str(source.get("sha256", "")), \
            Version.parse(str(receipt.get("base", "")))
    theirs = store.user_index_sha256(version, filename, config.user_sources().index_url, offline=False)
    if theirs is None:
        return [f"your index does not list {filename}"]
    if theirs != sha:
        return [f"{filename}: installed from sha256 {sha}, your index says {theirs}"]
    return []


def _sumdb_disagreement(receipt: dict[str, Any]) -> list[str]:
    """A toolchain from a module proxy, against what the user's checksum database proves now."""
    from gxc.ground import config

    key, h1 = str(receipt.get("filename")), str(receipt.get("h1"))
    from gxc.sources.proofs import module_proof

    proof = module_proof(key, {}, config.user_sources().sumdb, skip_sumdb=False, offline=False)
    return [] if proof.digest == h1 else [f"{key}: installed from {h1}, {proof.by} proves {proof.digest}"]


def cmd_doctor(args: argparse.Namespace) -> int:
    import os

    from gxc.cli import health

    findings = health.diagnose(os.getcwd()) + health.check_policy(os.getcwd(), args.policy)
    where = health.locations()
    if args.json:
        print_json({"ok": not findings, "locations": where, "problems": [
            {"check": f.check, "message": f.message, "fix": f.fix} for f in findings]})
        return 1 if findings else 0
    for name, path in where.items():
        print(f"{name:<10} {path}")
    if not findings:
        print("gxc doctor: all good")
    for f in findings:
        print(f"{f.check}: {f.message} (fix: {f.fix})")
    return 1 if findings else 0


def cmd_reshim(args: argparse.Namespace) -> int:
    from gxc.ground import paths
    from gxc.toolchains import shims

    names = shims.refresh()
    print(f"{len(names)} shims in {paths.shims_dir()}")
    from gxc.toolchains import native

    print(native.try_ensure() or "the native shim is current")
    return 0
