"""What a built binary is and how it is hardened: ELF facts (through pyelftools) and Go's build info.

`describe(path)` reports the format, architecture, linking (static or dynamic, interpreter), PIE,
RELRO, NX stack, BIND_NOW, writable-and-executable segments, whether symbols were stripped, the Go
build ID, and what `go version -m` says (Go version, main module, VCS revision, CGO_ENABLED, the
GOARCH level, -trimpath, -ldflags). Facts that do not apply to a format (a WebAssembly module has no
ELF segments) are None, not guesses. `missing(report, level, cgo)` is what a hardening level
promises that a binary lacks.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from gxc.ground.errors import GxcError, UsageError, public_path

HARDENING_LEVELS = ("default", "strict", "off")
LEVEL_ENV = ("GOAMD64", "GOARM64", "GORISCV64", "GOARM", "GO386", "GOMIPS", "GOMIPS64", "GOPPC64", "GOWASM")
_MACHINES = {"EM_X86_64": "x86-64", "EM_AARCH64": "aarch64", "EM_ARM": "arm", "EM_386": "i386",
             "EM_MIPS": "mips", "EM_PPC64": "ppc64", "EM_S390": "s390x", "EM_LOONGARCH": "loong64"}
_WASM_MAGIC = b"\0asm"


@dataclass
class Report:
    path: str
    format: str  # "ELF 64-bit LSB", "WebAssembly", ...
    arch: str
    linking: str | None = None  # "static" or "dynamic"
    interpreter: str | None = None
    pie: bool | None = None
    relro: str | None = None  # "none", "partial", "full"
    nx_stack: bool | None = None
    bind_now: bool | None = None
    wx_segments: bool | None = None  # a segment both writable and executable
    stripped: bool | None = None
    go_build_id: str | None = None
    go: dict[str, Any] = field(default_factory=dict)  # from `go version -m`

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _machine(header: Any) -> str:
    machine = str(header["e_machine"])
    if machine == "EM_RISCV":
        return "riscv64" if header["e_ident"]["EI_CLASS"] == "ELFCLASS64" else "riscv32"
    return _MACHINES.get(machine, machine.removeprefix("EM_").lower())


def _dynamic_flags(elf: Any) -> tuple[bool, bool]:
    """(BIND_NOW, PIE flag) from the dynamic section: DT_BIND_NOW, DF_BIND_NOW, DF_1_NOW, DF_1_PIE."""
    section = elf.get_section_by_name(".dynamic")
    bind_now = pie = False
    if section is None:
        return bind_now, pie
    for tag in section.iter_tags():
        kind = tag.entry.d_tag
        if kind == "DT_BIND_NOW" or (kind == "DT_FLAGS" and tag.entry.d_val & 0x8):
            bind_now = True
        elif kind == "DT_FLAGS_1":
            bind_now = bind_now or bool(tag.entry.d_val & 0x1)
            pie = bool(tag.entry.d_val & 0x08000000)
    return bind_now, pie


def _interpreter(segment: Any) -> str:
    """The dynamic loader a PT_INTERP segment names (pyelftools makes such segments InterpSegment)."""
    return str(segment.get_interp_name())


def _go_build_id(elf: Any) -> str | None:
    section = elf.get_section_by_name(".note.go.buildid")
    if section is None:
        return None
    data: bytes = section.data()
    # one note: namesz, descsz, type, "Go\0\0", then the build ID
    descsz = int.from_bytes(data[4:8], "little" if elf.little_endian else "big")
    return data[16:16 + descsz].decode("utf-8", "replace")


def _elf_report(path: str) -> Report:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        try:
            elf = ELFFile(f)
            header = elf.header
            segments = list(elf.iter_segments())
            kinds = {s["p_type"] for s in segments}
            interp = next((_interpreter(s) for s in segments if s["p_type"] == "PT_INTERP"), None)
            stack = next((s for s in segments if s["p_type"] == "PT_GNU_STACK"), None)
            bind_now, pie_flag = _dynamic_flags(elf)
            relro = "none" if "PT_GNU_RELRO" not in kinds else "full" if bind_now else "partial"
            bits = "64" if header["e_ident"]["EI_CLASS"] == "ELFCLASS64" else "32"
            endian = "LSB" if elf.little_endian else "MSB"
            return Report(
                path=path, format=f"ELF {bits}-bit {endian}", arch=_machine(header),
                linking="dynamic" if "PT_DYNAMIC" in kinds or interp else "static", interpreter=interp,
                pie=header["e_type"] == "ET_DYN" and (interp is not None or pie_flag or "PT_DYNAMIC" in kinds),
                relro=relro, nx_stack=stack is not None and not stack["p_flags"] & 0x1, bind_now=bind_now,
                wx_segments=any(s["p_type"] == "PT_LOAD" and s["p_flags"] & 0x3 == 0x3 for s in segments),
                stripped=elf.get_section_by_name(".symtab") is None, go_build_id=_go_build_id(elf))
        except ELFError as e:
            raise GxcError(f"{public_path(path)} is not an ELF file pyelftools can read: {e}",
                           "pass a Go binary") from None


_BUILDINFO_MAGIC = b"\xff Go buildinf:"
_BUILDINFO_HEADER = 32
_INLINE_STRINGS = 0x2  # Go 1.18 and newer put the version and module strings right after the header
_MAX_STAMP = 1 << 20


def _uvarint_string(data: bytes, pos: int) -> tuple[str, int]:
    length = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            end = pos + min(length, _MAX_STAMP)
            return data[pos:end].decode("utf-8", "replace"), end
        shift += 7
    return "", pos


def stamped_settings(path: str) -> dict[str, str]:
    """The `build` settings Go stamped into a binary (vcs.revision, vcs.modified, ...), read from its bytes
    as debug/buildinfo reads them: no program runs. {} for a binary without an inline stamp."""
    import mmap

    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            at = data.find(_BUILDINFO_MAGIC)
            while at >= 0 and at % 16:
                at = data.find(_BUILDINFO_MAGIC, at + 1)
            if at < 0 or not data[at + 15] & _INLINE_STRINGS:
                return {}
            window = data[at + _BUILDINFO_HEADER: at + _BUILDINFO_HEADER + 2 * _MAX_STAMP]
    except (OSError, ValueError):
        return {}
    _version, pos = _uvarint_string(window, 0)
    modinfo, _ = _uvarint_string(window, pos)
    if len(modinfo) < 33 or modinfo[-17] != "\n":
        return {}
    settings = {}
    for line in modinfo[16:-16].splitlines():
        kind, _, rest = line.partition("\t")
        if kind == "build":
            key, _, value = rest.partition("=")
            settings[key] = value.strip('"')
    return settings


def go_build_info(path: str, go: str) -> dict[str, Any]:
    """`go version -m FILE`, parsed: version, path, main module and version, and every build setting."""
    from gxc.ground import launch

    proc = launch.run([go, "version", "-m", path], launch.helper_env({"GOTOOLCHAIN": "local", "GOENV": "off"}),
                      capture_output=True, text=True)
    lines = proc.stdout.splitlines()
    version = lines[0].rpartition(": ")[2] if lines else ""
    if proc.returncode != 0 or not version.startswith("go"):  # older go commands exit 0 on formats they cannot read
        return {}
    info: dict[str, Any] = {"version": version, "settings": {}}
    for line in lines[1:]:
        parts = line.strip().split("\t")
        if parts[0] == "path" and len(parts) > 1:
            info["path"] = parts[1]
        elif parts[0] == "mod" and len(parts) > 2:
            info["main_module"] = {"path": parts[1], "version": parts[2]}
        elif parts[0] == "build" and len(parts) > 1:
            key, _, value = parts[1].partition("=")
            info["settings"][key] = value.strip('"')
    settings = info["settings"]
    info["cgo"] = settings.get("CGO_ENABLED")
    info["goarch_level"] = next((f"{k}={settings[k]}" for k in LEVEL_ENV if k in settings), None)
    info["trimpath"] = settings.get("-trimpath") == "true"
    info["ldflags"] = settings.get("-ldflags", "")
    info["vcs_revision"] = settings.get("vcs.revision")
    return info


def describe(path: str, go: str | None) -> Report:
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise UsageError(f"cannot read {public_path(path)}: {e.strerror}", "pass a binary that exists") from None
    if magic == b"\x7fELF":
        report = _elf_report(path)
    elif magic == _WASM_MAGIC:
        report = Report(path=path, format="WebAssembly", arch="wasm")
    else:
        raise UsageError(f"{public_path(path)} is neither an ELF binary nor a WebAssembly module",
                         "gxc inspect reads the binaries Go builds for Linux, bare metal and wasm")
    if go:
        report.go = go_build_info(path, go)
    return report


def missing(report: Report, level: str, cgo: bool) -> list[str]:
    """What `level` promises that the binary lacks ([] when it has all; nothing applies to WebAssembly)."""
    if level == "off" or report.format == "WebAssembly":
        return []
    lacks = [] if report.nx_stack else ["NX stack"]
    if report.wx_segments:
        lacks.append("no writable and executable segment")
    if level == "strict":
        if cgo:
            lacks += [what for what, ok in (("PIE", report.pie), ("full RELRO", report.relro == "full"),
                                            ("BIND_NOW", report.bind_now)) if not ok]
        elif report.linking != "static":
            lacks.append("static linking")
    return lacks


def strict_flags(cgo: bool, goos: str) -> list[str]:
    """What strict hardening adds to `go build` for a port: for cgo, PIE and an externally linked, fully
    read-only-after-relocation binary with a non-executable stack; static ports already get what Go's
    linker gives (no interpreter, NX stack, no writable and executable segment)."""
    if not cgo or goos != "linux":
        return []
    return ["-buildmode=pie", "-ldflags=-linkmode=external -extldflags '-Wl,-z,relro,-z,now -Wl,-z,noexecstack'"]


_LDFLAGS = re.compile(r"^-ldflags=")


def merge_ldflags(flags: list[str]) -> list[str]:
    """`go build` keeps only the last -ldflags: join every -ldflags value into one, in order."""
    values = [f.split("=", 1)[1] for f in flags if _LDFLAGS.match(f)]
    if len(values) < 2:
        return flags
    others = [f for f in flags if not _LDFLAGS.match(f)]
    return [*others, "-ldflags=" + " ".join(values)]
