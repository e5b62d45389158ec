"""Opening keys: made at publication, split k-of-n among custodians, never kept whole.

Pure Python (no Django): the custodians' command-line tool uses it too.
"""

import hashlib
import itertools
from dataclasses import dataclass

from Crypto.Protocol.SecretSharing import Shamir
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from bidding.envelope import SUITE, b64url, b64url_decode, public_key_fingerprint

CURVE_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
# Memory-hard on purpose: a stolen public record must not make passphrases cheap to guess.
CUSTODIAN_KDF = {"name": "argon2id", "iterations": 3, "lanes": 1, "memory_cost": 64 * 1024}


class KeyError_(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def derive_custodian_key(passphrase: str, salt: bytes, kdf: dict = CUSTODIAN_KDF) -> ec.EllipticCurvePrivateKey:
    """A custodian's P-256 key from its passphrase (Argon2id); the platform keeps only the public half."""
    seed = Argon2id(
        salt=salt, length=48, iterations=kdf["iterations"], lanes=kdf["lanes"], memory_cost=kdf["memory_cost"]
    ).derive(passphrase.encode())
    return ec.derive_private_key(int.from_bytes(seed, "big") % (CURVE_ORDER - 1) + 1, ec.SECP256R1())


def share_commitment(*, section: str, index: int, share: bytes) -> str:
    # Shamir shares carry no integrity of their own: the published hash catches a forged one.
    return hashlib.sha256(b"sunlight-share/v1|%s|%d|" % (section.encode(), index) + share).hexdigest()


def _share_info(section: str, index: int) -> bytes:
    return b"sunlight-share/v1|%s|%d" % (section.encode(), index)


def _split(scalar: bytes, threshold: int, count: int) -> list[tuple[int, bytes]]:
    # pycryptodome shares 16-byte secrets: split both halves with the same indexes.
    high = Shamir.split(threshold, count, scalar[:16])
    low = Shamir.split(threshold, count, scalar[16:])
    return [(i, a + b) for (i, a), (_j, b) in zip(high, low, strict=True)]


def _combine(shares: list[tuple[int, bytes]]) -> ec.EllipticCurvePrivateKey | None:
    high = Shamir.combine([(i, s[:16]) for i, s in shares])
    low = Shamir.combine([(i, s[16:]) for i, s in shares])
    value = int.from_bytes(high + low, "big")
    if not 0 < value < CURVE_ORDER:
        return None
    return ec.derive_private_key(value, ec.SECP256R1())


@dataclass(frozen=True)
class Ceremony:
    public_key: ec.EllipticCurvePublicKey
    fingerprint: str
    threshold: int
    sealed_shares: list[dict]  # {index, custodian, sealed (base64url HPKE), commitment}


def generate_opening_key(*, section: str, custodians: list[tuple[str, ec.EllipticCurvePublicKey]], threshold: int) -> Ceremony:
    """Make the key pair, split it, seal each share to its custodian, check every quorum; drop the private key."""
    if not 2 <= threshold <= len(custodians):
        raise KeyError_("KEY-CUSTODIANS", f"need at least {threshold} custodians, have {len(custodians)}")
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key()
    fingerprint = public_key_fingerprint(public)
    shares = _split(private.private_numbers().private_value.to_bytes(32, "big"), threshold, len(custodians))
    del private
    # As in Estonia's key ceremony: every quorum rebuilds the key, no smaller group does.
    for group in itertools.combinations(shares, threshold):
        rebuilt = _combine(list(group))
        if rebuilt is None or public_key_fingerprint(rebuilt.public_key()) != fingerprint:
            raise KeyError_("KEY-CEREMONY", "a quorum failed to rebuild the key")
    for group in itertools.combinations(shares, threshold - 1):
        rebuilt = _combine(list(group)) if group else None
        if rebuilt is not None and public_key_fingerprint(rebuilt.public_key()) == fingerprint:
            raise KeyError_("KEY-CEREMONY", "fewer than a quorum rebuilt the key")
    sealed = [
        {
            "index": index,
            "custodian": custodian,
            "sealed": b64url(SUITE.encrypt(share, custodian_key, info=_share_info(section, index))),
            "commitment": share_commitment(section=section, index=index, share=share),
        }
        for (index, share), (custodian, custodian_key) in zip(shares, custodians, strict=True)
    ]
    return Ceremony(public_key=public, fingerprint=fingerprint, threshold=threshold, sealed_shares=sealed)


def unseal_share(*, section: str, index: int, sealed: str, custodian_key: ec.EllipticCurvePrivateKey) -> tuple[int, bytes]:
    try:
        share = SUITE.decrypt(b64url_decode(sealed), custodian_key, info=_share_info(section, index))
    except Exception as error:  # wrong passphrase or damaged record: one refusal
        raise KeyError_("KEY-SHARE-INVALID", "this share does not open with the custodian's key") from error
    return index, share


def rebuild_private_key(
    *, section: str, shares: list[tuple[int, bytes]], commitments: dict[int, str], fingerprint: str, threshold: int
) -> ec.EllipticCurvePrivateKey:
    """Rebuild in memory from a quorum; a forged or corrupted share is named, not silently used."""
    for index, share in shares:
        if commitments.get(index) != share_commitment(section=section, index=index, share=share):
            raise KeyError_("KEY-SHARE-INVALID", f"share {index} does not match its published commitment")
    if len({i for i, _ in shares}) < threshold:
        raise KeyError_("KEY-QUORUM", f"{threshold} distinct shares are needed, {len(shares)} given")
    rebuilt = _combine(shares[:threshold])
    if rebuilt is None or public_key_fingerprint(rebuilt.public_key()) != fingerprint:
        raise KeyError_("KEY-QUORUM", "the shares do not rebuild the section's opening key")
    return rebuilt
