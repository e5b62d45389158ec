"""The envelope format (docs/envelope.md): round trips, the shared vectors, and every tampering refused.

Pure Python: needs neither Django nor a database.
"""

import hashlib
import io
import json
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidding import envelope as E

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "envelope"
POSITIVE = sorted(VECTORS.glob("v1-*.json"))
NEGATIVE = sorted(VECTORS.glob("negative-*.json"))
KEYS = {name: E.generate_key() for name in ("opening", "bidder", "signing")}
CHUNK = 65536
FORM = {"price_fen": 123_456_789, "currency": "CNY", "duration_days": 180, "fields": {"项目经理": "张工"}}
META = E.canonical_json({"content_type": "application/octet-stream", "filename": "c.bin"})
PREFIX = 4 + len(META)  # the plaintext's u32 meta length and meta, before the content


class OneWay(io.RawIOBase):
    """An output that cannot seek (a pipe): the sealer must spool the parts instead."""

    def __init__(self):
        self.buffer = io.BytesIO()

    def writable(self):
        return True

    def write(self, data):
        return self.buffer.write(data)


def content_of(size: int) -> bytes:
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def seal(content: bytes = b"x", *, out=None, section="S-1", code="B-1", chunk_size=CHUNK, opening=None, files=None) -> bytes:
    out = out if out is not None else io.BytesIO()
    E.seal(
        section=section,
        bidder_code=code,
        opening_public_key=(opening or KEYS["opening"]).public_key(),
        bidder_public_key=KEYS["bidder"].public_key(),
        signing_private_key=KEYS["signing"],
        form=FORM,
        files=files if files is not None else {"commercial": ("c.bin", "application/octet-stream", content)},
        out=out,
        chunk_size=chunk_size,
    )
    if isinstance(out, OneWay):
        return out.buffer.getvalue()
    return out.getvalue() if isinstance(out, io.BytesIO) else b""


def context(**changes) -> dict:
    values = {
        "expected_section": "S-1",
        "expected_bidder_code": "B-1",
        "opening_key_fingerprint": E.public_key_fingerprint(KEYS["opening"].public_key()),
        "signing_public_key": KEYS["signing"].public_key(),
        "bidder_key_fingerprint": E.public_key_fingerprint(KEYS["bidder"].public_key()),
        "max_size": 1 << 30,
    }
    return {**values, **changes}


def verify(data: bytes, **changes) -> E.VerifiedEnvelope:
    return E.verify_structure(io.BytesIO(data), **context(**changes))


def refusal(call, *args, **kwargs) -> E.EnvelopeError:
    with pytest.raises(E.EnvelopeError) as refused:
        call(*args, **kwargs)
    return refused.value


def opened(data: bytes, recipient="opening", part="commercial", key=None) -> bytes:
    out = io.BytesIO()
    E.open_part(io.BytesIO(data), private_key=key or KEYS[recipient], recipient=recipient, part_name=part, out=out)
    return out.getvalue()


def body(data: bytes) -> int:
    return 12 + int.from_bytes(data[8:12], "big")


def header_of(data: bytes) -> dict:
    return json.loads(data[12 : body(data)])


def with_header(header: dict, rest: bytes, *, resign: bool = False) -> bytes:
    if resign:
        header["signature"] = E.sign_manifest(signing_private_key=KEYS["signing"], manifest=header["manifest"])
    raw = E.canonical_json(header)
    return E.MAGIC + len(raw).to_bytes(4, "big") + raw + rest


def span(data: bytes, name: str) -> tuple[int, int]:
    header = E.inspect(io.BytesIO(data))
    start = header.part_offset(name)
    return start, start + header.part(name)["ciphertext_size"]


# --- round trips ---------------------------------------------------------------------------


SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, CHUNK - PREFIX - 1, CHUNK - PREFIX, CHUNK - PREFIX + 1, 3 * CHUNK + 5, 3_000_000]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("one_way", [False, True], ids=["seekable-out", "pipe-out"])
def test_round_trip_for_both_recipients(size, one_way):
    # Given a bid file of `size` bytes
    content = content_of(size)
    # When it is sealed into a seekable file or a pipe
    data = seal(content, out=OneWay() if one_way else None)
    # Then the server's check passes, with the digest of the whole file
    verified = verify(data)
    assert (verified.size, verified.digest) == (len(data), hashlib.sha256(data).hexdigest())
    # And the part holds ceil((meta + content) / chunk) chunks of the announced sizes
    part = verified.manifest["parts"][1]
    count = max(1, -(-(PREFIX + size) // CHUNK))
    assert (part["name"], part["chunk_count"], part["ciphertext_size"]) == ("commercial", count, PREFIX + size + 16 * count)
    # And both the opening key and the bidder's own key open it to the same bytes
    assert opened(data, "opening") == content
    assert opened(data, "bidder") == content
    assert E.open_form(io.BytesIO(data), private_key=KEYS["bidder"], recipient="bidder") == FORM


class Trickle(OneWay):
    """A raw pipe that takes at most 1000 bytes per write, as an unbuffered file may."""

    def write(self, data):
        return self.buffer.write(bytes(data[:1000]))


def test_an_output_that_takes_part_of_each_write_gets_the_whole_envelope():
    content = content_of(3 * CHUNK + 5)
    data = seal(content, out=Trickle())
    assert verify(data).size == len(data)
    assert opened(data) == content


def test_a_plaintext_of_exactly_one_chunk_gets_no_empty_extra_chunk():
    # Given content that makes meta + content exactly one chunk
    data = seal(content_of(CHUNK - PREFIX))
    # Then the manifest counts one chunk of chunk_size + tag
    part = E.inspect(io.BytesIO(data)).part("commercial")
    assert (part["chunk_count"], part["ciphertext_size"]) == (1, CHUNK + 16)


@pytest.mark.parametrize("size", [E.DEFAULT_CHUNK - 1, E.DEFAULT_CHUNK, E.DEFAULT_CHUNK + 1, 5 * E.DEFAULT_CHUNK + 3])
def test_round_trip_of_files_on_disk_with_the_default_chunk_size(tmp_path, size):
    # Given a technical file on disk and a commercial file object, sealed with 1 MiB chunks
    (tmp_path / "技术标.zip").write_bytes(content_of(size))
    commercial = io.BytesIO(b"ignored prefix" + content_of(1000))
    commercial.seek(len(b"ignored prefix"))  # a file object is read from where it stands
    with open(tmp_path / "bid.env", "wb") as out:
        E.seal(
            section="S-1",
            bidder_code="B-1",
            opening_public_key=KEYS["opening"].public_key(),
            bidder_public_key=KEYS["bidder"].public_key(),
            signing_private_key=KEYS["signing"],
            form=FORM,
            files={"technical": tmp_path / "技术标.zip", "commercial": commercial},
            out=out,
        )
    data = (tmp_path / "bid.env").read_bytes()
    # Then the parts are in the format's order with default chunks, and open to the inputs
    assert [(p["name"], p["chunk_size"]) for p in verify(data).manifest["parts"]] == [
        ("form", E.DEFAULT_CHUNK),
        ("commercial", E.DEFAULT_CHUNK),
        ("technical", E.DEFAULT_CHUNK),
    ]
    out = io.BytesIO()
    meta = E.open_part(io.BytesIO(data), private_key=KEYS["opening"], recipient="opening", part_name="technical", out=out)
    assert (meta, out.getvalue()) == ({"content_type": "application/octet-stream", "filename": "技术标.zip"}, content_of(size))
    assert opened(data) == content_of(1000)
    assert not commercial.closed  # the caller's file stays the caller's


def test_the_header_says_what_was_sealed():
    # Given a bid sealed at a known time with both files
    out = io.BytesIO()
    at = datetime(2026, 11, 1, 9, 30, 5, tzinfo=UTC)
    manifest = E.seal(
        section="S-1",
        bidder_code="B-1",
        opening_public_key=KEYS["opening"].public_key(),
        bidder_public_key=KEYS["bidder"].public_key(),
        signing_private_key=KEYS["signing"],
        form=FORM,
        files={"technical": ("t.zip", "application/zip", b"t"), "commercial": ("c.pdf", "application/pdf", b"c")},
        out=out,
        chunk_size=CHUNK,
        sealed_at=at,
    )
    # When only its header is read
    header = E.inspect(io.BytesIO(out.getvalue()))
    # Then every field is the one sealed, and the file has the size the header announces
    assert header.manifest == manifest
    assert {k: v for k, v in manifest.items() if k != "parts"} == {
        "format": "sunlight-envelope",
        "version": 1,
        "suite": 1,
        "section": "S-1",
        "bidder_code": "B-1",
        "opening_key": hashlib.sha256(E.public_point(KEYS["opening"].public_key())).hexdigest(),
        "bidder_key": hashlib.sha256(E.public_point(KEYS["bidder"].public_key())).hexdigest(),
        "signing_key": hashlib.sha256(E.public_point(KEYS["signing"].public_key())).hexdigest(),
        "sealed_at": "2026-11-01T09:30:05Z",
    }
    assert [p["name"] for p in manifest["parts"]] == ["form", "commercial", "technical"]
    assert header.size == len(out.getvalue())
    assert header.raw == E.canonical_json({"manifest": manifest, "signature": header.signature})


def test_memory_stays_flat_in_the_bid_size(tmp_path):
    # Given bids of 2 MB and 16 MB on disk, sealed with 64 KiB chunks
    peaks = {}
    for size_mb in (2, 16):
        source, target = tmp_path / f"{size_mb}.bin", tmp_path / f"{size_mb}.env"
        with open(source, "wb") as fh:
            for _ in range(size_mb):
                fh.write(content_of(1 << 20))
        tracemalloc.start()
        # When it is sealed, checked and opened
        with open(target, "wb") as out:
            seal(files={"technical": source}, out=out)
        with open(target, "rb") as fh:
            E.verify_structure(fh, **context())
        with open(target, "rb") as fh, open(tmp_path / "opened", "wb") as out:
            E.open_part(fh, private_key=KEYS["opening"], recipient="opening", part_name="technical", out=out)
        peaks[size_mb] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # Then the peak of traced memory is a few buffers (the check reads 1 MiB at a time), the same for 8 times the data
    assert peaks[16] < 3 << 20
    assert peaks[16] < 1.5 * peaks[2]


# --- input checks at sealing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"price_fen": 12.5}, "the bid form needs price_fen"),
        ({"price_fen": True}, "the bid form needs price_fen"),
        ({"price_fen": "100"}, "the bid form needs price_fen"),
        ({"price_fen": -1}, "the bid form needs price_fen"),
        ({"price_fen": 2**53}, "the bid form needs price_fen"),
        ({"currency": "CNY"}, "the bid form needs price_fen"),
        ({"price_fen": 1, "fields": {"rate": 0.5}}, "no floats in the bid form"),
        ({"price_fen": 1, "fields": [1, 2**60]}, "bid form integers stay within 2^53-1"),
    ],
)
def test_a_form_without_an_exact_integer_price_is_refused_before_sealing(form, reason):
    with pytest.raises(ValueError, match=reason.replace("^", r"\^")):
        E.seal(
            section="S-1",
            bidder_code="B-1",
            opening_public_key=KEYS["opening"].public_key(),
            bidder_public_key=KEYS["bidder"].public_key(),
            signing_private_key=KEYS["signing"],
            form=form,
            files={},
            out=io.BytesIO(),
        )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"section": "S|1"}, "section must be a non-empty string without '|'"),
        ({"bidder_code": ""}, "bidder_code must be a non-empty string without '|'"),
        ({"chunk_size": 65535}, "chunk_size must be 65536..16777216"),
        ({"chunk_size": 16777217}, "chunk_size must be 65536..16777216"),
        ({"files": {"pricing": b"x"}}, "unknown parts \\['pricing'\\]"),
        ({"files": {"commercial": iter([b"x"])}}, "commercial: give a path, bytes, or a seekable binary file"),
    ],
)
def test_sealing_refuses_what_the_format_cannot_carry(changes, reason):
    arguments = {
        "section": "S-1",
        "bidder_code": "B-1",
        "opening_public_key": KEYS["opening"].public_key(),
        "bidder_public_key": KEYS["bidder"].public_key(),
        "signing_private_key": KEYS["signing"],
        "form": FORM,
        "files": {},
        "out": io.BytesIO(),
        **changes,
    }
    with pytest.raises(ValueError, match=reason):
        E.seal(**arguments)


# --- the shared vectors --------------------------------------------------------------------


def jwk_key(jwk: dict) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(E.b64url_decode(jwk["d"]), "big"), ec.SECP256R1())


def vector_context(vector: dict) -> dict:
    return {
        "expected_section": vector.get("section", "S-VEC-0001"),
        "expected_bidder_code": vector.get("bidder_code", "B-7K3Q"),
        "opening_key_fingerprint": E.public_key_fingerprint(jwk_key(vector["opening_private_jwk"]).public_key()),
        "signing_public_key": E.load_public_key(vector["signing_public_key"]),
        "bidder_key_fingerprint": E.public_key_fingerprint(jwk_key(vector["bidder_private_jwk"]).public_key()),
        "max_size": 1 << 30,
    }


@pytest.mark.parametrize("path", POSITIVE, ids=lambda p: p.stem)
def test_the_positive_vectors_pass_the_check_and_open_with_both_keys(path):
    # Given a positive vector
    vector = json.loads(path.read_text(encoding="utf-8"))
    data = E.b64url_decode(vector["envelope"])
    # Then the server's check passes
    assert E.verify_structure(io.BytesIO(data), **vector_context(vector)).digest == hashlib.sha256(data).hexdigest()
    # And both keys open the form and every part to the stated content and meta
    for field, recipient in (("opening_private_jwk", "opening"), ("bidder_private_jwk", "bidder")):
        key = jwk_key(vector[field])
        assert E.open_form(io.BytesIO(data), private_key=key, recipient=recipient) == vector["form"]
        for name, part in vector["parts"].items():
            out = io.BytesIO()
            meta = E.open_part(io.BytesIO(data), private_key=key, recipient=recipient, part_name=name, out=out)
            assert out.getvalue() == bytes.fromhex(part["content"])
            assert meta == {"filename": part["filename"], "content_type": part["content_type"]}


def test_there_is_a_negative_vector_for_every_tampering_the_readme_lists():
    assert [p.stem.removeprefix("negative-") for p in NEGATIVE] == sorted(
        [
            "bad-signature",
            "chunks-reordered",
            "ciphertext-bitflip",
            "garbled-header",
            "manifest-edited",
            "other-bidder-code",
            "other-opening-key",
            "other-section",
            "spliced-parts",
            "spliced-resigned",
            "trailing-bytes",
            "truncated",
            "wrong-version",
        ]
    )


@pytest.mark.parametrize("path", NEGATIVE, ids=lambda p: p.stem)
def test_the_negative_vectors_are_refused_as_stated(path):
    # Given a negative vector
    vector = json.loads(path.read_text(encoding="utf-8"))
    data = E.b64url_decode(vector["envelope"])
    assert vector["expect_error"] is True
    # When the server checks it
    try:
        got = {"digest": E.verify_structure(io.BytesIO(data), **vector_context(vector)).digest, "code": None}
    except E.EnvelopeError as error:
        got = {"code": error.code, "part": error.part, "message": error.message}
    # Then the outcome is the stated one
    assert got == vector["verify"]
    # When the opening key opens the form, then every part in order
    key = jwk_key(vector["opening_private_jwk"])
    try:
        form = E.open_form(io.BytesIO(data), private_key=key, recipient="opening")
        contents = {}
        for part in E.inspect(io.BytesIO(data)).manifest["parts"][1:]:
            contents[part["name"]] = opened(data, part=part["name"], key=key).hex()
        got = {"code": None, "form": form, "contents": contents}
    except E.EnvelopeError as error:
        got = {"code": error.code, "part": error.part, "chunk": error.chunk, "message": error.message}
    # Then that outcome is the stated one too
    assert got == vector["open"]


# --- tampering -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (5, "truncated: shorter than the 12-byte preamble"),
        (40, "truncated header: 28 of {header} bytes"),
        ("body", "part form: truncated, 0 of {form} bytes"),
        ("mid-commercial", "part commercial: truncated, 65552 of 131104 bytes"),
        (-1, "part commercial: truncated, 131103 of 131104 bytes"),
    ],
)
def test_a_truncated_envelope_is_refused_naming_where_it_ends(cut, message):
    # Given an envelope whose commercial part has two full chunks
    data = seal(content_of(2 * CHUNK - PREFIX))
    header = E.inspect(io.BytesIO(data))
    at = {"body": body(data), "mid-commercial": span(data, "commercial")[0] + CHUNK + 16}.get(cut, cut)
    # When it is cut short
    refused = refusal(verify, data[:at])
    # Then the check says where
    assert (refused.code, refused.message) == (
        "BID-ENCRYPTED",
        message.format(header=header.header_length, form=header.part("form")["ciphertext_size"]),
    )


def test_a_truncated_part_fails_at_opening_naming_the_part_and_chunk():
    data = seal(content_of(2 * CHUNK - PREFIX))
    refused = refusal(opened, data[:-1])
    assert (refused.code, refused.part, refused.chunk) == ("OPEN-DECRYPT-FAIL", "commercial", 1)
    assert refused.message == "part commercial: chunk 1 is truncated (65551 of 65552 bytes)"


def test_reordered_chunks_are_refused_at_the_check_and_at_opening():
    # Given a part of three full chunks, with chunks 0 and 1 swapped
    data = seal(content_of(3 * CHUNK - PREFIX))
    start, step = span(data, "commercial")[0], CHUNK + 16
    swapped = data[:start] + data[start + step : start + 2 * step] + data[start : start + step] + data[start + 2 * step :]
    # Then the digest check refuses it, and so does the opening, at chunk 0
    assert refusal(verify, swapped).message == "part commercial: the ciphertext's SHA-256 does not match the manifest"
    refused = refusal(opened, swapped)
    assert (refused.code, refused.part, refused.chunk) == ("OPEN-DECRYPT-FAIL", "commercial", 0)


def test_a_dropped_last_chunk_fails_at_opening_even_with_a_re_signed_manifest():
    # Given two full chunks, the last dropped, and the manifest rewritten and re-signed to match
    data = seal(content_of(2 * CHUNK - PREFIX))
    header = header_of(data)
    part = header["manifest"]["parts"][1]
    part["chunk_count"], part["ciphertext_size"] = 1, CHUNK + 16
    part["sha256"] = hashlib.sha256(data[span(data, "commercial")[0] :][: CHUNK + 16]).hexdigest()
    shortened = with_header(header, data[body(data) :][: -(CHUNK + 16)], resign=True)
    # Then the structure holds, but chunk 0 was not sealed as the last one
    assert verify(shortened).size == len(shortened)
    refused = refusal(opened, shortened)
    assert (refused.code, refused.part, refused.chunk) == ("OPEN-DECRYPT-FAIL", "commercial", 0)


def test_parts_spliced_from_another_envelope_are_refused():
    # Given my header followed by the body of another envelope of the same sizes
    mine, theirs = seal(b"mine" * 1000), seal(b"them" * 1000)
    spliced = mine[: body(mine)] + theirs[body(theirs) :]
    # Then the check refuses it at the first part, and so does the opening
    refused = refusal(verify, spliced)
    assert (refused.code, refused.part, refused.message) == (
        "BID-ENCRYPTED",
        "form",
        "part form: the ciphertext's SHA-256 does not match the manifest",
    )
    assert (refusal(opened, spliced, part="form").code, refusal(opened, spliced, part="form").chunk) == ("OPEN-DECRYPT-FAIL", 0)


def test_a_part_from_an_envelope_for_another_bidder_code_does_not_open_even_re_signed():
    # Given the commercial part (keys, digest, ciphertext) of an envelope sealed for B-2, put in B-1's and re-signed
    mine, theirs = seal(b"mine"), seal(b"mine", code="B-2")
    header = header_of(mine)
    header["manifest"]["parts"][1] = header_of(theirs)["manifest"]["parts"][1]
    start, end = span(theirs, "commercial")
    spliced = with_header(header, mine[body(mine) : span(mine, "commercial")[0]] + theirs[start:end], resign=True)
    # Then it passes the structure check (the bidder itself signed it) but its data key is bound to B-2
    assert verify(spliced).size == len(spliced)
    refused = refusal(opened, spliced)
    assert (refused.code, refused.part, refused.chunk, refused.message) == (
        "OPEN-DECRYPT-FAIL",
        "commercial",
        None,
        "part commercial: the data key does not open with this opening key",
    )


def test_parts_swapped_under_each_others_names_do_not_open():
    # Given commercial and technical of the same size, their names swapped in a re-signed manifest
    data = seal(files={"commercial": ("x", "y", b"C" * 100), "technical": ("x", "y", b"T" * 100)})
    header = header_of(data)
    commercial, technical = header["manifest"]["parts"][1:]
    commercial["name"], technical["name"] = "technical", "commercial"
    header["manifest"]["parts"][1:] = [technical, commercial]
    c0, c1 = span(data, "commercial")
    t0, t1 = span(data, "technical")
    swapped = with_header(header, data[body(data) : c0] + data[t0:t1] + data[c0:c1], resign=True)
    # Then the part name in the HPKE info (and the AAD) refuses both
    assert verify(swapped).size == len(swapped)
    for name in ("commercial", "technical"):
        assert refusal(opened, swapped, part=name).message == f"part {name}: the data key does not open with this opening key"


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


def test_a_bit_flip_in_the_signed_header_breaks_the_signature():
    data = seal()
    at = data.index(b'"sealed_at":"') + len(b'"sealed_at":"') + 3  # a digit of the year
    assert refusal(verify, flip(data, at)).message == "the manifest's signature does not verify with the registered signing key"


def test_a_bit_flip_in_the_signature_is_refused():
    data = seal()
    header = header_of(data)
    signature = bytearray(E.b64url_decode(header["signature"]))
    signature[63] ^= 0x01
    header["signature"] = E.b64url(bytes(signature))
    refused = refusal(verify, with_header(header, data[body(data) :]))
    assert refused.message == "the manifest's signature does not verify with the registered signing key"


def test_a_signature_spelled_another_way_in_base64url_is_refused():
    # Given the same 64 bytes written with the unused low bits of the last character set
    data = seal()
    header = header_of(data)
    last = header["signature"][-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    header["signature"] = header["signature"][:-1] + alphabet[alphabet.index(last) ^ 1]
    # Then it is not accepted (the file's digest would change while the signature still verified)
    assert refusal(verify, with_header(header, data[body(data) :])).message == "the signature is not base64url"


def test_a_bit_flip_in_the_ciphertext_is_refused_by_digest_and_by_authentication():
    data = seal(content_of(3 * CHUNK))
    at = span(data, "commercial")[0] + 2 * (CHUNK + 16) + 7  # inside chunk 2
    assert refusal(verify, flip(data, at)).message == "part commercial: the ciphertext's SHA-256 does not match the manifest"
    refused = refusal(opened, flip(data, at))
    assert (refused.code, refused.part, refused.chunk) == ("OPEN-DECRYPT-FAIL", "commercial", 2)


SMALL = seal(b"small bid")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_single_bit_flip_anywhere_is_refused(data):
    # Given a small sound envelope, and one bit flipped anywhere in it
    sealed = SMALL
    index = data.draw(st.integers(0, len(sealed) - 1))
    mask = 1 << data.draw(st.integers(0, 7))
    # Then the server's check refuses it, always under BID-ENCRYPTED
    assert refusal(verify, flip(sealed, index, mask)).code == "BID-ENCRYPTED"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"expected_section": "S-2"}, "the envelope was sealed for another section (S-1, expected S-2)"),
        ({"expected_bidder_code": "B-2"}, "the envelope was sealed for another bidder code"),
        ({"opening_key_fingerprint": "0" * 64}, "the envelope is not sealed to this section's opening key"),
        ({"bidder_key_fingerprint": "0" * 64}, "the envelope's bidder key is not the one registered"),
        ({"signing_public_key": E.generate_key().public_key()}, "the envelope's signing key is not the one registered"),
    ],
)
def test_an_envelope_for_another_section_bidder_or_key_is_refused(changes, message):
    refused = refusal(verify, SMALL, **changes)
    assert (refused.code, refused.message) == ("BID-ENCRYPTED", message)


def test_an_envelope_over_the_size_limit_is_refused_from_its_header():
    refused = refusal(verify, SMALL, max_size=len(SMALL) - 1)
    assert (refused.code, refused.message) == (
        "BID-TOO-LARGE",
        f"the envelope is {len(SMALL)} bytes, above the limit of {len(SMALL) - 1}",
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(extra=1), "manifest fields: missing [], unknown ['extra']"),
        (lambda m: m.pop("sealed_at"), "manifest fields: missing ['sealed_at'], unknown []"),
        (lambda m: m.update(suite=2), "unknown cipher suite 2"),
        (lambda m: m.update(version=2), "unknown format or version"),
        (lambda m: m.update(section="S|1"), "manifest field section must be non-empty and without '|'"),
        (lambda m: m.update(opening_key=m["opening_key"].upper()), "manifest field opening_key must be a lowercase hex SHA-256"),
        (lambda m: m.update(sealed_at="2026-11-01 09:30"), "sealed_at must be YYYY-MM-DDTHH:MM:SSZ"),
        (lambda m: m["parts"].reverse(), "parts must be form, then commercial, then technical, each at most once; got"),
        (lambda m: m["parts"].append(dict(m["parts"][1])), "parts must be form, then commercial, then technical"),
        (lambda m: m["parts"][1].update(chunk_count=2), "part commercial: ciphertext_size {size} does not fit 2 chunks of 65536"),
        (lambda m: m["parts"][1].update(chunk_size=True), "part commercial: fields missing, unknown or of the wrong type"),
        (lambda m: m["parts"][1].update(key_bidder="AAAA"), "part commercial: key_bidder must be base64url of 113 bytes"),
    ],
)
def test_a_malformed_manifest_is_refused_before_its_signature(edit, message):
    # Given a manifest edited and even re-signed by the bidder's own key
    header = header_of(SMALL)
    edit(header["manifest"])
    edited = with_header(header, SMALL[body(SMALL) :], resign=True)
    # Then the check names what is wrong
    refused = refusal(verify, edited)
    assert refused.code == "BID-ENCRYPTED"
    assert refused.message.startswith(message.format(size=E.inspect(io.BytesIO(SMALL)).part("commercial")["ciphertext_size"]))


def rewrap(data: bytes, header: bytes) -> bytes:
    """The envelope with another header, its length field set to match."""
    return data[:8] + len(header).to_bytes(4, "big") + header + data[body(data) :]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: b"%PDF-1.7 " + d, "not a Sunlight envelope format 1 (magic or version)"),
        (lambda d: d[:8] + (0).to_bytes(4, "big") + d[12:], "header length 0 out of range (1..65536)"),
        (lambda d: d[:8] + (65537).to_bytes(4, "big") + d[12:], "header length 65537 out of range (1..65536)"),
        (
            lambda d: rewrap(d, d[12 : body(d)].replace(b'{"manifest":', b'{ "manifest":')),
            "the header is not in canonical JSON form",
        ),
        (
            lambda d: rewrap(d, d[12 : body(d)].replace(b'"version":1', b'"version":1.0')),
            "the header is not JSON (UTF-8, no floats)",
        ),
        (lambda d: rewrap(d, b'{"manifest":{},"signature":""}'), "manifest fields: missing ['bidder_code',"),
        (lambda d: rewrap(d, b'{"manifest":{},"signature":"","x":1}'), "the header must hold exactly manifest and signature"),
    ],
)
def test_a_garbled_preamble_or_header_is_refused(make, message):
    refused = refusal(verify, make(SMALL))
    assert refused.code == "BID-ENCRYPTED"
    assert refused.message.startswith(message)


def test_bytes_after_the_last_part_are_refused():
    assert refusal(verify, SMALL + b"\0").message == "bytes after the last part"


def test_a_wrong_opening_key_cannot_open_and_the_bidder_key_is_no_opening_key():
    stranger = refusal(E.open_form, io.BytesIO(SMALL), private_key=E.generate_key(), recipient="opening")
    assert (stranger.code, stranger.part, stranger.message) == (
        "OPEN-DECRYPT-FAIL",
        "form",
        "part form: the data key does not open with this opening key",
    )
    # The bidder's key opens its own wrap only: used on the opening wrap it fails the same way
    crossed = refusal(E.open_form, io.BytesIO(SMALL), private_key=KEYS["bidder"], recipient="opening")
    assert crossed.message == "part form: the data key does not open with this opening key"


def test_an_envelope_sealed_to_another_opening_key_is_refused_by_the_check():
    data = seal(opening=E.generate_key())
    assert refusal(verify, data).message == "the envelope is not sealed to this section's opening key"


def test_opening_a_part_the_envelope_does_not_have_is_refused():
    refused = refusal(opened, SMALL, part="technical")
    assert (refused.code, refused.message) == ("OPEN-DECRYPT-FAIL", "no part technical in this envelope")


def test_a_form_with_a_float_is_refused_at_opening(monkeypatch):
    # Given a sealer that let a float through (not this one: the check is bypassed for the test)
    monkeypatch.setattr(E, "_check_form", lambda form: None)
    out = io.BytesIO()
    E.seal(
        section="S-1",
        bidder_code="B-1",
        opening_public_key=KEYS["opening"].public_key(),
        bidder_public_key=KEYS["bidder"].public_key(),
        signing_private_key=KEYS["signing"],
        form={"price_fen": 10.5},
        files={},
        out=out,
    )
    monkeypatch.undo()
    # Then the opening refuses to read out a price that is not an integer
    refused = refusal(E.open_form, io.BytesIO(out.getvalue()), private_key=KEYS["opening"], recipient="opening")
    assert (refused.code, refused.part, refused.message) == (
        "OPEN-DECRYPT-FAIL",
        "form",
        "the bid form is not JSON with integers only",
    )


# --- the incremental verifier --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "piece"), [(100, 1), (100, 7), (3 * CHUNK + 11, 4096), (3 * CHUNK + 11, CHUNK + 3), (1 << 21, 1 << 20)]
)
def test_the_incremental_verifier_agrees_with_the_stream_check(size, piece):
    # Given an envelope fed in pieces of any size, as an upload arrives
    data = seal(content_of(size))
    verifier = E.EnvelopeVerifier(**context(), parallel=piece > E.PARALLEL_MIN)
    for offset in range(0, len(data), piece):
        verifier.feed(data[offset : offset + piece])
    # Then it returns what verify_structure does
    assert verifier.finish() == verify(data)


def test_the_incremental_verifier_refuses_at_the_header_before_any_body_byte():
    verifier = E.EnvelopeVerifier(**context(expected_section="S-2"))
    refused = refusal(verifier.feed, SMALL[: body(SMALL)])
    assert refused.message == "the envelope was sealed for another section (S-1, expected S-2)"


def test_the_incremental_verifier_refuses_bytes_past_the_limit_before_the_header_is_whole():
    verifier = E.EnvelopeVerifier(**context(max_size=10))
    refused = refusal(verifier.feed, SMALL[:11])
    assert (refused.code, refused.message) == ("BID-TOO-LARGE", "the envelope is larger than the limit of 10 bytes")


def test_the_incremental_verifier_refuses_a_truncated_upload_at_finish():
    verifier = E.EnvelopeVerifier(**context())
    verifier.feed(SMALL[:-3])
    assert refusal(verifier.finish).message.startswith("part commercial: truncated,")


# --- keys and encodings --------------------------------------------------------------------------


def test_a_fingerprint_is_the_sha256_of_the_uncompressed_point():
    public = KEYS["signing"].public_key()
    numbers = public.public_numbers()
    point = b"\x04" + numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
    assert E.public_key_fingerprint(public) == hashlib.sha256(point).hexdigest()
    assert E.load_public_key(E.public_key_text(public)).public_numbers() == numbers
    assert E.load_public_key(point).public_numbers() == numbers


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not base64!",
        E.b64url(b"\x04" + bytes(64)),  # not on the curve
        E.b64url(b"\x02" + bytes(32)),  # compressed
        E.public_key_text(KEYS["signing"].public_key()) + "=",  # padded
    ],
    ids=["empty", "not-base64", "off-curve", "compressed", "padded"],  # the same in every xdist worker
)
def test_a_public_key_that_is_not_an_uncompressed_p256_point_is_refused(value):
    refused = refusal(E.load_public_key, value)
    assert (refused.code, refused.message) == ("BID-ENCRYPTED", "not a P-256 public key (uncompressed SEC1 point)")


@pytest.mark.parametrize(
    ("text", "ok"), [("", True), ("AQID", True), ("AQI", True), ("AQJ", False), ("AQ=", False), ("A", False)]
)
def test_base64url_decoding_is_strict(text, ok):
    if ok:
        assert E.b64url(E.b64url_decode(text)) == text
    else:
        with pytest.raises(ValueError):
            E.b64url_decode(text)


def test_a_private_key_round_trips_through_a_passphrase_protected_pem():
    pem = E.private_key_pem(KEYS["bidder"], passphrase="correct horse")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    loaded = E.load_private_key(pem, passphrase="correct horse")
    assert loaded.private_numbers() == KEYS["bidder"].private_numbers()
    with pytest.raises(E.KeyFileError, match="does not load"):
        E.load_private_key(pem, passphrase="wrong horse")
    with pytest.raises(E.KeyFileError, match="does not load"):
        E.load_private_key(pem)


def test_the_bidder_key_file_round_trips_and_has_the_browser_sealers_layout():
    # Given a key file written with a passphrase (the browser's minimum iteration count, for speed)
    data = E.export_key_file(
        signing_private_key=KEYS["signing"],
        encryption_private_key=KEYS["bidder"],
        passphrase="口令 passphrase",
        iterations=E.KEYFILE_MIN_ITERATIONS,
    )
    document = json.loads(data)
    # Then it is canonical JSON with the fields of static/sealer/sealer.js's exportKeyFile
    assert data == E.canonical_json(document)
    assert sorted(document) == [
        "bidder_key",
        "cipher",
        "ciphertext",
        "encryption_public_key",
        "format",
        "kdf",
        "signing_key",
        "signing_public_key",
        "version",
    ]
    assert (document["format"], document["version"], document["kdf"]["name"], document["cipher"]["name"]) == (
        "sunlight-bidder-keys",
        1,
        "PBKDF2",
        "AES-256-GCM",
    )
    assert document["bidder_key"] == E.public_key_fingerprint(KEYS["bidder"].public_key())
    # And the same passphrase (in another Unicode normal form too) opens it to the same keys
    keys = E.import_key_file(data, passphrase="口令 passphrase")
    assert keys.signing.private_numbers() == KEYS["signing"].private_numbers()
    assert keys.encryption.private_numbers() == KEYS["bidder"].private_numbers()
    # And NFC is applied to the passphrase first, as the browser does
    composed = E.export_key_file(
        signing_private_key=KEYS["signing"], encryption_private_key=KEYS["bidder"], passphrase="señor", iterations=100_000
    )
    assert E.import_key_file(composed, passphrase="sen\u0303or").signing.private_numbers() == KEYS["signing"].private_numbers()


@pytest.mark.parametrize(
    ("edit", "passphrase", "message"),
    [
        (lambda d: d, "wrong", "wrong passphrase or damaged key file"),
        (
            lambda d: d.update(signing_public_key=E.public_key_text(E.generate_key().public_key())),
            "right",
            "wrong passphrase or damaged",
        ),
        (lambda d: d["kdf"].update(iterations=1000), "right", "key file: PBKDF2 iteration count too low"),
        (lambda d: d.update(format="other"), "right", "not a Sunlight bidder key file"),
        (lambda d: d.pop("ciphertext"), "right", "not a Sunlight bidder key file"),
    ],
)
def test_a_key_file_that_does_not_open_is_refused(edit, passphrase, message):
    # Given a key file, edited (the head is the AES-GCM associated data: any change is caught)
    document = json.loads(
        E.export_key_file(
            signing_private_key=KEYS["signing"], encryption_private_key=KEYS["bidder"], passphrase="right", iterations=100_000
        )
    )
    edit(document)
    # Then it does not open, and says why
    with pytest.raises(E.KeyFileError, match=message):
        E.import_key_file(json.dumps(document), passphrase=passphrase)
