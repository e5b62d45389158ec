"""The draw's seed is sealed at rest until it is revealed (EVAL-SECRET, EVAL-RANDOM).

Whoever reads the seed before the draw can compute the committee: a database dump or administrator
must not. It is kept under EVALUATION_SEED_KEY (base64 of 32 bytes, required in production; in the
embedded default derived from SECRET_KEY), bound to its section and its published commitment, so a
sealed seed cannot be moved to another draw. Once revealed it is public (the record and the audit
chain carry it), as before.
"""

from trading.sealing import seal_text, sealing_key, unseal_text

PREFIX = "s1:"


def _key() -> bytes:
    return sealing_key("EVALUATION_SEED_KEY", b"sunlight-evaluation-seed/v1")


def _aad(section_id: int, commitment: str) -> bytes:
    return f"sunlight-draw-seed|{section_id}|{commitment}".encode()


def seed_seal(seed: str, *, section_id: int, commitment: str) -> str:
    return seal_text(seed, key=_key(), aad=_aad(section_id, commitment), prefix=PREFIX)


def seed_unseal(token: str, *, section_id: int, commitment: str) -> str:
    return unseal_text(token, key=_key(), aad=_aad(section_id, commitment), prefix=PREFIX)
