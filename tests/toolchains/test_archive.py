"""The safe extractor on small synthetic archives: what it refuses and what it keeps."""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest

from gxc.ground.config import Limits
from gxc.ground.errors import ArchiveTooLarge, UnsafeArchive
from gxc.toolchains.archive import StreamingExtract, TruncatedArchive, extract_zip
from tests.helpers import file_member, link_member, tar_gz, zip_bytes


def extract(data: bytes, root: Path, limits: Limits | None = None) -> dict[str, str]:
    stream = StreamingExtract(str(root), limits or Limits())
    try:
        for i in range(0, len(data), 4096):
            stream.feed(data[i:i + 4096])
        return stream.finish().manifest
    finally:
        stream.abort()


def everything_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_strips_top_folder_keeps_exec_bits_and_writes_read_only(tmp_path: Path) -> None:
    data = tar_gz([file_member("go/bin/go", b"#!elf", 0o755), file_member("go/VERSION", b"go1.99.0", 0o664)])
    manifest = extract(data, tmp_path / "root")
    assert sorted(manifest) == ["VERSION", "bin/go"]
    assert stat.S_IMODE(os.stat(tmp_path / "root" / "bin" / "go").st_mode) == 0o555
    assert stat.S_IMODE(os.stat(tmp_path / "root" / "VERSION").st_mode) == 0o444
    assert (tmp_path / "root" / "VERSION").read_bytes() == b"go1.99.0"


# Escapes aim at a canary directory beside the sandbox, never at real system paths: as root, a regression
# would write there. CANARY is replaced by that directory's absolute path.
CANARY = "@CANARY@"
HOSTILE = [
    ([file_member("go/../evil")], 'refusing archive member "go/../evil": path contains \'..\''),
    ([file_member("go/../../canary/evil")], 'refusing archive member "go/../../canary/evil": path contains \'..\''),
    ([file_member(f"{CANARY}/evil")], f'refusing archive member "{CANARY}/evil": absolute path'),
    ([link_member("go/out", CANARY), file_member("go/out/evil")],
     f'refusing archive member "go/out": link to absolute path "{CANARY}"'),
    ([link_member("go/up", "../.."), file_member("go/up/canary/evil")],
     'refusing archive member "go/up": link target "../.." escapes the toolchain root'),
    ([link_member("go/here", "."), file_member("go/here/evil")],
     'refusing archive member "go/here/evil": written through a link'),
    ([link_member("go/passwd", f"{CANARY}/secret", hard=True)],
     f'refusing archive member "go/passwd": hard link to "{CANARY}/secret", outside the toolchain root'),
    # chained links: each passes a lexical check alone, together they leave the root (either order)
    ([link_member("go/a/up", ".."), link_member("go/a/esc", "up/../.."), file_member("go/a/esc/canary/evil")],
     'refusing archive member "go/a/esc": link target "up/../.." escapes the toolchain root through a link'),
    ([link_member("go/a/esc", "up/../.."), link_member("go/a/up", ".."), file_member("go/a/esc/canary/evil")],
     'refusing archive member "go/a/up": link target "up/../.." escapes the toolchain root through a link'),
    ([link_member("go/x", "go/missing", hard=True)],
     'refusing archive member "go/x": hard link to "go/missing", which is not a file extracted before it'),
]


def _aim(members: list[tuple[Any, bytes | None]], canary: Path) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    for info, _ in members:
        info.name = info.name.replace(CANARY, str(canary))
        info.linkname = info.linkname.replace(CANARY, str(canary))
    return members


@pytest.mark.parametrize(("members", "message"), HOSTILE)
def test_hostile_members_are_refused_and_nothing_is_written_outside(tmp_path: Path, members: list[tuple[Any, bytes | None]],
                                                                     message: str) -> None:
    root = tmp_path / "sandbox" / "root"
    root.mkdir(parents=True)
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "secret").write_text("secret")
    neighbours = sorted(p.name for p in tmp_path.parent.iterdir())
    with pytest.raises(UnsafeArchive) as caught:
        extract(tar_gz(_aim(members, canary)), root)
    assert caught.value.message == message.replace(CANARY, str(canary))
    outside_root = [p for p in everything_under(tmp_path) if not p.startswith("sandbox/root/")]
    assert outside_root == ["canary", "canary/secret", "sandbox", "sandbox/root"]
    assert (canary / "secret").read_text() == "secret"
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == neighbours


def test_device_files_are_refused(tmp_path: Path) -> None:
    import tarfile

    info = tarfile.TarInfo("go/dev/null")
    info.type = tarfile.CHRTYPE
    with pytest.raises(UnsafeArchive, match="device, fifo or unknown member type"):
        extract(tar_gz([(info, None)]), tmp_path)


def test_relative_links_inside_the_root_are_kept(tmp_path: Path) -> None:
    data = tar_gz([file_member("go/bin/go", b"bin"), link_member("go/misc/go", "../bin/go"),
                   link_member("go/gofmt", "go/bin/go", hard=True)])
    manifest = extract(data, tmp_path)
    assert os.readlink(tmp_path / "misc" / "go") == "../bin/go"
    assert manifest["misc/go"] == "symlink:../bin/go"
    assert manifest["gofmt"] == manifest["bin/go"]
    assert os.stat(tmp_path / "gofmt").st_ino == os.stat(tmp_path / "bin" / "go").st_ino


def test_truncated_archive_is_reported(tmp_path: Path) -> None:
    data = tar_gz([file_member("go/big", os.urandom(200_000))])
    with pytest.raises(TruncatedArchive):
        extract(data[: len(data) // 2], tmp_path)


def test_member_count_limit_stops_early(tmp_path: Path) -> None:
    data = tar_gz([file_member(f"go/f{i}") for i in range(50)])
    with pytest.raises(ArchiveTooLarge, match="member count limit"):
        extract(data, tmp_path / "root", Limits(max_members=10))


def test_gzip_bomb_stops_at_size_limit_without_writing_it(tmp_path: Path) -> None:
    import io
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        info = tarfile.TarInfo("go/zeros")
        info.size = 64 << 20
        tf.addfile(info, io.BytesIO(bytes(64 << 20)))
    bomb = gzip.compress(raw.getvalue(), 9)
    assert len(bomb) < 200_000
    with pytest.raises(ArchiveTooLarge, match="uncompressed size limit"):
        extract(bomb, tmp_path / "root", Limits(max_bytes=8 << 20))
    assert sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()) == 0


def test_zip_archives_go_through_the_same_checks(tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    good.write_bytes(zip_bytes({"go/bin/go.exe": (b"MZ", 0o755), "go/VERSION": (b"go1.99.0", 0o644)}))
    manifest = extract_zip(str(good), str(tmp_path / "root"), Limits()).manifest
    assert sorted(manifest) == ["VERSION", "bin/go.exe"]
    assert os.access(tmp_path / "root" / "bin" / "go.exe", os.X_OK)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(zip_bytes({"go/../../evil": (b"x", 0o644)}))
    (tmp_path / "root2").mkdir()
    with pytest.raises(UnsafeArchive, match=r"path contains '\.\.'"):
        extract_zip(str(bad), str(tmp_path / "root2"), Limits())
    assert not (tmp_path / "evil").exists()
