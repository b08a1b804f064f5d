"""What the activate hook leaves in a shell's environment, and the user's environment before it.

`_GXC_DIFF` holds the value every variable had before the hook set it (`NAME=hex`, or `NAME-` when it
was unset), `_GXC_PATH` the PATH entries it added. gxc's own decisions (config, sources) read the
environment as the user had it, never a project's [env]; the hook (gxc.hookenv) writes the records.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DIFF, ADDED_PATH, WARNED = "_GXC_DIFF", "_GXC_PATH", "_GXC_WARNED"


def decode_diff(text: str) -> dict[str, str | None]:
    previous: dict[str, str | None] = {}
    for item in text.split(","):
        if item.endswith("-") and "=" not in item:
            previous[item[:-1]] = None
        elif "=" in item:
            name, _, value = item.partition("=")
            try:
                previous[name] = bytes.fromhex(value).decode("utf-8", "surrogateescape")
            except ValueError:
                continue
    return previous


def encode_diff(previous: dict[str, str | None]) -> str:
    return ",".join(f"{k}-" if v is None else f"{k}={v.encode('utf-8', 'surrogateescape').hex()}"
                    for k, v in sorted(previous.items()))


def decode_list(text: str) -> list[str]:
    return [bytes.fromhex(p).decode("utf-8", "surrogateescape") for p in text.split(",") if p]


def encode_list(items: list[str]) -> str:
    return ",".join(i.encode("utf-8", "surrogateescape").hex() for i in items)


def restored(current: dict[str, str]) -> dict[str, str]:
    """The environment as it was before gxc's last activation."""
    env = dict(current)
    for name, value in decode_diff(current.get(DIFF, "")).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    added = set(decode_list(current.get(ADDED_PATH, "")))
    if added and "PATH" in env:
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p not in added)
    for name in (DIFF, ADDED_PATH):
        env.pop(name, None)
    return env


def before_activation(current: Mapping[str, str]) -> Mapping[str, str]:
    """The environment gxc's own decisions read: what the user had before the hook applied a project's
    variables (GOSUMDB, for one, may be a trusted project's choice for the go command, never for gxc)."""
    return restored(dict(current)) if DIFF in current else current
