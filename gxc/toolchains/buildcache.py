"""The build cache: source-built trees kept by the hash of their inputs, and what proves an entry.

An entry is `build-<key>.tar.gz` in `GXC_BUILD_CACHE` (a directory a fleet may share) or the download
cache. Whoever can write that directory can put any bytes under a name, so nothing stored beside an
entry is believed. An entry counts only when something its writer cannot forge vouches for its sha256:

- a record in this user's own state (`<state>/builds/<key>.json`), written when this machine built the
  entry or proved it before; or
- an HMAC-SHA256 under the fleet key named by `GXC_BUILD_CACHE_KEY` (a file of the user's, 0600, at
  least 32 bytes), stored as `build-<key>.tar.gz.hmac`: machines that share the key share builds.

Anything else is a miss, and the tree is built again. A shared cache directory writable by every user
is refused. Writes into it go through `gxc.beneath`, so a link planted there is never followed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os

from gxc.ground import beneath, paths
from gxc.ground.errors import GxcError, public_path
from gxc.ground.fsutil import atomic_write, read_json_object

KEY_ENV = "GXC_BUILD_CACHE_KEY"
MIN_KEY_BYTES = 32
_MAC_CONTEXT = b"gxc build cache entry v1\n"


def directory() -> str:
    """GXC_BUILD_CACHE (a fleet's or a test suite's shared one), else the download cache."""
    return os.environ.get("GXC_BUILD_CACHE") or paths.downloads_dir()


def checked_root() -> beneath.Root:
    """The cache directory, refused when every user can write it."""
    root = beneath.Root(directory())
    if os.stat(root.root).st_mode & 0o002:
        raise GxcError(f"the build cache {public_path(root.root)} is writable by every user, so anyone could put "
                       "a toolchain there", "chmod o-w it (a fleet shares it through a group), or unset "
                                            "GXC_BUILD_CACHE")
    return root


def archive_name(key: str) -> str:
    return f"build-{key}.tar.gz"


def _record_path(key: str) -> str:
    return os.path.join(paths.state_dir(), "builds", f"{key}.json")


def fleet_key() -> bytes | None:
    """The key named by GXC_BUILD_CACHE_KEY, checked to be the user's own and private."""
    path = os.environ.get(KEY_ENV)
    if not path:
        return None
    try:
        st = os.stat(path)
        with open(path, "rb") as f:
            key = f.read(4096)
    except OSError as e:
        raise GxcError(f"cannot read the build cache key {public_path(path)}: {e.strerror}",
                       f"point {KEY_ENV} at a file of at least {MIN_KEY_BYTES} random bytes") from None
    if st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise GxcError(f"the build cache key {public_path(path)} is readable or owned by someone else",
                       "chmod 600 it; it must be yours alone")
    if len(key) < MIN_KEY_BYTES:
        raise GxcError(f"the build cache key {public_path(path)} has {len(key)} bytes",
                       f"use at least {MIN_KEY_BYTES} random bytes: head -c 32 /dev/urandom > KEYFILE")
    return key


def _mac(key: bytes, build_key: str, sha256: str) -> str:
    return hmac.new(key, _MAC_CONTEXT + f"{build_key}\n{sha256}\n".encode(), hashlib.sha256).hexdigest()


def proven_sha256(root: beneath.Root, build_key: str) -> str | None:
    """The sha256 an entry must have, as this user's record or the fleet key vouches for it (None: a miss)."""
    record = read_json_object(_record_path(build_key))
    if record and isinstance(record.get("sha256"), str):
        return str(record["sha256"])
    key = fleet_key()
    stored = root.read(archive_name(build_key) + ".hmac", 4096) if key else None
    if key is None or stored is None:
        return None
    sha256, _, mac = stored.decode("ascii", "replace").strip().partition(" ")
    if len(sha256) != 64 or not hmac.compare_digest(mac, _mac(key, build_key, sha256)):
        return None
    return sha256


def remember(root: beneath.Root, build_key: str, sha256: str) -> None:
    """Record a proven entry for this user, and vouch for it to the fleet when a key is configured."""
    os.makedirs(os.path.dirname(_record_path(build_key)), mode=0o700, exist_ok=True)
    atomic_write(_record_path(build_key), json.dumps({"key": build_key, "sha256": sha256}))
    key = fleet_key()
    if key is not None:
        root.write(archive_name(build_key) + ".hmac", f"{sha256} {_mac(key, build_key, sha256)}\n")
