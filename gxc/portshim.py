"""`<port>-go` shims: the pinned toolchain with a port's environment and build flags."""

from __future__ import annotations

import os

from gxc.ground.errors import GxcError, shown
from gxc.project.resolve import Resolved


def run(name: str, toolchain: Resolved, args: list[str]) -> int:
    if not name.endswith("-go"):
        raise GxcError(f"go{toolchain.version} has no program named {shown(name)}", "run `gxc which go`")
    from gxc.delivery import build
    from gxc.ports import platforms

    port = platforms.registry(toolchain).get(name[: -len("-go")])
    target = build.target(toolchain, port)
    if platforms.runner(port, target.toolchain.root) is not None:  # `go test` and `go run` use it when found
        target.env["PATH"] = build.exec_wrapper(target.toolchain, port) + os.pathsep + target.env["PATH"]
    if args and args[0] in build.BUILD_VERBS:
        args = [args[0], *target.flags, *args[1:]]
    elif args and args[0] in build.TAG_ONLY_VERBS and port.tags:
        args = [args[0], "-tags=" + ",".join(port.tags), *args[1:]]
    go = os.path.join(target.env["GOROOT"], "bin", "go")  # a flavored port builds with its flavor's go
    from gxc.ground import launch

    launch.exec_user(go, [go, *args], target.env)
    return 1
