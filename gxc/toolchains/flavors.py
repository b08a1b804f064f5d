"""Flavors: named recipes that turn an official Go release into a patched toolchain (DESIGN.md section 9).

A flavor file (`platforms/flavors/NAME.toml` built in, `$XDG_CONFIG_HOME/gxc/flavors/NAME.toml` the
user's) maps base versions to one recipe each: `patches` (each a `path` or `url` with its `sha256`),
applied in order to the release's official source, or `git` (`url`, `ref`, full `commit`) for a
fork. A trusted project may add or replace one version's recipe in its toolchains.toml under
`[flavors.NAME.versions."X.Y.Z"]`; its relative paths are relative to that file. A `Recipe` is what
one build of `NAME@X.Y.Z` needs; `inputs()` is the part of it that keys the build cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from gxc.ground import paths, tomlfile
from gxc.ground.errors import GxcError, PinFileError, UsageError, shown
from gxc.ground.versions import Flavored, Version, _is_flavor_name
from gxc.project import pins

_HEX = frozenset("0123456789abcdef")
FILE_KEYS = {"name", "description", "module", "module_sums", "versions"}
RECIPE_KEYS = {"patches", "git"}
PATCH_KEYS = {"path", "url", "sha256"}
GIT_KEYS = {"url", "ref", "commit"}


class FlavorError(PinFileError):
    """A flavor recipe that does not fit the schema: file, line, column and key."""

    def __init__(self, path: str, line: int, col: int, message: str) -> None:
        super().__init__(path, line, col, message)
        self.hint = "fix the flavor recipe and try again"


@dataclass(frozen=True)
class Patch:
    location: str  # an absolute path or an http(s) URL
    sha256: str

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("http://", "https://"))


@dataclass(frozen=True)
class GitSource:
    url: str
    ref: str
    commit: str


@dataclass(frozen=True)
class Recipe:
    flavor: str
    version: Version
    patches: tuple[Patch, ...]
    git: GitSource | None
    origin: str  # the file the recipe came from

    @property
    def toolchain(self) -> Flavored:
        return Flavored(self.flavor, self.version)

    def inputs(self) -> dict[str, Any]:
        """What the built tree depends on, besides the base source and the bootstrap (the cache key)."""
        if self.git:
            return {"git": {"url": self.git.url, "commit": self.git.commit}}
        return {"patches": [p.sha256 for p in self.patches]}


def builtin_dir() -> str:
    """`flavors/` beside the built-in ports, in a wheel or a checkout."""
    from gxc.ports import platforms

    return os.path.join(platforms.builtin_dir(), "flavors")


def user_dir() -> str:
    return os.path.join(paths.config_dir(), "flavors")


def _fail(path: str, text: str, key: str, table: str, message: str) -> FlavorError:
    line, col = tomlfile.locate(text, key, table) if text else (1, 1)
    return FlavorError(path, line, col, message)


def _check_sha(path: str, text: str, value: object, table: str) -> str:
    if not isinstance(value, str) or len(value) != 64 or not set(value) <= _HEX:
        raise _fail(path, text, "sha256", table, f"sha256 {shown(value)} is not 64 lower-case hex digits")
    return value


def _patch(path: str, text: str, raw: object, table: str, base_dir: str) -> Patch:
    if not isinstance(raw, dict) or set(raw) - PATCH_KEYS or ("path" in raw) == ("url" in raw):
        raise _fail(path, text, "patches", table, "each patch is { path = \"...\", sha256 = \"...\" } or "
                                                  "{ url = \"https://...\", sha256 = \"...\" }")
    sha = _check_sha(path, text, raw.get("sha256"), table)
    if "url" in raw:
        url = raw["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _fail(path, text, "patches", table, f"patch url {shown(url)} is not an http(s) URL")
        return Patch(url, sha)
    location = raw["path"]
    if not isinstance(location, str) or not location:
        raise _fail(path, text, "patches", table, "patch path must be a string")
    return Patch(os.path.normpath(os.path.join(base_dir, os.path.expanduser(location))), sha)


def _git(path: str, text: str, raw: object, table: str) -> GitSource:
    if not isinstance(raw, dict) or set(raw) != GIT_KEYS or not all(isinstance(v, str) and v for v in raw.values()):
        raise _fail(path, text, "git", table, 'git is { url = "...", ref = "...", commit = "<40 hex digits>" }')
    commit = raw["commit"]
    if len(commit) != 40 or not set(commit) <= _HEX:
        raise _fail(path, text, "git", table, f"git commit {shown(commit)} is not a full 40-digit commit hash")
    return GitSource(raw["url"], raw["ref"], commit)


def parse_recipe(flavor: str, version_text: str, raw: object, path: str, text: str, table: str) -> Recipe:
    """One version's recipe; `table` is where it sits in the file (for line numbers)."""
    if not isinstance(raw, dict):
        raise _fail(path, text, "", table, f"[{table}] must be a table")
    unknown = set(raw) - RECIPE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise _fail(path, text, key, table, f"unknown key {shown(key)} in [{table}] (known: git, patches)")
    if ("git" in raw) == ("patches" in raw):
        raise _fail(path, text, "", table, f"[{table}] needs exactly one of git or patches")
    try:
        version = Version.parse(version_text)
    except GxcError:
        raise _fail(path, text, "", table, f"{shown(version_text)} is not a Go version") from None
    if version.patch is None:
        raise _fail(path, text, "", table, f"a flavor recipe names one release, like 1.25.5, not {version_text}")
    base_dir = os.path.dirname(os.path.abspath(path))
    if "git" in raw:
        return Recipe(flavor, version, (), _git(path, text, raw["git"], table), path)
    patches = raw["patches"]
    if not isinstance(patches, list) or not patches:
        raise _fail(path, text, "patches", table, "patches must be a non-empty list")
    return Recipe(flavor, version, tuple(_patch(path, text, p, table, base_dir) for p in patches), None, path)


def _versions_table(flavor: str, raw: dict[str, Any], path: str, text: str, prefix: str) -> dict[str, Recipe]:
    versions = raw.get("versions", {})
    if not isinstance(versions, dict):
        raise _fail(path, text, "versions", prefix, "versions must be a table of recipes")
    recipes = {}
    for version_text, recipe in versions.items():
        table = f'{prefix + "." if prefix else ""}versions."{version_text}"'
        parsed = parse_recipe(flavor, version_text, recipe, path, text, table)
        recipes[str(parsed.version)] = parsed
    return recipes


def read_flavor_file(path: str) -> Flavor:
    """One flavor file: its name, recipes by version, description, module and the module's pinned sums."""
    with open(path, encoding="utf-8-sig") as f:
        text = f.read()
    raw = tomlfile.parse_toml(path, text)
    unknown = set(raw) - FILE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise _fail(path, text, key, "", f"unknown key {shown(key)} (known: {', '.join(sorted(FILE_KEYS))})")
    name = raw.get("name")
    if not isinstance(name, str) or not _is_flavor_name(name):
        raise _fail(path, text, "name", "", f"flavor name {shown(name)} must be lower-case letters, digits, - or _")
    return Flavor(name, str(raw.get("description", "")), _versions_table(name, raw, path, text, ""),
                  str(raw.get("module", "")), _module_sums(path, text, raw.get("module_sums", {})))


def _module_sums(path: str, text: str, raw: object) -> dict[str, tuple[str, str]]:
    """`"v1.25.5" = ["h1:<zip>", "h1:<go.mod>"]`: the go.sum lines gxc adds when it adds the module itself."""
    if not isinstance(raw, dict):
        raise _fail(path, text, "module_sums", "", "module_sums must be a table of versions")
    sums = {}
    for version, pair in raw.items():
        if (not version.startswith("v") or not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(h, str) and h.startswith("h1:") and h.endswith("=") for h in pair)):
            raise _fail(path, text, version, "module_sums",
                        f'module_sums.{version} must be ["h1:<module zip>=", "h1:<go.mod>="] for a v-version')
        sums[version] = (pair[0], pair[1])
    return sums


@dataclass
class Flavor:
    name: str
    description: str
    recipes: dict[str, Recipe]
    module: str = ""  # a Go module whose required version names the flavor's version (TamaGo's board packages)
    module_sums: dict[str, tuple[str, str]] = field(default_factory=dict)  # its go.sum hashes, by version

    def module_sum_lines(self, version: str) -> list[str]:
        """go.sum lines for the module at `version` ("v1.25.5"), from the flavor file; [] when it pins none."""
        pinned = self.module_sums.get(version)
        if not pinned or not self.module:
            return []
        return [f"{self.module} {version} {pinned[0]}", f"{self.module} {version}/go.mod {pinned[1]}"]


def _dir_flavors(directory: str) -> list[Flavor]:
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".toml"))
    except FileNotFoundError:
        return []
    return [read_flavor_file(os.path.join(directory, file_name)) for file_name in names]


def _project_flavors(project: pins.PinInfo | None) -> list[Flavor]:
    if project is None or not project.project or not project.project.get("flavors"):
        return []
    text = tomlfile.read_text(project.path)
    found = []
    for name, raw in project.project["flavors"].items():
        if not isinstance(raw, dict) or set(raw) - {"versions", "description"} or not _is_flavor_name(name):
            raise _fail(project.path, text, "", f"flavors.{name}",
                        f'[flavors.{name}] takes versions."X.Y.Z" recipes (lower-case flavor names)')
        found.append(Flavor(name, str(raw.get("description", "")),
                            _versions_table(name, raw, project.path, text, f"flavors.{name}")))
    return found


def registry(project: pins.PinInfo | None = None) -> dict[str, Flavor]:
    """Built-in, then the user's, then a trusted project's: later ones add or replace versions."""
    merged: dict[str, Flavor] = {}
    for flavor in _dir_flavors(builtin_dir()) + _dir_flavors(user_dir()) + _project_flavors(project):
        known = merged.setdefault(flavor.name, Flavor(flavor.name, flavor.description, {}, flavor.module))
        known.recipes.update(flavor.recipes)
        known.module_sums.update(flavor.module_sums)
        known.description = flavor.description or known.description
        known.module = flavor.module or known.module
    return merged


def recipe(toolchain: Flavored, project: pins.PinInfo | None = None) -> Recipe:
    flavors = registry(project)
    flavor = flavors.get(toolchain.flavor)
    if flavor is None:
        known = ", ".join(sorted(flavors)) or "none"
        raise UsageError(f"unknown flavor {shown(toolchain.flavor)}", f"known flavors: {known}")
    found = flavor.recipes.get(str(toolchain.version))
    if found is None:
        versions = ", ".join(sorted(flavor.recipes, key=lambda v: Version.parse(v).key)) or "none"
        table = f'[flavors.{toolchain.flavor}.versions."{toolchain.version}"]'
        raise UsageError(f"flavor {toolchain.flavor} has no recipe for go{toolchain.version}",
                         f"its versions: {versions}; or add {table} to a trusted toolchains.toml")
    return found


def required_version(module: str, cwd: str) -> Version | None:
    """The version of `module` that the go.mod above `cwd` requires (`v1.25.5` -> 1.25.5), if any."""
    for directory in pins.parents(cwd):
        path = os.path.join(directory, "go.mod")
        if os.path.isfile(path):
            for line in tomlfile.read_text(path).splitlines():
                words = line.split("//", 1)[0].split()
                if words[:1] == ["require"]:
                    words = words[1:]
                if len(words) >= 2 and words[0] == module and words[1].startswith("v"):
                    try:
                        return Version.parse(words[1][1:].split("-", 1)[0])
                    except GxcError:
                        return None
            return None
    return None
