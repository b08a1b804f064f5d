"""Which toolchain applies here, and why (DESIGN.md section 5).

`select()` turns the command line, GXC_TOOLCHAIN, the nearest pin files and the default into a
`Selection`: the spec asked for, the reason it was chosen, the go.mod/go.work minimum in force, and
the project file (toolchains.toml) that applies. `resolve()` matches it against what is installed
and returns a `Resolved` toolchain. Both are on the shim's hot path: `os` and gxc's light modules only.
"""

from __future__ import annotations

import os

from gxc.ground import paths, settings
from gxc.ground.errors import GxcError, NoToolchainSelected, ToolchainNotInstalled, UsageError, shown
from gxc.ground.versions import Version, VersionSpec
from gxc.project import pins

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")


class Selection:
    __slots__ = ("alternatives", "minimum", "minimum_source", "notes", "project", "reason", "spec", "system",
                 "toolchain_line")

    def __init__(self, spec: VersionSpec | None, reason: str, minimum: Version | None = None,
                 minimum_source: str = "", project: pins.PinInfo | None = None) -> None:
        self.spec, self.reason, self.minimum, self.minimum_source, self.project = (
            spec, reason, minimum, minimum_source, project)
        self.alternatives: list[VersionSpec] = [spec] if spec is not None else []
        self.system = False  # `.tool-versions` says `golang system`: the go on PATH, not gxc's
        self.notes: list[str] = []  # what the user should know about this choice (gxc current, doctor)
        self.toolchain_line: tuple[VersionSpec, str] | None = None  # a go.mod/go.work toolchain line seen

    @property
    def project_table(self) -> dict[str, Any]:
        return self.project.project or {} if self.project else {}


class Resolved:
    """A chosen toolchain: its version, why, and where it lives. `ident` names its directories:
    `1.22.10` for go1.22.10, `tamago@1.25.5` for a flavor's build of that release."""

    __slots__ = ("ident", "reason", "root", "selection", "version")

    def __init__(self, version: Version, reason: str, selection: Selection, flavor: str = "") -> None:
        self.version, self.reason, self.selection = version, reason, selection
        self.ident = f"{flavor}@{version}" if flavor else str(version)
        self.root = paths.toolchain_dir(self.ident)

    @property
    def name(self) -> str:
        return paths.dir_name(self.ident)

    def with_flavor(self, flavor: str, version: Version, reason: str) -> Resolved:
        return Resolved(version, reason, self.selection, flavor)

    def describe(self) -> str:
        return f"{self.name} ({self.reason})"


def installed_named(accept: Callable[[str], bool], parse: Callable[[str], T]) -> list[T]:
    """The toolchain directories `accept` picks, parsed; names that do not parse are not toolchains."""
    try:
        names = os.listdir(paths.toolchains_dir())
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        if accept(name):
            try:
                found.append(parse(name))
            except GxcError:
                continue
    return found


def installed_versions() -> list[Version]:
    return sorted(installed_named(lambda name: name.startswith("go"), Version.parse))


def _parse_override(text: str, where: str) -> VersionSpec:
    try:
        return VersionSpec.parse(text)
    except GxcError as e:
        raise UsageError(f"{where} is {shown(text)}, which is not a Go version", e.hint) from None


def select(cwd: str, override: str | None = None, override_reason: str = "command line") -> Selection:
    spec: VersionSpec | None = None
    reason = ""
    if override:
        spec, reason = _parse_override(override, override_reason), override_reason
    elif os.environ.get("GXC_TOOLCHAIN"):
        spec, reason = _parse_override(os.environ["GXC_TOOLCHAIN"], "GXC_TOOLCHAIN"), "GXC_TOOLCHAIN"
    selection = Selection(spec, reason)
    for directory in pins.parents(cwd):
        if _read_directory(selection, directory):
            break
    if selection.spec is None and not selection.system:
        default = settings.read_default()
        if default:
            selection.spec, selection.reason = VersionSpec.parse(default), "default"
            selection.alternatives = [selection.spec]
    return selection


def _read_directory(selection: Selection, directory: str) -> bool:
    """Take what one directory's pin files say; True when one of them pins (the walk stops there)."""
    pinned = False
    for info in pins.read_dir(directory):
        if info.project is not None and selection.project is None:
            selection.project = info
            if info.ignored:
                from gxc.ground import notices
                from gxc.project import trust

                notices.warn_once(trust.ignored_message(info.path, info.ignored, info.trust_reason))
        if info.minimum is not None and (selection.minimum is None or info.minimum > selection.minimum):
            # go.mod inside a go.work: both lines are minimums, and the higher one binds
            selection.minimum, selection.minimum_source = info.minimum, info.path
        if info.note:
            selection.notes.append(info.note)
        if info.pin is not None and info.path.endswith(("go.mod", "go.work")) and selection.toolchain_line is None:
            selection.toolchain_line = (info.pin, info.path)
        if (info.pin is not None or info.system) and not pinned:
            pinned = True
            if selection.spec is None and not selection.system:
                selection.spec, selection.reason = info.pin, info.pin_source
                selection.alternatives, selection.system = list(info.alternatives), info.system
    return pinned


EXPLICIT_REASONS = ("command line", "+ argument", "GXC_TOOLCHAIN")  # the user's own word for this one call


def _check_minimum(version: Version, selection: Selection) -> None:
    if selection.minimum is None or version >= selection.minimum:
        return
    if selection.reason in EXPLICIT_REASONS:
        # as `GOTOOLCHAIN=local go version` does: run it, and let go refuse what it cannot build
        selection.notes.append(f"go{version} ({selection.reason}) is older than go {selection.minimum} required by "
                               f"{selection.minimum_source}; running it as you asked")
    else:
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


def _newest_for_minimum(selection: Selection, installed: list[Version], why: str = "") -> Resolved:
    assert selection.minimum is not None
    candidates = [v for v in installed if v >= selection.minimum and v.is_stable]
    if not candidates:
        raise ToolchainNotInstalled(selection.minimum.series, f"go line in {selection.minimum_source}")
    reason = f"newest installed for go {selection.minimum} in {selection.minimum_source}{why}"
    return Resolved(max(candidates), reason, selection)


def chosen_version(selection: Selection) -> Version | None:
    """The version a build in this selection uses: what `resolve` picks, else the exact pin or go.mod minimum.

    The policy asks this, so what it checks is what builds (`-T`, GXC_TOOLCHAIN, alternatives and
    go.mod minimums included), installed or not yet.
    """
    try:
        return resolve(selection).version
    except (ToolchainNotInstalled, NoToolchainSelected, UsageError):
        spec = selection.spec
        return (spec.version if spec is not None else None) or selection.minimum


def resolve(selection: Selection, installed: list[Version] | None = None) -> Resolved:
    installed = installed_versions() if installed is None else installed
    if selection.system:
        raise UsageError(f"{selection.reason} asks for the system go, which gxc does not manage",
                         "run go from PATH directly, or pin a gxc toolchain (`gxc pin 1.22`)")
    spec = selection.spec
    if spec is None and selection.minimum is not None:
        return _newest_for_minimum(selection, installed)
    if spec is None:
        raise NoToolchainSelected(bool(installed))
    best = next((b for b in (alt.best(installed) for alt in selection.alternatives) if b is not None), None)
    if best is None:
        raise ToolchainNotInstalled(str(spec), selection.reason)
    if selection.reason == "default" and selection.minimum is not None and best < selection.minimum:
        return _newest_for_minimum(selection, installed, f"; the default go{best} is older")
    _check_minimum(best, selection)
    return Resolved(best, selection.reason, selection)
