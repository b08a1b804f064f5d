"""Booting bare-metal ELFs under QEMU: the ELF's entry point and the RISC-V BIOS trampoline.

QEMU's sifive_u machine starts at 0x80000000, where its firmware (`-bios`) sits; a TamaGo program
is linked at 0x80010000 with an entry point that differs per build. The trampoline is three
instructions at 0x80000000 that jump to that entry (auipc/addi/jalr, PC-relative, so the entry's
high bit needs no sign games): written once per entry address and kept in the cache. ARM boots
the ELF's entry directly and needs none of this.

The exec wrapper of a port whose runner names `{bios}` runs this module (`python -I -S`) to get the
trampoline's path for the binary it was handed. Standard library only.
"""

from __future__ import annotations

import os
import struct
import sys

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


def main() -> None:
    """argv: [-c, package dir, binary, cache dir]: print the trampoline's path for the exec wrapper."""
    try:
        print(bios_for(sys.argv[2], sys.argv[3]))
    except (OSError, ValueError) as e:
        sys.stderr.write(f"gxc: error: cannot boot {sys.argv[2]}: {e}\n")
        sys.exit(1)
