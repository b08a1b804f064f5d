"""settings.toml in GXC_HOME: the global default toolchain (`gxc use`).

gxc writes this file itself as one `default = "1.22.10"` line, so the shim reads it without tomllib.
"""

from __future__ import annotations

from gxc.ground import paths


def read_default() -> str | None:
    try:
        with open(paths.settings_path(), encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.partition("=")
                if sep and key.strip() == "default":
                    return value.strip().strip('"') or None
    except FileNotFoundError:
        return None
    return None


def write_default(version: str | None) -> None:
    from gxc.ground.fsutil import atomic_write

    atomic_write(paths.settings_path(), "# written by `gxc use`\n" + (f'default = "{version}"\n' if version else ""))
