"""Write the shared envelope test vectors (the JSON files beside this script are checked in).

    python tests/vectors/envelope/make_vectors.py           # write the files that are missing
    python tests/vectors/envelope/make_vectors.py --force   # rewrite them all (new keys, new bytes)

Sealing is randomized (data keys, HPKE, ECDSA), so every run gives other bytes: the files are
written once and every implementation is tested against the same ones. The expected outcome
of each negative vector is written by hand below; the generator refuses to write a vector
the Python implementation does not treat that way. See README.md for the layout.
"""

import argparse
import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from bidding import envelope as E

HERE = Path(__file__).resolve().parent
SECTION, CODE = "S-VEC-0001", "B-7K3Q"
SEALED_AT = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
FORM = {"price_fen": 123456789, "currency": "CNY", "duration_days": 180, "fields": {"项目经理": "张工"}}
CHUNK = 65536


def jwk(key) -> dict:
    numbers = key.private_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": E.b64url(numbers.public_numbers.x.to_bytes(32, "big")),
        "y": E.b64url(numbers.public_numbers.y.to_bytes(32, "big")),
        "d": E.b64url(numbers.private_value.to_bytes(32, "big")),
    }


class Keys:
    def __init__(self):
        self.opening, self.bidder, self.signing = E.generate_key(), E.generate_key(), E.generate_key()

    def seal(self, files: dict, *, section=SECTION, code=CODE, opening=None) -> bytes:
        out = io.BytesIO()
        E.seal(
            section=section,
            bidder_code=code,
            opening_public_key=(opening or self.opening).public_key(),
            bidder_public_key=self.bidder.public_key(),
            signing_private_key=self.signing,
            form=FORM,
            files=files,
            out=out,
            chunk_size=CHUNK,
            sealed_at=SEALED_AT,
        )
        return out.getvalue()

    def common(self, description: str) -> dict:
        return {
            "description": description,
            "section": SECTION,
            "bidder_code": CODE,
            "opening_private_jwk": jwk(self.opening),
            "bidder_private_jwk": jwk(self.bidder),
            "signing_public_key": E.public_key_text(self.signing.public_key()),
        }


def write(name: str, document: dict, *, force: bool) -> None:
    path = HERE / f"{name}.json"
    if path.exists() and not force:
        print(f"kept    {path.name}")
        return
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote   {path.name} ({path.stat().st_size} bytes)")


def positive(name: str, *, files: dict, description: str, force: bool) -> None:
    keys = Keys()
    data = keys.seal({k: (fn, ct, content) for k, (fn, ct, content) in files.items()})
    document = {
        **keys.common(description),
        "envelope": E.b64url(data),
        "form": FORM,
        "parts": {k: {"filename": fn, "content_type": ct, "content": content.hex()} for k, (fn, ct, content) in files.items()},
    }
    write(name, document, force=force)


# --- negative vectors: what the server's check and the opening must say -----------------------


def body(data: bytes) -> int:
    return 12 + int.from_bytes(data[8:12], "big")


def header_of(data: bytes) -> dict:
    return json.loads(data[12 : body(data)])


def with_header(header: dict, rest: bytes) -> bytes:
    raw = E.canonical_json(header)
    return E.MAGIC + len(raw).to_bytes(4, "big") + raw + rest


def part_span(data: bytes, name: str) -> tuple[int, int]:
    offset = body(data)
    for part in header_of(data)["manifest"]["parts"]:
        if part["name"] == name:
            return offset, offset + part["ciphertext_size"]
        offset += part["ciphertext_size"]
    raise KeyError(name)


def verify_outcome(keys: Keys, data: bytes) -> dict:
    try:
        verified = E.verify_structure(
            io.BytesIO(data),
            expected_section=SECTION,
            expected_bidder_code=CODE,
            opening_key_fingerprint=E.public_key_fingerprint(keys.opening.public_key()),
            signing_public_key=keys.signing.public_key(),
            bidder_key_fingerprint=E.public_key_fingerprint(keys.bidder.public_key()),
            max_size=1 << 30,
        )
    except E.EnvelopeError as error:
        return {"code": error.code, "part": error.part, "message": error.message}
    return {"code": None, "digest": verified.digest}


def open_outcome(keys: Keys, data: bytes) -> dict:
    """Open every part with the opening key, in manifest order; the first refusal, or what opened."""
    try:
        names = [p["name"] for p in E.inspect(io.BytesIO(data)).manifest["parts"]]
        E.open_form(io.BytesIO(data), private_key=keys.opening, recipient="opening")
        contents = {}
        for name in names:
            out = io.BytesIO()
            E.open_part(io.BytesIO(data), private_key=keys.opening, recipient="opening", part_name=name, out=out)
            contents[name] = out.getvalue().hex()
    except E.EnvelopeError as error:
        return {"code": error.code, "part": error.part, "chunk": error.chunk, "message": error.message}
    return {"code": None, "form": FORM, "contents": {k: v for k, v in contents.items() if k != "form"}}


def negative(keys: Keys, name: str, data: bytes, *, description: str, verify: tuple, opening: tuple, force: bool) -> None:
    """`verify` = (code, part) of verify_structure; `opening` = (code, part, chunk) of opening every part."""
    got_verify, got_open = verify_outcome(keys, data), open_outcome(keys, data)
    if (got_verify["code"], got_verify.get("part")) != verify:
        raise SystemExit(f"{name}: verify_structure gave {got_verify}, expected {verify}")
    if (got_open["code"], got_open.get("part"), got_open.get("chunk")) != opening:
        raise SystemExit(f"{name}: opening gave {got_open}, expected {opening}")
    document = {
        **keys.common(description),
        "expect_error": True,
        "envelope": E.b64url(data),
        "verify": got_verify,
        "open": got_open,
    }
    write(f"negative-{name}", document, force=force)


def negatives(force: bool) -> None:
    keys = Keys()
    small = {"commercial": ("商务标.pdf", "application/pdf", b"%PDF-1.7 commercial")}
    base = keys.seal(small)
    start, end = part_span(base, "commercial")
    meta = E.canonical_json({"content_type": "application/octet-stream", "filename": "c.bin"})
    content = (bytes(range(256)) * (2 * CHUNK // 256))[: 2 * CHUNK - 4 - len(meta)]  # exactly two full chunks
    two_chunks = keys.seal({"commercial": ("c.bin", "application/octet-stream", content)})
    c0, _c1 = part_span(two_chunks, "commercial")
    step = CHUNK + E.TAG
    bad, fail, ok = "BID-ENCRYPTED", "OPEN-DECRYPT-FAIL", (None, None, None)

    negative(
        keys,
        "truncated",
        base[:-10],
        force=force,
        description="the last 10 bytes are cut off",
        verify=(bad, "commercial"),
        opening=(fail, "commercial", 0),
    )
    swapped = two_chunks[:c0] + two_chunks[c0 + step : c0 + 2 * step] + two_chunks[c0 : c0 + step]
    negative(
        keys,
        "chunks-reordered",
        swapped,
        force=force,
        description="the commercial part's two chunks (64 KiB each) are swapped; the header is untouched",
        verify=(bad, "commercial"),
        opening=(fail, "commercial", 0),
    )
    other = keys.seal({"commercial": ("商务标.pdf", "application/pdf", b"%PDF-1.7 competitor")})
    negative(
        keys,
        "spliced-parts",
        base[: body(base)] + other[body(other) :],
        force=force,
        description="this envelope's header followed by the parts of another envelope of the same sizes",
        verify=(bad, "form"),
        opening=(fail, "form", 0),
    )
    foreign = keys.seal(small, code="B-ZZZZ")
    header = header_of(base)
    parts = header["manifest"]["parts"]
    parts[1] = header_of(foreign)["manifest"]["parts"][1]
    header["signature"] = E.sign_manifest(signing_private_key=keys.signing, manifest=header["manifest"])
    fs, fe = part_span(foreign, "commercial")
    negative(
        keys,
        "spliced-resigned",
        with_header(header, base[body(base) : start] + foreign[fs:fe]),
        force=force,
        description="the commercial part (keys, digest, ciphertext) of the same bidder's envelope for another "
        "bidder code, manifest re-signed: the structure checks pass, the opening refuses it",
        verify=(None, None),
        opening=(fail, "commercial", None),
    )
    garbled = bytearray(base)
    garbled[12 + 40] = 0xFF
    negative(
        keys,
        "garbled-header",
        bytes(garbled),
        force=force,
        description="one byte of the header JSON replaced by 0xFF (not UTF-8)",
        verify=(bad, None),
        opening=(bad, None, None),
    )
    header = header_of(base)
    signature = bytearray(E.b64url_decode(header["signature"]))
    signature[10] ^= 0x01
    header["signature"] = E.b64url(bytes(signature))
    negative(
        keys,
        "bad-signature",
        with_header(header, base[body(base) :]),
        force=force,
        description="one bit of the signature flipped; the opening does not check signatures (the server did)",
        verify=(bad, None),
        opening=ok,
    )
    header = header_of(base)
    header["manifest"]["parts"][1]["chunk_size"] = 65535
    negative(
        keys,
        "manifest-edited",
        with_header(header, base[body(base) :]),
        force=force,
        description="chunk_size below the 64 KiB minimum (the signature no longer matches either)",
        verify=(bad, "commercial"),
        opening=(bad, "commercial", None),
    )
    flipped = bytearray(base)
    flipped[start + 3] ^= 0x80
    negative(
        keys,
        "ciphertext-bitflip",
        bytes(flipped),
        force=force,
        description="one bit of the commercial part's ciphertext flipped",
        verify=(bad, "commercial"),
        opening=(fail, "commercial", 0),
    )
    negative(
        keys,
        "trailing-bytes",
        base + b"\x00",
        force=force,
        description="one byte after the last part",
        verify=(bad, None),
        opening=ok,
    )
    negative(
        keys,
        "other-section",
        keys.seal(small, section="S-VEC-0002"),
        force=force,
        description="a sound envelope, sealed for section S-VEC-0002",
        verify=(bad, None),
        opening=ok,
    )
    negative(
        keys,
        "other-bidder-code",
        keys.seal(small, code="B-ZZZZ"),
        force=force,
        description="a sound envelope of the same keys, sealed for bidder code B-ZZZZ (a replay under another code)",
        verify=(bad, None),
        opening=ok,
    )
    negative(
        keys,
        "other-opening-key",
        keys.seal(small, opening=E.generate_key()),
        force=force,
        description="a sound envelope sealed to another opening key than the section's",
        verify=(bad, None),
        opening=(fail, "form", None),
    )
    negative(
        keys,
        "wrong-version",
        b"SLENV\x00\x02\x00" + base[8:],
        force=force,
        description="the magic names format version 2",
        verify=(bad, None),
        opening=(bad, None, None),
    )
    assert end == len(base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="rewrite existing files")
    force = parser.parse_args().force
    positive(
        "v1-small",
        files={"commercial": ("商务标.pdf", "application/pdf", b"%PDF-1.7 commercial")},
        description="form and one small part",
        force=force,
    )
    positive(
        "v1-multichunk",
        files={
            "commercial": ("c.bin", "application/octet-stream", bytes(range(256)) * 600),
            "technical": ("技术标.zip", "application/zip", b""),
        },
        description="a part of three 64 KiB chunks and an empty part",
        force=force,
    )
    negatives(force)


if __name__ == "__main__":
    main()
