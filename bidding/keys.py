"""Opening keys: made at publication, split k-of-n among custodians, never kept whole.

Pure Python (no Django): the custodians' command-line tool uses it too.

A custodian enrols once: its passphrase gives, through Argon2id, a P-256 key pair whose
public half the platform keeps. At publication the section's opening key is made, split
with Shamir, every quorum checked, and each share sealed (HPKE: ECDH, HKDF, AES-256-GCM)
to its custodian's public key, so no custodian needs to be present then; only the
custodian's passphrase opens its share at the opening.
"""

import hashlib
import itertools
from dataclasses import dataclass, field

from Crypto.Protocol.SecretSharing import Shamir
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from bidding.envelope import SUITE, b64url, b64url_decode, public_key_fingerprint

CURVE_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
SHARE_SIZE = 32
MAX_CUSTODIANS = 16  # every quorum is rebuilt at the ceremony: C(16, 8) = 12870 is still quick
# Memory-hard on purpose: a stolen public record must not make passphrases cheap to guess.
CUSTODIAN_KDF = {"name": "argon2id", "iterations": 3, "lanes": 1, "memory_cost": 64 * 1024}
SHARE_TAG = b"sunlight-share/v1"

Share = tuple[int, bytes]  # (index 1..n, 32 bytes: the two 16-byte Shamir shares of the scalar's halves)


class KeyCeremonyError(Exception):
    """A refusal with a rule code: KEY-CUSTODIANS, KEY-CEREMONY, KEY-SHARE-INVALID or KEY-QUORUM."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


KeyError_ = KeyCeremonyError  # the name the Django services and their tests know


def derive_custodian_key(passphrase: str, salt: bytes, kdf: dict = CUSTODIAN_KDF) -> ec.EllipticCurvePrivateKey:
    """A custodian's P-256 key from its passphrase (Argon2id); the platform keeps only the public half.

    Tests pass a light `kdf` (see config/settings/test.py); production keeps CUSTODIAN_KDF.
    """
    if kdf.get("name") != "argon2id":
        raise ValueError("only argon2id derives custodian keys")
    seed = Argon2id(
        salt=salt, length=48, iterations=kdf["iterations"], lanes=kdf["lanes"], memory_cost=kdf["memory_cost"]
    ).derive(passphrase.encode())
    # 48 bytes reduced mod n-1: bias below 2^-128, and never zero.
    return ec.derive_private_key(int.from_bytes(seed, "big") % (CURVE_ORDER - 1) + 1, ec.SECP256R1())


def share_commitment(*, section: str, index: int, share: bytes) -> str:
    # Shamir shares carry no integrity of their own: the published hash catches a forged one.
    return hashlib.sha256(b"%s|%s|%d|" % (SHARE_TAG, section.encode(), index) + share).hexdigest()


def _share_info(section: str, index: int) -> bytes:
    return b"%s|%s|%d" % (SHARE_TAG, section.encode(), index)


def _split(scalar: bytes, threshold: int, count: int) -> list[Share]:
    # pycryptodome shares 16-byte secrets: split both halves with the same indexes.
    high = Shamir.split(threshold, count, scalar[:16])
    low = Shamir.split(threshold, count, scalar[16:])
    return [(i, a + b) for (i, a), (_j, b) in zip(high, low, strict=True)]


def _combine(shares: list[Share]) -> ec.EllipticCurvePrivateKey | None:
    try:
        high = Shamir.combine([(i, s[:16]) for i, s in shares])
        low = Shamir.combine([(i, s[16:]) for i, s in shares])
    except ValueError:
        return None
    value = int.from_bytes(high + low, "big")
    if not 0 < value < CURVE_ORDER:
        return None
    return ec.derive_private_key(value, ec.SECP256R1())


def _rebuilds(shares: list[Share], fingerprint: str) -> bool:
    rebuilt = _combine(shares) if shares else None
    return rebuilt is not None and public_key_fingerprint(rebuilt.public_key()) == fingerprint


@dataclass(frozen=True)
class KeyCeremony:
    """What the ceremony leaves: the public key and the sealed shares; the private key is gone."""

    section: str
    public_key: ec.EllipticCurvePublicKey
    fingerprint: str
    threshold: int
    sealed_shares: list[dict] = field(default_factory=list)  # {index, custodian, sealed (base64url HPKE), commitment}

    @property
    def commitments(self) -> dict[int, str]:
        return {s["index"]: s["commitment"] for s in self.sealed_shares}


Ceremony = KeyCeremony


def generate_opening_key(
    *, section: str, custodians: list[tuple[str, ec.EllipticCurvePublicKey]], threshold: int = 2
) -> KeyCeremony:
    """Make the key pair, split it k-of-n, check every quorum, seal each share to its custodian; drop the private key.

    `custodians` are (custodian id, its P-256 public key from derive_custodian_key), in share order.
    """
    if not 2 <= threshold <= len(custodians) <= MAX_CUSTODIANS:
        raise KeyCeremonyError(
            "KEY-CUSTODIANS", f"need 2 <= threshold ({threshold}) <= custodians ({len(custodians)}) <= {MAX_CUSTODIANS}"
        )
    if len({c for c, _k in custodians}) != len(custodians):
        raise KeyCeremonyError("KEY-CUSTODIANS", "a custodian may hold one share only")
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key()
    fingerprint = public_key_fingerprint(public)
    shares = _split(private.private_numbers().private_value.to_bytes(32, "big"), threshold, len(custodians))
    del private  # from here on only the shares hold it
    # As in Estonia's key ceremony: every quorum rebuilds the key, no smaller group does.
    for group in itertools.combinations(shares, threshold):
        if not _rebuilds(list(group), fingerprint):
            raise KeyCeremonyError("KEY-CEREMONY", f"the quorum {[i for i, _s in group]} failed to rebuild the key")
    for group in itertools.combinations(shares, threshold - 1):
        if _rebuilds(list(group), fingerprint):
            raise KeyCeremonyError("KEY-CEREMONY", f"fewer than a quorum ({[i for i, _s in group]}) rebuilt the key")
    sealed = [
        {
            "index": index,
            "custodian": custodian,
            "sealed": b64url(SUITE.encrypt(share, custodian_key, info=_share_info(section, index))),
            "commitment": share_commitment(section=section, index=index, share=share),
        }
        for (index, share), (custodian, custodian_key) in zip(shares, custodians, strict=True)
    ]
    del shares
    return KeyCeremony(section=section, public_key=public, fingerprint=fingerprint, threshold=threshold, sealed_shares=sealed)


def unseal_share(*, section: str, index: int, sealed: str, custodian_key: ec.EllipticCurvePrivateKey) -> Share:
    """A custodian opens its share with the key its passphrase derives."""
    try:
        share = SUITE.decrypt(b64url_decode(sealed), custodian_key, info=_share_info(section, index))
    except (InvalidTag, ValueError) as error:  # wrong passphrase or damaged record: one refusal
        raise KeyCeremonyError("KEY-SHARE-INVALID", f"share {index} does not open with this custodian's key") from error
    return index, share


def verify_share(*, section: str, share: Share, commitments: dict[int, str]) -> None:
    """Refuse a share that is not the one committed to at the ceremony (forged, damaged, or from another)."""
    index, value = share
    if type(index) is not int or not isinstance(value, bytes) or len(value) != SHARE_SIZE:
        raise KeyCeremonyError("KEY-SHARE-INVALID", f"share {index!r} is malformed (index, 32 bytes)")
    if commitments.get(index) != share_commitment(section=section, index=index, share=value):
        raise KeyCeremonyError("KEY-SHARE-INVALID", f"share {index} does not match its published commitment")


def rebuild_private_key(
    *, section: str, shares: list[Share], commitments: dict[int, str], fingerprint: str, threshold: int
) -> ec.EllipticCurvePrivateKey:
    """Rebuild the opening key in memory from a quorum; a forged or missing share is named, never silently used."""
    for share in shares:
        verify_share(section=section, share=share, commitments=commitments)
    distinct = list(dict(shares).items())  # the same share presented twice counts once
    if len(distinct) < threshold:
        raise KeyCeremonyError("KEY-QUORUM", f"{threshold} distinct shares are needed, {len(distinct)} given")
    rebuilt = _combine(distinct[:threshold])
    if rebuilt is None or public_key_fingerprint(rebuilt.public_key()) != fingerprint:
        raise KeyCeremonyError("KEY-QUORUM", "the shares do not rebuild the section's opening key")
    return rebuilt
