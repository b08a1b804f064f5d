"""Which toolchain applies here, and why (DESIGN.md section 5).

`select()` turns the command line, GXC_TOOLCHAIN, the nearest pin files and the default into a
`Selection`: the spec asked for, the reason it was chosen, the go.mod/go.work minimum in force, and
the project file (toolchains.toml) that applies. `resolve()` matches it against what is installed
and returns a `Resolved` toolchain. Both are on the shim's hot path: `os` and gxc's light modules only.
"""

from __future__ import annotations

import os

from gxc import paths, pins, settings
from gxc.errors import GxcError, NoToolchainSelected, ToolchainNotInstalled, UsageError
from gxc.versions import Version, VersionSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Selection:
    __slots__ = ("minimum", "minimum_source", "project", "reason", "spec")

    def __init__(self, spec: VersionSpec | None, reason: str, minimum: Version | None = None,
                 minimum_source: str = "", project: pins.PinInfo | None = None) -> None:
        self.spec, self.reason, self.minimum, self.minimum_source, self.project = (
            spec, reason, minimum, minimum_source, project)

    @property
    def project_table(self) -> dict[str, Any]:
        return self.project.project or {} if self.project else {}


class Resolved:
    __slots__ = ("reason", "root", "selection", "version")

    def __init__(self, version: Version, reason: str, selection: Selection) -> None:
        self.version, self.reason, self.selection = version, reason, selection
        self.root = paths.toolchain_dir(str(version))

    def describe(self) -> str:
        return f"go{self.version} ({self.reason})"


def installed_versions() -> list[Version]:
    try:
        names = os.listdir(paths.toolchains_dir())
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        if name.startswith("go"):
            try:
                found.append(Version.parse(name))
            except GxcError:
                continue
    return sorted(found)


def select(cwd: str, override: str | None = None, override_reason: str = "command line") -> Selection:
    spec: VersionSpec | None = None
    reason = ""
    if override:
        spec, reason = VersionSpec.parse(override), override_reason
    elif os.environ.get("GXC_TOOLCHAIN"):
        spec, reason = VersionSpec.parse(os.environ["GXC_TOOLCHAIN"]), "GXC_TOOLCHAIN"
    minimum: Version | None = None
    minimum_source = ""
    project: pins.PinInfo | None = None
    for directory in pins.parents(cwd):
        pinned = False
        for info in pins.read_dir(directory):
            if info.project is not None and project is None:
                project = info
            if info.minimum is not None and minimum is None:
                minimum, minimum_source = info.minimum, info.path
            if info.pin is not None and not pinned:
                pinned = True
                if spec is None:
                    spec, reason = info.pin, info.pin_source
        if pinned:
            break
    if spec is None:
        default = settings.read_default()
        if default:
            spec, reason = VersionSpec.parse(default), "default"
    return Selection(spec, reason, minimum, minimum_source, project)


def _check_minimum(version: Version, selection: Selection) -> None:
    if selection.minimum is not None and version < selection.minimum:
        raise UsageError(
            f"go{version} ({selection.reason}) is older than go {selection.minimum} "
            f"required by {selection.minimum_source}",
            f"pin go{selection.minimum} or newer (`gxc pin {selection.minimum.series}`), or lower the go line",
        )


def install_spec(selection: Selection) -> VersionSpec:
    """What `gxc install` with no SPEC installs here: the pin, else the minimum's series."""
    if selection.spec is not None and selection.reason != "default":
        return selection.spec
    if selection.minimum is not None:
        return VersionSpec.parse(selection.minimum.series)
    if selection.spec is not None:
        return selection.spec
    raise NoToolchainSelected()


def resolve(selection: Selection, installed: list[Version] | None = None) -> Resolved:
    installed = installed_versions() if installed is None else installed
    spec = selection.spec
    if spec is None and selection.minimum is not None:
        candidates = [v for v in installed if v >= selection.minimum and v.is_stable]
        if not candidates:
            raise ToolchainNotInstalled(selection.minimum.series, f"go line in {selection.minimum_source}")
        return Resolved(max(candidates), f"newest installed for go {selection.minimum} in {selection.minimum_source}",
                        selection)
    if spec is None:
        raise NoToolchainSelected()
    best = spec.best(installed)
    if best is None:
        raise ToolchainNotInstalled(str(spec), selection.reason)
    _check_minimum(best, selection)
    return Resolved(best, selection.reason, selection)
