"""Keys that seal values at rest (AES-256-GCM): a setting of base64 of 32 bytes, required in production;
in the embedded default, derived from SECRET_KEY with a label of the key's own."""

import base64
import os
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@cache
def sealing_key(setting: str, label: bytes) -> bytes:
    configured = getattr(settings, setting, "")
    if configured:
        key = base64.b64decode(configured)
        if len(key) != 32:
            raise ValueError(f"{setting} must be 32 bytes, base64")
        return key
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(settings.SECRET_KEY.encode())


def seal_text(value: str, *, key: bytes, aad: bytes, prefix: str) -> str:
    """`prefix` + base64url(nonce || AES-256-GCM(value)), bound to `aad` (the row and field it belongs to)."""
    nonce = os.urandom(12)
    return prefix + base64.urlsafe_b64encode(nonce + AESGCM(key).encrypt(nonce, value.encode(), aad)).decode()


def unseal_text(token: str, *, key: bytes, aad: bytes, prefix: str) -> str:
    if not token.startswith(prefix):
        raise ValueError("not a sealed value")
    raw = base64.urlsafe_b64decode(token[len(prefix) :])
    return AESGCM(key).decrypt(raw[:12], raw[12:], aad).decode()
