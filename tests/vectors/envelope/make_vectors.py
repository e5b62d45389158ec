"""Write the shared envelope test vectors (run once; the JSON files are checked in).

Each vector holds test-only private keys (JWK), the envelope (base64url), the
expected bid form and the expected content of every part (hex). The browser
sealer's tests (tests/browser/test_sealer_vectors.py) and the Python tests
(tests/bidding/test_envelope.py) open the same files.
"""

import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from bidding import envelope as E

HERE = Path(__file__).resolve().parent


def jwk(key) -> dict:
    numbers = key.private_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": E.b64url(numbers.public_numbers.x.to_bytes(32, "big")),
        "y": E.b64url(numbers.public_numbers.y.to_bytes(32, "big")),
        "d": E.b64url(numbers.private_value.to_bytes(32, "big")),
    }


def vector(name: str, *, form: dict, files: dict, description: str) -> None:
    opening, bidder, signing = E.generate_key(), E.generate_key(), E.generate_key()
    out = io.BytesIO()
    E.seal(
        section="S-VEC-0001",
        bidder_code="B-7K3Q",
        opening_public_key=opening.public_key(),
        bidder_public_key=bidder.public_key(),
        signing_private_key=signing,
        form=form,
        files={k: (fn, ct, data) for k, (fn, ct, data) in files.items()},
        out=out,
        chunk_size=65536,
    )
    document = {
        "description": description,
        "opening_private_jwk": jwk(opening),
        "bidder_private_jwk": jwk(bidder),
        "signing_public_key": E.public_key_text(signing.public_key()),
        "envelope": E.b64url(out.getvalue()),
        "form": form,
        "parts": {k: {"filename": fn, "content_type": ct, "content": data.hex()} for k, (fn, ct, data) in files.items()},
    }
    (HERE / f"{name}.json").write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    form = {"price_fen": 123456789, "currency": "CNY", "duration_days": 180, "fields": {"项目经理": "张工"}}
    vector(
        "v1-small",
        form=form,
        files={"commercial": ("商务标.pdf", "application/pdf", b"%PDF-1.7 commercial")},
        description="form and one small part",
    )
    vector(
        "v1-multichunk",
        form=form,
        files={
            "commercial": ("c.bin", "application/octet-stream", bytes(range(256)) * 600),
            "technical": ("技术标.zip", "application/zip", b""),
        },
        description="a part of three 64 KiB chunks and an empty part",
    )
