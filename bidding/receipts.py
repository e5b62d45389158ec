"""Bid receipts: the platform's Ed25519 signature over the canonical JSON of what it received.

Pure Python (no Django), so a bidder checks a receipt offline with `python -m bidding.cli verify-receipt`.
A receipt file is `{"receipt": {...}, "signature": b64url, "platform_key": b64url raw Ed25519 public key}`.
"""

import hashlib
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bidding.envelope import b64url, b64url_decode, canonical_json

__all__ = ["ReceiptError", "canonical_json", "platform_key_id", "sign_receipt", "verify_receipt"]


class ReceiptError(Exception):
    """A receipt that does not verify; `code` is RECEIPT-INVALID."""

    def __init__(self, message: str):
        super().__init__(f"RECEIPT-INVALID: {message}")
        self.code, self.message = "RECEIPT-INVALID", message


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def platform_key_id(public_key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw public key, as receipts name the key in `key_id`."""
    return hashlib.sha256(_raw(public_key)).hexdigest()


def sign_receipt(*, private_key: Ed25519PrivateKey, receipt: Mapping) -> dict:
    """The receipt document: the body, its signature, and the public key that checks it."""
    body = dict(receipt)
    return {
        "receipt": body,
        "signature": b64url(private_key.sign(canonical_json(body))),
        "platform_key": b64url(_raw(private_key.public_key())),
    }


def verify_receipt(document: Mapping, *, platform_key: bytes | str | None = None, envelope_digest: str | None = None) -> dict:
    """The receipt's body if its signature verifies; raises ReceiptError otherwise.

    `platform_key` (raw bytes or base64url) is the key the bidder trusts, published by the
    platform; without it the key in the document is used, which proves integrity only.
    `envelope_digest` (hex SHA-256 of the envelope the bidder kept) must then equal the receipt's.
    """
    try:
        body, signature = document["receipt"], b64url_decode(document["signature"])
        trusted = platform_key if platform_key is not None else document["platform_key"]
        key = Ed25519PublicKey.from_public_bytes(b64url_decode(trusted) if isinstance(trusted, str) else bytes(trusted))
    except (KeyError, TypeError, ValueError) as error:
        raise ReceiptError("not a receipt document (receipt, signature, platform_key)") from error
    if not isinstance(body, dict):
        raise ReceiptError("the receipt body is not an object")
    if platform_key is not None and document.get("platform_key") not in (None, b64url(_raw(key))):
        raise ReceiptError("signed by another key than the platform key given")
    try:
        key.verify(signature, canonical_json(body))
    except InvalidSignature as error:
        raise ReceiptError("the signature does not verify with the platform key") from error
    if envelope_digest is not None and body.get("digest") != envelope_digest.lower():
        raise ReceiptError(f"the receipt is for digest {body.get('digest')}, not this envelope ({envelope_digest.lower()})")
    return body
