"""The directories of DESIGN.md section 2, derived from the environment on each call.

GXC_HOME alone isolates everything: when it is set and the XDG variables are not, the cache and
config live under it. Imported by the shim, so it uses `os` only.
"""

from __future__ import annotations

import os


def _xdg(var: str, fallback: str) -> str:
    value = os.environ.get(var)
    if value:
        return value
    return os.path.join(os.path.expanduser("~"), fallback)


def home() -> str:
    explicit = os.environ.get("GXC_HOME")
    if explicit:
        return os.path.abspath(explicit)
    return os.path.join(_xdg("XDG_DATA_HOME", ".local/share"), "gxc")


def cache_dir() -> str:
    if os.environ.get("GXC_HOME") and not os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(home(), "cache")
    return os.path.join(_xdg("XDG_CACHE_HOME", ".cache"), "gxc")


def config_dir() -> str:
    if os.environ.get("GXC_HOME") and not os.environ.get("XDG_CONFIG_HOME"):
        return os.path.join(home(), "config")
    return os.path.join(_xdg("XDG_CONFIG_HOME", ".config"), "gxc")


def state_dir() -> str:
    """Trust records and other state that `gxc cache clean` must never forget."""
    if os.environ.get("GXC_HOME") and not os.environ.get("XDG_STATE_HOME"):
        return os.path.join(home(), "state")
    return os.path.join(_xdg("XDG_STATE_HOME", ".local/state"), "gxc")


def trust_dir() -> str:
    return os.path.join(state_dir(), "trust")


def gobin_dir() -> str:
    """The shared GOBIN: `go install`ed tools survive a version switch."""
    return os.path.join(home(), "bin")


def toolchains_dir() -> str:
    return os.path.join(home(), "toolchains")


def dir_name(toolchain: str) -> str:
    """`1.22.10` -> `go1.22.10`; a flavored build `tamago@1.25.5` keeps its name."""
    return toolchain if "@" in toolchain else "go" + toolchain


def toolchain_dir(version: str) -> str:
    return os.path.join(home(), "toolchains", dir_name(version))


def receipt_path(version: str) -> str:
    return os.path.join(home(), "receipts", f"{dir_name(version)}.json")


def work_dir(version: str) -> str:
    return os.path.join(home(), "work", dir_name(version))


def modcache_dir() -> str:
    return os.path.join(home(), "modcache")


def shims_dir() -> str:
    return os.path.join(home(), "shims")


def objects_dir() -> str:
    """The content-addressed store: `<2 hex>/<sha256>` per distinct file of the installed trees."""
    return os.path.join(home(), "objects")


def staging_dir() -> str:
    return os.path.join(home(), "staging")


def locks_dir() -> str:
    return os.path.join(home(), "locks")


def settings_path() -> str:
    return os.path.join(home(), "settings.toml")


def downloads_dir() -> str:
    return os.path.join(cache_dir(), "downloads")


def config_path() -> str:
    return os.path.join(config_dir(), "config.toml")


def user_platforms_dir() -> str:
    return os.path.join(config_dir(), "platforms")
