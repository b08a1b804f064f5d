"""TOML files as gxc reads them: the fast reader first, tomllib when it bails out, and errors that point at
the line and column of the key they are about. Pin files, port files, flavor recipes and config.toml share it."""

from __future__ import annotations

from gxc.ground import fasttoml
from gxc.ground.errors import PinFileError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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
        name = key_of(stripped)
        if current == table and name == key and "=" in stripped:
            return number, line.index(stripped[0]) + 1
    return 1, 1


def empty_key_at(text: str) -> tuple[int, int]:
    """Where `"" = ...` stands ('' as a key means "the table" to `locate`)."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith(('""', "''")) and "=" in line:
            return number, line.index(line.strip()[0]) + 1
    return 1, 1


def key_of(line: str) -> str:
    """The key of a `key = value` line; a quoted key may itself hold `=`."""
    if line and line[0] in "\"'":
        end = line.find(line[0], 1)
        if end > 0:
            return line[1:end]
    return line.partition("=")[0].strip().strip("\"'")


def decode_error(path: str, message: str) -> PinFileError:
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
        raise decode_error(path, str(e)) from None


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def decode(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # editors on Windows write a BOM; every pin file accepts one
    except UnicodeDecodeError:
        raise PinFileError(path, 1, 1, "not UTF-8 text") from None


def read_text(path: str) -> str:
    return decode(path, read_bytes(path))
