"""Pin files: find and parse toolchains.toml, .go-version, .tool-versions, go.work and go.mod.

Each file read gives a `PinInfo`: a pin (a version spec the file insists on), a minimum (a
`go 1.N` line, which only sets a floor) or both, and for toolchains.toml the whole project table
(targets, env, source, lock, platforms). Bad files raise PinFileError with path, line and column.
The shim imports this module: no tomllib unless the fast reader is unsure, no re, no typing.
"""

from __future__ import annotations

import os

from gxc import fasttoml
from gxc.errors import GxcError, PinFileError
from gxc.versions import Version, VersionSpec

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
    "source": {"mirror", "index"},
    "lock": None,  # archive file name -> sha256
    "platforms": None,  # validated by gxc.platforms
}


class PinInfo:
    __slots__ = ("minimum", "path", "pin", "pin_source", "project")

    def __init__(self, path: str, pin: VersionSpec | None = None, minimum: Version | None = None,
                 project: dict[str, Any] | None = None, pin_source: str = "") -> None:
        self.path, self.pin, self.minimum, self.project = path, pin, minimum, project
        self.pin_source = pin_source or f"pinned by {path}"  # the reason `gxc current` prints


def locate(text: str, key: str, table: str = "") -> tuple[int, int]:
    """Line and column (1-based) of `key` inside `[table]` ('' for the top level), or of the table."""
    current = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            current = stripped.split("#", 1)[0].strip().strip("[]").strip()
            if not key and current == table:
                return number, line.index("[") + 1
            continue
        name = stripped.partition("=")[0].strip().strip("\"'")
        if current == table and name == key and "=" in stripped:
            return number, line.index(stripped[0]) + 1
    return 1, 1


def _decode_error(path: str, message: str) -> PinFileError:
    head, _, where = message.rpartition(" (at line ")
    if head and where.endswith(")"):
        line, _, col = where[:-1].partition(", column ")
        if line.isdigit() and col.isdigit():
            return PinFileError(path, int(line), int(col), head)
    return PinFileError(path, 1, 1, message)


def parse_toml(path: str, text: str) -> dict[str, Any]:
    doc = fasttoml.loads(text)
    if doc is not None:
        return doc
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _decode_error(path, str(e)) from None


def _check_project_keys(path: str, text: str, doc: dict[str, Any]) -> None:
    for table, value in doc.items():
        if table not in _PROJECT_KEYS:
            line, col = locate(text, table) if not isinstance(value, dict) else locate(text, "", table)
            raise PinFileError(path, line, col, f"unknown key {table!r} (known: {', '.join(_PROJECT_KEYS)})")
        if not isinstance(value, dict):
            line, col = locate(text, table)
            raise PinFileError(path, line, col, f"{table!r} must be a table")
        allowed = _PROJECT_KEYS[table]
        for key, item in value.items():
            if allowed is not None and key not in allowed:
                line, col = locate(text, key, table)
                known = ", ".join(sorted(allowed))
                raise PinFileError(path, line, col, f"unknown key {key!r} in [{table}] (known: {known})")
            if table == "env" and not isinstance(item, str):
                line, col = locate(text, key, table)
                raise PinFileError(path, line, col, f"[env] {key} must be a string")


def _spec_at(path: str, text: str, value: object, key: str, table: str) -> VersionSpec:
    try:
        if not isinstance(value, str):
            raise GxcError("not a string")
        return VersionSpec.parse(value)
    except GxcError:
        line, col = locate(text, key, table)
        raise PinFileError(path, line, col, f"{value!r} is not a Go version (try \"1.22.10\" or \"1.22\")") from None


def read_project(path: str) -> PinInfo:
    text = _read(path)
    doc = parse_toml(path, text)
    _check_project_keys(path, text, doc)
    toolchain = doc.get("toolchain", {})
    pin = _spec_at(path, text, toolchain["go"], "go", "toolchain") if "go" in toolchain else None
    targets = toolchain.get("targets", [])
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        line, col = locate(text, "targets", "toolchain")
        raise PinFileError(path, line, col, "targets must be a list of port names")
    return PinInfo(path, pin=pin, project=doc)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError:
        raise PinFileError(path, 1, 1, "not UTF-8 text") from None


def read_go_version(path: str) -> PinInfo:
    text = _read(path)
    for number, line in enumerate(text.splitlines(), 1):
        word = line.split("#", 1)[0].strip()
        if word:
            return PinInfo(path, pin=_line_spec(path, number, line, word))
    return PinInfo(path)


def _line_spec(path: str, number: int, line: str, word: str) -> VersionSpec:
    try:
        return VersionSpec.parse(word)
    except GxcError:
        raise PinFileError(path, number, line.find(word) + 1, f"{word!r} is not a Go version") from None


def read_tool_versions(path: str) -> PinInfo:
    """asdf's file: `golang 1.22.10` (or `go`). Other tools' lines belong to other managers."""
    text = _read(path)
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words or words[0] not in GO_TOOL_NAMES:
            continue
        if len(words) < 2:
            raise PinFileError(path, number, len(line.rstrip()) + 1, f"{words[0]} needs a version")
        return PinInfo(path, pin=_line_spec(path, number, line, words[1]))
    return PinInfo(path)


def read_go_mod(path: str) -> PinInfo:
    """go.mod or go.work: a `toolchain goX.Y.Z` line pins; a `go 1.N[.P]` line is a minimum."""
    text = _read(path)
    pin = minimum = None
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
                raise PinFileError(path, number, line.find(words[1]) + 1, f"{words[1]!r} is not a Go version") from None
        elif depth == 0 and len(words) == 2 and words[0] == "toolchain" and words[1] != "default":
            pin = _line_spec(path, number, line, words[1])
    kind = "go.work" if path.endswith("go.work") else "go.mod"
    return PinInfo(path, pin=pin, minimum=minimum, pin_source=f"{kind} toolchain line in {path}")


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
