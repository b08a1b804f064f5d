"""A test checksum database: Go's sumdb protocol (lookup, tiles, signed tree notes) over a proxy directory.

It logs one record per toolchain in `golang.org/toolchain/@v/list` (the zip's h1 from `<v>.ziphash`, the
.mod's h1 computed), in list order, and signs tree notes with an Ed25519 key derived from a seed, so a
test can name it in GOSUMDB as `name+hash+key URL`. tests/sources/test_goproxy.py first proves it faithful with
the real go command (a go1.21.13 switching to go1.22.10 through it), then points gxc at it.

Attacks: `signer` (sign with another key), `fork` (serve another history), `lookup_swap` (answer a lookup
with another module's record).
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gxc.sources import sumdb

MODULE = "golang.org/toolchain"


def key_pair(name: str, seed_text: str) -> tuple[Ed25519PrivateKey, str]:
    """A signing key and its GOSUMDB verifier key `name+hash+base64(1 || pub)`."""
    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed_text.encode()).digest())
    raw = bytes([sumdb.ALG_ED25519]) + private.public_key().public_bytes_raw()
    return private, f"{name}+{sumdb.key_hash(name, raw):08x}+{base64.b64encode(raw).decode()}"


def mod_h1(go_mod: bytes) -> str:
    line = f"{hashlib.sha256(go_mod).hexdigest()}  go.mod\n"
    return "h1:" + base64.b64encode(hashlib.sha256(line.encode()).digest()).decode()


def proxy_records(root: Path) -> list[bytes]:
    """One record per listed toolchain version, as sum.golang.org logs them."""
    at_v = root / MODULE / "@v"
    records = []
    for version in (at_v / "list").read_text().split():
        zip_h1 = (at_v / f"{version}.ziphash").read_text().strip()
        go_mod = (at_v / f"{version}.mod").read_bytes()
        records.append(f"{MODULE} {version} {zip_h1}\n{MODULE} {version}/go.mod {mod_h1(go_mod)}\n".encode())
    return records


class Log:
    """The stored hashes of a tlog over `records` (tlog's StoredHashes, record by record)."""

    def __init__(self, records: list[bytes]) -> None:
        self.records = records
        self.stored: list[bytes] = []
        for n, data in enumerate(records):
            h = sumdb.record_hash(data)
            self.stored.append(h)
            m = ((n + 1) & -(n + 1)).bit_length() - 1  # trailing zeros of n+1
            for i in range(m):
                h = sumdb.node_hash(self.stored[sumdb.stored_hash_index(i, (n >> i) - 1)], h)
                self.stored.append(h)

    @property
    def size(self) -> int:
        return len(self.records)

    def root(self) -> bytes:
        indexes = sumdb.tree_hash_indexes(self.size)
        return sumdb.tree_hash(self.size, [self.stored[i] for i in indexes])

    def tile(self, level: int, n: int, width: int) -> bytes | None:
        base = level * sumdb.TILE_HEIGHT
        start = n << sumdb.TILE_HEIGHT
        if start + width > self.size >> base:
            return None
        return b"".join(self.stored[sumdb.stored_hash_index(base, i)] for i in range(start, start + width))


class SumdbDouble:
    """Answers `lookup/`, `tile/` and `latest` for one checksum database name."""

    def __init__(self, root: Path, name: str = "sum.gxc.test", seed: str = "gxc test sumdb") -> None:
        self.name = name
        self.key, self.verifier_key = key_pair(name, seed)
        self.signer = self.key
        self.log = Log(proxy_records(root))
        self.lookup_swap: dict[str, str] = {}  # module@version -> the module@version whose record is answered

    def fork(self, extra: bytes) -> None:
        """Serve another history: `extra` logged first, then everything else (same key, new tree)."""
        self.log = Log([extra, *self.log.records])

    def note(self) -> bytes:
        text = f"go.sum database tree\n{self.log.size}\n{base64.b64encode(self.log.root()).decode()}\n".encode()
        raw = bytes([sumdb.ALG_ED25519]) + self.key.public_key().public_bytes_raw()
        signature = sumdb.key_hash(self.name, raw).to_bytes(4, "big") + self.signer.sign(text)
        return text + f"\n\u2014 {self.name} {base64.b64encode(signature).decode()}\n".encode()

    def _record_id(self, module_version: str) -> int | None:
        module, _, version = module_version.partition("@")
        prefix = f"{module} {version} ".encode()
        return next((i for i, r in enumerate(self.log.records) if r.startswith(prefix)), None)

    def answer(self, path: str) -> bytes | None:
        if path == "latest":
            return self.note()
        if path.startswith("lookup/"):
            wanted = path[len("lookup/"):]
            record_id = self._record_id(self.lookup_swap.get(wanted, wanted))
            if record_id is None:
                return None
            return f"{record_id}\n".encode() + self.log.records[record_id] + b"\n" + self.note()
        if path.startswith("tile/"):
            return self._tile(path)
        return None

    def _tile(self, path: str) -> bytes | None:
        parts = path.split("/")
        try:
            height, level = int(parts[1]), int(parts[2])
            rest = "/".join(parts[3:])
            number, _, width_text = rest.partition(".p/")
            n = int("".join(p.lstrip("x") for p in number.split("/")))
            width = int(width_text) if width_text else 1 << sumdb.TILE_HEIGHT
        except (IndexError, ValueError):
            return None
        if height != sumdb.TILE_HEIGHT or not 0 < width <= 1 << height:
            return None
        return self.log.tile(level, n, width)
