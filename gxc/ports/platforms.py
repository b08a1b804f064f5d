"""Platform ports: load, merge, validate; and what a port adds to a build (DESIGN.md section 7).

A port is a TOML table. Sources, later ones shadowing earlier: every GOOS/GOARCH pair of the
selected toolchain (`go tool dist list -json`, as `linux/riscv64` and `linux-riscv64`), the built-in
files in `platforms/`, the user's in `$XDG_CONFIG_HOME/gxc/platforms/`, and a project's
`[platforms.NAME]` tables in toolchains.toml. `inherits` merges parents left to right, then the
port itself: scalars replace, lists append without duplicates, tables merge key by key,
`runner.candidates` is replaced whole. A merged port is a `Port`; `problems()` says why a toolchain
cannot build or run it.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
from dataclasses import dataclass, field
from typing import Any

from gxc.ground import paths, tomlfile
from gxc.ground.errors import GxcError, PinFileError, UsageError, shown
from gxc.ground.fsutil import atomic_write
from gxc.ground.versions import Version
from gxc.ports.binaryinfo import HARDENING_LEVELS, merge_ldflags, strict_flags
from gxc.project import pins

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # gxc/
_BUILTIN_CANDIDATES = (
    os.path.join(_PACKAGE, "_builtin_ports"),  # installed wheel
    os.path.join(os.path.dirname(_PACKAGE), "platforms"),  # source checkout
)
DIST_ORIGIN = "go tool dist list"  # the origin of ports that are only a GOOS/GOARCH pair
RUNNERS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runners")

SCHEMA: dict[str, Any] = {
    "name": str, "aliases": list, "description": str, "inherits": list, "goos": str, "goarch": str,
    "min_go": str, "flavor": str,
    "vars": dict, "env": dict,
    "build": {"tags": list, "flags": list, "gcflags": list, "ldflags": list, "hardening": str},
    "cgo": {"cc": str, "sysroot": str, "debian_package": str},
    "runner": {"candidates": list, "env": dict, "debian_package": str, "timeout": int},
    "board": {"package": str, "exit": str},
}
# How a bare-metal program tells its emulator it is done (gxc.ports.boardsupport writes the code for each):
# semihosting SYS_EXIT (riscv64) / SYS_EXIT_EXTENDED (arm), or QEMU's isa-debug-exit I/O port (amd64).
BOARD_EXITS = ("semihosting", "isa-debug-exit")
NOT_INHERITED = ("name", "aliases", "inherits", "description")


@dataclass(frozen=True)
class VarRule:
    goarch: tuple[str, ...]
    since: str
    values: tuple[str, ...]
    allow_list: bool = False  # comma-separated values (GOWASM, GOARM64 features)


# Each GO* architecture variable: the architectures it applies to, the Go release that introduced it
# (or its current value set), and its allowed values (go help environment).
VARS: dict[str, VarRule] = {
    "GOARM": VarRule(("arm",), "1.1", ("5", "6", "7", "5,softfloat", "6,softfloat", "7,softfloat",
                                        "5,hardfloat", "6,hardfloat", "7,hardfloat")),
    "GOAMD64": VarRule(("amd64",), "1.18", ("v1", "v2", "v3", "v4")),
    "GOARM64": VarRule(("arm64",), "1.23", (*(f"v{m}.{n}" for m, top in ((8, 9), (9, 5)) for n in range(top + 1)),
                                            "lse", "crypto"), allow_list=True),
    "GORISCV64": VarRule(("riscv64",), "1.23", ("rva20u64", "rva22u64", "rva23u64")),
    "GOMIPS": VarRule(("mips", "mipsle"), "1.10", ("hardfloat", "softfloat")),
    "GOMIPS64": VarRule(("mips64", "mips64le"), "1.11", ("hardfloat", "softfloat")),
    "GOWASM": VarRule(("wasm",), "1.13", ("satconv", "signext"), allow_list=True),
    "GO386": VarRule(("386",), "1.16", ("sse2", "softfloat")),
}
# Newer values of a variable than the variable itself.
VALUE_SINCE = {("GORISCV64", "rva23u64"): "1.25", ("GOARM", "hardfloat"): "1.22", ("GOARM", "softfloat"): "1.22"}


@dataclass(frozen=True)
class Port:
    name: str
    origin: str
    goos: str
    goarch: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    min_go: Version | None = None
    vars: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    gcflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    cc: str = ""
    sysroot: str = ""
    cc_package: str = ""
    runner_candidates: tuple[tuple[str, ...], ...] = ()
    runner_env: dict[str, str] = field(default_factory=dict)
    runner_package: str = ""
    runner_timeout: int = 0  # seconds `gxc run` waits before it stops the program (bare metal may never exit)
    flavor: str = ""  # a toolchain flavor this port builds with (gxc.flavors); "" is the release itself
    hardening: str = "default"  # "default", "strict" or "off" (gxc.binaryinfo says what each promises)
    board: str = ""  # the board package a bare-metal program is linked with when it imports none itself
    board_exit: str = ""  # how that program ends its emulator (BOARD_EXITS)
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def cgo(self) -> bool:
        return self.env.get("CGO_ENABLED") == "1"

    @property
    def is_wasm(self) -> bool:
        return self.goarch == "wasm"

    @property
    def binary_suffix(self) -> str:
        return ".wasm" if self.is_wasm else ".exe" if self.goos == "windows" else ""


class PortError(PinFileError):
    """A port file that does not fit the schema: file, line, column and key."""

    def __init__(self, path: str, line: int, col: int, message: str) -> None:
        super().__init__(path, line, col, message)
        self.hint = "fix the port file and try again"


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")


def name_problem(name: str) -> str:
    """Why a port name cannot name a port (it becomes a file name and a shim name); '' when it can."""
    if not name or not set(name) <= _NAME_CHARS or name[0] in ".-" or ".." in name:
        return (f"{shown(name)} is not a port name (letters, digits, '.', '_', '+', '-'; "
                "no path separators, not starting with '.' or '-')")
    return ""


def _fail(origin: str, text: str, key: str, table: str, message: str) -> PortError:
    line, col = tomlfile.locate(text, key, table) if text else (1, 1)
    return PortError(origin, line, col, message)


def _check_value(origin: str, text: str, table: str, key: str, value: Any, expected: Any) -> None:
    where = f"{table}.{key}" if table else key
    if isinstance(expected, dict):
        if not isinstance(value, dict):
            raise _fail(origin, text, key, table, f"{where} must be a table")
        for sub, item in value.items():
            inner = f"{table}.{key}".lstrip(".")
            if sub not in expected:
                known = ", ".join(expected)
                raise _fail(origin, text, sub, inner, f"unknown key {shown(sub)} in [{where}] (known: {known})")
            _check_value(origin, text, inner, sub, item, expected[sub])
        return
    if not isinstance(value, expected):
        raise _fail(origin, text, key, table, f"{where} must be a {expected.__name__}")
    if expected is list and key != "candidates" and not all(isinstance(v, str) for v in value):
        raise _fail(origin, text, key, table, f"{where} must be a list of strings")
    if expected is dict and not all(isinstance(v, str) for v in value.values()):
        raise _fail(origin, text, key, table, f"{where} values must be strings")


def validate(raw: dict[str, Any], origin: str, text: str = "", table: str = "") -> None:
    """Check one port file's own keys and values (before merging), naming file, line and key."""
    for key, value in raw.items():
        if key not in SCHEMA:
            raise _fail(origin, text, key, table, f"unknown key {shown(key)} (known: {', '.join(SCHEMA)})")
        _check_value(origin, text, table, key, value, SCHEMA[key])
    candidates = raw.get("runner", {}).get("candidates", [])
    if not all(isinstance(c, list) and c and all(isinstance(a, str) for a in c) for c in candidates):
        raise _fail(origin, text, "candidates", f"{table}.runner".lstrip("."), "runner.candidates must be a list of "
                    "non-empty command lists, like [[\"qemu-riscv64\", \"{bin}\"]]")
    for var, value in raw.get("vars", {}).items():
        rule = VARS.get(var)
        vars_table = f"{table}.vars".lstrip(".")
        if rule is None:
            raise _fail(origin, text, var, vars_table,
                        f"unknown variable {shown(var)} in [vars] (known: {', '.join(VARS)})")
        parts = value.split(",") if rule.allow_list else [value]
        if value not in rule.values and not all(p in rule.values for p in parts):
            raise _fail(origin, text, var, vars_table,
                        f"{var} = {shown(value)} is not allowed (allowed: {', '.join(rule.values[:8])})")
    hardening = raw.get("build", {}).get("hardening")
    if hardening is not None and hardening not in HARDENING_LEVELS:
        raise _fail(origin, text, "hardening", f"{table}.build".lstrip("."),
                    f"build.hardening = {shown(hardening)} is not a level (levels: {', '.join(HARDENING_LEVELS)})")
    board_exit = raw.get("board", {}).get("exit")
    if board_exit is not None and board_exit not in BOARD_EXITS:
        raise _fail(origin, text, "exit", f"{table}.board".lstrip("."),
                    f"board.exit = {shown(board_exit)} is not a way out (known: {', '.join(BOARD_EXITS)})")
    if "min_go" in raw:
        try:
            Version.parse(raw["min_go"])
        except GxcError:
            raise _fail(origin, text, "min_go", table, f"min_go {shown(raw['min_go'])} is not a Go version") from None


def canonical_order(raw: dict[str, Any], schema: dict[str, Any] = SCHEMA) -> dict[str, Any]:
    """The port's keys in schema order (tables last, as TOML needs), for `gxc platform show`."""
    ordered = {k: raw[k] for k in schema if k in raw and not isinstance(raw[k], dict)}
    for key, inner in schema.items():
        if isinstance(raw.get(key), dict):
            ordered[key] = canonical_order(raw[key], inner) if isinstance(inner, dict) else raw[key]
    return ordered


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in child.items():
        old = merged.get(key)
        if key == "candidates":
            merged[key] = value
        elif isinstance(value, dict) and isinstance(old, dict):
            merged[key] = _merge(old, value)
        elif isinstance(value, list) and isinstance(old, list):
            merged[key] = old + [v for v in value if v not in old]
        else:
            merged[key] = value
    return merged


def _to_port(raw: dict[str, Any], origin: str) -> Port:
    build, cgo, runner = raw.get("build", {}), raw.get("cgo", {}), raw.get("runner", {})
    board = raw.get("board", {})
    if not raw.get("goos") or not raw.get("goarch"):
        raise UsageError(f"{origin}: port {shown(raw.get('name'))} has no goos/goarch (set them or inherit a port)",
                         "add goos and goarch, or inherits = [\"riscv64-unknown-elf\"]")
    if board.get("package") and not board.get("exit"):
        raise UsageError(f"{origin}: port {shown(raw.get('name'))} names a board but not how its programs exit",
                         f"add exit = \"semihosting\" (or one of: {', '.join(BOARD_EXITS)}) to its [board] table")
    return Port(
        name=raw["name"], origin=origin, goos=raw["goos"], goarch=raw["goarch"],
        aliases=tuple(raw.get("aliases", [])), description=raw.get("description", ""),
        min_go=Version.parse(raw["min_go"]) if raw.get("min_go") else None,
        vars=dict(raw.get("vars", {})), env=dict(raw.get("env", {})),
        tags=tuple(build.get("tags", [])), flags=tuple(build.get("flags", [])),
        gcflags=tuple(build.get("gcflags", [])), ldflags=tuple(build.get("ldflags", [])),
        cc=cgo.get("cc", ""), sysroot=cgo.get("sysroot", ""), cc_package=cgo.get("debian_package", ""),
        runner_candidates=tuple(tuple(c) for c in runner.get("candidates", [])),
        runner_env=dict(runner.get("env", {})), runner_package=runner.get("debian_package", ""),
        runner_timeout=int(runner.get("timeout", 0)), flavor=raw.get("flavor", ""),
        hardening=build.get("hardening", "default"), board=board.get("package", ""),
        board_exit=board.get("exit", ""), raw=raw,
    )


@dataclass
class _Source:
    raw: dict[str, Any]
    origin: str


def builtin_dir() -> str:
    for candidate in _BUILTIN_CANDIDATES:
        if os.path.isdir(candidate):
            return candidate
    return _BUILTIN_CANDIDATES[-1]


def read_port_file(path: str) -> tuple[dict[str, Any], str]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    raw = tomlfile.parse_toml(path, text)
    validate(raw, path, text)
    if not raw.get("name"):
        raise PortError(path, 1, 1, "a port needs a name")
    for name in (raw["name"], *raw.get("aliases", [])):
        problem = name_problem(name)
        if problem:
            line, col = tomlfile.locate(text, "name" if name == raw["name"] else "aliases")
            raise PortError(path, line, col, problem)
    return raw, text


def _dir_sources(directory: str) -> list[_Source]:
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".toml"))
    except FileNotFoundError:
        return []
    return [_Source(read_port_file(os.path.join(directory, n))[0], os.path.join(directory, n)) for n in names]


def builtin_and_user_names() -> list[str]:
    return [s.raw["name"] for s in _dir_sources(builtin_dir()) + _dir_sources(paths.user_platforms_dir())]


def _project_sources(project: pins.PinInfo | None) -> list[_Source]:
    if project is None or not project.project:
        return []
    tables = project.project.get("platforms", {})
    text = tomlfile.read_text(project.path)
    sources = []
    for name, raw in tables.items():
        if not isinstance(raw, dict):
            raise _fail(project.path, text, name, "platforms", f"platforms.{name} must be a table")
        validate(raw, project.path, text, f"platforms.{name}")
        if name_problem(name):
            raise _fail(project.path, text, "", f"platforms.{name}", name_problem(name))
        sources.append(_Source({**raw, "name": name}, project.path))
    return sources


def dist_list(goroot: str, version: str) -> list[dict[str, Any]]:
    """`go tool dist list -json` of a toolchain, cached in its work dir (the tree never changes)."""
    cache = os.path.join(paths.work_dir(version), "dist-list.json")
    try:
        with open(cache, encoding="utf-8") as f:
            cached: list[dict[str, Any]] = json.load(f)
            return cached
    except (OSError, ValueError):
        pass
    from gxc.ground import launch

    env = launch.helper_env({"GOROOT": goroot, "GOTOOLCHAIN": "local", "GOENV": "off", "GOFLAGS": ""})
    out = launch.run([os.path.join(goroot, "bin", "go"), "tool", "dist", "list", "-json"], env,
                     capture_output=True, text=True, check=True).stdout
    pairs: list[dict[str, Any]] = json.loads(out)
    atomic_write(cache, json.dumps(pairs))
    return pairs


# Runners for the ports that `go tool dist list` alone provides.
_PAIR_RUNNERS = {
    ("linux", "riscv64"): "qemu-riscv64", ("linux", "arm"): "qemu-arm", ("linux", "arm64"): "qemu-aarch64",
    ("linux", "mipsle"): "qemu-mipsel", ("linux", "mips"): "qemu-mips", ("linux", "mips64"): "qemu-mips64",
    ("linux", "mips64le"): "qemu-mips64el", ("linux", "ppc64le"): "qemu-ppc64le", ("linux", "ppc64"): "qemu-ppc64",
    ("linux", "s390x"): "qemu-s390x", ("linux", "386"): "qemu-i386", ("linux", "loong64"): "qemu-loongarch64",
}


def _pair_source(goos: str, goarch: str, name: str) -> _Source:
    raw: dict[str, Any] = {"name": name, "goos": goos, "goarch": goarch,
                           "description": f"{goos}/{goarch} as the toolchain knows it"}
    qemu = _PAIR_RUNNERS.get((goos, goarch))
    if qemu:
        raw["runner"] = {"candidates": [[qemu, "{bin}"]], "debian_package": "qemu-user"}
    elif (goos, goarch) == ("js", "wasm"):
        raw["runner"] = {"candidates": [["node", "{wasm_dir}/wasm_exec_node.js", "{bin}"]], "debian_package": "nodejs"}
    elif (goos, goarch) == ("wasip1", "wasm"):
        raw["runner"] = {"candidates": [["node", "--no-warnings", "{gxc_runners}/wasi.mjs", "{bin}"]],
                         "debian_package": "nodejs"}
    return _Source(raw, DIST_ORIGIN)


class Registry:
    """Every port visible here, by name and alias, merged on demand."""

    def __init__(self, sources: list[_Source], pairs: list[dict[str, Any]]) -> None:
        self.sources: dict[str, _Source] = {}
        self.aliases: dict[str, str] = {}
        self.shadowed: dict[str, str] = {}  # port name -> the origin of the port it replaces
        self.pairs = {(p["GOOS"], p["GOARCH"]) for p in pairs}
        for pair in sorted(self.pairs):
            for name in (f"{pair[0]}/{pair[1]}", f"{pair[0]}-{pair[1]}"):
                self.sources[name] = _pair_source(pair[0], pair[1], name)
        for source in sources:  # later sources shadow earlier ones
            previous = self.sources.get(source.raw["name"])
            if previous is not None and previous.origin != DIST_ORIGIN:
                self.shadowed[source.raw["name"]] = previous.origin
            self.sources[source.raw["name"]] = source
            for alias in source.raw.get("aliases", []):
                self.aliases[alias] = source.raw["name"]

    def names(self, include_pairs: bool = True) -> list[str]:
        return sorted(n for n, s in self.sources.items() if include_pairs or s.origin != DIST_ORIGIN)

    def origin_of(self, name: str) -> str | None:
        """Where the port a name or alias refers to comes from, or None when no port has it."""
        source = self.sources.get(self.aliases.get(name, name))
        return source.origin if source else None

    def _raw(self, name: str, chain: tuple[str, ...]) -> dict[str, Any]:
        if name in chain:
            raise UsageError(f"port {shown(name)} inherits itself ({' -> '.join((*chain, name))})", "break the cycle")
        source = self.sources[self.aliases.get(name, name)] if self.known(name) else None
        if source is None:
            raise self.unknown(name)
        merged: dict[str, Any] = {}
        for parent in source.raw.get("inherits", []):
            parent_raw = {k: v for k, v in self._raw(parent, (*chain, name)).items() if k not in NOT_INHERITED}
            merged = _merge(merged, parent_raw)
        return _merge(merged, source.raw)

    def known(self, name: str) -> bool:
        return name in self.sources or name in self.aliases

    def unknown(self, name: str) -> UsageError:
        close = difflib.get_close_matches(name, list(self.sources) + list(self.aliases), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        return UsageError(f"unknown port {shown(name)}", f"{hint}`gxc platform list` shows every port")

    def get(self, name: str) -> Port:
        canonical = self.aliases.get(name, name)
        if canonical not in self.sources:
            raise self.unknown(name)
        return _to_port(self._raw(canonical, ()), self.sources[canonical].origin)


def registry_for(goroot: str | None, version: str | None, project: pins.PinInfo | None) -> Registry:
    pairs = dist_list(goroot, version) if goroot and version and os.path.isdir(goroot) else []
    sources = _dir_sources(builtin_dir()) + _dir_sources(paths.user_platforms_dir()) + _project_sources(project)
    return Registry(sources, pairs)


def registry(toolchain: Any) -> Registry:
    """The registry as seen by a resolved toolchain (gxc.resolve.Resolved)."""
    return registry_for(toolchain.root, toolchain.ident, toolchain.selection.project)


# What a port adds to a build.

def wasm_dir(goroot: str) -> str:
    """Where the toolchain keeps wasm_exec*.js: lib/wasm since Go 1.24, misc/wasm before."""
    new = os.path.join(goroot, "lib", "wasm")
    return new if os.path.isdir(new) else os.path.join(goroot, "misc", "wasm")


def expand(template: str, port: Port, goroot: str, binary: str = "{bin}") -> str:
    """Fill a runner argument; `{bin}` and `{bios}` stay for the exec wrapper, which knows the binary."""
    return (template.replace("{goroot}", goroot).replace("{wasm_dir}", wasm_dir(goroot))
            .replace("{sysroot}", port.sysroot).replace("{gxc_runners}", RUNNERS_DIR).replace("{bin}", binary))


def port_env(port: Port, toolchain: Any) -> dict[str, str]:
    env = {"GOOS": port.goos, "GOARCH": port.goarch, **port.vars, **port.env}
    env.setdefault("CGO_ENABLED", "0")
    if port.cgo and port.cc:
        env["CC"] = port.cc
    return {k: expand(v, port, toolchain.root) for k, v in env.items()}


def build_flags(port: Port, reproducible: bool = False) -> list[str]:
    flags = list(port.flags)
    if reproducible:
        flags += [f for f in ("-trimpath", "-buildvcs=false") if f not in flags]
    if port.tags:
        flags.append("-tags=" + ",".join(port.tags))
    if port.gcflags:
        flags.append("-gcflags=" + " ".join(port.gcflags))
    if port.ldflags:
        flags.append("-ldflags=" + " ".join(port.ldflags))
    if port.hardening == "strict":
        flags += strict_flags(port.cgo, port.goos)
    return merge_ldflags(flags)


def host_pair() -> tuple[str, str]:
    from gxc.sources.index import host_platform

    goos, arch = host_platform()
    return goos, "arm" if arch == "armv6l" else arch


def runner(port: Port, goroot: str) -> list[str] | None:
    """The first runner candidate found on PATH ([] when the port runs natively here), or None."""
    if not port.runner_candidates and (port.goos, port.goarch) == host_pair():
        return []
    for candidate in port.runner_candidates:
        program = expand(candidate[0], port, goroot)
        if shutil.which(program):
            return [expand(arg, port, goroot) for arg in candidate]
    return None


@dataclass(frozen=True)
class Problem:
    """Why a port is unusable here, and what fixes it."""

    message: str
    fix: str = "pick another toolchain with -T, or another port"

    def __str__(self) -> str:
        return f"{self.message} ({self.fix})" if self.fix.startswith("apt-get") else self.message


def _needs(what: str, package: str, otherwise: str) -> Problem:
    return Problem(what, f"apt-get install {package}" if package else otherwise)


def problems(port: Port, version: Version, pairs: set[tuple[str, str]], goroot: str,
             need_runner: bool = False) -> list[Problem]:
    """Why this toolchain cannot build (or, with need_runner, run) this port; empty when it can."""
    found = []
    if port.min_go and version < port.min_go:
        found.append(Problem(f"needs go >= {port.min_go} (selected go{version})"))
    if pairs and (port.goos, port.goarch) not in pairs:
        found.append(Problem(f"{port.goos}/{port.goarch} is unknown to go{version}"))
    for var, value in port.vars.items():
        rule = VARS[var]
        since = max((Version.parse(rule.since), *(Version.parse(s) for (v, val), s in VALUE_SINCE.items()
                                                   if v == var and val in value)))
        if version < since:
            found.append(Problem(f"{var}={value} needs go >= {since} (selected go{version})"))
        if port.goarch not in rule.goarch:
            found.append(Problem(f"{var} applies to {'/'.join(rule.goarch)}, not {port.goarch}",
                                 f"remove {var} from the port"))
    if port.cgo and port.cc and not shutil.which(port.cc):
        found.append(_needs(f"C compiler {port.cc} not found", port.cc_package, "install the C cross compiler"))
    if need_runner and runner(port, goroot) is None:
        found.append(runner_missing(port))
    return found


def runner_missing(port: Port) -> Problem:
    names = ", ".join(c[0] for c in port.runner_candidates) or "none configured"
    return _needs(f"no runner found on PATH ({names})", port.runner_package, "add [runner] candidates to the port")
