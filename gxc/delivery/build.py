"""Building, running and testing for ports: the environment, the flags, the runner, the matrix.

A `Target` is a port prepared for one toolchain: its environment (the managed one of workdir.py plus
the port's GOOS/GOARCH, variables, env and CC) and its build flags. Builds of several ports run in
parallel, sharing the version's GOCACHE. Runners are wrapped as `go_<goos>_<goarch>_exec` scripts in
the version's work dir: `go test` finds them on PATH by that name, and `gxc run` execs them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import re
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from gxc.ground import beneath, launch, paths
from gxc.ground.errors import GxcError, UsageError, shown
from gxc.ground.fsutil import atomic_write, sha256_file
from gxc.ground.versions import Flavored, Version
from gxc.ports import boardsupport, platforms
from gxc.ports.platforms import Port
from gxc.project.pins import PinInfo
from gxc.project.resolve import Resolved
from gxc.toolchains import workdir

BUILD_VERBS = ("build", "install", "run", "test")
# The compiler's heap is small and cold cross builds on few cores are CPU bound: a lazier GC pace for
# `go build` (never for the programs gxc runs) saves ~20% CPU on 2 cores (scripts/bench-cross) for
# a few hundred MB more per compile. A GOGC the user set wins.
COMPILER_GOGC = "400"
TAG_ONLY_VERBS = ("vet",)  # vet takes -tags but not -ldflags or -trimpath


@dataclass(frozen=True)
class Target:
    port: Port
    env: dict[str, str]
    flags: list[str]
    toolchain: Resolved  # the flavor's build for a port with `flavor = "..."`, else the selected release


@dataclass(frozen=True)
class Built:
    port: str
    outputs: list[str]
    log: str
    ok: bool
    packages: list[str] = field(default_factory=list)  # the main package of each output
    times: list[tuple[float, float]] = field(default_factory=list)  # when each output's build started, ended
    note: str = ""  # what the build went through that the user should know (the cache program died)
    digests: list[str] = field(default_factory=list)  # each output's sha256, taken while other ports build


def exec_wrapper(toolchain: Resolved, port: Port) -> str:
    """Write the port's runner as go_<goos>_<goarch>_exec; return its directory."""
    command = platforms.runner(port, toolchain.root)
    if command is None:
        missing = platforms.runner_missing(port)
        raise GxcError(f"port {port.name}: {missing.message}", missing.fix)
    directory = os.path.join(paths.work_dir(toolchain.ident), "exec", port.name.replace("/", "-"))
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"go_{port.goos}_{port.goarch}_exec")
    exports = "".join(f"export {k}={shlex.quote(platforms.expand(v, port, toolchain.root))}\n"
                      for k, v in port.runner_env.items())
    if port.board or any("{bios}" in a for a in command):
        run = _boot_script(directory, port, command)
    else:
        args = [shlex.quote(a).replace("'{bin}'", '"$bin"').replace("{bin}", '"$bin"') for a in command] or ['"$bin"']
        if '"$bin"' not in " ".join(args):
            args.append('"$bin"')
        run = " ".join(args)
    script = f'#!/bin/sh\n# gxc runner for port {port.name}\nbin="$1"; shift\n{exports}exec {run} "$@"\n'
    atomic_write(path, script, executable=True)
    return directory


def _boot_script(directory: str, port: Port, command: list[str]) -> str:
    """The boot runner (gxc.ports.baremetal) with this port's spec beside the wrapper: its command line."""
    import json

    from gxc.ground.shells import light_command

    if not any("{bin}" in a for a in command):
        command = [*command, "{bin}"]
    spec = {"port": port.name, "command": command, "exit": port.board_exit, "package": port.runner_package,
            "bios_cache": os.path.join(paths.cache_dir(), "bios")}
    spec_path = os.path.join(directory, "boot.json")
    atomic_write(spec_path, json.dumps(spec, indent=1) + "\n")
    return " ".join(shlex.quote(a) for a in [*light_command("gxc.ports.baremetal"), spec_path]) + ' "$bin"'


BARE_METAL_GOOS = ("tamago",)


def board(t: Target, test: bool) -> boardsupport.Board | None:
    """The board gxc adds for `gxc run`/`gxc test` on this port; None for a port that runs an OS."""
    if t.port.goos not in BARE_METAL_GOOS:
        return None
    if not t.port.board:
        if test:
            raise UsageError(f"port {t.port.name} runs on bare metal but names no board to run tests on",
                             "add [board] package = \"...\" and exit = \"semihosting\" to the port file")
        return None  # a program that brings its own board and exit, as before boards were known
    from gxc.toolchains import flavors

    flavor = flavors.registry(t.toolchain.selection.project).get(t.port.flavor)
    module = flavor.module if flavor and flavor.module else t.port.board.split("/board/", 1)[0]
    version = f"v{t.toolchain.version}"
    sums = tuple(flavor.module_sum_lines(version)) if flavor else ()
    return boardsupport.Board(t.port.name, t.port.board, t.port.board_exit, t.port.goarch, module, version, sums)


@contextlib.contextmanager
def board_additions(t: Target, cwd: str, patterns: list[str], test: bool) -> Iterator[list[str]]:
    """The go flags that add the port's board and exit to what `gxc run`/`gxc test` boots ([] for other ports)."""
    chosen = board(t, test)
    if chosen is None:
        yield []
        return
    go = os.path.join(t.env["GOROOT"], "bin", "go")
    with boardsupport.additions(chosen, go, t.env, t.flags, cwd, patterns, test) as flags:
        yield flags


def flavor_version(toolchain: Resolved, flavor: str, cwd: str) -> tuple[Version, str]:
    """Which release of a flavor a port builds with: the pinned one, else what the module requires.

    TamaGo's own launcher does the same: a module that requires github.com/usbarmory/tamago v1.25.5
    builds with tamago-go 1.25.5 when nothing pins a version.
    """
    from gxc.toolchains import flavors

    pinned = toolchain.selection.spec is not None and toolchain.selection.reason not in ("default", "")
    if not pinned:
        module = flavors.registry(toolchain.selection.project).get(flavor)
        required = flavors.required_version(module.module, cwd) if module and module.module else None
        if required is not None and module is not None:
            return required, f"{flavor} build of go{required}, as go.mod requires {module.module} v{required}"
    return toolchain.version, f"{flavor} build of go{toolchain.version}; {toolchain.reason}"


def port_toolchain(toolchain: Resolved, port: Port, cwd: str | None = None) -> Resolved:
    """The toolchain that builds `port`: the selected release, or for a flavored port that release's flavor."""
    if not port.flavor:
        return toolchain
    from gxc.toolchains import flavors, store

    version, reason = flavor_version(toolchain, port.flavor, cwd or os.getcwd())
    flavored = Flavored(port.flavor, version)
    if store.is_installed(flavored):
        return toolchain.with_flavor(port.flavor, version, reason)
    flavors.recipe(flavored, toolchain.selection.project)  # no recipe for this version: say which it has
    from gxc.ground import config

    if config.load().auto_install:
        from gxc.toolchains import autoinstall

        autoinstall.install_flavor(flavored, toolchain.selection)
        return toolchain.with_flavor(port.flavor, version, reason)
    raise UsageError(f"port {port.name} builds with {flavored}, which is not installed",
                     f"run `gxc install {flavored}` (make.bash with the {port.flavor} recipe: minutes, once per "
                     "machine), or set auto_install = true")


def flavored_state(toolchain: Resolved, port: Port) -> tuple[Resolved | None, platforms.Problem | None]:
    """For `platform list`: the toolchain a port would build with, or why there is none (never installs)."""
    if not port.flavor:
        return toolchain, None
    from gxc.toolchains import flavors, store

    version, reason = flavor_version(toolchain, port.flavor, os.getcwd())
    flavored = Flavored(port.flavor, version)
    if store.is_installed(flavored):
        return toolchain.with_flavor(port.flavor, version, reason), None
    try:
        flavors.recipe(flavored, toolchain.selection.project)
    except GxcError as e:
        return None, platforms.Problem(e.message, e.hint)
    return None, platforms.Problem(f"needs {flavored}, not installed", f"gxc install {flavored}")


def target(toolchain: Resolved, port: Port, reproducible: bool = False, with_runner: bool = False,
           registry: platforms.Registry | None = None) -> Target:
    if port.flavor:
        toolchain = port_toolchain(toolchain, port)
        registry = platforms.registry(toolchain)  # the flavor's tree knows GOOS/GOARCH pairs the release does not
    registry = registry or platforms.registry(toolchain)
    problems = platforms.problems(port, toolchain.version, registry.pairs, toolchain.root)
    if problems:
        raise UsageError(f"port {port.name} cannot be built with {toolchain.name}: {problems[0].message}",
                         problems[0].fix)
    env = workdir.managed_env(toolchain.ident, os.environ, toolchain.selection.project_table.get("env"))
    env.update(platforms.port_env(port, toolchain))
    if with_runner:
        env["PATH"] = exec_wrapper(toolchain, port) + os.pathsep + env["PATH"]
    return Target(port, env, platforms.build_flags(port, reproducible), toolchain)


def targets(toolchain: Resolved, names: list[str], reproducible: bool = False,
            with_runner: bool = False) -> list[Target]:
    registry = platforms.registry(toolchain)
    if not names:
        names = list(toolchain.selection.project_table.get("toolchain", {}).get("targets", []))
        _check_pinned_targets(registry, names, toolchain.selection.project)
    if not names:
        raise UsageError("no target ports given", "pass -t PORT, or pin targets with `gxc pin V -t PORT`")
    found = [target(toolchain, registry.get(n), reproducible, with_runner, registry) for n in dict.fromkeys(names)]
    for t in found:
        if "GOCACHEPROG" in t.env:  # the fleet cache's fault note: once for this whole build, not per go command
            t.env["GXC_CACHE_NOTE_ONCE"] = _note_marker(t.env["GOTMPDIR"])
    return found


def _note_marker(directory: str) -> str:
    import atexit
    import contextlib

    marker = os.path.join(directory, f"cache-note-{os.getpid()}")

    def remove() -> None:
        with contextlib.suppress(OSError):
            os.unlink(marker)

    atexit.register(remove)
    return marker


def _check_pinned_targets(registry: platforms.Registry, names: list[str], project: PinInfo | None) -> None:
    """A port the project's `targets` names but nobody defines: said at its line in the file, not as a flag."""
    for name in names:
        if not registry.known(name) and project is not None:
            from gxc.ground import tomlfile

            text = tomlfile.read_text(project.path)
            line, col = tomlfile.locate(text, "targets", "toolchain")
            unknown = registry.unknown(name)
            raise UsageError(f"{project.path}:{line}:{col}: unknown port {shown(name)} in targets", unknown.hint)


_MODULE_FETCH = re.compile(
    r"^(?:go: |\S+:\d+:\d+: )(?P<module>[\w.~-]+(?:/[\w.~-]+)+)@(?P<version>v[\w.+-]+): (?P<why>.+)$", re.MULTILINE)


def failure_cause(t: Target, log: str) -> GxcError | None:
    """A build that failed because go could not fetch a module (a board package, say): which module, from
    which GOPROXY, instead of "see the compiler output"; None for any other failure."""
    fetch = _MODULE_FETCH.search(log)
    if fetch:
        proxy = _goproxy(t)
        return GxcError(f"port {t.port.name}: go cannot fetch {fetch['module']}@{fetch['version']} from "
                        f"GOPROXY={proxy} ({fetch['why'].strip()[:200]})",
                        "make that proxy reachable, or set GOPROXY to one that has the module "
                        "(a file:// proxy works offline)")
    return None


def _goproxy(t: Target) -> str:
    go = os.path.join(t.env["GOROOT"], "bin", "go")
    proc = launch.run([go, "env", "GOPROXY"], launch.user_env(t.env), capture_output=True, text=True)
    return proc.stdout.strip() or "(unset)"


def _binary_name(import_path: str) -> str:
    parts = import_path.rstrip("/").split("/")
    if len(parts) > 1 and parts[-1][:1] == "v" and parts[-1][1:].isdigit():
        return parts[-2]  # example.com/tool/v2 builds "tool"
    return parts[-1]


def main_packages(t: Target, packages: list[str], cwd: str) -> list[str]:
    plain = plain_main(t, packages, cwd)
    if plain is not None:
        return plain
    go = os.path.join(t.env["GOROOT"], "bin", "go")
    env = {k: v for k, v in launch.user_env(t.env).items() if k not in ("GOCACHEPROG", "GXC_CACHE_NOTE_ONCE")}
    proc = launch.run([go, "list", "-f", "{{.Name}} {{.ImportPath}}", *packages], env, cwd=cwd,  # names only: no cache
                      capture_output=True, text=True)
    if proc.returncode:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise GxcError(f"go list failed for port {t.port.name}: {last}", "check the package patterns")
    mains = [line.split(" ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("main ")]
    if not mains:
        raise UsageError(f"no main package in {' '.join(packages)}", "name a package with `package main`")
    return mains


_CLAUSE = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)*package\s+([A-Za-z_][A-Za-z0-9_]*)", re.DOTALL)
_MODULE = re.compile(r'^\s*module\s+"?([^\s"/]+[^\s"]*)"?\s*(?://.*)?$', re.MULTILINE)


def plain_main(t: Target, packages: list[str], cwd: str) -> list[str] | None:
    """The main package named by one directory path, read from its sources instead of asking `go list`
    (one go start per port saved): only when every non-test file there says `package main` and the
    directory is in the main module. None for anything else (patterns, mixed package clauses, an import
    path, GOPATH mode, -modfile), which go list answers."""
    if len(packages) != 1 or "..." in packages[0] or not packages[0].startswith((".", "/")):
        return None
    if "-modfile" in t.env.get("GOFLAGS", "") or t.env.get("GO111MODULE") == "off":
        return None
    found = _main_in_sources(packages[0], cwd)
    return [found] if found else None


@functools.lru_cache(maxsize=8)
def _main_in_sources(package: str, cwd: str) -> str | None:
    """plain_main's reading, once per build rather than once per port: it does not depend on the port."""
    directory = os.path.normpath(os.path.join(cwd, package))
    try:
        root = module_root(cwd)
        names = [n for n in os.listdir(directory)
                 if n.endswith(".go") and not n.endswith("_test.go") and not n.startswith((".", "_"))]
        clauses = {_package_clause(os.path.join(directory, n)) for n in names}
        with open(os.path.join(root, "go.mod"), encoding="utf-8") as f:
            module = _MODULE.search(f.read())
    except (OSError, UnicodeDecodeError, UsageError):
        return None
    rel = os.path.relpath(directory, root)
    if clauses != {"main"} or module is None or rel == ".." or rel.startswith(".." + os.sep):
        return None
    return module.group(1) if rel == "." else f"{module.group(1)}/{rel.replace(os.sep, '/')}"


def _package_clause(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        head = f.read(64 * 1024)
    found = _CLAUSE.match(head)
    return found.group(1) if found else ""


def output_names(t: Target, mains: list[str]) -> dict[str, str]:
    """Main package -> binary file name; two mains that would share a name are an error, not an overwrite."""
    names: dict[str, str] = {}
    for pkg in mains:
        name = _binary_name(pkg) + t.port.binary_suffix
        clash = next((other for other, used in names.items() if used == name), None)
        if clash:
            raise UsageError(f"port {t.port.name}: {clash} and {pkg} would both be built as {name}",
                             "build them separately with -o DIR, or rename one of the directories")
        names[pkg] = name
    return names


def kept_output(t: Target, out_dir: str, rel: str) -> str:
    """Where gxc keeps its own copy of the last binary it built to out_dir/rel, in the version's work dir.

    go links again unless the file at `-o` already carries the build ID it would write; gxc builds into
    a private directory (never into one an argument chose), so it starts that file from this copy. Not
    from out_dir: a file there is the project's or anyone's, and go would take it as up to date on its
    build ID alone.
    """
    key = hashlib.sha256(f"{t.port.name}\0{os.path.abspath(out_dir)}\0{rel}".encode()).hexdigest()[:24]
    return os.path.join(paths.work_dir(t.toolchain.ident), "outputs", key, os.path.basename(rel))


def _start_from(kept: str, target: str) -> os.stat_result | None:
    """Copy gxc's kept binary to go's output path; its stat, to see afterwards whether go linked anew."""
    try:
        shutil.copy2(kept, target)
        return os.stat(target)
    except FileNotFoundError:
        return None


def _keep(target: str, kept: str, before: os.stat_result | None) -> None:
    after = os.stat(target)
    if before is not None and (after.st_ino, after.st_mtime_ns, after.st_size) == (
            before.st_ino, before.st_mtime_ns, before.st_size):
        return  # go kept the copy: it is still what gxc holds
    os.makedirs(os.path.dirname(kept), exist_ok=True)
    tmp = f"{kept}.{os.getpid()}.{threading.get_ident()}.tmp"
    shutil.copy2(target, tmp)
    os.replace(tmp, kept)


def build_one(t: Target, packages: list[str], extra: list[str], cwd: str, out_dir: str, reuse: bool = True,
              digest: bool = False) -> Built:
    """Build the main packages among `packages` for one port into out_dir/<port>/.

    The main packages are listed per port: build constraints can make a package main for one GOOS only.
    With `reuse`, go starts from gxc's copy of the last build (kept_output) and links only what changed;
    with `digest`, each output is hashed here, in the port's own thread, for its provenance.
    """
    go = os.path.join(t.env["GOROOT"], "bin", "go")
    root, rel = beneath.chosen_root(out_dir, os.getcwd())
    port_rel = os.path.join(rel, t.port.name.replace("/", "-"))
    outputs: list[str] = []
    logs: list[str] = []
    try:
        names = output_names(t, main_packages(t, packages, cwd))
    except GxcError as e:
        return Built(t.port.name, [], e.message, False)
    env = t.env if "GOGC" in t.env else {**t.env, "GOGC": COMPILER_GOGC}
    times: list[tuple[float, float]] = []
    digests: list[str] = []
    # go writes into a private directory; only gxc moves the result below the chosen root, refusing links
    with tempfile.TemporaryDirectory(prefix="gxc-out-", dir=t.env.get("GOTMPDIR")) as private:
        for pkg, name in names.items():
            started = time.time()
            target, kept = os.path.join(private, name), kept_output(t, out_dir, os.path.join(port_rel, name))
            before = _start_from(kept, target) if reuse else None
            proc = launch.run([go, "build", *t.flags, *extra, "-o", target, pkg],
                              launch.user_env(env), cwd=cwd, capture_output=True, text=True)
            logs.append(proc.stderr)
            if proc.returncode:
                return Built(t.port.name, outputs, "".join(logs), False)
            if reuse:
                _keep(target, kept, before)
            if digest:
                digests.append(sha256_file(target))
            outputs.append(root.place(target, os.path.join(port_rel, name)))
            times.append((started, time.time()))
    return Built(t.port.name, outputs, "".join(logs), True, list(names), times, digests=digests)


def build_all(ts: list[Target], packages: list[str], extra: list[str], cwd: str, out_dir: str,
              jobs: int | None = None, digest: bool = False) -> list[Built]:
    """Every port's build, `jobs` at a time (threads: each waits on its go), in the order of `ts`."""
    jobs = max(1, jobs or min(len(ts), os.cpu_count() or 1))
    results: list[Built | BaseException | None] = [None] * len(ts)
    pending = iter(range(len(ts)))
    lock = threading.Lock()

    def worker() -> None:  # concurrent.futures would import logging and more on gxc build's start-up path
        while True:
            with lock:
                i = next(pending, None)
            if i is None:
                return
            try:
                results[i] = _build_or_fall_back(ts[i], packages, extra, cwd, out_dir, digest)
            except BaseException as e:  # noqa: BLE001 - raised again in the caller's thread, below
                results[i] = e

    threads = [threading.Thread(target=worker, name=f"gxc-build-{n}") for n in range(min(jobs, len(ts)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [r for r in results if isinstance(r, Built)]


def _build_or_fall_back(t: Target, packages: list[str], extra: list[str], cwd: str, out_dir: str,
                        digest: bool) -> Built:
    """A build whose cache program died (go stops: "GOCACHEPROG exited pre-Close") is built again with the
    version's local GOCACHE alone: a broken fleet cache never fails a build."""
    built = build_one(t, packages, extra, cwd, out_dir, digest=digest)
    if built.ok:  # the fleet cache's note (one per build) is in go's output, which a good build does not show
        said = [line.removeprefix("gxc: note: ") for line in built.log.splitlines() if line.startswith("gxc: note: ")]
        return dataclasses.replace(built, note="; ".join(said))
    if "GOCACHEPROG" not in t.env or "GOCACHEPROG" not in built.log:
        return built
    cause = next((line for line in built.log.splitlines() if "GOCACHEPROG" in line), "").strip()
    plain = Target(t.port, {k: v for k, v in t.env.items() if k != "GOCACHEPROG"}, t.flags, t.toolchain)
    again = build_one(plain, packages, extra, cwd, out_dir, digest=digest)
    return dataclasses.replace(again, note=f"the fleet cache program failed ({cause}); built again with the local "
                                           "cache only")


def prepare_fleet_cache(toolchain: Resolved) -> str:
    """Build the fleet cache program when a remote is configured and this toolchain can use it; a note if not."""
    from gxc.toolchains import gocache

    chosen = gocache.settings(workdir.user_config(), os.environ)
    if chosen is None or not gocache.supports(toolchain.ident):
        return ""
    try:
        gocache.ensure_helper(toolchain.root, os.path.join(workdir.ensure(toolchain.ident), "cache"))
    except GxcError as e:
        return f"{e.message} ({e.hint})"
    return ""


def module_root(cwd: str) -> str:
    from gxc.project.pins import parents

    for directory in parents(cwd):
        if os.path.isfile(os.path.join(directory, "go.mod")):
            return directory
    raise UsageError("--check-reproducible needs a Go module (no go.mod above here)", "run it inside a module")


def rebuild_elsewhere(t: Target, packages: list[str], extra: list[str], cwd: str) -> dict[str, str]:
    """Build again from a copy of the module in another directory, with a fresh cache and temp dir."""
    root = module_root(cwd)
    with tempfile.TemporaryDirectory(prefix="gxc-repro-") as tmp:
        copy = os.path.join(tmp, "src", os.path.basename(root))
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns("dist", ".git"))
        env = dict(t.env, GOCACHE=os.path.join(tmp, "cache"), GOTMPDIR=tmp)
        other = Target(t.port, env, t.flags, t.toolchain)
        where = os.path.join(copy, os.path.relpath(cwd, root))
        built = build_one(other, packages, extra, where, os.path.join(tmp, "out"), reuse=False)
        if not built.ok:
            raise GxcError(f"port {t.port.name}: the second build failed: {built.log.strip()}", "see the log above")
        return {os.path.basename(o): sha256_file(o) for o in built.outputs}
