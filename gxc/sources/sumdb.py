"""Go's checksum database, client side: signed notes, the tiled transparency log, verified lookups.

gxc's own Python for the protocols of `golang.org/x/mod/sumdb/{note,tlog}` (read in any installed
toolchain's `src/cmd/vendor`): a lookup answer is a record (`<id>\\n<lines>\\n`) followed by a signed
tree note (`go.sum database tree\\n<size>\\n<base64 root>\\n`, Ed25519). A record is believed only when

1. the note carries a valid signature by the configured key (`name+hash+base64key`),
2. the tree it names is consistent with the latest tree this machine has verified before (an RFC 6962
   consistency proof built from the log's tiles; an inconsistent tree is a fork and is refused), and
3. the record's hash is included in the latest tree (an inclusion proof from the same tiles).

The latest verified tree is kept in `GXC_HOME/sumdb/<name>/latest`, as Go keeps it in
`GOPATH/pkg/sumdb`: it is state, not cache, and `gxc cache clean` does not touch it. Verified lookups
are kept beside it so that `--offline` installs still know the hash the log proved.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from gxc.ground import paths
from gxc.ground.errors import GxcError, NetworkError, shown

HASH_SIZE = 32
TILE_HEIGHT = 8  # the tile height of sum.golang.org and of Go's own server code
DEFAULT_SUMDB = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
DEFAULT_SUMDB_URL = "https://sum.golang.org"
ALG_ED25519 = 1
_TREE_PREFIX = "go.sum database tree\n"
_SIG_PREFIX = "\u2014 "  # an em dash and a space start every signature line
_NAME = re.compile(r"[^\s+]+")


class SumdbError(GxcError):
    """The checksum database did not prove what it had to: the install stops and nothing is written."""

    def __init__(self, name: str, what: str, hint: str = "") -> None:
        super().__init__(f"checksum database {name}: {what}",
                         hint or "the proxy or the checksum database is serving forged data; nothing was installed")


# --- RFC 6962 hashing and the stored-hash layout of tlog ---------------------------------------


def record_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _maxpow2(n: int) -> tuple[int, int]:
    """The largest power of two smaller than n, and its log2."""
    level = 0
    while 1 << (level + 1) < n:
        level += 1
    return 1 << level, level


def stored_hash_index(level: int, n: int) -> int:
    for _ in range(level):
        n = 2 * n + 1
    i = 0
    while n > 0:
        i += n
        n >>= 1
    return i + level


def split_stored_hash_index(index: int) -> tuple[int, int]:
    n = index // 2
    at = stored_hash_index(0, n)
    while True:
        following = at + 1 + ((n + 1) & -(n + 1)).bit_length() - 1
        if following > index:
            break
        n += 1
        at = following
    level = index - at
    return level, n >> level


def _subtree_index(lo: int, hi: int, need: list[int]) -> list[int]:
    while lo < hi:
        k, level = _maxpow2(hi - lo + 1)
        need.append(stored_hash_index(level, lo >> level))
        lo += k
    return need


def _subtree_hash(lo: int, hi: int, hashes: list[bytes]) -> tuple[bytes, list[bytes]]:
    count = 0
    while lo < hi:
        k, _ = _maxpow2(hi - lo + 1)
        count += 1
        lo += k
    h = hashes[count - 1]
    for i in range(count - 2, -1, -1):
        h = node_hash(hashes[i], h)
    return h, hashes[count:]


def tree_hash_indexes(size: int) -> list[int]:
    return _subtree_index(0, size, [])


def tree_hash(size: int, hashes: list[bytes]) -> bytes:
    return _subtree_hash(0, size, hashes)[0] if size else b"\x00" * HASH_SIZE


def leaf_proof_indexes(lo: int, hi: int, n: int, need: list[int]) -> list[int]:
    if lo + 1 == hi:
        return need
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        leaf_proof_indexes(lo, lo + k, n, need)
        _subtree_index(lo + k, hi, need)
    else:
        _subtree_index(lo, lo + k, need)
        leaf_proof_indexes(lo + k, hi, n, need)
    return need


def _leaf_proof(lo: int, hi: int, n: int, hashes: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    if lo + 1 == hi:
        return [], hashes
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        proof, hashes = _leaf_proof(lo, lo + k, n, hashes)
        th, hashes = _subtree_hash(lo + k, hi, hashes)
    else:
        th, hashes = _subtree_hash(lo, lo + k, hashes)
        proof, hashes = _leaf_proof(lo + k, hi, n, hashes)
    return [*proof, th], hashes


def _run_record_proof(proof: list[bytes], lo: int, hi: int, n: int, leaf: bytes) -> bytes | None:
    if lo + 1 == hi:
        return leaf if not proof else None
    if not proof:
        return None
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        th = _run_record_proof(proof[:-1], lo, lo + k, n, leaf)
        return node_hash(th, proof[-1]) if th else None
    th = _run_record_proof(proof[:-1], lo + k, hi, n, leaf)
    return node_hash(proof[-1], th) if th else None


def tree_proof_indexes(lo: int, hi: int, n: int, need: list[int]) -> list[int]:
    if n == hi:
        return need if lo == 0 else _subtree_index(lo, hi, need)
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        tree_proof_indexes(lo, lo + k, n, need)
        _subtree_index(lo + k, hi, need)
    else:
        _subtree_index(lo, lo + k, need)
        tree_proof_indexes(lo + k, hi, n, need)
    return need


def _tree_proof(lo: int, hi: int, n: int, hashes: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    if n == hi:
        if lo == 0:
            return [], hashes
        th, hashes = _subtree_hash(lo, hi, hashes)
        return [th], hashes
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        proof, hashes = _tree_proof(lo, lo + k, n, hashes)
        th, hashes = _subtree_hash(lo + k, hi, hashes)
    else:
        th, hashes = _subtree_hash(lo, lo + k, hashes)
        proof, hashes = _tree_proof(lo + k, hi, n, hashes)
    return [*proof, th], hashes


def _run_tree_proof(proof: list[bytes], lo: int, hi: int, n: int, old: bytes) -> tuple[bytes, bytes] | None:
    if n == hi:
        if lo == 0:
            return (old, old) if not proof else None
        return (proof[0], proof[0]) if len(proof) == 1 else None
    if not proof:
        return None
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        inner = _run_tree_proof(proof[:-1], lo, lo + k, n, old)
        return (inner[0], node_hash(inner[1], proof[-1])) if inner else None
    inner = _run_tree_proof(proof[:-1], lo + k, hi, n, old)
    return (node_hash(proof[-1], inner[0]), node_hash(proof[-1], inner[1])) if inner else None


def record_proven(proof: list[bytes], size: int, root: bytes, n: int, leaf: bytes) -> bool:
    return 0 <= n < size and _run_record_proof(proof, 0, size, n, leaf) == root


def tree_proven(proof: list[bytes], size: int, root: bytes, old_size: int, old_root: bytes) -> bool:
    if not 1 <= old_size <= size:
        return False
    ran = _run_tree_proof(proof, 0, size, old_size, old_root)
    return ran == (old_root, root)


def tile_path(level: int, n: int, width: int, height: int = TILE_HEIGHT) -> str:
    """`tile/8/0/x001/234.p/5`, the path of tile (level, n) holding `width` hashes."""
    text = f"{n % 1000:03d}"
    while n >= 1000:
        n //= 1000
        text = f"x{n % 1000:03d}/{text}"
    partial = f".p/{width}" if width != 1 << height else ""
    return f"tile/{height}/{level}/{text}{partial}"


# --- signed notes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verifier:
    """A checksum database's public key, as GOSUMDB names it: `name+hash+base64(alg || key)`."""

    name: str
    key_hash: int
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> Verifier:
        name, _, rest = text.partition("+")
        hash_text, _, key_text = rest.partition("+")  # base64 may hold "+": split at the first two only
        if not key_text or not _NAME.fullmatch(name) or not re.fullmatch(r"[0-9a-f]{8}", hash_text):
            raise GxcError(f"{shown(text)} is not a checksum database key (name+hash+key)",
                           "set GOSUMDB to `name+hash+key URL`, as Go's own GOSUMDB")
        if "/" in name or "\\" in name or name.startswith("."):  # the name is a directory in GXC_HOME/sumdb
            raise GxcError(f"the checksum database name {shown(name)} is not a plain name",
                           "name it like sum.golang.org: no slashes, not starting with a dot")
        try:
            raw = base64.b64decode(key_text, validate=True)
        except binascii.Error:
            raise GxcError(f"the key of checksum database {name} is not base64", "check GOSUMDB") from None
        if len(raw) != 33 or raw[0] != ALG_ED25519 or key_hash(name, raw) != int(hash_text, 16):
            raise GxcError(f"the key of checksum database {name} is not an Ed25519 key with that hash",
                           "check GOSUMDB")
        return cls(name, int(hash_text, 16), raw[1:])

    def verifies(self, text: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except InvalidSignature:
            return False
        return True


def key_hash(name: str, key: bytes) -> int:
    return int.from_bytes(hashlib.sha256(name.encode() + b"\n" + key).digest()[:4], "big")


def open_note(message: bytes, verifier: Verifier) -> bytes:
    """The note's text when `verifier` signed it; SumdbError otherwise (note.Open with one key)."""
    split = message.rfind(b"\n\n")
    if split < 0 or not message.endswith(b"\n"):
        raise SumdbError(verifier.name, "the tree note is malformed")
    text, signatures = message[: split + 1], message[split + 2:]
    for line in signatures.decode("utf-8", "replace").splitlines():
        if not line.startswith(_SIG_PREFIX):
            raise SumdbError(verifier.name, "the tree note has a malformed signature line")
        name, _, b64 = line[len(_SIG_PREFIX):].partition(" ")
        try:
            sig = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise SumdbError(verifier.name, "the tree note has a signature that is not base64") from None
        if name != verifier.name or len(sig) < 5 or int.from_bytes(sig[:4], "big") != verifier.key_hash:
            continue  # another signer (a witness): not ours to judge
        if not verifier.verifies(text, sig[4:]):
            raise SumdbError(verifier.name, "the tree note's signature does not verify with the configured key")
        return text
    raise SumdbError(verifier.name, "the tree note is not signed by the configured key",
                     "the server answering is not that checksum database (or GOSUMDB names the wrong key)")


@dataclass(frozen=True)
class Tree:
    size: int
    root: bytes

    @classmethod
    def parse(cls, text: bytes, name: str) -> Tree:
        lines = text.decode("utf-8", "replace").split("\n")
        if not text.decode("utf-8", "replace").startswith(_TREE_PREFIX) or len(lines) < 4:
            raise SumdbError(name, "the signed note is not a go.sum database tree")
        try:
            size = int(lines[1])
            root = base64.b64decode(lines[2], validate=True)
        except (ValueError, binascii.Error):
            raise SumdbError(name, "the signed tree is malformed") from None
        if size < 0 or str(size) != lines[1] or len(root) != HASH_SIZE:
            raise SumdbError(name, "the signed tree is malformed")
        return cls(size, root)


# --- the client --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    """Which checksum database: GOSUMDB's `name+hash+key [URL]`, or the default sum.golang.org."""

    verifier: Verifier
    url: str

    @classmethod
    def parse(cls, text: str | None) -> Database:
        value = (text or "").strip() or "sum.golang.org"
        key, _, url = value.partition(" ")
        if key == "sum.golang.org":
            key = DEFAULT_SUMDB
        verifier = Verifier.parse(key)
        url = url.strip() or (DEFAULT_SUMDB_URL if verifier.name == "sum.golang.org" else f"https://{verifier.name}")
        return cls(verifier, url.rstrip("/"))

    @property
    def name(self) -> str:
        return self.verifier.name


Fetch = Callable[[str], bytes]


def _http_fetch(url: str) -> bytes:
    from gxc.sources import http

    kind = "lookup" if "/lookup/" in url else "tile" if "/tile/" in url else "latest"
    return http.document(url, kind).body


class Client:
    """Lookups against one checksum database, proved against the latest tree this machine trusts."""

    def __init__(self, database: Database, fetch: Fetch = _http_fetch, offline: bool = False) -> None:
        self.db, self.fetch, self.offline = database, fetch, offline
        self.dir = os.path.join(paths.home(), "sumdb", database.name)
        self._tiles: dict[str, bytes] = {}

    def _state(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def latest(self) -> tuple[Tree, bytes] | None:
        try:
            with open(self._state("latest"), "rb") as f:
                message = f.read()
        except FileNotFoundError:
            return None
        return Tree.parse(open_note(message, self.db.verifier), self.db.name), message

    def _save(self, name: str, data: bytes) -> None:
        from gxc.ground.fsutil import atomic_write

        os.makedirs(os.path.dirname(self._state(name)), exist_ok=True)
        atomic_write(self._state(name), data)

    def _tile(self, level: int, n: int, width: int) -> bytes:
        path = tile_path(level, n, width)
        if path not in self._tiles:
            data = self.fetch(f"{self.db.url}/{path}")
            if len(data) != width * HASH_SIZE:
                raise SumdbError(self.db.name, f"{path} has {len(data)} bytes, not {width * HASH_SIZE}")
            self._tiles[path] = data
        return self._tiles[path]

    def read_hashes(self, tree: Tree, indexes: list[int]) -> list[bytes]:
        """Stored hashes of `tree`, read from its tiles (unproven: the proofs that use them are the check)."""
        hashes = []
        for index in indexes:
            level, n = split_stored_hash_index(index)
            tile_level, within = divmod(level, TILE_HEIGHT)
            start, count = n << within, 1 << within
            tile_n = start >> TILE_HEIGHT
            width = min(1 << TILE_HEIGHT, (tree.size >> (tile_level * TILE_HEIGHT)) - (tile_n << TILE_HEIGHT))
            offset = start - (tile_n << TILE_HEIGHT)
            if width <= 0 or offset + count > width:
                raise SumdbError(self.db.name, f"hash {index} is outside the tree of size {tree.size}")
            data = self._tile(tile_level, tile_n, width)
            level_hashes = [data[i * HASH_SIZE:(i + 1) * HASH_SIZE] for i in range(offset, offset + count)]
            while len(level_hashes) > 1:
                level_hashes = [node_hash(level_hashes[i], level_hashes[i + 1]) for i in range(0, len(level_hashes), 2)]
            hashes.append(level_hashes[0])
        return hashes

    def _check_consistent(self, old: Tree, new: Tree) -> None:
        if old.size == 0:
            return
        if old.size == new.size:
            if old.root != new.root:
                raise SumdbError(self.db.name, f"two different trees of size {new.size}: the log has forked",
                                 f"do not trust this database's answers; the tree verified before is in {self.dir}")
            return
        proof = _tree_proof(0, new.size, old.size, self.read_hashes(new, tree_proof_indexes(0, new.size, old.size,
                                                                                          [])))[0]
        if not tree_proven(proof, new.size, new.root, old.size, old.root):
            raise SumdbError(self.db.name, f"the tree of size {new.size} is inconsistent with the tree of size "
                                           f"{old.size} verified before: the log has forked",
                             f"do not trust this database's answers; the tree verified before is in {self.dir}")

    def merge(self, message: bytes) -> Tree:
        """Verify a signed tree and make the newer of it and the stored latest the latest; return it."""
        tree = Tree.parse(open_note(message, self.db.verifier), self.db.name)
        known = self.latest()
        if known is None:
            self._save("latest", message)
            return tree
        if tree.size <= known[0].size:
            self._check_consistent(tree, known[0])
            return known[0]
        self._check_consistent(known[0], tree)
        self._save("latest", message)
        return tree

    def lookup(self, module: str, version: str) -> list[str]:
        """The go.sum lines the log records for module@version, proven included in the latest tree."""
        name = f"lookup/{module}@{version}"
        cached = self._state(name)
        if os.path.exists(cached):  # written only after it was proven
            with open(cached, "rb") as f:
                return _record_lines(f.read(), module, version, self.db.name)
        if self.offline:
            raise NetworkError(f"{self.db.url}/{name}", "offline and this lookup was never verified here")
        answer = self.fetch(f"{self.db.url}/{name}")
        record_id, text, note = _parse_record(answer, self.db.name)
        latest = self.merge(note)
        if record_id >= latest.size:
            raise SumdbError(self.db.name, f"record {record_id} is outside the tree of size {latest.size}")
        proof = _leaf_proof(0, latest.size, record_id,
                            self.read_hashes(latest, leaf_proof_indexes(0, latest.size, record_id, [])))[0]
        if not record_proven(proof, latest.size, latest.root, record_id, record_hash(text)):
            raise SumdbError(self.db.name, f"the record for {module}@{version} is not in the signed tree")
        lines = _record_lines(text, module, version, self.db.name)
        self._save(name, text)
        return lines

    def hashes(self, module: str, version: str) -> dict[str, str]:
        """`<version>` and `<version>/go.mod` -> their `h1:` hashes, as the log proves them."""
        found = {}
        for line in self.lookup(module, version):
            parts = line.split(" ")
            if len(parts) == 3:
                found[parts[1]] = parts[2]
        return found

    def module_hash(self, module: str, version: str) -> str:
        """The `h1:` hash of module@version's zip, as the log proves it."""
        h1 = self.hashes(module, version).get(version)
        if h1 is None:
            raise SumdbError(self.db.name, f"the record has no hash for {module}@{version}")
        return h1


def client_for(setting: str | None, offline: bool, when_off: GxcError) -> Client:
    """A client for the database GOSUMDB's syntax names; `when_off` is raised for `off`."""
    if (setting or "").strip() == "off":
        raise when_off
    return Client(Database.parse(setting), offline=offline)


def _parse_record(answer: bytes, name: str) -> tuple[int, bytes, bytes]:
    first, _, rest = answer.partition(b"\n")
    split = rest.find(b"\n\n")
    if not first.isdigit() or split < 0:
        raise SumdbError(name, "the lookup answer is malformed")
    return int(first), rest[: split + 1], rest[split + 2:]


def _record_lines(text: bytes, module: str, version: str, name: str) -> list[str]:
    lines = text.decode("utf-8", "replace").splitlines()
    wanted = (f"{module} {version} ", f"{module} {version}/go.mod ")
    if not lines or any(not line.startswith(wanted) for line in lines):
        raise SumdbError(name, f"the record answered for {module}@{version} is about another module: "
                               f"{shown(lines[0] if lines else '')}")
    return lines
