"""Who paid a deposit is sealed at rest (AES-256-GCM): a database dump or administrator does not learn who bid.

The key is ESCROW_PAYER_KEY (base64 of 32 bytes) or, in the embedded default, derived from SECRET_KEY.
Each value is bound to its payment (provider, transaction id, field) so sealed values cannot be swapped
between rows. DEP-SAME-PAYER compares keyed digests (escrow.services.payments.payer_key), never plaintext.
"""

from trading.sealing import seal_text, sealing_key, unseal_text

PREFIX = "v1:"


def _key() -> bytes:
    return sealing_key("ESCROW_PAYER_KEY", b"sunlight-escrow-payer-seal/v1")


def _aad(context: str) -> bytes:
    return b"sunlight-escrow-payer|" + context.encode()


def seal(value: str, *, context: str) -> str:
    return seal_text(value, key=_key(), aad=_aad(context), prefix=PREFIX)


def unseal(token: str, *, context: str) -> str:
    return unseal_text(token, key=_key(), aad=_aad(context), prefix=PREFIX)
