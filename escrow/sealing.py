"""Who paid a deposit is sealed at rest (AES-256-GCM): a database dump or administrator does not learn who bid.

The key is ESCROW_PAYER_KEY (base64 of 32 bytes) or, in the embedded default, derived from SECRET_KEY.
Each value is bound to its payment (provider, transaction id, field) so sealed values cannot be swapped
between rows. DEP-SAME-PAYER compares keyed digests (escrow.services.payments.payer_key), never plaintext.
"""

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from trading.sealing import sealing_key

PREFIX = "v1:"


def _key() -> bytes:
    return sealing_key("ESCROW_PAYER_KEY", b"sunlight-escrow-payer-seal/v1")


def _aad(context: str) -> bytes:
    return b"sunlight-escrow-payer|" + context.encode()


def seal(value: str, *, context: str) -> str:
    nonce = os.urandom(12)
    return PREFIX + base64.urlsafe_b64encode(nonce + AESGCM(_key()).encrypt(nonce, value.encode(), _aad(context))).decode()


def unseal(token: str, *, context: str) -> str:
    if not token.startswith(PREFIX):
        raise ValueError("not a sealed value")
    raw = base64.urlsafe_b64decode(token[len(PREFIX) :])
    return AESGCM(_key()).decrypt(raw[:12], raw[12:], _aad(context)).decode()
