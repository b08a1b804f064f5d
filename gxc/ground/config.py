"""The user's config.toml: sources, auto-install, isolation, trusted paths, archive limits.

```toml
auto_install = false
isolate_goenv = false                 # true: each version gets its own `go env -w` file
trusted_paths = ["~/src/work"]        # project files below these are trusted (gxc.trust)
[source]
mirror = "http://127.0.0.1:8000"      # archives: <mirror>/<filename>
index = "file:///srv/go/index.json"   # the release index (go.dev JSON)
goproxy = "https://proxy.corp/go"     # or: toolchains as golang.org/toolchain from a module proxy
sumdb = "sum.golang.org"              # which checksum database proves them (GOSUMDB's syntax)
[limits]
max_bytes = 4294967296                # uncompressed size of one archive
max_members = 200000
```
Command-line flags win over environment variables (GXC_MIRROR, GXC_INDEX_URL, GXC_GOPROXY), which win
over a trusted project's toolchains.toml [source], which wins over this file. The checksum database is
the user's alone (GXC_GOSUMDB, then GOSUMDB, then `sumdb` here): a project cannot choose who proves
its toolchains. Every key is checked for its
type and range; a mistake is one `path:line:col: message` error, like a pin file's.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from typing import Any

from gxc.ground import paths, tomlfile
from gxc.ground.errors import PinFileError

DEFAULT_INDEX_URL = "https://go.dev/dl/?mode=json&include=all"
DEFAULT_ARCHIVE_BASE = "https://dl.google.com/go"
# A real toolchain is about 0.25 GB and 10-15k files; these bounds stop bombs, not Go.
DEFAULT_MAX_BYTES = 4 * 1024**3
DEFAULT_MAX_MEMBERS = 200_000

# key -> expected type, or a nested table of them
SCHEMA: dict[str, Any] = {
    "auto_install": bool,
    "isolate_goenv": bool,
    "trusted_paths": list,
    "source": {"mirror": str, "index": str, "goproxy": str, "sumdb": str},
    "limits": {"max_bytes": int, "max_members": int},
    "cache": {"remote": str, "read_only": bool, "key_file": str, "timeout_seconds": int},  # gxc.toolchains.gocache
    "policy": {"go": list, "require_lock": bool, "ports": list, "cgo": bool, "hardening": str, "flavors": list,
               "max_patch_lag_days": int},  # gxc.policy checks the values
}


@dataclass(frozen=True)
class Limits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_members: int = DEFAULT_MAX_MEMBERS


@dataclass(frozen=True)
class Sources:
    index_url: str = DEFAULT_INDEX_URL
    mirror: str | None = None
    project: str = ""  # the project file whose [source] chose the index or the mirror, if one did
    goproxy: str | None = None  # module proxy list (GOPROXY syntax): toolchains come from it, not the index
    sumdb: str | None = None  # GOSUMDB syntax; None is sum.golang.org

    def archive_url(self, filename: str) -> str:
        base = self.mirror or DEFAULT_ARCHIVE_BASE
        return f"{base.rstrip('/')}/{filename}"


@dataclass(frozen=True)
class Config:
    sources: Sources = field(default_factory=Sources)
    auto_install: bool = False
    isolate_goenv: bool = False
    trusted_paths: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)


class ConfigError(PinFileError):
    """A config.toml that does not fit SCHEMA: path, line, column and what to change."""

    def __init__(self, path: str, line: int, col: int, message: str) -> None:
        super().__init__(path, line, col, message)
        self.hint = f"fix {path} (keys: auto_install, isolate_goenv, trusted_paths, [source], [limits])"


def _read_toml(path: str) -> tuple[dict[str, Any], str]:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return {}, ""
    try:
        text = raw.decode("utf-8-sig")
        return tomllib.loads(text), text
    except UnicodeDecodeError:
        raise ConfigError(path, 1, 1, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        located = tomlfile.decode_error(path, str(e))
        raise ConfigError(path, located.line, located.col, str(e).split(" (at line ")[0]) from None


def _type_name(expected: type) -> str:
    return {bool: "true or false", int: "a whole number", str: "a string", list: "a list of strings"}[expected]


def _suggest(key: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, known, n=1)
    return f"; did you mean {close[0]}?" if close else f" (known: {', '.join(known)})"


def validate(path: str, text: str, data: dict[str, Any], schema: dict[str, Any] = SCHEMA, table: str = "") -> None:
    for key, value in data.items():
        where = f"{table}.{key}" if table else key
        expected = schema.get(key)
        if expected is None:
            line, col = tomlfile.locate(text, key, table) if not isinstance(value, dict) else tomlfile.locate(
                text, "", key)
            raise ConfigError(path, line, col, f"unknown key {where}{_suggest(key, list(schema))}")
        line, col = tomlfile.locate(text, key, table)
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                raise ConfigError(path, line, col, f"{where} must be a table")
            validate(path, text, value, expected, where)
            continue
        # bool is an int in Python: `max_bytes = true` must not pass as 1
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(path, line, col, f"{where} must be {_type_name(expected)}, not {_toml_type(value)}")
        if expected is list and not all(isinstance(v, str) for v in value):
            raise ConfigError(path, line, col, f"{where} must be a list of strings")
        if expected is int and value <= 0:
            raise ConfigError(path, line, col, f"{where} must be greater than 0")


def _toml_type(value: object) -> str:
    kinds = ((bool, "a boolean"), (int, "a number"), (float, "a number"), (str, "a string"), (list, "an array"),
             (dict, "a table"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "a date")


def users_own(name: str) -> str | None:
    """A variable as the user set it, before the activate hook applied a project's [env] (gxc.ground.activation)."""
    from gxc.ground import activation

    return activation.before_activation(os.environ).get(name)


def load(mirror: str | None = None, index_url: str | None = None,
         project_source: dict[str, Any] | None = None, project_path: str = "", goproxy: str | None = None) -> Config:
    """Flags win over the environment, which wins over the project's [source], then config.toml."""
    path = paths.config_path()
    data, text = _read_toml(path)
    validate(path, text, data)
    user_source = data.get("source", {})
    project_source = project_source or {}
    index = index_url or os.environ.get("GXC_INDEX_URL")
    chosen_mirror = mirror or os.environ.get("GXC_MIRROR")
    chosen_proxy = goproxy or os.environ.get("GXC_GOPROXY")
    from_project = bool((not index and project_source.get("index")) or
                        (not chosen_mirror and project_source.get("mirror")) or
                        (not chosen_proxy and project_source.get("goproxy")))
    limits = data.get("limits", {})
    return Config(
        sources=Sources(
            index_url=index or project_source.get("index") or user_source.get("index") or DEFAULT_INDEX_URL,
            mirror=chosen_mirror or project_source.get("mirror") or user_source.get("mirror"),
            project=project_path if from_project else "",
            goproxy=chosen_proxy or project_source.get("goproxy") or user_source.get("goproxy"),
            sumdb=os.environ.get("GXC_GOSUMDB") or users_own("GOSUMDB") or user_source.get("sumdb"),
        ),
        auto_install=data.get("auto_install", False),
        isolate_goenv=data.get("isolate_goenv", False),
        trusted_paths=tuple(data.get("trusted_paths", [])),
        limits=Limits(
            max_bytes=limits.get("max_bytes", DEFAULT_MAX_BYTES),
            max_members=limits.get("max_members", DEFAULT_MAX_MEMBERS),
        ),
    )


def user_sources(mirror: str | None = None, goproxy: str | None = None) -> Sources:
    """The sources the user configured (flags, environment, config.toml), without any project's."""
    return load(mirror=mirror, goproxy=goproxy).sources
