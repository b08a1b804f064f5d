"""A full disk, for real: small tmpfs mounts where extraction and the receipt write run out of space.

Nothing may be half-installed, the verified download stays cached for the retry, and the error is
one line that names the directory (never a temporary name).
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import OLD, gxc
from tests.mirror_server import MirrorServer

pytestmark = pytest.mark.slow
HINT = "(hint: free disk space or fix permissions, then retry; nothing was installed)"


def fill(directory: Path) -> None:
    with (directory / "filler").open("wb", buffering=0) as f:
        try:
            while True:
                f.write(bytes(4096))
                f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC


def test_disk_full_during_extraction(gxc_env: dict[str, str], mirror: MirrorServer, tmp_path: Path,
                                     small_fs: Callable[[Path, str], Path]) -> None:
    home = small_fs(tmp_path / "small", "40m")  # a toolchain needs ~200 MB
    env = dict(gxc_env, GXC_HOME=str(home), XDG_CACHE_HOME=str(tmp_path / "cache"))  # downloads on the big disk
    proc = gxc(env, "install", OLD, check=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"gxc: error: cannot write {home}/staging: No space left on device {HINT}\n"
    assert not (home / "toolchains" / f"go{OLD}").exists()
    assert list((home / "staging").iterdir()) == []
    downloads = sorted(p.name for p in (tmp_path / "cache" / "gxc" / "downloads").iterdir())
    assert len(downloads) == 1 and not downloads[0].endswith(".partial")  # verified, kept for the retry
    subprocess.run(["umount", "-l", str(home)], check=True)
    gxc(env, "install", OLD)
    assert len(mirror.state.requests_for(f"go{OLD}.linux-amd64.tar.gz")) == 1  # the retry used the cache
    assert gxc(env, "verify", OLD).stdout == f"go{OLD}: ok\n"


def test_disk_full_during_the_receipt_write(gxc_env: dict[str, str], tmp_path: Path,
                                            small_fs: Callable[[Path, str], Path]) -> None:
    home = Path(gxc_env["GXC_HOME"])
    receipts = small_fs(home / "receipts", "64k")
    fill(receipts)
    proc = gxc(gxc_env, "install", OLD, check=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"gxc: error: cannot write {receipts}/go{OLD}.json: No space left on device {HINT}\n"
    assert not (home / "toolchains" / f"go{OLD}").exists()
    assert list((home / "staging").iterdir()) == []
    assert [p.name for p in receipts.iterdir()] == ["filler"]  # no half-written receipt, no temporary file
    subprocess.run(["umount", "-l", str(receipts)], check=True)  # space again: the same install now completes
    gxc(gxc_env, "install", OLD)
    assert gxc(gxc_env, "verify", OLD).stdout == f"go{OLD}: ok\n"
