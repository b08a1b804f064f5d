"""A reader for the plain subset of TOML that pin files use, for the shim's hot path.

`tomllib` costs about 16 ms to import (it pulls in typing, re and string); a shim cannot afford
that on every `go` call. This reader accepts only what it can be sure of: `[table]` headers, bare
or simply quoted keys, basic and literal strings without escapes, booleans, integers and one-line
arrays of such strings, with comments. For anything else it returns None and the caller falls back
to tomllib, so the two never disagree (tests run both on every pin file in the suite, and hypothesis
on generated ones). Only printable ASCII, tab and `\n` are its to read: any other character (a control
character, a bare CR, a form feed, U+0085, U+2028, U+2029, anything non-ASCII) sends the whole
document to tomllib, because Python's `splitlines` and `strip` treat some of them as line breaks or
white space where TOML does not.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs 8 ms at shim start-up; mypy still reads the guarded import
if TYPE_CHECKING:
    from typing import Any

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_PLAIN = frozenset(map(chr, range(0x20, 0x7F))) | {"\t", "\n"}


class _Unsure(Exception):
    pass


def _key(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        inner = text[1:-1]
        if "\\" in inner or '"' in inner or "'" in inner:
            raise _Unsure
        return inner
    if not text or not set(text) <= _BARE:
        raise _Unsure
    return text


def _string(text: str) -> tuple[str, str]:
    """Parse a leading string; return it and the rest of the line."""
    quote = text[0]
    end = text.find(quote, 1)
    if end < 0 or text.startswith(quote * 3):
        raise _Unsure
    inner = text[1:end]
    if quote == '"' and "\\" in inner:
        raise _Unsure
    return inner, text[end + 1:]


def _rest_is_comment(rest: str) -> None:
    rest = rest.strip()
    if rest and not rest.startswith("#"):
        raise _Unsure


def _value(text: str) -> Any:
    text = text.strip()
    if not text:
        raise _Unsure
    if text[0] in "\"'":
        value, rest = _string(text)
        _rest_is_comment(rest)
        return value
    if text[0] == "[":
        items: list[str] = []
        rest = text[1:].strip()
        while not rest.startswith("]"):
            if not rest or rest[0] not in "\"'":
                raise _Unsure
            item, rest = _string(rest)
            items.append(item)
            rest = rest.strip()
            if rest.startswith(","):
                rest = rest[1:].strip()
            elif not rest.startswith("]"):
                raise _Unsure
        _rest_is_comment(rest[1:])
        return items
    word = text.split("#", 1)[0].strip()
    if word in ("true", "false"):
        return word == "true"
    if word.isdigit() and (word == "0" or not word.startswith("0")):
        return int(word)
    raise _Unsure


def _table(doc: dict[str, Any], header: str) -> dict[str, Any]:
    if not header.endswith("]") or header.startswith("[["):
        raise _Unsure
    table = doc
    for part in header[1:-1].split("."):
        key = _key(part)
        table = table.setdefault(key, {})
        if not isinstance(table, dict):
            raise _Unsure
    return table


def loads(text: str) -> dict[str, Any] | None:
    """The document as tomllib would return it, or None when this reader is not sure."""
    if not text.isascii() or not _PLAIN.issuperset(text):
        return None
    doc: dict[str, Any] = {}
    table = doc
    headers: set[str] = set()
    try:
        for raw in text.split("\n"):
            line = raw.strip(" \t")
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                header = line.split("#", 1)[0].strip()
                if header in headers:
                    raise _Unsure
                headers.add(header)
                table = _table(doc, header)
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise _Unsure
            name = _key(key)
            if name in table:
                raise _Unsure
            table[name] = _value(value)
    except _Unsure:
        return None
    return doc
