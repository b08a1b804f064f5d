"""The projects gxc knows of: those `gxc pin` wrote (kept in GXC_HOME/tracked-pins, as mise tracks its
config files) and those holding a file the user trusts. `gxc prune` keeps what they pin."""

from __future__ import annotations

import os

from gxc.ground import paths


def tracked_path() -> str:
    return os.path.join(paths.home(), "tracked-pins")


def track(path: str) -> None:
    """Remember pinned projects (as mise does), so `gxc prune` keeps what they use."""
    known = tracked()
    if path not in known:
        os.makedirs(os.path.dirname(tracked_path()), exist_ok=True)
        with open(tracked_path(), "a", encoding="utf-8") as f:
            f.write(path + "\n")


def tracked() -> list[str]:
    try:
        with open(tracked_path(), encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def known_projects() -> list[str]:
    """The project directories prune knows of: tracked by `gxc pin`, or holding a file the user trusts."""
    from gxc.project import trust

    trusted = [str(r["path"]) for r in trust.records() if r.get("status") == "current"]
    return list(dict.fromkeys(os.path.dirname(p) for p in [*tracked(), *trusted]))
