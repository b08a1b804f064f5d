"""Small builders for synthetic archives and Go programs used across tests."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

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
