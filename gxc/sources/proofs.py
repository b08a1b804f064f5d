"""What proves a toolchain's bytes: the one place that decides (DESIGN.md section 3).

The user's own source proves: the release index's sha256 for an archive (`archive_proof`), the
user's checksum database for a module proxy's zip (`module_proof`). A project's `[lock]` only adds
a condition: an entry that disagrees with what the user's source proves is a refusal naming both.
The one case where a lock stands in for the user's proof is a module zip whose checksum database
cannot be reached (air-gapped, `--offline` without the lookup verified before), and only when the
lock's file is trusted (`gxc trust`, or an allow-list); the receipt then says so. An untrusted file's
lock can only refuse. `GOSUMDB=off` proves nothing and needs `--insecure-skip-sumdb`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gxc.ground.errors import GxcError, NetworkError


@dataclass(frozen=True)
class Lock:
    """A project's pinned digest for one archive (sha256) or module zip (h1), and whether its file is trusted."""

    sha256: str
    source: str
    trusted: bool = False


@dataclass(frozen=True)
class Proof:
    """The digest the bytes must have, and which check said so (recorded in the receipt)."""

    digest: str | None
    by: str


class LockDisagrees(GxcError):
    def __init__(self, what: str, lock: Lock, theirs: str, authority: str) -> None:
        super().__init__(f"{what}: the [lock] of {lock.source} says {lock.sha256}, {authority} says {theirs}",
                         "nothing was installed; a lock can refuse a toolchain but never redefine it "
                         "(update it with `gxc pin --lock` if your source is right)")


def archive_proof(filename: str, index_sha256: str, index_url: str, locks: dict[str, Lock]) -> Proof:
    """An archive is proven by the index's sha256; a lock entry must agree with it."""
    lock = locks.get(filename)
    if lock is not None and lock.sha256 != index_sha256:
        raise LockDisagrees(filename, lock, index_sha256, f"the release index ({index_url})")
    also = f", and locked in {lock.source}" if lock else ""
    return Proof(index_sha256, f"the release index ({index_url}){also}")


def _unreachable(error: NetworkError) -> bool:
    """The database could not answer at all (down, cut, offline), as opposed to answering no."""
    return not error.status or error.status >= 500  # 0: no answer at all, or retries of 5xx gave up


def module_proof(key: str, locks: dict[str, Lock], sumdb_setting: str | None, skip_sumdb: bool,
                 offline: bool) -> Proof:
    """A module zip is proven by the user's checksum database; a lock entry must agree with it."""
    from gxc.sources import sumdb
    from gxc.sources.modhash import h1_digest

    lock = locks.get(key)
    if lock is not None:
        h1_digest(lock.sha256)  # a malformed entry is an error in its file, whatever proves the zip
    if skip_sumdb:
        if lock is not None:
            return Proof(lock.sha256, f"only the [lock] of {lock.source}: --insecure-skip-sumdb")
        return Proof(None, "nothing: --insecure-skip-sumdb (no checksum database)")
    client = sumdb.client_for(sumdb_setting, offline, GxcError(
        "GOSUMDB is off, so nothing of yours would prove the toolchain zip",
        "name a checksum database, or pass --insecure-skip-sumdb to install it unverified"))
    module, _, version = key.partition("@")
    try:
        h1 = client.module_hash(module, version)
    except NetworkError as e:
        if lock is None or not lock.trusted or not _unreachable(e):
            raise
        return Proof(lock.sha256, f"locked in {lock.source} (a file you trust): the checksum database "
                                  f"{client.db.name} could not be reached ({e.message})")
    latest = client.latest()
    size = latest[0].size if latest else 0
    authority = f"the checksum database {client.db.name}"
    if lock is not None and lock.sha256 != h1:
        raise LockDisagrees(key, lock, h1, authority)
    also = f", and locked in {lock.source}" if lock else ""
    return Proof(h1, f"{authority} (tree of size {size}){also}")


def project_locks(path: str, table: dict[str, Any], data: bytes | None) -> dict[str, Lock]:
    """The [lock] entries of a project file, each knowing whether the user trusts that file."""
    if not table:
        return {}
    trusted = False
    if data is not None:
        from gxc.project import trust

        trusted = trust.verdict(path, data).trusted
    return {name: Lock(str(digest), path, trusted) for name, digest in table.items()}
