"""Verbs for what ships: provenance, verify-artifact, keygen, inspect."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from gxc.cli.output import print_json
from gxc.ground.errors import GxcError, public_path


def register(sub: Any) -> None:
    p = sub.add_parser("provenance", help="summarize the provenance gxc build wrote for an artifact")
    p.add_argument("file", metavar="FILE", help="the artifact, or its .intoto.json")
    p.add_argument("--json", action="store_true", help="print the whole statement")
    p.add_argument("--key", metavar="PUB", help="verify the signed envelope (.intoto.jsonl) with this public key")
    p.set_defaults(func=cmd_provenance)

    p = sub.add_parser("verify-artifact", help="check an artifact's signature, its signed provenance, and that "
                                               "the project's [lock] allows the toolchain that built it")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--key", required=True, metavar="PUB", help="the ECDSA P-256 public key (PEM)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify_artifact)

    p = sub.add_parser("inspect", help="what a binary is and how it is hardened (ELF facts and Go build info)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("keygen", help="write an ECDSA P-256 signing key pair (PREFIX.key encrypted, PREFIX.pub)")
    p.add_argument("prefix", nargs="?", default="gxc", metavar="PREFIX", help="file name prefix (default: gxc)")
    p.set_defaults(func=cmd_keygen)


def _dependency_line(dep: dict[str, Any]) -> str:
    digest = ", ".join(f"{k}:{v}" for k, v in sorted(dep.get("digest", {}).items()))
    uri = f" {dep['uri']}" if dep.get("uri") else ""
    return f"  {dep.get('name', '?')}{uri} ({digest or 'no digest'})"


def _shown_provenance(path: str, key_path: str | None) -> dict[str, Any]:
    """The signed envelope's statement when the artifact has one (verified with --key), else the plain
    document; a plain document that disagrees with the signed one is named on stderr."""
    from gxc.delivery import provenance, signing

    artifact = path.removesuffix(provenance.SUFFIX)
    if not os.path.exists(artifact + signing.ENVELOPE_SUFFIX):
        if key_path:
            raise GxcError(f"{public_path(artifact)} has no signed provenance ({signing.ENVELOPE_SUFFIX})",
                           "build it with `gxc build --sign KEY`")
        return provenance.read(path)
    key = signing.load_public(key_path) if key_path else None
    signed = signing.open_envelope(key, artifact)
    how = "verified with " + public_path(key_path) if key_path else "not verified: pass --key PUB"
    print(f"gxc: showing the signed provenance {public_path(artifact + signing.ENVELOPE_SUFFIX)} ({how})",
          file=sys.stderr)
    try:
        plain: dict[str, Any] | None = provenance.read(artifact)
    except GxcError:
        plain = None
    if plain is not None and plain != signed:
        print(f"gxc: warning: {public_path(artifact + provenance.SUFFIX)} disagrees with the signed provenance; "
              "trust the signed one", file=sys.stderr)
    return signed


def cmd_provenance(args: argparse.Namespace) -> int:
    document = _shown_provenance(args.file, args.key)
    if args.json:
        print_json(document)
        return 0
    definition = document["predicate"]["buildDefinition"]
    params = definition.get("externalParameters", {})
    run = document["predicate"].get("runDetails", {})
    for subject in document.get("subject", []):
        print(f"subject   {subject.get('name')} sha256:{subject.get('digest', {}).get('sha256')}")
    print(f"port      {params.get('port')}  package {params.get('package')}")
    print(f"flags     {' '.join(params.get('flags', [])) or '(none)'}")
    print(f"env       {' '.join(f'{k}={v}' for k, v in sorted(params.get('env', {}).items()))}")
    print("resolved")
    for dep in definition.get("resolvedDependencies", []):
        print(_dependency_line(dep))
    builder = run.get("builder", {})
    when = run.get("metadata", {})
    times = f", {when['startedOn']} to {when['finishedOn']}" if when else " (reproducible: no times)"
    print(f"builder   {builder.get('id')} gxc {builder.get('version', {}).get('gxc')}{times}")
    return 0


def cmd_verify_artifact(args: argparse.Namespace) -> int:
    from gxc.delivery import provenance, signing
    from gxc.project import resolve
    from gxc.toolchains import autoinstall

    key = signing.load_public(args.key)
    signing.check_signature(key, args.file)
    statement = signing.open_envelope(key, args.file)
    digest = provenance.check_subject(statement, args.file)
    selection = resolve.select(os.getcwd())
    locks = {name: lock.sha256 for name, lock in autoinstall.project_locks(selection).items()}
    why = provenance.check_lock(statement, locks, selection.project.path if selection.project else "")
    if args.json:
        print_json({"ok": True, "file": args.file, "sha256": digest, "keyid": signing.keyid(key), "toolchain": why})
    else:
        print(f"{args.file}: ok (sha256 {digest}; signature and provenance verified with key "
              f"{signing.keyid(key)[:16]}; {why})")
    return 0


def _passphrase() -> bytes:
    from gxc.delivery import signing
    from gxc.ground.errors import UsageError

    given = os.environ.get(signing.PASSWORD_ENV)
    if given is not None:
        return given.encode()
    if not sys.stdin.isatty():
        raise UsageError("no passphrase for the private key", f"set {signing.PASSWORD_ENV}, or run on a terminal")
    import getpass

    first = getpass.getpass("passphrase for the private key: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the passphrases differ", "run gxc keygen again")
    return first.encode()


def cmd_keygen(args: argparse.Namespace) -> int:
    from gxc.delivery import signing

    private, public = f"{args.prefix}.key", f"{args.prefix}.pub"
    passphrase = _passphrase()
    signing.generate(private, public, passphrase)
    state = "encrypted" if passphrase else "NOT encrypted (empty passphrase)"
    print(f"wrote {private} (private, {state}) and {public} (public)")
    return 0


def _any_go() -> str | None:
    """A go command for `go version -m`: the toolchain selected here, else the newest installed."""
    from gxc.ground import paths
    from gxc.ground.errors import GxcError
    from gxc.project import resolve
    from gxc.toolchains import store

    try:
        root = resolve.resolve(resolve.select(os.getcwd())).root
    except GxcError:
        versions = store.installed_versions()
        root = paths.toolchain_dir(str(versions[-1])) if versions else ""
    go = os.path.join(root, "bin", "go") if root else ""
    return go if os.path.isfile(go) else None


def _yes_no(value: object) -> str:
    return "n/a" if value is None else "yes" if value is True else "no" if value is False else str(value)


def cmd_inspect(args: argparse.Namespace) -> int:
    from gxc.ports import binaryinfo

    report = binaryinfo.describe(args.file, _any_go())
    if args.json:
        print_json(report.as_dict())
        return 0
    rows = [("format", report.format), ("arch", report.arch), ("linking", report.linking),
            ("interpreter", report.interpreter or ("none" if report.linking else None)), ("PIE", report.pie),
            ("RELRO", report.relro), ("NX stack", report.nx_stack), ("BIND_NOW", report.bind_now),
            ("W+X segment", report.wx_segments), ("stripped", report.stripped), ("Go build ID", report.go_build_id)]
    go = report.go
    if go:
        module = go.get("main_module") or {}
        main = f"{module.get('path', '')} {module.get('version', '')}".strip() or None
        rows += [("Go version", go.get("version")), ("main module", main),
                 ("VCS revision", go.get("vcs_revision")), ("CGO_ENABLED", go.get("cgo")),
                 ("GOARCH level", go.get("goarch_level")), ("-trimpath", go.get("trimpath")),
                 ("-ldflags", go.get("ldflags") or None)]
    else:
        rows.append(("Go build info", "n/a (go version -m cannot read it)"))
    for name, value in rows:
        print(f"{name:<13} {_yes_no(value)}")
    return 0
