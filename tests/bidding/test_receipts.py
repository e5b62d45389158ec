"""Bid receipts: Ed25519 over canonical JSON, checked offline (pure Python, no database)."""

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bidding import envelope as E
from bidding import receipts

PLATFORM = Ed25519PrivateKey.generate()
RAW = PLATFORM.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
DIGEST = hashlib.sha256(b"the envelope").hexdigest()
BODY = {
    "type": "sunlight-bid-receipt/v1",
    "section": "S-2026-0001",
    "bidder_code": "B-7K3Q",
    "digest": DIGEST,
    "size": 12,
    "received_at": "2026-11-22T08:00:00.000000+00:00",
    "key_id": hashlib.sha256(RAW).hexdigest(),
}


def refusal(call, *args, **kwargs) -> receipts.ReceiptError:
    with pytest.raises(receipts.ReceiptError) as refused:
        call(*args, **kwargs)
    return refused.value


def test_canonical_json_sorts_keys_keeps_unicode_and_drops_whitespace():
    value = {"b": [1, {"z": "阳光", "a": None}], "a": True}
    assert receipts.canonical_json(value) == '{"a":true,"b":[1,{"a":null,"z":"阳光"}]}'.encode()


def test_a_signed_receipt_verifies_with_the_pinned_platform_key():
    # Given a receipt signed by the platform
    document = receipts.sign_receipt(private_key=PLATFORM, receipt=BODY)
    # Then it is the body, the signature over its canonical JSON, and the raw public key
    assert document["receipt"] == BODY
    assert document["platform_key"] == E.b64url(RAW)
    PLATFORM.public_key().verify(E.b64url_decode(document["signature"]), receipts.canonical_json(BODY))
    # And it verifies with the key given as bytes or base64url, and against the envelope's digest
    assert receipts.verify_receipt(document, platform_key=RAW) == BODY
    assert receipts.verify_receipt(document, platform_key=E.b64url(RAW), envelope_digest=DIGEST.upper()) == BODY
    assert receipts.platform_key_id(PLATFORM.public_key()) == BODY["key_id"]


def test_without_a_pinned_key_the_key_in_the_file_is_used():
    document = receipts.sign_receipt(private_key=PLATFORM, receipt=BODY)
    assert receipts.verify_receipt(document) == BODY


@pytest.mark.parametrize(
    ("field", "value"), [("digest", "0" * 64), ("bidder_code", "B-0000"), ("received_at", "2026-11-22T07:59:59.000000+00:00")]
)
def test_an_edited_receipt_does_not_verify(field, value):
    document = receipts.sign_receipt(private_key=PLATFORM, receipt=BODY)
    document["receipt"][field] = value
    refused = refusal(receipts.verify_receipt, document, platform_key=RAW)
    assert (refused.code, refused.message) == ("RECEIPT-INVALID", "the signature does not verify with the platform key")


def test_a_receipt_signed_by_another_key_is_refused_against_the_pinned_one():
    # Given a forger's receipt that carries the forger's own public key
    forger = Ed25519PrivateKey.generate()
    document = receipts.sign_receipt(private_key=forger, receipt=BODY)
    # Then it verifies only against itself; against the platform's key it is refused
    assert receipts.verify_receipt(document) == BODY
    refused = refusal(receipts.verify_receipt, document, platform_key=RAW)
    assert refused.message == "signed by another key than the platform key given"


def test_a_receipt_for_another_envelope_is_refused():
    document = receipts.sign_receipt(private_key=PLATFORM, receipt=BODY)
    other = hashlib.sha256(b"another envelope").hexdigest()
    refused = refusal(receipts.verify_receipt, document, platform_key=RAW, envelope_digest=other)
    assert refused.message == f"the receipt is for digest {DIGEST}, not this envelope ({other})"


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"receipt": BODY, "signature": "!!", "platform_key": E.b64url(RAW)},
        {"receipt": BODY, "signature": "AAAA", "platform_key": "AAAA"},
        {"receipt": "not an object", "signature": "AAAA", "platform_key": E.b64url(RAW)},
    ],
)
def test_a_malformed_document_is_refused(document):
    assert refusal(receipts.verify_receipt, document).code == "RECEIPT-INVALID"


def test_a_garbled_signature_is_refused():
    document = receipts.sign_receipt(private_key=PLATFORM, receipt=BODY)
    signature = bytearray(E.b64url_decode(document["signature"]))
    signature[0] ^= 1
    document["signature"] = E.b64url(bytes(signature))
    assert (
        refusal(receipts.verify_receipt, document, platform_key=RAW).message
        == "the signature does not verify with the platform key"
    )
