"""Keys that seal values at rest (AES-256-GCM): a setting of base64 of 32 bytes, required in production;
in the embedded default, derived from SECRET_KEY with a label of the key's own."""

import base64
from functools import cache

from cryptography.hazmat.primitives import hashes
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
