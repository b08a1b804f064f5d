"""Pin files: find and parse toolchains.toml, .go-version, .tool-versions, go.work and go.mod.

Each file read gives a `PinInfo`: a pin (a version spec the file insists on, or several to try in
order, or the system go), a minimum (a `go 1.N` line, which only sets a floor) or both, and for
toolchains.toml the project table (targets, env, source, lock, platforms, flavors) as far as the user
trusts it: untrusted files keep only `[toolchain]` and `[lock]`, and `ignored` names what was dropped
(gxc.trust). Bad files raise PinFileError with path, line and column. Every reader accepts a UTF-8
BOM. The shim imports this module: no tomllib unless the fast reader is unsure, no re, no typing.
"""

from __future__ import annotations

import os

from gxc.ground.errors import GxcError, PinFileError, shown
from gxc.ground.tomlfile import decode, empty_key_at, locate, parse_toml, read_bytes, read_text
from gxc.ground.versions import Version, VersionSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROJECT_FILE = "toolchains.toml"
# Within one directory, the first of these that says something wins.
PIN_FILES = (PROJECT_FILE, ".go-version", ".tool-versions", "go.work", "go.mod")
GO_TOOL_NAMES = ("golang", "go")
_PROJECT_KEYS = {
    "toolchain": {"go", "targets"},
    "env": None,  # any variable name
    "source": {"mirror", "index", "goproxy"},
    "lock": None,  # archive file name -> sha256, or golang.org/toolchain@<version> -> h1
    "platforms": None,  # validated by gxc.platforms
    "flavors": None,  # validated by the flavor loader
}
# [env] names that would break gxc's own guarantees: the loader, gxc's settings and state (HOME and XDG_*
# hold config, trust records and caches), the toolchain it chose, the build cache program, the hook's own.
_ENV_FORBIDDEN = ("GOROOT", "GOTOOLCHAIN", "PATH", "HOME", "GOCACHEPROG")
_ENV_FORBIDDEN_PREFIXES = ("LD_", "DYLD_", "GXC_", "_GXC_", "XDG_")
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_REST = _NAME_START | frozenset("0123456789")
# Tables that can run code or change where code comes from: honoured only for trusted files (gxc.trust).
GATED = ("env", "source", "platforms", "flavors")
SYSTEM = "system"  # `.tool-versions`: `golang system` defers to the go on PATH


class PinInfo:
    __slots__ = ("alternatives", "data", "ignored", "minimum", "note", "path", "pin", "pin_source", "project",
                 "system", "trust_reason")

    def __init__(self, path: str, pin: VersionSpec | None = None, minimum: Version | None = None,
                 project: dict[str, Any] | None = None, pin_source: str = "") -> None:
        self.path, self.pin, self.minimum, self.project = path, pin, minimum, project
        self.pin_source = pin_source or f"pinned by {path}"  # the reason `gxc current` prints
        self.alternatives: list[VersionSpec] = [pin] if pin is not None else []  # the first installed one wins
        self.system = False
        self.note = ""  # what gxc read differently from the file's letter (a custom toolchain name)
        self.ignored: list[str] = []  # gated tables dropped because the file is not trusted
        self.trust_reason = ""
        self.data: bytes | None = None  # a toolchains.toml's bytes as read, for trust decisions made later


def _check_project_keys(path: str, text: str, doc: dict[str, Any], tables: tuple[str, ...] | None = None) -> None:
    """Check the file's tables (only `tables` when given: gated ones are checked once they are trusted)."""
    for table, value in doc.items():
        if table not in _PROJECT_KEYS:
            line, col = locate(text, table) if not isinstance(value, dict) else locate(text, "", table)
            raise PinFileError(path, line, col, f"unknown key {shown(table)} (known: {', '.join(_PROJECT_KEYS)})")
        if tables is not None and table not in tables:
            continue
        if not isinstance(value, dict):
            line, col = locate(text, table)
            raise PinFileError(path, line, col, f"{shown(table)} must be a table")
        allowed = _PROJECT_KEYS[table]
        for key, item in value.items():
            if allowed is not None and key not in allowed:
                line, col = locate(text, key, table)
                known = ", ".join(sorted(allowed))
                raise PinFileError(path, line, col, f"unknown key {shown(key)} in [{table}] (known: {known})")
            if table == "env":
                _check_env_entry(path, text, key, item)
            if table == "source" and not isinstance(item, str):
                line, col = locate(text, key, table)
                raise PinFileError(path, line, col, f"[source] {key} must be a string (a URL)")


def env_name_problem(name: str) -> str:
    """Why a variable name may not be set from a project file ('' when it may)."""
    if not name or name[0] not in _NAME_START or not set(name) <= _NAME_REST:
        return "is not a valid environment variable name (letters, digits and _, not starting with a digit)"
    if name in _ENV_FORBIDDEN or name.startswith(_ENV_FORBIDDEN_PREFIXES):
        return "is set by gxc itself or by the loader and cannot be set from a project file"
    return ""


def _check_env_entry(path: str, text: str, key: str, item: object) -> None:
    problem = env_name_problem(key)
    if problem:
        line, col = locate(text, key, "env") if key else empty_key_at(text)
        raise PinFileError(path, line, col, f"[env] {shown(key)} {problem}")
    if not isinstance(item, str):
        line, col = locate(text, key, "env")
        raise PinFileError(path, line, col, f"[env] {key} must be a string")
    if "\0" in item:
        line, col = locate(text, key, "env")
        raise PinFileError(path, line, col, f"[env] {key} holds a NUL byte, which no environment can carry")


def _spec_at(path: str, text: str, value: object, key: str, table: str) -> VersionSpec:
    if isinstance(value, (int, float)) and not isinstance(value, bool):  # go = 1.22 is TOML's float 1.22
        line, col = locate(text, key, table)
        raw = text.splitlines()[line - 1].partition("=")[2].partition("#")[0].strip() or str(value)  # 1.20, not 1.2
        raise PinFileError(path, line, col, f"{key} = {raw} is a number; a Go version must be a quoted string "
                                            f"({key} = \"{raw}\")")
    try:
        if not isinstance(value, str):
            raise GxcError("not a string")
        return VersionSpec.parse(value)
    except GxcError:
        line, col = locate(text, key, table)
        raise PinFileError(path, line, col,
                           f"{shown(value)} is not a Go version (try \"1.22.10\" or \"1.22\")") from None


def read_project(path: str) -> PinInfo:
    data = read_bytes(path)
    text = decode(path, data)
    doc = parse_toml(path, text)
    _check_project_keys(path, text, doc, tuple(t for t in _PROJECT_KEYS if t not in GATED))
    toolchain = doc.get("toolchain", {})
    pin = _spec_at(path, text, toolchain["go"], "go", "toolchain") if "go" in toolchain else None
    targets = toolchain.get("targets", [])
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        line, col = locate(text, "targets", "toolchain")
        raise PinFileError(path, line, col, "targets must be a list of port names")
    info = PinInfo(path, pin=pin, project=doc)
    info.data = data
    _apply_trust(info, data)
    # what a file may not do is checked only where it may do something: an untrusted file's gated tables
    # are ignored, not validated (a malformed one must not break `go version` in a clone)
    _check_project_keys(path, text, info.project or {}, GATED)
    return info


def _apply_trust(info: PinInfo, data: bytes) -> None:
    doc = info.project or {}
    gated = [name for name in GATED if doc.get(name)]
    if not gated:  # nothing that runs code: no trust check, and gxc.trust stays unimported on the shim's path
        info.project = {k: v for k, v in doc.items() if k not in GATED}  # empty gated tables say nothing
        return
    from gxc.project import trust

    verdict = trust.verdict(info.path, data)
    info.trust_reason = verdict.reason
    if not verdict.trusted:
        info.ignored = gated
        info.project = {k: v for k, v in doc.items() if k not in GATED}


def read_go_version(path: str) -> PinInfo:
    text = read_text(path)
    for number, line in enumerate(text.splitlines(), 1):
        word = line.split("#", 1)[0].strip()
        if word:
            return PinInfo(path, pin=_line_spec(path, number, line, word))
    return PinInfo(path)


def _line_spec(path: str, number: int, line: str, word: str) -> VersionSpec:
    try:
        return VersionSpec.parse(word)
    except GxcError:
        raise PinFileError(path, number, line.find(word) + 1, f"{shown(word)} is not a Go version") from None


def read_tool_versions(path: str) -> PinInfo:
    """asdf's file: `golang 1.22.10` (or `go`). Other tools' lines belong to other managers.

    As in asdf, `golang 1.99.0 1.22.10` means the first of those that is installed, and `system`
    the go found on PATH outside gxc.
    """
    text = read_text(path)
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words or words[0] not in GO_TOOL_NAMES:
            continue
        if len(words) < 2:
            raise PinFileError(path, number, len(line.rstrip()) + 1, f"{words[0]} needs a version")
        info = PinInfo(path)
        for word in words[1:]:
            if word == SYSTEM:
                info.system = not info.alternatives
                break
            info.alternatives.append(_line_spec(path, number, line, word))
        info.pin = info.alternatives[0] if info.alternatives else None
        return info
    return PinInfo(path)


def read_go_mod(path: str) -> PinInfo:
    """go.mod or go.work: a `toolchain goX.Y.Z` line pins; a `go 1.N[.P]` line is a minimum."""
    text = read_text(path)
    pin = minimum = None
    note = ""
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("//", 1)[0].split()
        if not words:
            continue
        if words[-1] == "(":
            depth += 1
        elif words[0] == ")":
            depth -= 1
        elif depth == 0 and len(words) == 2 and words[0] == "go":
            try:
                minimum = Version.parse(words[1])
            except GxcError:
                raise PinFileError(path, number, line.find(words[1]) + 1,
                                   f"{shown(words[1])} is not a Go version") from None
        elif depth == 0 and len(words) == 2 and words[0] == "toolchain" and words[1] != "default":
            word, custom = _toolchain_name(words[1])
            pin = _line_spec(path, number, line, word)
            note = (f"{path}: toolchain {words[1]} is a custom toolchain name; gxc uses go{pin}" if custom
                    else "")
    kind = "go.work" if path.endswith("go.work") else "go.mod"
    info = PinInfo(path, pin=pin, minimum=minimum, pin_source=f"{kind} toolchain line in {path}")
    info.note = note
    return info


def _toolchain_name(word: str) -> tuple[str, bool]:
    """`go1.22.10-custom` (Go's name for a custom build of go1.22.10) is go1.22.10 to gxc."""
    base, dash, _ = word.partition("-")
    return base, bool(dash)


_READERS = {
    PROJECT_FILE: read_project,
    ".go-version": read_go_version,
    ".tool-versions": read_tool_versions,
    "go.work": read_go_mod,
    "go.mod": read_go_mod,
}


def read_dir(directory: str) -> list[PinInfo]:
    """What the pin files in one directory say, in precedence order."""
    found = []
    for name in PIN_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            found.append(_READERS[name](path))
    return found


def parents(start: str) -> list[str]:
    chain = []
    current = os.path.abspath(start)
    while True:
        chain.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            return chain
        current = parent
