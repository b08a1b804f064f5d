"""The user's config.toml: sources, auto-install, archive limits.

```toml
auto_install = false
[source]
mirror = "http://127.0.0.1:8000"      # archives: <mirror>/<filename>
index = "file:///srv/go/index.json"   # the release index (go.dev JSON)
[limits]
max_bytes = 4294967296                # uncompressed size of one archive
max_members = 200000
```
Command-line flags win over environment variables (GXC_MIRROR, GXC_INDEX_URL), which win over a
project's toolchains.toml [source], which wins over this file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from typing import Any

from gxc import paths
from gxc.errors import UsageError

DEFAULT_INDEX_URL = "https://go.dev/dl/?mode=json&include=all"
DEFAULT_ARCHIVE_BASE = "https://dl.google.com/go"
# A real toolchain is about 0.25 GB and 10-15k files; these bounds stop bombs, not Go.
DEFAULT_MAX_BYTES = 4 * 1024**3
DEFAULT_MAX_MEMBERS = 200_000

_KNOWN = {"auto_install", "source", "limits"}


@dataclass(frozen=True)
class Limits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_members: int = DEFAULT_MAX_MEMBERS


@dataclass(frozen=True)
class Sources:
    index_url: str = DEFAULT_INDEX_URL
    mirror: str | None = None

    def archive_url(self, filename: str) -> str:
        base = self.mirror or DEFAULT_ARCHIVE_BASE
        return f"{base.rstrip('/')}/{filename}"


@dataclass(frozen=True)
class Config:
    sources: Sources = field(default_factory=Sources)
    auto_install: bool = False
    limits: Limits = field(default_factory=Limits)


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: {e}", "fix the TOML syntax") from None


def load(mirror: str | None = None, index_url: str | None = None,
         project_source: dict[str, Any] | None = None) -> Config:
    """Flags win over the environment, which wins over the project's [source], then config.toml."""
    path = paths.config_path()
    data = _read_toml(path)
    unknown = set(data) - _KNOWN
    if unknown:
        raise UsageError(f"{path}: unknown key {sorted(unknown)[0]!r}", f"known keys: {', '.join(sorted(_KNOWN))}")
    source = {**data.get("source", {}), **(project_source or {})}
    limits = data.get("limits", {})
    return Config(
        sources=Sources(
            index_url=index_url or os.environ.get("GXC_INDEX_URL") or source.get("index") or DEFAULT_INDEX_URL,
            mirror=mirror or os.environ.get("GXC_MIRROR") or source.get("mirror"),
        ),
        auto_install=bool(data.get("auto_install", False)),
        limits=Limits(
            max_bytes=int(limits.get("max_bytes", DEFAULT_MAX_BYTES)),
            max_members=int(limits.get("max_members", DEFAULT_MAX_MEMBERS)),
        ),
    )
