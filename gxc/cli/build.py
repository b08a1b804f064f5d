"""Verbs that build for ports: build, run, test."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any

from gxc.cli.output import add_toolchain_option


def _common(p: argparse.ArgumentParser, many_targets: bool = True) -> None:
    add_toolchain_option(p)
    if many_targets:
        p.add_argument("-t", "--target", action="append", default=[], metavar="PORT")
    else:
        p.add_argument("-t", "--target", required=True, metavar="PORT")


def register(sub: Any) -> None:
    p = sub.add_parser("build", help="cross-build for ports into dist/<port>/ (ports in parallel)")
    _common(p)
    p.add_argument("packages", nargs="*", default=["."], metavar="PACKAGE")
    p.add_argument("-o", "--out", default="dist", help="output directory (default: dist)")
    p.add_argument("-j", "--jobs", type=int, help="ports built at once (default: cores)")
    p.add_argument("--reproducible", action="store_true", help="add -trimpath -buildvcs=false")
    p.add_argument("--check-reproducible", action="store_true",
                   help="build twice in different directories and work dirs; fail if the binaries differ")
    p.add_argument("--policy", metavar="FILE",
                   help="refuse to build what breaks a fleet policy (default: config.toml's [policy], if any)")
    p.add_argument("--check-hardening", action="store_true",
                   help="fail when an artifact lacks what its port's [build] hardening level promises")
    p.add_argument("--sign", metavar="KEY", help="sign each artifact (<artifact>.sig) and its provenance "
                                                 "(<artifact>.intoto.jsonl) with an ECDSA P-256 PEM key")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("run", help="build for a port, then run under its runner (qemu, node)",
                       usage="gxc run -t PORT [-T V] [PACKAGE] [-- PROGRAM ARGS...]",
                       epilog="Arguments after -- go to the program, not to gxc: gxc run -t wasip1 -- -v input.txt")
    _common(p, many_targets=False)
    p.add_argument("package", nargs="?", default=".", metavar="PACKAGE")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="stop the program after this long, exit 124 (default: the port's; bare metal may never exit)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("test", help="go test for ports, with each port's runner as the exec program",
                       usage="gxc test [-t PORT ...] [-T V] [PACKAGE ...] [GO TEST FLAGS] [-- TEST BINARY ARGS...]",
                       epilog="go test flags such as -run X or -v pass through (gxc test -t wasip1 -run TestX ./...); "
                              "arguments after -- go to go test as they are")
    _common(p)
    p.add_argument("--boot-timeout", type=float, metavar="SECONDS",
                   help="bare metal: stop a package's QEMU after this long (default: the port's runner.timeout)")
    p.set_defaults(func=cmd_test)


def _note(text: str) -> None:
    if text:
        print(f"gxc: note: {text}", file=sys.stderr)


def _display(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _selection(args: argparse.Namespace) -> Any:
    """The one selection a command's policy check, build and provenance share (`-T`, GXC_TOOLCHAIN, pins)."""
    from gxc.project import resolve

    return resolve.select(os.getcwd(), args.toolchain)


def _toolchain(args: argparse.Namespace, selection: Any = None) -> Any:
    """The selected release; for ports that all build with a flavor, the release itself need not be installed."""
    from gxc.ground.errors import ToolchainNotInstalled
    from gxc.ports import platforms
    from gxc.project import resolve

    selection = selection or _selection(args)
    try:
        return resolve.resolve(selection)
    except ToolchainNotInstalled:
        spec = selection.spec
        names = args.target if isinstance(args.target, list) else [args.target]
        names = names or list(selection.project_table.get("toolchain", {}).get("targets", []))
        # the release a flavor builds on: the exact pin, else the go.mod minimum (the module may name the flavor)
        base = spec.version if spec is not None and spec.version is not None else selection.minimum
        if base is None or not names:
            raise
        registry = platforms.registry_for(None, None, selection.project)
        if not all(registry.known(n) and registry.get(n).flavor for n in names):
            raise
        return resolve.Resolved(base, selection.reason, selection)


def cmd_build(args: argparse.Namespace) -> int:
    from gxc.delivery import build
    from gxc.ground.errors import GxcError
    from gxc.ground.fsutil import sha256_file

    selection = _selection(args)
    check_policy(args.policy, selection, list(args.target))  # before anything is resolved, installed or built
    toolchain = _toolchain(args, selection)
    reproducible = args.reproducible or args.check_reproducible
    key = signing_key(args.sign)  # a key that cannot be used stops the build before it starts
    _note(build.prepare_fleet_cache(toolchain))
    ts = build.targets(toolchain, args.target, reproducible)
    inputs = _provenance_inputs(ts)  # read while the compilers run
    results = build.build_all(ts, args.packages, args.rest, os.getcwd(), os.path.abspath(args.out), args.jobs,
                              digest=True)
    inputs.join()
    failed = [r for r in results if not r.ok]
    for r in results:
        _note(r.note)
        for output in r.outputs:
            print(f"{r.port}: {_display(output)}")
        if not r.ok:
            sys.stderr.write("".join(f"{r.port}: {line}\n" for line in r.log.strip().splitlines()))
    causes = [c for t, r in zip(ts, results, strict=True) if not r.ok for c in [build.failure_cause(t, r.log)] if c]
    if causes:
        raise causes[0]
    if failed:
        raise GxcError(f"build failed for {', '.join(r.port for r in failed)} (go{toolchain.version})",
                       "see the compiler output above")
    if args.check_reproducible:
        for t, r in zip(ts, results, strict=True):
            again = build.rebuild_elsewhere(t, args.packages, args.rest, os.getcwd())
            for output in r.outputs:
                first, second = sha256_file(output), again[os.path.basename(output)]
                if first != second:
                    raise GxcError(f"port {t.port.name}: {os.path.basename(output)} is not reproducible "
                                   f"(sha256 {first} here, {second} from another directory)",
                                   "remove embedded paths, timestamps and VCS stamps (-trimpath -buildvcs=false)")
                print(f"{t.port.name}: reproducible sha256 {first}")
    record_provenance(ts, results, args.rest, reproducible, key)  # what was built, even when it fails a check
    if args.check_hardening:
        check_hardening(ts, results)
    return 0


def check_hardening(ts: list[Any], results: list[Any]) -> None:
    """One line per artifact that lacks what its port's hardening level promises; then fail."""
    from gxc.ports import binaryinfo

    misses = []
    for t, r in zip(ts, results, strict=True):
        for output in r.outputs:
            lacks = binaryinfo.missing(binaryinfo.describe(output, None), t.port.hardening, t.port.cgo)
            if lacks:
                misses.append(f"{t.port.name}: {_display(output)} lacks {', '.join(lacks)} "
                              f"(hardening = \"{t.port.hardening}\")")
    fail_with_lines(misses, "", "see `gxc inspect FILE`; change the port's [build] flags or hardening level")


def _module_dir() -> str:
    from gxc.delivery import build
    from gxc.ground.errors import UsageError

    try:
        return build.module_root(os.getcwd())
    except UsageError:
        return ""


def _provenance_inputs(ts: list[Any]) -> Any:
    """Start reading what provenance names besides the artifacts (receipts, git state) in a thread."""
    import threading

    from gxc.delivery import provenance
    from gxc.ground.errors import GxcError

    def read() -> None:
        with contextlib.suppress(GxcError, OSError):  # record_provenance reports them
            provenance.module_dependencies(_module_dir())
            for ident in {t.toolchain.ident for t in ts}:
                provenance.toolchain_dependencies(ident)

    thread = threading.Thread(target=read, name="gxc-provenance-inputs", daemon=True)
    thread.start()
    return thread


def check_policy(path: str | None, selection: Any, ports: list[str]) -> None:
    """A build that breaks the policy writes nothing: one line per violation, then exit 1."""
    from gxc.delivery import policy

    rules = policy.load(path)
    if rules:
        fail_with_lines(policy.violations(rules, selection, os.getcwd(), ports), "policy: ",
                        f"nothing was built; bring the project within {rules.origin}")


def fail_with_lines(lines: list[str], prefix: str, hint: str) -> None:
    """Every problem but the last as a `gxc: ` line on stderr, the last as the error (with its hint)."""
    from gxc.ground.errors import GxcError

    for line in lines[:-1]:
        print(f"gxc: {prefix}{line}", file=sys.stderr)
    if lines:
        raise GxcError(f"{prefix}{lines[-1]}", hint)


def signing_key(path: str | None) -> Any:
    if not path:
        return None
    from gxc.delivery import signing

    return signing.load_private(path)


def record_provenance(ts: list[Any], results: list[Any], extra: list[str], reproducible: bool, key: Any) -> None:
    """`<artifact>.intoto.json` beside every artifact; with a key, `.sig` and `.intoto.jsonl` too."""
    from gxc.delivery import provenance

    module_dir = _module_dir()
    for t, r in zip(ts, results, strict=True):
        digests = r.digests or [""] * len(r.outputs)
        for output, package, (started, finished), digest in zip(r.outputs, r.packages, r.times, digests, strict=True):
            facts = provenance.BuildFacts(output, package, t.port.name, [*t.flags, *extra], list(t.port.tags),
                                          t.env, t.toolchain.ident, module_dir, started, finished, digest)
            document = provenance.write(facts, reproducible)
            if key is not None:
                from gxc.delivery import signing  # cryptography: only for a signed build

                signing.sign_artifact(key, output, document)


def cmd_run(args: argparse.Namespace) -> int:
    from gxc.delivery import build
    from gxc.ground.errors import GxcError

    toolchain = _toolchain(args)
    _note(build.prepare_fleet_cache(toolchain))
    t = build.targets(toolchain, [args.target], with_runner=True)[0]
    with build.board_additions(t, os.getcwd(), [args.package], test=False) as board_flags:
        result = build.build_all([t], [args.package], board_flags, os.getcwd(), os.path.abspath("dist"))[0]
    _note(result.note)
    if not result.ok:
        sys.stderr.write(result.log)
        cause = build.failure_cause(t, result.log)
        if cause:
            raise cause
        raise GxcError(f"build failed for {t.port.name} (go{toolchain.version})", "see the compiler output above")
    if len(result.outputs) != 1:
        raise GxcError(f"{args.package} holds {len(result.outputs)} main packages", "name one of them")
    wrapper = os.path.join(t.env["PATH"].split(os.pathsep)[0], f"go_{t.port.goos}_{t.port.goarch}_exec")
    sys.stdout.flush()
    timeout = args.timeout if args.timeout is not None else t.port.runner_timeout
    if not timeout:
        from gxc.ground import launch

        launch.exec_user(wrapper, [wrapper, result.outputs[0], *args.rest], t.env)
    return run_with_timeout([wrapper, result.outputs[0], *args.rest], t.env, timeout, t.port.name)


EXIT_TIMEOUT = 124  # as timeout(1) reports it


def run_with_timeout(command: list[str], env: dict[str, str], seconds: float, port: str) -> int:
    """Run the program (its runner and all it starts, in a session of their own); stop it after `seconds`."""
    import subprocess

    from gxc.ground import launch

    proc = launch.popen_group(command, launch.user_env(env))
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        launch.stop_group(proc)
        print(f"gxc: error: the program for {port} did not exit within {seconds:g} s; stopped it "
              "(hint: raise --timeout, or have it exit: bare metal exits through semihosting)", file=sys.stderr)
        return EXIT_TIMEOUT
    except BaseException:
        launch.stop_group(proc)
        raise


def cmd_test(args: argparse.Namespace) -> int:
    from gxc.delivery import build
    from gxc.ground import launch

    toolchain = _toolchain(args)
    _note(build.prepare_fleet_cache(toolchain))
    worst = 0
    go_args = args.rest or ["./..."]
    for t in build.targets(toolchain, args.target, with_runner=True):
        go = os.path.join(t.env["GOROOT"], "bin", "go")  # a flavored port builds with its flavor's go
        env = dict(t.env)
        if t.port.board:
            env["GXC_BOOT_TIMEOUT"] = f"{args.boot_timeout or t.port.runner_timeout or 0:g}"
        with build.board_additions(t, os.getcwd(), go_test_patterns(go_args), test=True) as board_flags:
            sys.stdout.flush()
            code = launch.run([go, "test", *t.flags, *board_flags, *go_args], launch.user_env(env)).returncode
        if code:
            print(f"gxc: go test for {t.port.name} exited {code}", file=sys.stderr)
        worst = worst or code
    return worst


# go test's flags that take a value as the next word (go help testflag, go help build)
_GO_TEST_VALUE_FLAGS = frozenset(
    f"-{name}" for name in ("run", "skip", "bench", "benchtime", "count", "cpu", "timeout", "parallel", "list",
                            "shuffle", "fuzz", "fuzztime", "fuzzminimizetime", "coverprofile", "covermode",
                            "coverpkg", "cpuprofile", "memprofile", "blockprofile", "mutexprofile", "trace",
                            "outputdir", "o", "exec", "tags", "ldflags", "gcflags", "asmflags", "p", "mod",
                            "modfile", "overlay", "C", "vet", "pgo", "toolexec", "installsuffix", "buildmode",
                            "compiler", "gccgoflags", "pkgdir"))


def go_test_patterns(go_args: list[str]) -> list[str]:
    """The package patterns among go test's arguments (what go test itself would test: "." if none)."""
    patterns: list[str] = []
    words = iter(go_args)
    for word in words:
        if word == "--":
            break
        if word.startswith("-"):
            if word.lstrip("-") and f"-{word.lstrip('-')}" in _GO_TEST_VALUE_FLAGS and "=" not in word:
                next(words, None)
            continue
        patterns.append(word)
    return patterns or ["."]
