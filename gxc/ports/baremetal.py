"""Booting bare-metal ELFs under QEMU: the boot runner, the ELF's entry point and the RISC-V BIOS trampoline.

QEMU's sifive_u machine starts at 0x80000000, where its firmware (`-bios`) sits; a TamaGo program
is linked at 0x80010000 with an entry point that differs per build. The trampoline is three
instructions at 0x80000000 that jump to that entry (auipc/addi/jalr, PC-relative, so the entry's
high bit needs no sign games): written once per entry address and kept in the cache. ARM boots
the ELF's entry directly and needs none of this.

The exec wrapper of a bare-metal port (`go_tamago_<arch>_exec`, which `go test` and `gxc run` start)
runs this module (`python -I -S`) as the boot runner: it writes the program's arguments into the
slot gxc.ports.boardsupport linked into it (in a copy: the build is left as it is), makes the
trampoline when the runner names `{bios}`, boots QEMU in the foreground, stops it after
GXC_BOOT_TIMEOUT seconds with a line that names the package, and exits with the program's code
(isa-debug-exit's 2*code+1 decoded). Standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

from gxc.ground import launch

SIFIVE_U_BIOS_BASE = 0x80000000
EM_RISCV = 243
_T0 = 5  # the t0 register


def elf_entry(path: str) -> tuple[int, int]:
    """(e_machine, e_entry) of an ELF file; a clear error for anything else."""
    with open(path, "rb") as f:
        header = f.read(64)
    if len(header) < 52 or header[:4] != b"\x7fELF":
        raise ValueError(f"{path} is not an ELF file")
    is64, little = header[4] == 2, header[5] == 1
    order = "<" if little else ">"
    machine = struct.unpack_from(order + "H", header, 18)[0]
    entry = struct.unpack_from(order + ("Q" if is64 else "I"), header, 24)[0]
    return machine, entry


def riscv_trampoline(entry: int, base: int = SIFIVE_U_BIOS_BASE) -> bytes:
    """auipc t0, hi; addi t0, t0, lo; jr t0: jump from `base` to `entry` (within +-2 GiB)."""
    offset = entry - base
    if not -(1 << 31) <= offset < (1 << 31):
        raise ValueError(f"entry {entry:#x} is too far from {base:#x} for a PC-relative jump")
    hi = ((offset + 0x800) >> 12) & 0xFFFFF
    lo = offset - (((offset + 0x800) >> 12) << 12)
    auipc = (hi << 12) | (_T0 << 7) | 0x17
    addi = ((lo & 0xFFF) << 20) | (_T0 << 15) | (_T0 << 7) | 0x13
    jalr = (_T0 << 15) | 0x67
    return struct.pack("<III", auipc, addi, jalr)


def bios_for(binary: str, cache_dir: str) -> str:
    """The trampoline for this binary's entry point, written once per entry under `cache_dir`."""
    machine, entry = elf_entry(binary)
    if machine != EM_RISCV:
        raise ValueError(f"{binary} is not a RISC-V ELF (e_machine {machine})")
    path = os.path.join(cache_dir, f"sifive_u-bios-{entry:x}.bin")
    if not os.path.exists(path):
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(riscv_trampoline(entry))
        os.replace(tmp, path)
    return path


# The slot's layout; gxc.ports.boardsupport writes the Go side with the same values.
ARGS_MARKER = b"gxc-args-slot:5e7b1c9d04a3f6"
ARGS_SLOT_SIZE = 4096
EXIT_TIMEOUT = 124  # as timeout(1) reports it
_PR_SET_PDEATHSIG = 1  # prctl(2)


class BootError(Exception):
    """What stops a boot before QEMU runs, or what it did that is not the program's exit code."""


def argument_payload(args: list[str]) -> bytes:
    """The slot's contents after the marker: a little-endian uint32 count, each argument NUL-terminated."""
    encoded = [a.encode("utf-8", "surrogateescape") for a in args]
    if any(b"\0" in a for a in encoded):
        raise BootError("an argument holds a NUL byte, which a bare-metal program cannot be handed")
    payload = struct.pack("<I", len(encoded)) + b"".join(a + b"\0" for a in encoded)
    room = ARGS_SLOT_SIZE - len(ARGS_MARKER)
    if len(payload) > room:
        raise BootError(f"the arguments take {len(payload)} bytes; a bare-metal program takes at most {room}")
    return payload


def with_arguments(binary: str, args: list[str], directory: str) -> str:
    """A copy of `binary` in `directory` whose argument slot holds `args`; `binary` itself when it has no slot."""
    with open(binary, "rb") as f:
        image = bytearray(f.read())
    at = image.find(ARGS_MARKER)
    if at < 0:
        return binary
    if image.find(ARGS_MARKER, at + 1) >= 0:
        raise BootError(f"{binary} holds two argument slots")
    payload = argument_payload(args)
    start = at + len(ARGS_MARKER)
    image[start:start + len(payload)] = payload
    copy = os.path.join(directory, os.path.basename(binary))
    with open(copy, "wb") as f:
        f.write(image)
    return copy


def exit_code(status: int, exit_kind: str) -> int | None:
    """The program's exit code from QEMU's status; None when QEMU ended without the program saying one."""
    if exit_kind != "isa-debug-exit":
        return status
    if status > 0 and status % 2 == 1:
        return status >> 1
    return None


def _die_with_parent() -> None:
    """In QEMU before exec: killed when the runner dies (go test kills the runner, not its children)."""
    import ctypes

    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _command(spec: dict[str, object], binary: str, cache: str) -> list[str]:
    command = [str(a) for a in spec["command"]]  # type: ignore[attr-defined]
    bios = bios_for(binary, cache) if any("{bios}" in a for a in command) else ""
    return [a.replace("{bin}", binary).replace("{bios}", bios) for a in command]


def _stopped_line(spec: dict[str, object], binary: str, seconds: float) -> str:
    what = (f"the tests in {os.getcwd()} ({os.path.basename(binary)})" if binary.endswith(".test")
            else f"{os.path.basename(binary)}")
    return (f"gxc: error: {what} did not finish within {seconds:g} s on {spec['port']}; stopped QEMU "
            "(hint: raise it with --boot-timeout, or look for a test that waits forever)\n")


def boot(spec: dict[str, object], binary: str, args: list[str]) -> int:
    """Boot one program and wait for it; the program's exit code, or EXIT_TIMEOUT when it was stopped."""
    limit = float(os.environ.get("GXC_BOOT_TIMEOUT") or 0)
    with tempfile.TemporaryDirectory(prefix="gxc-boot-") as tmp:
        image = with_arguments(binary, [os.path.basename(binary), *args], tmp)
        command = _command(spec, image, str(spec["bios_cache"]))
        if shutil.which(command[0]) is None:
            raise BootError(f"{command[0]} is not installed (apt install {spec.get('package') or 'qemu-system'})")
        started = time.monotonic()
        proc = launch.popen(command, launch.user_env(os.environ), preexec_fn=_die_with_parent)
        try:
            status = proc.wait(timeout=limit or None)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            sys.stdout.flush()
            sys.stderr.write(_stopped_line(spec, binary, limit))
            return EXIT_TIMEOUT
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    code = exit_code(status, str(spec.get("exit", "")))
    if code is None:
        sys.stderr.write(f"gxc: error: QEMU for {spec['port']} ended (status {status}) after "
                         f"{time.monotonic() - started:.1f} s before the program reported an exit code "
                         "(hint: the board may have faulted; see its output above)\n")
        return 1
    return code


def main() -> None:
    """argv: [-c, package dir, spec file, binary, program args...]: boot the binary as the spec says."""
    try:
        with open(sys.argv[2], encoding="utf-8") as f:
            spec = json.load(f)
        sys.exit(boot(spec, sys.argv[3], sys.argv[4:]))
    except (OSError, ValueError, BootError) as e:
        sys.stderr.write(f"gxc: error: cannot boot {sys.argv[3] if len(sys.argv) > 3 else 'the program'}: {e}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
