"""The managed environment of DESIGN.md section 6, for every `go` that gxc starts.

Each version gets `work/go<V>/{cache,gopath,tmp}` and its own `env` file (GOENV), so build caches,
installed tools and `go env -w` settings never leak between versions. Modules are shared
(`modcache/`) because they are version-independent and checksummed. GOTOOLCHAIN=local: gxc is the
switcher, and Go's own auto-download must never fire.
"""

from __future__ import annotations

import os

from gxc import paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


MANAGED_KEYS = ("GOROOT", "GOTOOLCHAIN", "GOCACHE", "GOPATH", "GOTMPDIR", "GOENV", "GOMODCACHE", "PATH",
                "GXC_HOME", "GXC_ACTIVE_TOOLCHAIN")


def ensure(version: str) -> str:
    work = paths.work_dir(version)
    if not os.path.isdir(os.path.join(work, "tmp")):
        for sub in ("cache", "gopath", "tmp"):
            os.makedirs(os.path.join(work, sub), exist_ok=True)
        open(os.path.join(work, "env"), "a").close()
    return work


def managed_env(version: str, base: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    root = paths.toolchain_dir(version)
    work = ensure(version)
    env = dict(base)
    env.update(
        GOROOT=root,
        GOTOOLCHAIN="local",
        GOCACHE=os.path.join(work, "cache"),
        GOPATH=os.path.join(work, "gopath"),
        GOTMPDIR=os.path.join(work, "tmp"),
        GOENV=os.path.join(work, "env"),
        GXC_HOME=paths.home(),
        GXC_ACTIVE_TOOLCHAIN=version,
    )
    if not base.get("GOMODCACHE"):
        env["GOMODCACHE"] = paths.modcache_dir()
    env["PATH"] = os.pathsep.join(
        [os.path.join(root, "bin"), os.path.join(work, "gopath", "bin"), base.get("PATH", os.defpath)])
    if extra:
        env.update(extra)
    return env
