"""Fleet policy: a `[policy]` table (a file given with `--policy`, else config.toml) and what breaks it.

```toml
[policy]
go = [">=1.21.10,<1.22", "1.22.10"]   # allowed versions: ranges (comma = and) or exact versions
require_lock = true                   # the project's [lock] must hold the toolchain's archive
ports = ["riscv64-linux", "wasm"]     # allowed ports
cgo = false                           # ports must build static (CGO_ENABLED=0)
hardening = "strict"                  # the least [build] hardening a port may have
flavors = ["tamago"]                  # allowed toolchain flavors
max_patch_lag_days = 30               # how long a pin may lag the newest patch of its line
```
A release index carries no dates, so a pin's lag is counted from when this machine first saw the newer
patch in its index (`state/index-first-seen.json`). Unknown keys and wrong types are one
`path:line:col` error. `violations()` returns one line per breach; `gxc doctor --policy` and
`gxc build --policy` exit 1 on any, and a build that breaks policy writes nothing.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gxc.ground import config, paths
from gxc.ground.errors import GxcError, UsageError, public_path, shown
from gxc.ground.fsutil import atomic_write
from gxc.ground.versions import Version, VersionSpec

if TYPE_CHECKING:
    from gxc.project.resolve import Selection

SCHEMA: dict[str, Any] = {"go": list, "require_lock": bool, "ports": list, "cgo": bool, "hardening": str,
                          "flavors": list, "max_patch_lag_days": int}
LEVELS = ("off", "default", "strict")  # weakest first
_OPERATORS = (">=", "<=", "==", ">", "<", "=")


@dataclass(frozen=True)
class Policy:
    origin: str
    rules: dict[str, Any]


def _in_range(version: Version, text: str) -> bool:
    """`>=1.21.10,<1.22` (every comparison must hold) or an exact version or spec (`1.22.10`, `1.22`)."""
    if not text.lstrip().startswith(("<", ">", "=")):
        return VersionSpec.parse(text.strip()).matches(version)
    for comparison in (p.strip() for p in text.split(",")):
        op = next((o for o in _OPERATORS if comparison.startswith(o)), "")
        bound = Version.parse(comparison[len(op):].strip())
        ok = {">=": version >= bound, "<=": version <= bound, ">": version > bound, "<": version < bound,
              "==": version == bound, "=": version == bound, "": version == bound}[op]
        if not ok:
            return False
    return True


def _check_rules(origin: str, text: str, rules: dict[str, Any]) -> None:
    from gxc.ground import tomlfile

    for entry in rules.get("go", []):
        try:
            _in_range(Version(1, 0, 0), entry)
        except GxcError:
            line, col = tomlfile.locate(text, "go", "policy")
            raise config.ConfigError(origin, line, col, f"policy.go entry {shown(entry)} is not a version, spec "
                                                        "or range like \">=1.21.10,<1.22\"") from None
    if "hardening" in rules and rules["hardening"] not in LEVELS:
        line, col = tomlfile.locate(text, "hardening", "policy")
        raise config.ConfigError(origin, line, col, f"policy.hardening {shown(rules['hardening'])} is not a level "
                                                    f"(levels: {', '.join(LEVELS)})")


def load(path: str | None) -> Policy | None:
    """The policy in `path` (which must hold a [policy] table), else config.toml's, else None."""
    if path is None:
        origin = paths.config_path()
        data, text = config._read_toml(origin)
        config.validate(origin, text, data)
        if "policy" not in data:
            return None
    else:
        origin = os.path.abspath(path)
        if not os.path.isfile(origin):
            raise UsageError(f"no policy file {public_path(origin)}", "pass a TOML file with a [policy] table")
        data, text = config._read_toml(origin)
        config.validate(origin, text, data, {"policy": SCHEMA})
        if "policy" not in data:
            raise config.ConfigError(origin, 1, 1, "no [policy] table")
    _check_rules(origin, text, data["policy"])
    return Policy(origin, data["policy"])


def first_seen(versions: list[Version], now: float | None = None) -> dict[str, float]:
    """When this machine first saw each release in its index (recorded now for the new ones)."""
    path = os.path.join(paths.state_dir(), "index-first-seen.json")
    now = time.time() if now is None else now
    try:
        with open(path, encoding="utf-8") as f:
            seen: dict[str, float] = json.load(f)
    except (OSError, ValueError):
        seen = {}
    new = {str(v): now for v in versions if str(v) not in seen}
    if new:
        seen.update(new)
        atomic_write(path, json.dumps(seen, sort_keys=True))
    return seen


def _version_rules(rules: dict[str, Any], version: Version, offline: bool) -> list[str]:
    found = []
    allowed = rules.get("go")
    if allowed is not None and not any(_in_range(version, entry) for entry in allowed):
        found.append(f"go{version} is not an allowed version (policy.go: {', '.join(allowed)})")
    if "max_patch_lag_days" in rules:
        from gxc.pinning import patches

        releases = patches.index_versions(offline)
        newer = patches.newest_patch(version, releases)
        if newer is not None:
            days = (time.time() - first_seen(releases)[str(newer)]) / 86400
            if days > rules["max_patch_lag_days"]:
                found.append(f"go{version} lags go{newer} by {int(days)} days (policy.max_patch_lag_days: "
                             f"{rules['max_patch_lag_days']})")
    return found


def _lock_rule(selection: Any, version: Version) -> list[str]:
    from gxc.sources import index

    lock = selection.project_table.get("lock", {})
    where = selection.project.path if selection.project else "this directory (no toolchains.toml)"
    goos, goarch = index.host_platform()
    names = (f"go{version}.{goos}-{goarch}.tar.gz", f"golang.org/toolchain@v0.0.1-go{version}.{goos}-{goarch}")
    if not any(name in lock for name in names):
        return [f"go{version} is not locked in {where} (policy.require_lock)"]
    return []


def _port_rules(rules: dict[str, Any], ports: list[Any]) -> list[str]:
    found = []
    for port in ports:
        if "ports" in rules and port.name not in rules["ports"]:
            found.append(f"port {port.name} is not allowed (policy.ports: {', '.join(rules['ports'])})")
        if rules.get("cgo") is False and port.cgo:
            found.append(f"port {port.name} builds with cgo (policy.cgo = false)")
        if "hardening" in rules and LEVELS.index(port.hardening) < LEVELS.index(rules["hardening"]):
            found.append(f"port {port.name} has hardening \"{port.hardening}\", policy asks \"{rules['hardening']}\"")
        if port.flavor and "flavors" in rules and port.flavor not in rules["flavors"]:
            found.append(f"port {port.name} builds with the {port.flavor} flavor (policy.flavors: "
                         f"{', '.join(rules['flavors']) or 'none'})")
    return found


def violations(policy: Policy, selection: Selection, cwd: str, port_names: list[str] | None = None,
               offline: bool = False) -> list[str]:
    """One line per breach by the toolchain `selection` builds with and the ports it builds (given, else pinned)."""
    from gxc.ports import platforms
    from gxc.project import resolve

    version = resolve.chosen_version(selection)
    if version is None:
        return [f"no Go version is selected in {cwd} to check against the policy"]
    rules = policy.rules
    found = _version_rules(rules, version, offline)
    if rules.get("require_lock"):
        found += _lock_rule(selection, version)
    names = port_names or list(selection.project_table.get("toolchain", {}).get("targets", []))
    if names:
        goroot = paths.toolchain_dir(str(version))
        registry = platforms.registry_for(goroot if os.path.isdir(goroot) else None, str(version), selection.project)
        found += _port_rules(rules, [registry.get(n) for n in dict.fromkeys(names)])
    return found
