"""gxc's own programs written in Go (the fleet cache's gxc-cacheprog, the native shim gxc-native).

Each is one `main.go` of Go's standard library, built by gxc with an installed toolchain
(CGO_ENABLED=0, -trimpath, no build id or VCS stamp, so the same inputs give the same bytes) and
kept under `GXC_HOME/libexec/` by a name that carries its source's digest: a new gxc builds anew, and
a built program is renamed into place in one step, so nothing ever starts half a binary.
"""

from __future__ import annotations

import os


def build(source: str, target: str, goroot: str, gocache: str, what: str, ldflags: str = "") -> str:
    """Build `source` with the toolchain at `goroot` into `target` unless it is there already.
    `gocache` is that version's own GOCACHE: the standard library compiled once serves later rebuilds."""
    import shutil
    import tempfile

    from gxc.ground import launch
    from gxc.ground.errors import GxcError

    if os.access(target, os.X_OK):
        return target
    os.makedirs(os.path.dirname(target), exist_ok=True)
    work = tempfile.mkdtemp(prefix="goprogram-", dir=os.path.dirname(target))
    try:
        shutil.copyfile(source, os.path.join(work, "main.go"))
        with open(os.path.join(work, "go.mod"), "w", encoding="utf-8") as f:
            f.write("module gxcprogram\n\ngo 1.21\n")
        env = launch.helper_env({"GOROOT": goroot, "GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOFLAGS": "",
                                 "GOCACHE": gocache, "GOPATH": os.path.join(work, "gopath"), "GOENV": "off"})
        proc = launch.run([os.path.join(goroot, "bin", "go"), "build", "-trimpath", "-buildvcs=false",
                           f"-ldflags=-s -w -buildid= {ldflags}".strip(), "-o", os.path.join(work, "out"), "."],
                          env, cwd=work, capture_output=True, text=True)
        if proc.returncode:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise GxcError(f"cannot build {what}: {last}", f"gxc works without {what} meanwhile")
        os.replace(os.path.join(work, "out"), target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
