"""Signatures of built artifacts: cosign-compatible blob signatures and DSSE-wrapped provenance.

Keys are ECDSA P-256 in PEM, as cosign uses them: the private key as PKCS#8 (encrypted with a passphrase
from `GXC_SIGNING_PASSWORD`, or unencrypted), the public key as SubjectPublicKeyInfo. `<artifact>.sig`
is the base64 of an ASN.1 DER ECDSA signature over the artifact's SHA-256, which is what
`cosign verify-blob --key PUB --signature FILE.sig --insecure-ignore-tlog FILE` checks (no transparency
log is involved). `<artifact>.intoto.jsonl` is a DSSE envelope (payload type
`application/vnd.in-toto+json`) around the provenance, signed over DSSE's pre-authentication encoding.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gxc.ground.errors import GxcError, UsageError, public_path
from gxc.ground.fsutil import atomic_write

PAYLOAD_TYPE = "application/vnd.in-toto+json"
SIG_SUFFIX, ENVELOPE_SUFFIX = ".sig", ".intoto.jsonl"
PASSWORD_ENV = "GXC_SIGNING_PASSWORD"  # noqa: S105 - the name of a variable, not a password


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what an envelope's signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def keyid(public: ec.EllipticCurvePublicKey) -> str:
    """sha256 of the DER public key: names the key in envelopes without making it a secret."""
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def generate(private_path: str, public_path_: str, passphrase: bytes) -> None:
    """Write a new P-256 pair: the private key encrypted (PKCS#8, 0600), the public key beside it."""
    for path in (private_path, public_path_):
        if os.path.exists(path):
            raise UsageError(f"{public_path(path)} exists", "choose another name, or remove it first")
    key = ec.generate_private_key(ec.SECP256R1())
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    atomic_write(public_path_, key.public_key().public_bytes(serialization.Encoding.PEM,
                                                             serialization.PublicFormat.SubjectPublicKeyInfo))


def load_private(path: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM; encrypted ones take their passphrase from GXC_SIGNING_PASSWORD."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UsageError(f"cannot read the signing key {public_path(path)}: {e.strerror}", "pass --sign KEY") \
            from None
    password = os.environ.get(PASSWORD_ENV)
    try:
        key = serialization.load_pem_private_key(data, password.encode() if password else None)
    except TypeError:
        raise UsageError(f"the signing key {public_path(path)} is encrypted",
                         f"set {PASSWORD_ENV} to its passphrase") from None
    except ValueError:
        raise UsageError(f"the signing key {public_path(path)} is not a PEM private key, or "
                         f"{PASSWORD_ENV} is not its passphrase", "check the key and the passphrase") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise UsageError(f"the signing key {public_path(path)} is not an ECDSA P-256 key",
                         "make one with `gxc keygen`")
    return key


def load_public(path: str) -> ec.EllipticCurvePublicKey:
    try:
        with open(path, "rb") as f:
            key = serialization.load_pem_public_key(f.read())
    except OSError as e:
        raise UsageError(f"cannot read the public key {public_path(path)}: {e.strerror}", "pass --key PUB") from None
    except ValueError:
        raise UsageError(f"{public_path(path)} is not a PEM public key", "pass the .pub that `gxc keygen` wrote") \
            from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise UsageError(f"{public_path(path)} is not an ECDSA P-256 public key", "pass the key that signed")
    return key


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _valid(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def sign_artifact(key: ec.EllipticCurvePrivateKey, artifact: str, provenance: bytes) -> tuple[str, str]:
    """Write `<artifact>.sig` and `<artifact>.intoto.jsonl`; return their paths."""
    with open(artifact, "rb") as f:
        data = f.read()
    sig_path, envelope_path = artifact + SIG_SUFFIX, artifact + ENVELOPE_SUFFIX
    from gxc.ground import beneath

    beneath.write_path(sig_path, base64.b64encode(_sign(key, data)))
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(provenance).decode(),
        "signatures": [{"keyid": keyid(key.public_key()),
                        "sig": base64.b64encode(_sign(key, pae(PAYLOAD_TYPE, provenance))).decode()}],
    }
    beneath.write_path(envelope_path, json.dumps(envelope, sort_keys=True) + "\n")
    return sig_path, envelope_path


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        raise GxcError(f"no {what} for the artifact ({public_path(path)} is missing)",
                       "build it with `gxc build --sign KEY`") from None


def check_signature(key: ec.EllipticCurvePublicKey, artifact: str) -> None:
    """The artifact's `.sig` must be this key's signature over the artifact as it is now."""
    try:
        signature = base64.b64decode(_read(artifact + SIG_SUFFIX, "signature"), validate=True)
    except ValueError:
        raise GxcError(f"{public_path(artifact + SIG_SUFFIX)} is not base64", "rebuild and sign again") from None
    with open(artifact, "rb") as f:
        if not _valid(key, signature, f.read()):
            raise GxcError(f"the signature of {public_path(artifact)} does not verify with this key",
                           "the artifact was changed after signing, or another key signed it")


def _envelope(path: str) -> tuple[bytes, list[bytes]]:
    """The payload and signatures of a DSSE envelope carrying in-toto provenance."""
    try:
        envelope = json.loads(_read(path, "signed provenance"))
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = [base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]]
        payload_type = envelope["payloadType"]
    except (ValueError, KeyError, TypeError):
        raise GxcError(f"{public_path(path)} is not a DSSE envelope", "rebuild and sign again") from None
    if payload_type != PAYLOAD_TYPE:
        raise GxcError(f"{public_path(path)} carries {payload_type!s}, not in-toto provenance", "rebuild and sign")
    return payload, signatures


def open_envelope(key: ec.EllipticCurvePublicKey | None, artifact: str) -> dict[str, Any]:
    """The provenance inside `<artifact>.intoto.jsonl`, after its DSSE signature verified with this key
    (with no key, read but not verified: `gxc provenance` shows it and says so)."""
    path = artifact + ENVELOPE_SUFFIX
    payload, signatures = _envelope(path)
    if key is not None and not any(_valid(key, sig, pae(PAYLOAD_TYPE, payload)) for sig in signatures):
        raise GxcError(f"the provenance envelope of {public_path(artifact)} does not verify with this key",
                       "it was changed after signing, or another key signed it")
    try:
        statement: dict[str, Any] = json.loads(payload)
    except ValueError:
        raise GxcError(f"{public_path(path)} holds no JSON statement", "rebuild and sign again") from None
    return statement
