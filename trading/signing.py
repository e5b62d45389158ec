"""The platform's Ed25519 key: signs audit checkpoints, receipts and opening records."""

import base64
import functools
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.cache
def platform_key() -> Ed25519PrivateKey:
    if settings.PLATFORM_SIGNING_KEY:
        key = serialization.load_pem_private_key(settings.PLATFORM_SIGNING_KEY.encode(), password=None)
    else:
        key = _embedded_key(Path(settings.PLATFORM_SIGNING_KEY_FILE))
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("PLATFORM_SIGNING_KEY must be an Ed25519 private key")
    return key


def _embedded_key(path: Path) -> Ed25519PrivateKey:
    # Embedded default only: production settings require PLATFORM_SIGNING_KEY.
    if path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # Several processes may start at once (server, worker, test workers): the key is written whole under a name of
    # its own, then linked into place, which only the first one manages; the others take the winner's key.
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    try:
        os.link(draft, path)
    except FileExistsError:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    finally:
        draft.unlink()
    return key


def public_key_raw() -> bytes:
    return platform_key().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id() -> str:
    return hashlib.sha256(public_key_raw()).hexdigest()


def sign(message: bytes) -> str:
    return b64url(platform_key().sign(message))


def verify(message: bytes, signature: str, public_key: bytes | None = None) -> bool:
    key = Ed25519PublicKey.from_public_bytes(public_key or public_key_raw())
    try:
        key.verify(b64url_decode(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True
