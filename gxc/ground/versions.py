"""Go versions and the specs users write for them, parsed once at the edge.

`Version` is one release (`1.21.10`, `1.23rc1`, `1.20`); it orders as Go does: beta < rc < release,
and `1.21` (a language version or an old-style first release) sorts with `1.21.0`.
`VersionSpec` is what a user asks for: an exact version, a prefix (`1.21`, `1.21.x`, newest
stable match) or `latest`. The shim imports this module, so it avoids `re` and `dataclasses`.
"""

from __future__ import annotations

from gxc.ground.errors import BadVersion

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

_PRE_RANK = {"beta": 0, "rc": 1, "": 2}


def _number(text: str, original: str) -> int:
    if not text or not text.isascii() or not text.isdigit() or len(text) > 6:
        raise BadVersion(original)
    return int(text)


def _split_pre(text: str, original: str) -> tuple[str, str, int]:
    """'23rc1' -> ('23', 'rc', 1); '10' -> ('10', '', 0)."""
    for kind in ("beta", "rc"):
        head, sep, tail = text.partition(kind)
        if sep:
            return head, kind, _number(tail, original)
    return text, "", 0


class Version:
    __slots__ = ("major", "minor", "patch", "pre", "pre_num")

    def __init__(self, major: int, minor: int, patch: int | None = None, pre: str = "", pre_num: int = 0):
        self.major, self.minor, self.patch, self.pre, self.pre_num = major, minor, patch, pre, pre_num

    @classmethod
    def parse(cls, text: str) -> Version:
        original = text
        text = text.strip()
        if text.startswith("go"):
            text = text[2:]
        parts = text.split(".")
        if len(parts) not in (2, 3):
            raise BadVersion(original)
        last, pre, pre_num = _split_pre(parts[-1], original)
        if pre and len(parts) == 3:  # Go never publishes 1.21.3rc1: pre-releases follow the minor
            raise BadVersion(original)
        numbers = [_number(p, original) for p in parts[:-1]] + [_number(last, original)]
        patch = numbers[2] if len(numbers) == 3 else None
        return cls(numbers[0], numbers[1], patch, pre, pre_num)

    @property
    def key(self) -> tuple[int, int, int, int, int]:
        return (self.major, self.minor, self.patch or 0, _PRE_RANK[self.pre], self.pre_num)

    @property
    def is_stable(self) -> bool:
        return not self.pre

    @property
    def series(self) -> str:
        return f"{self.major}.{self.minor}"

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}" if self.patch is None else f"{self.major}.{self.minor}.{self.patch}"
        return f"{base}{self.pre}{self.pre_num}" if self.pre else base

    def __repr__(self) -> str:
        return f"Version('{self}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __lt__(self, other: Version) -> bool:
        return self.key < other.key

    def __le__(self, other: Version) -> bool:
        return self.key <= other.key

    def __gt__(self, other: Version) -> bool:
        return self.key > other.key

    def __ge__(self, other: Version) -> bool:
        return self.key >= other.key


class VersionSpec:
    """What a user asked for. `kind` is 'exact', 'prefix' or 'latest'."""

    __slots__ = ("kind", "prefix", "text", "version")

    def __init__(self, text: str, kind: str, version: Version | None, prefix: tuple[int, ...]):
        self.text, self.kind, self.version, self.prefix = text, kind, version, prefix

    @classmethod
    def parse(cls, text: str) -> VersionSpec:
        cleaned = text.strip()
        if cleaned in ("latest", "stable"):
            return cls(text, "latest", None, ())
        bare = cleaned[2:] if cleaned.startswith("go") else cleaned
        if bare.endswith(".x"):
            bare = bare[:-2]
            if "rc" in bare or "beta" in bare:
                raise BadVersion(text)
        parts = bare.split(".")
        if len(parts) == 3 or "rc" in bare or "beta" in bare:
            return cls(text, "exact", Version.parse(bare), ())
        if len(parts) > 2:
            raise BadVersion(text)
        return cls(text, "prefix", None, tuple(_number(p, text) for p in parts))

    def matches(self, version: Version) -> bool:
        if self.kind == "exact":
            return version == self.version
        if not version.is_stable:
            return False
        return (version.major, version.minor)[: len(self.prefix)] == self.prefix

    def best(self, candidates: Iterable[Version]) -> Version | None:
        matching = [v for v in candidates if self.matches(v)]
        return max(matching) if matching else None

    def __str__(self) -> str:
        if self.kind == "exact":
            return str(self.version)
        if self.kind == "latest":
            return "latest"
        return ".".join(str(p) for p in self.prefix)


class Flavored:
    """A flavor's build of one release: `tamago@1.25.5` (installed beside go1.25.5, never instead of it)."""

    __slots__ = ("flavor", "version")

    def __init__(self, flavor: str, version: Version) -> None:
        self.flavor, self.version = flavor, version

    @classmethod
    def parse(cls, text: str) -> Flavored:
        flavor, at, version = text.strip().partition("@")
        if not at or not flavor or not _is_flavor_name(flavor):
            raise BadVersion(text)
        parsed = Version.parse(version)
        if parsed.patch is None:
            raise BadVersion(text)  # a flavor builds one exact release
        return cls(flavor, parsed)

    def __str__(self) -> str:
        return f"{self.flavor}@{self.version}"

    def __repr__(self) -> str:
        return f"Flavored({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Flavored) and (other.flavor, other.version) == (self.flavor, self.version)

    def __hash__(self) -> int:
        return hash((self.flavor, self.version))

    def __lt__(self, other: Flavored) -> bool:
        return (self.flavor, self.version.key) < (other.flavor, other.version.key)


_FLAVOR_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def _is_flavor_name(name: str) -> bool:
    """Flavor names become directory names: lower-case letters, digits, '-' and '_' only."""
    return bool(name) and set(name) <= _FLAVOR_CHARS and name[0] not in "-_"


def is_flavored(text: str) -> bool:
    return "@" in text
