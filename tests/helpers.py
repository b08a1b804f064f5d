"""Small builders for synthetic archives and Go programs used across tests."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import select
import struct
import subprocess
import sys
import tarfile
import termios
import time
import zipfile
from pathlib import Path
from typing import Any

HELLO = """package main

import (
\t"fmt"
\t"runtime"
)

func main() { fmt.Printf("hello from %s %s/%s\\n", runtime.Version(), runtime.GOOS, runtime.GOARCH) }
"""


def write_hello_module(root: Path, go_line: str = "1.21") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "go.mod").write_text(f"module example.com/hello\n\ngo {go_line}\n")
    (root / "main.go").write_text(HELLO)
    return root


def tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return buf.getvalue()


def file_member(name: str, data: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info, data


def link_member(name: str, target: str, hard: bool = False) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info, None


def zip_bytes(files: dict[str, tuple[bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, (data, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, data)
    return buf.getvalue()


def on_a_terminal(env: dict[str, str], *args: str, cwd: Path | None = None) -> tuple[int, str, bytes]:
    """Run gxc with stderr on a 100x24 pseudo-terminal; return its exit code, stdout and what the terminal showed.

    The terminal is drained while gxc runs: tqdm blocks on a full pty, and draws nothing on a 0x0 one.
    """
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    child = subprocess.Popen([sys.executable, "-m", "gxc", *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                             stderr=secondary, text=True)
    os.close(secondary)
    shown = b""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        elif child.poll() is not None:
            break
    os.close(primary)
    out, _ = child.communicate(timeout=60)
    return child.returncode, out, shown


def receipt_of(home: Path, name: str) -> dict[str, Any]:
    """An installed toolchain's receipt (`go1.22.10`, `tamago@1.25.5`)."""
    data: dict[str, Any] = json.loads((home / "receipts" / f"{name}.json").read_text())
    return data


def object_of(home: Path, receipt: dict[str, Any], rel: str) -> Path:
    """Where the store keeps the object of one file of a receipt's tree."""
    digest = str(receipt["manifest"][rel])
    executable = int(receipt["modes"][rel], 8) & 0o111
    return home / "objects" / digest[:2] / (f"{digest}.x" if executable else digest)


def objects_used(home: Path, receipt: dict[str, Any]) -> set[Path]:
    return {object_of(home, receipt, rel) for rel, d in receipt["manifest"].items() if not d.startswith("symlink:")}


def store_problems(home: Path) -> list[str]:
    """The store's invariant: every file of every installed tree is the very inode of its object."""
    problems = []
    for path in sorted((home / "receipts").glob("*.json")):
        name = path.stem
        tree = home / "toolchains" / name
        if not tree.is_dir():
            continue
        receipt = receipt_of(home, name)
        for rel, digest in receipt["manifest"].items():
            if digest.startswith("symlink:"):
                continue
            obj = object_of(home, receipt, rel)
            if not obj.exists():
                problems.append(f"{name}/{rel}: its object {obj.name} is missing")
            elif (tree / rel).stat().st_ino != obj.stat().st_ino:
                problems.append(f"{name}/{rel}: not a link to its object {obj.name}")
    return problems


def no_process_matches(pattern: str) -> bool:
    """No running process has a command line matching `pattern` (pgrep -f): an emulator was really stopped."""
    left = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return left.stdout == ""
