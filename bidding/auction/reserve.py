"""The secret reserve price (保留价): sealed at entry, committed to in public, revealed after the sale.

At set-up the reserve is encrypted (AES-256-GCM, bound to the section) to the platform's reserve key
(AUCTION_RESERVE_KEY, base64 of 32 bytes; in the embedded default derived from SECRET_KEY) and a
commitment SHA-256("sunlight-reserve/v1|section|fen|salt") is published with the sale. The key is
used once, when the sale ends, to compare the highest offer with the reserve; the reserve and salt
are then published, so anyone can check them against the commitment made before the first offer.
"""

import hashlib
import hmac
import json
import secrets

from trading.sealing import seal_text, sealing_key, unseal_text

PREFIX = "r1:"


def _key() -> bytes:
    return sealing_key("AUCTION_RESERVE_KEY", b"sunlight-auction-reserve/v1")


def commitment(*, section_public_id: str, reserve_fen: int, salt: str) -> str:
    return hashlib.sha256(f"sunlight-reserve/v1|{section_public_id}|{int(reserve_fen)}|{salt}".encode()).hexdigest()


def commitment_holds(*, section_public_id: str, reserve_fen: int, salt: str, expected: str) -> bool:
    """Anyone's check after the sale: the published reserve and salt give the published commitment."""
    got = commitment(section_public_id=section_public_id, reserve_fen=reserve_fen, salt=salt)
    return hmac.compare_digest(got, expected)


def _aad(section_public_id: str) -> bytes:
    return b"sunlight-auction-reserve|" + section_public_id.encode()


def reserve_seal(*, section_public_id: str, reserve_fen: int) -> tuple[str, str]:
    """(sealed, commitment) for a reserve entered at set-up; the plaintext is not kept."""
    salt = secrets.token_hex(32)
    body = json.dumps({"fen": int(reserve_fen), "salt": salt})
    sealed = seal_text(body, key=_key(), aad=_aad(section_public_id), prefix=PREFIX)
    return sealed, commitment(section_public_id=section_public_id, reserve_fen=reserve_fen, salt=salt)


def reserve_unseal(*, section_public_id: str, sealed: str, expected_commitment: str) -> tuple[int, str]:
    """(reserve_fen, salt): only for the end-of-sale check; a sealed value that does not match its commitment is refused."""
    body = json.loads(unseal_text(sealed, key=_key(), aad=_aad(section_public_id), prefix=PREFIX))
    fen, salt = int(body["fen"]), str(body["salt"])
    if not commitment_holds(section_public_id=section_public_id, reserve_fen=fen, salt=salt, expected=expected_commitment):
        raise ValueError("sealed reserve does not match its commitment")
    return fen, salt
