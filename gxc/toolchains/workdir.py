"""The managed environment of DESIGN.md section 6, for every `go` that gxc starts.

Each version gets `work/go<V>/{cache,gopath,tmp}`, so build caches never leak between versions.
What the user set stays theirs: an exported GOPATH, GOBIN or GOMODCACHE wins, and the user's own
`go env -w` file (GOPRIVATE, GOPROXY, GOFLAGS) applies under every version unless config.toml says
`isolate_goenv = true`, which gives each version `work/go<V>/env`. Tools from `go install` land in
one shared GOBIN (`$GXC_HOME/bin`, on PATH after `gxc init`), so they survive a version switch.
Modules are shared (`modcache/`) because they are version-independent and checksummed.
GOTOOLCHAIN=local: gxc is the switcher, and Go's own auto-download must never fire.
On the shim's hot path: `os` and gxc's light modules only.
"""

from __future__ import annotations

import os

from gxc.ground import paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# Always set by gxc, whatever the user exported.
ALWAYS_SET = ("GOROOT", "GOTOOLCHAIN", "GOCACHE", "GOTMPDIR", "PATH", "GXC_HOME", "GXC_ACTIVE_TOOLCHAIN")


def ensure(version: str) -> str:
    work = paths.work_dir(version)
    if not os.path.isdir(os.path.join(work, "tmp")):
        for sub in ("cache", "gopath", "tmp"):
            os.makedirs(os.path.join(work, sub), exist_ok=True)
        open(os.path.join(work, "env"), "a").close()
    return work


def user_config() -> dict[str, Any]:
    """config.toml, read without tomllib when the file is plain; {} when absent or broken."""
    path = paths.config_path()
    if not os.path.isfile(path):
        return {}
    from gxc.ground import tomlfile

    try:
        with open(path, "rb") as f:
            return tomlfile.parse_toml(path, f.read().decode("utf-8-sig"))
    except Exception:  # noqa: BLE001 - the verbs that load config.toml report its errors with line:col
        return {}


def isolate_goenv(config: Mapping[str, Any] | None = None) -> bool:
    return (user_config() if config is None else config).get("isolate_goenv") is True


def fleet_cache(version: str, base: Mapping[str, str], config: Mapping[str, Any]) -> str | None:
    """GOCACHEPROG when the user configured a fleet build cache (gxc.toolchains.gocache), else None."""
    if "cache" not in config and not base.get("GXC_CACHE_REMOTE"):
        return None
    from gxc.toolchains import gocache

    chosen = gocache.settings(config, base)
    return gocache.goprog(version, chosen) if chosen else None


def managed_changes(version: str, base: Mapping[str, str],
                    extra: Mapping[str, str] | None = None) -> tuple[dict[str, str], tuple[str, str]]:
    """What gxc sets over `base` for `version`: the variables, and the two PATH entries it puts first.

    Reads of `base` are by name only (never the whole of it), so the native shim can tell from a
    record which of the caller's variables the answer depends on (gxc.ground.observe).
    """
    root = paths.toolchain_dir(version)
    work = ensure(version)
    gobin = base.get("GOBIN") or paths.gobin_dir()
    changes = {
        "GOROOT": root,
        "GOTOOLCHAIN": "local",
        "GOCACHE": os.path.join(work, "cache"),
        "GOTMPDIR": os.path.join(work, "tmp"),
        "GOBIN": gobin,
        "GXC_HOME": paths.home(),
        "GXC_ACTIVE_TOOLCHAIN": version,
    }
    if not base.get("GOPATH"):
        changes["GOPATH"] = os.path.join(work, "gopath")
    if not base.get("GOMODCACHE"):
        changes["GOMODCACHE"] = paths.modcache_dir()
    config = user_config()
    if isolate_goenv(config):
        changes["GOENV"] = os.path.join(work, "env")
    goprog = fleet_cache(version, base, config)
    if goprog:
        changes["GOCACHEPROG"] = goprog
    if extra:  # a trusted project's [env]: never PATH (gxc.project.pins refuses it)
        changes.update(extra)
    return changes, (os.path.join(root, "bin"), gobin)


def applied(base: Mapping[str, str], changes: Mapping[str, str], path_first: tuple[str, ...]) -> dict[str, str]:
    """`base` with gxc's changes: its variables set, its PATH entries before the caller's PATH."""
    env = dict(base)
    env.update(changes)
    env["PATH"] = os.pathsep.join([*path_first, base.get("PATH", os.defpath)])
    return env


def managed_env(version: str, base: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    changes, path_first = managed_changes(version, base, extra)
    return applied(base, changes, path_first)


def set_keys(base: Mapping[str, str], env: Mapping[str, str]) -> list[str]:
    """The variables gxc set or changed, for `gxc env` and the activate hook."""
    return sorted({*ALWAYS_SET, *(k for k, v in env.items() if base.get(k) != v)})
