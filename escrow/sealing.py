"""Who paid a deposit is sealed at rest (AES-256-GCM): a database dump or administrator does not learn who bid.

The key is ESCROW_PAYER_KEY (base64 of 32 bytes) or, in the embedded default, derived from SECRET_KEY.
Each value is bound to its payment (provider, transaction id, field) so sealed values cannot be swapped
between rows. DEP-SAME-PAYER compares keyed digests (escrow.services.payments.payer_key), never plaintext.
"""

import base64
import os
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PREFIX = "v1:"


@cache
def _key() -> bytes:
    configured = getattr(settings, "ESCROW_PAYER_KEY", "")
    if configured:
        key = base64.b64decode(configured)
        if len(key) != 32:
            raise ValueError("ESCROW_PAYER_KEY must be 32 bytes, base64")
        return key
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sunlight-escrow-payer-seal/v1").derive(
        settings.SECRET_KEY.encode()
    )


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
