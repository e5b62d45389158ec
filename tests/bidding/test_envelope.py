"""The envelope format (docs/envelope.md): round trips, the shared vectors, and every tampering refused."""

import io
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bidding import envelope as E

VECTORS = sorted((Path(__file__).resolve().parents[1] / "vectors" / "envelope").glob("*.json"))
KEYS = {name: E.generate_key() for name in ("opening", "bidder", "signing")}


class OneWay(io.RawIOBase):
    """An output that cannot seek (a pipe): the sealer must spool instead."""

    def __init__(self):
        self.buffer = io.BytesIO()

    def writable(self):
        return True

    def write(self, data):
        return self.buffer.write(data)


def seal(content: bytes, out=None, *, section="S-1", code="B-1") -> bytes:
    out = out or io.BytesIO()
    E.seal(
        section=section,
        bidder_code=code,
        opening_public_key=KEYS["opening"].public_key(),
        bidder_public_key=KEYS["bidder"].public_key(),
        signing_private_key=KEYS["signing"],
        form={"price_fen": 99},
        files={"commercial": ("c.bin", "application/octet-stream", content)},
        out=out,
        chunk_size=65536,
    )
    return (out.buffer if isinstance(out, OneWay) else out).getvalue()


def verify(data: bytes, *, section="S-1", code="B-1"):
    return E.verify_structure(
        io.BytesIO(data),
        expected_section=section,
        expected_bidder_code=code,
        opening_key_fingerprint=E.public_key_fingerprint(KEYS["opening"].public_key()),
        signing_public_key=KEYS["signing"].public_key(),
        bidder_key_fingerprint=E.public_key_fingerprint(KEYS["bidder"].public_key()),
        max_size=1 << 30,
    )


def opened(data: bytes, recipient="opening") -> bytes:
    out = io.BytesIO()
    E.open_part(io.BytesIO(data), private_key=KEYS[recipient], recipient=recipient, part_name="commercial", out=out)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, 65535 - 60, 65536, 65537, 3 * 65536 + 5, 2_000_000])
@pytest.mark.parametrize("one_way", [False, True])
def test_round_trip_for_both_recipients(size, one_way):
    content = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    data = seal(content, OneWay() if one_way else None)
    assert verify(data).size == len(data)
    assert opened(data, "opening") == content and opened(data, "bidder") == content


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_the_shared_vectors_open(path):
    vector = json.loads(path.read_text(encoding="utf-8"))
    data = E.b64url_decode(vector["envelope"])
    for field, recipient in (("opening_private_jwk", "opening"), ("bidder_private_jwk", "bidder")):
        key = ec.derive_private_key(int.from_bytes(E.b64url_decode(vector[field]["d"]), "big"), ec.SECP256R1())
        assert E.open_form(io.BytesIO(data), private_key=key, recipient=recipient) == vector["form"]
        for name, part in vector["parts"].items():
            out = io.BytesIO()
            meta = E.open_part(io.BytesIO(data), private_key=key, recipient=recipient, part_name=name, out=out)
            assert out.getvalue() == bytes.fromhex(part["content"]) and meta["filename"] == part["filename"]


def body_offset(data: bytes) -> int:
    return 12 + int.from_bytes(data[8:12], "big")


def test_reordered_chunks_fail_at_opening_with_the_chunk_named():
    data = seal(b"a" * 65536 * 3)
    start, step = body_offset(data) + len(seal_form_part(data)), 65536 + 16
    swapped = data[:start] + data[start + step : start + 2 * step] + data[start : start + step] + data[start + 2 * step :]
    with pytest.raises(E.EnvelopeError) as refused:
        opened(swapped)
    assert refused.value.code == "OPEN-DECRYPT-FAIL" and "chunk 0" in refused.value.message


def seal_form_part(data: bytes) -> bytes:
    header = json.loads(data[12 : body_offset(data)])
    return data[body_offset(data) : body_offset(data) + header["manifest"]["parts"][0]["ciphertext_size"]]


def test_a_dropped_last_chunk_fails_even_with_a_rewritten_manifest():
    data = seal(b"b" * 65536 * 2)
    header = json.loads(data[12 : body_offset(data)])
    part = header["manifest"]["parts"][1]
    part["chunk_count"], part["ciphertext_size"] = 1, 65536 + 16
    raw = E.canonical_json(header)
    truncated = E.MAGIC + len(raw).to_bytes(4, "big") + raw + data[body_offset(data) :][: -(65536 + 16 + 4 + 16)]
    with pytest.raises(E.EnvelopeError):
        opened(truncated)


def test_parts_spliced_from_another_envelope_fail():
    mine, theirs = seal(b"mine" * 1000), seal(b"theirs" * 1000)
    spliced = mine[: body_offset(mine)] + theirs[body_offset(theirs) :]
    with pytest.raises(E.EnvelopeError) as refused:
        verify(spliced)
    assert refused.value.code == "BID-ENCRYPTED"


@pytest.mark.parametrize(
    ("section", "code", "reason"), [("S-2", "B-1", "another section"), ("S-1", "B-2", "another bidder code")]
)
def test_an_envelope_sealed_for_someone_else_is_refused(section, code, reason):
    with pytest.raises(E.EnvelopeError) as refused:
        verify(seal(b"x"), section=section, code=code)
    assert reason in refused.value.message


def test_a_wrong_opening_key_cannot_open():
    with pytest.raises(E.EnvelopeError) as refused:
        E.open_form(io.BytesIO(seal(b"x")), private_key=E.generate_key(), recipient="opening")
    assert refused.value.code == "OPEN-DECRYPT-FAIL"
