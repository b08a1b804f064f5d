"""`gxc doctor`: checks of a setup, each with one line saying what is wrong and how to fix it.

Checks never raise for what they find; a `Finding` carries the check's name, the message and the
fix. An empty list means all is well.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from gxc.ground import paths
from gxc.ground.errors import GxcError
from gxc.ground.paths import dir_name
from gxc.ground.versions import Flavored, Version
from gxc.project import resolve
from gxc.toolchains import store

STALE_SECONDS = 3600  # an install takes seconds; an hour-old staging dir belongs to a dead process


@dataclass(frozen=True)
class Finding:
    check: str
    message: str
    fix: str


def check_path() -> list[Finding]:
    shims = paths.shims_dir()
    entries = [os.path.abspath(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    if not os.path.isdir(shims) or not os.path.exists(os.path.join(shims, "go")):
        return [Finding("shims", f"the shims in {shims} are missing", "run `gxc reshim` (or install a toolchain)")]
    if shims not in entries:
        return [Finding("path", f"{shims} is not on PATH, so `go` is not routed by gxc",
                        "add `eval \"$(gxc init bash)\"` to your shell's rc file")]
    for entry in entries[: entries.index(shims)]:
        candidate = os.path.join(entry, "go")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return [Finding("path", f"{candidate} comes before the gxc shims on PATH and shadows them",
                            f"put {shims} first on PATH (`eval \"$(gxc init bash)\"` last in your rc file)")]
    return []


def check_environment() -> list[Finding]:
    found = []
    if os.environ.get("GOROOT") and not os.environ.get("GXC_ACTIVE_TOOLCHAIN"):
        found.append(Finding("env", f"GOROOT is exported ({os.environ['GOROOT']}); "
                                    "it overrides the GOROOT gxc gives each toolchain",
                             "remove `export GOROOT=...` from your shell setup"))
    if os.environ.get("GOTOOLCHAIN") and not os.environ.get("GXC_ACTIVE_TOOLCHAIN"):
        found.append(Finding("env", f"GOTOOLCHAIN is exported ({os.environ['GOTOOLCHAIN']}); gxc sets it to local",
                             "remove `export GOTOOLCHAIN=...`; pin versions with `gxc pin` instead"))
    return found


def _lock_finding(selection: resolve.Selection, version: str) -> list[Finding]:
    locks = selection.project_table.get("lock", {})
    receipt = store.read_receipt(Version.parse(version)) if locks else None
    if not receipt:
        return []
    locked = locks.get(receipt.get("filename", ""))
    installed = receipt.get("h1") or receipt.get("sha256")
    if locked and locked != installed:
        where = selection.project.path if selection.project else "toolchains.toml"
        return [Finding("lock", f"go{version} was installed from an archive with hash {installed}, "
                                f"but {where} locks {locked}",
                        f"run `gxc install --force {version}` to reinstall the locked archive")]
    return []


def check_project(cwd: str) -> list[Finding]:
    try:
        selection = resolve.select(cwd)
    except GxcError as e:
        return [Finding("pin", e.message, e.hint)]
    if selection.spec is None and selection.minimum is None:
        return []
    try:
        toolchain = resolve.resolve(selection)
    except GxcError as e:
        return [Finding("pin", e.message, e.hint)]
    found = _lock_finding(selection, str(toolchain.version))
    if selection.project is not None:
        found += [Finding("trust", trust_message, f"review it, then run `gxc trust {selection.project.path}`")
                  for trust_message in _trust_state(selection)]
    newer = toolchain_line_newer(selection, toolchain.version)
    if newer:
        found.append(Finding("pin", newer, "pin that version (`gxc pin VERSION`) or lower the toolchain line"))
    targets = selection.project_table.get("toolchain", {}).get("targets", [])
    if targets:
        from gxc.ports import platforms

        registry = platforms.registry(toolchain)
        for name in targets:
            try:
                port = registry.get(name)
            except GxcError as e:
                found.append(Finding("port", e.message, e.hint))
                continue
            found += [Finding("port", f"pinned port {name}: {problem.message}", problem.fix)
                      for problem in platforms.problems(port, toolchain.version, registry.pairs, toolchain.root,
                                                        need_runner=True)]
    return found


def _trust_state(selection: resolve.Selection) -> list[str]:
    info = selection.project
    if info is None or not info.ignored:
        return []
    tables = ", ".join(f"[{t}]" for t in info.ignored)
    return [f"{info.path} is {info.trust_reason}: its {tables} are ignored"]


def toolchain_line_newer(selection: resolve.Selection, chosen: Version) -> str:
    """A go.mod/go.work `toolchain` line newer than what gxc chose: Go would switch, gxc does not."""
    if selection.toolchain_line is None:
        return ""
    spec, path = selection.toolchain_line
    if spec.version is None or spec.version <= chosen:
        return ""
    return (f"{path} asks for toolchain go{spec.version}, newer than go{chosen} ({selection.reason}); "
            "Go would switch to it, gxc keeps the pin")


def check_sources() -> list[Finding]:
    found = []
    for version in store.installed_versions():
        source = store.source_of(version)
        if source != "user":
            found.append(Finding("source", f"go{version} was installed from the [source] of "
                                           f"{source.removeprefix('project ')}, not from your own index",
                                 f"check it with `gxc verify --against-index {version}`, or reinstall it with "
                                 f"`gxc install --force {version}` outside that project"))
    return found


def locations() -> dict[str, str]:
    """Where a managed go keeps what: shown by `gxc doctor`."""
    gopath = os.environ.get("GOPATH")
    goenv = os.environ.get("GOENV") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config"), "go", "env")
    from gxc.toolchains import workdir

    return {
        "GOBIN": os.environ.get("GOBIN") or paths.gobin_dir(),
        "GOPATH": gopath or os.path.join(paths.home(), "work", "go<V>", "gopath") + " (per version)",
        "GOMODCACHE": os.environ.get("GOMODCACHE") or paths.modcache_dir(),
        "GOENV": os.path.join(paths.home(), "work", "go<V>", "env") + " (per version: isolate_goenv)"
        if workdir.isolate_goenv() else goenv + " (yours, under every version)",
        "GOCACHE": os.path.join(paths.home(), "work", "go<V>", "cache") + " (per version)",
        **_fleet_cache_location(),
        "shims": _shims_location(),
    }


def _shims_location() -> str:
    """Whether the native shim serves the shims, or why Python does (`gxc reshim` builds it)."""
    from gxc.toolchains import native

    why = native.status()
    return paths.shims_dir() + (f" ({why}; `gxc reshim` builds the native shim)" if why else " (native)")


def _fleet_cache_location() -> dict[str, str]:
    """The remote build cache, and (said once, here) which installed versions cannot use it."""
    from gxc.toolchains import gocache, workdir

    chosen = gocache.settings(workdir.user_config(), os.environ)
    if chosen is None:
        return {}
    older = [dir_name(str(v)) for v in store.installed_versions() if not gocache.supports(str(v))]
    keep = f"; {', '.join(older)} keep the local GOCACHE only (GOCACHEPROG needs go1.24)" if older else ""
    return {"REMOTE": f"{chosen.remote}{' (read-only)' if chosen.read_only else ''} for go1.24 and newer, "
                      f"from {chosen.origin}{keep}"}


def check_fleet_cache() -> list[Finding]:
    """The remote answers (and takes writes unless read-only); its program is built for go1.24 and newer."""
    from gxc.toolchains import gocache, workdir

    chosen = gocache.settings(workdir.user_config(), os.environ)
    if chosen is None:
        return []
    found = []
    problem = gocache.probe(chosen)
    if problem:
        found.append(Finding("cache", f"the remote build cache: {problem}",
                             "fix the server or [cache] remote in config.toml; builds meanwhile use the local cache"))
    able = [v for v in store.installed_versions() if gocache.supports(str(v))]
    if able:
        try:
            newest = str(max(able))
            gocache.ensure_helper(paths.toolchain_dir(newest), os.path.join(workdir.ensure(newest), "cache"))
        except GxcError as e:
            found.append(Finding("cache", e.message, "check that go can build here; builds use the local cache"))
    return found


def check_leftovers(now: float | None = None) -> list[Finding]:
    from gxc.toolchains import cache

    now = now or time.time()
    stale = [e.path for e in cache.entries()
             if e.kind in ("staging", "partial") and now - os.lstat(e.path).st_mtime > STALE_SECONDS]
    if not stale:
        return []
    return [Finding("leftovers", f"{len(stale)} stale staging dir(s) or partial download(s) from interrupted runs "
                                 f"({stale[0]}{', ...' if len(stale) > 1 else ''})",
                    "run `gxc cache clean`")]


def check_toolchains() -> list[Finding]:
    found = []
    drifted_objects: dict[str, list[str]] = {}
    every: list[Version | Flavored] = [*store.installed_versions(), *store.installed_flavors()]
    if not every:
        return [Finding("toolchains", "no Go toolchain is installed, so the shims have nothing to run",
                        "run `gxc install latest` (or `gxc install` in a project that pins one)")]
    for version in every:
        try:
            drift = store.verify(version)
        except GxcError as e:
            found.append(Finding("verify", e.message, e.hint))
            continue
        if not drift.clean:
            count = len(drift.modified) + len(drift.added) + len(drift.removed) + len(drift.modes)
            found.append(Finding("verify", f"{dir_name(str(version))} has drifted from its archive "
                                           f"({count} file(s) changed)", f"run `gxc install --repair {version}`"))
        for name in drift.objects:
            drifted_objects.setdefault(name, []).append(str(version))
    for name, users in sorted(drifted_objects.items()):
        found.append(Finding("store", f"object {name} has drifted (its content no longer matches its name); "
                                      f"linked by {', '.join(dir_name(u) for u in users)}",
                             f"run `gxc install --repair {users[0]}`"))
    return found


def check_policy(cwd: str, path: str | None) -> list[Finding]:
    """The fleet policy (a file, else config.toml's [policy]): one finding per violation."""
    from gxc.delivery import policy

    rules = policy.load(path)
    if rules is None:
        return []
    found = policy.violations(rules, resolve.select(cwd), cwd)
    return [Finding("policy", line, f"bring it within {rules.origin}") for line in found]


def diagnose(cwd: str) -> list[Finding]:
    return [*check_path(), *check_environment(), *check_project(cwd), *check_leftovers(), *check_toolchains(),
            *check_sources(), *check_fleet_cache()]
