"""Go's build cache for managed toolchains, shared by a fleet: the GOCACHEPROG program and its settings.

Without a remote, every version keeps its own GOCACHE (gxc.toolchains.workdir), as always. With
`[cache] remote = "http://..."` in config.toml (or GXC_CACHE_REMOTE; a project file cannot set
either), toolchains that support GOCACHEPROG (go1.24 and newer) get gxc-cacheprog: the version's
local tier under `work/go<V>/cacheprog`, and the remote in the Bazel HTTP cache layout (`cas/`,
`ac/`), so nginx with WebDAV or bazel-remote serves it unchanged. The program is Go, standard library
only (`cacheprog/main.go`), built by gxc with an installed toolchain and kept under `libexec/` by
the sha256 of its source: a go command starts it for every build, so it must start in milliseconds.

On the shim's path `settings` and `goprog` are read only when a remote is configured, and never
build anything: a missing helper means plain GOCACHE until `gxc build` or `gxc doctor` builds it.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

from gxc.ground import paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cacheprog", "main.go")
MINIMUM = (1, 24)  # GOCACHEPROG left its experiment in go1.24
ENV_REMOTE = "GXC_CACHE_REMOTE"
DEFAULT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Settings:
    remote: str
    read_only: bool = False
    key_file: str = ""
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    origin: str = "config.toml [cache]"


def settings(config: Mapping[str, Any], environ: Mapping[str, str]) -> Settings | None:
    """The fleet cache the user configured (GXC_CACHE_REMOTE wins over config.toml), or None."""
    table = config.get("cache", {})
    table = table if isinstance(table, dict) else {}
    remote = environ.get(ENV_REMOTE) or str(table.get("remote") or "")
    if not remote:
        return None
    origin = ENV_REMOTE if environ.get(ENV_REMOTE) else "config.toml [cache]"
    read_only = table.get("read_only") is True or environ.get("GXC_CACHE_READ_ONLY") == "1"
    return Settings(remote.rstrip("/"), read_only, str(table.get("key_file") or ""),
                    int(table.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS), origin)


def supports(version: str) -> bool:
    """Whether a toolchain (`1.24.11`, `tamago@1.25.5`) speaks GOCACHEPROG."""
    major, _, rest = version.rpartition("@")[2].partition(".")
    minor = "".join(itertools.takewhile(str.isdigit, rest))
    return major.isdigit() and minor.isdigit() and (int(major), int(minor)) >= MINIMUM


def source_digest() -> str:
    import hashlib

    with open(SOURCE, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def helper_path(digest: str | None = None) -> str:
    return os.path.join(paths.home(), "libexec", f"gxc-cacheprog-{(digest or source_digest())[:16]}")


def stats_path() -> str:
    return os.path.join(paths.state_dir(), "cache-stats.jsonl")


def local_dir(version: str) -> str:
    return os.path.join(paths.work_dir(version), "cacheprog")


def _word(text: str) -> str:
    """One argument of GOCACHEPROG, which go splits on spaces and unquotes (cmd/internal/quoted)."""
    return text if text and not any(c.isspace() or c in "'\"" for c in text) else "'" + text.replace("'", "") + "'"


def goprog(version: str, chosen: Settings) -> str | None:
    """The GOCACHEPROG value for `version`, or None: too old for GOCACHEPROG, or no helper built yet."""
    helper = helper_path()
    if not supports(version) or not os.access(helper, os.X_OK):
        return None
    words = [helper, "-dir", local_dir(version), "-remote", chosen.remote, "-timeout", f"{chosen.timeout_seconds}s",
             "-stats", stats_path(), "-toolchain", version]
    if chosen.read_only:
        words.append("-read-only")
    if chosen.key_file:
        words += ["-key-file", os.path.expanduser(chosen.key_file)]
    return " ".join(_word(w) for w in words)


def ensure_helper(goroot: str, gocache: str) -> str:
    """Build gxc-cacheprog with the toolchain at `goroot` unless this source's build is there already."""
    from gxc.toolchains import goprogram

    return goprogram.build(SOURCE, helper_path(), goroot, gocache, what="the fleet cache program")


def probe(chosen: Settings) -> str:
    """`gxc doctor`: whether the remote answers (and takes a PUT unless read-only); '' when it does."""
    import hashlib
    import urllib.error
    import urllib.request

    if not chosen.remote.startswith(("http://", "https://")):
        return f"{chosen.remote} is not an http:// or https:// URL"
    body = b"gxc doctor probe\n"
    url = f"{chosen.remote}/cas/{hashlib.sha256(body).hexdigest()}"
    try:
        if not chosen.read_only:
            put = urllib.request.Request(url, data=body, method="PUT")  # noqa: S310 - http(s) only, checked above
            with urllib.request.urlopen(put, timeout=chosen.timeout_seconds) as answer:  # noqa: S310 - the user's URL
                answer.read(4096)
        with urllib.request.urlopen(url, timeout=chosen.timeout_seconds) as answer:  # noqa: S310
            got = answer.read(len(body) + 1)
    except urllib.error.HTTPError as e:
        if chosen.read_only and e.code == 404:
            return ""  # reachable; the probe object is simply not there
        return f"{'PUT' if not chosen.read_only else 'GET'} {url} answered {e.code}"
    except (OSError, ValueError) as e:
        return f"{chosen.remote} is unreachable ({getattr(e, 'reason', e)})"
    if not chosen.read_only and got != body:
        return f"{url} did not give back what was PUT there"
    return ""


def recent_stats(count: int) -> list[dict[str, Any]]:
    """The statistics of the last `count` go commands that used the fleet cache, oldest first."""
    import json

    try:
        with open(stats_path(), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - count * 1024))
            lines = f.read().decode("utf-8", "replace").splitlines()[-count:]
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue  # the first line of a window that started mid-record
        if isinstance(item, dict):
            found.append(item)
    return found
