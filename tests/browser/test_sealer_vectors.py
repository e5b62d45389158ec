"""The browser sealer (static/sealer/sealer.js) against docs/envelope.md.

Drives Debian's Chromium through Playwright (the session `browser` fixture of
tests/browser/conftest.py). Python and the browser must agree
byte for byte: the browser opens the shared vectors and envelopes sealed by a
small Python reference below; Python opens what the browser seals; tampering
is caught by the browser opener. Needs no Django (runs under its pytest
config when there is one) and no network: the static tree and the harness are
served from a throwaway http.server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import itertools
import json
import secrets
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
HARNESS = Path(__file__).with_name("sealer_harness.html")
VECTORS = ROOT / "tests" / "vectors" / "envelope"

MAGIC = b"SLENV\x00\x01\x00"
LABEL = b"sunlight-envelope/v1"
SUITE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


# ---------------------------------------------------------------------------
# Python reference of docs/envelope.md (used until and besides bidding.envelope)
# ---------------------------------------------------------------------------


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def point(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def fingerprint(public_key) -> str:
    return hashlib.sha256(point(public_key)).hexdigest()


def jwk(private_key) -> dict:
    numbers = private_key.private_numbers()
    pub = numbers.public_numbers
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64u(pub.x.to_bytes(32, "big")),
        "y": b64u(pub.y.to_bytes(32, "big")),
        "d": b64u(numbers.private_value.to_bytes(32, "big")),
    }


def aad(section: str, bidder_code: str, name: str) -> bytes:
    return b"|".join([LABEL, section.encode(), bidder_code.encode(), name.encode()])


def info(section: str, bidder_code: str, name: str, recipient: str) -> bytes:
    return aad(section, bidder_code, name) + b"|" + recipient.encode()


def nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(8, "big") + (1 if last else 0).to_bytes(4, "big")


def part_plaintext(filename: str, content_type: str, content: bytes) -> bytes:
    meta = canonical({"filename": filename, "content_type": content_type})
    return len(meta).to_bytes(4, "big") + meta + content


def py_seal(*, section, bidder_code, opening_pub, bidder_pub, signing_key, form, files, chunk_size=65536) -> bytes:
    """A straightforward Python sealer of docs/envelope.md (suite 1)."""
    inputs = [("form", part_plaintext("form.json", "application/json", canonical(form)))]
    for name in ("commercial", "technical"):
        if name in files:
            filename, content_type, content = files[name]
            inputs.append((name, part_plaintext(filename, content_type, content)))
    parts, bodies = [], []
    for name, plain in inputs:
        key = AESGCM.generate_key(256)
        count = max(1, -(-len(plain) // chunk_size))
        ct = b"".join(
            AESGCM(key).encrypt(
                nonce(i, i == count - 1), plain[i * chunk_size : (i + 1) * chunk_size], aad(section, bidder_code, name)
            )
            for i in range(count)
        )
        parts.append(
            {
                "name": name,
                "chunk_size": chunk_size,
                "chunk_count": count,
                "ciphertext_size": len(ct),
                "sha256": hashlib.sha256(ct).hexdigest(),
                "key_opening": b64u(SUITE.encrypt(key, opening_pub, info=info(section, bidder_code, name, "opening"))),
                "key_bidder": b64u(SUITE.encrypt(key, bidder_pub, info=info(section, bidder_code, name, "bidder"))),
            }
        )
        bodies.append(ct)
    manifest = {
        "format": "sunlight-envelope",
        "version": 1,
        "suite": 1,
        "section": section,
        "bidder_code": bidder_code,
        "opening_key": fingerprint(opening_pub),
        "bidder_key": fingerprint(bidder_pub),
        "signing_key": fingerprint(signing_key.public_key()),
        "sealed_at": "2030-01-02T03:04:05Z",
        "parts": parts,
    }
    r, s = decode_dss_signature(signing_key.sign(canonical(manifest), ec.ECDSA(hashes.SHA256())))
    header = canonical({"manifest": manifest, "signature": b64u(r.to_bytes(32, "big") + s.to_bytes(32, "big"))})
    return MAGIC + len(header).to_bytes(4, "big") + header + b"".join(bodies)


def py_open(data: bytes, private_key, recipient: str, signing_pub=None) -> dict:
    """Check and open an envelope in Python; returns {"manifest", "form", "parts": {name: (meta, content)}}."""
    assert data[:8] == MAGIC
    length = int.from_bytes(data[8:12], "big")
    assert length <= 65536
    header = data[12 : 12 + length]
    obj = json.loads(header)
    assert canonical(obj) == header, "header is not canonical JSON"
    assert set(obj) == {"manifest", "signature"}
    manifest = obj["manifest"]
    signature = unb64u(obj["signature"])
    assert len(signature) == 64
    if signing_pub is not None:
        assert manifest["signing_key"] == fingerprint(signing_pub)
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        signing_pub.verify(der, canonical(manifest), ec.ECDSA(hashes.SHA256()))
    assert manifest["format"] == "sunlight-envelope" and manifest["version"] == 1 and manifest["suite"] == 1
    assert manifest[f"{recipient}_key"] == fingerprint(private_key.public_key())
    assert manifest["parts"][0]["name"] == "form"
    offset = 12 + length
    out = {}
    for p in manifest["parts"]:
        name, size, chunk, count = p["name"], p["ciphertext_size"], p["chunk_size"], p["chunk_count"]
        assert 65536 <= chunk <= 16777216 and count >= 1
        assert 16 <= size - (count - 1) * (chunk + 16) <= chunk + 16
        ct = data[offset : offset + size]
        offset += size
        assert hashlib.sha256(ct).hexdigest() == p["sha256"]
        key = SUITE.decrypt(
            unb64u(p[f"key_{recipient}"]), private_key, info=info(manifest["section"], manifest["bidder_code"], name, recipient)
        )
        assert len(key) == 32
        plain = b"".join(
            AESGCM(key).decrypt(
                nonce(i, i == count - 1),
                ct[i * (chunk + 16) : (i + 1) * (chunk + 16)],
                aad(manifest["section"], manifest["bidder_code"], name),
            )
            for i in range(count)
        )
        meta_length = int.from_bytes(plain[:4], "big")
        meta_bytes = plain[4 : 4 + meta_length]
        assert canonical(json.loads(meta_bytes)) == meta_bytes
        out[name] = (json.loads(meta_bytes), plain[4 + meta_length :])
    assert offset == len(data), "trailing bytes after the last part"
    return {"manifest": manifest, "form": json.loads(out["form"][1]), "parts": out}


# ---------------------------------------------------------------------------
# Fixtures: static server and harness page (Chromium: the `browser` fixture of tests/browser/conftest.py)
# ---------------------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".html": "text/html; charset=utf-8",
        ".json": "application/json",
        "": "application/octet-stream",
    }

    def translate_path(self, path):
        path = path.split("?", 1)[0].split("#", 1)[0]
        if path in ("/", "/harness.html"):
            return str(HARNESS)
        if path.startswith("/static/"):
            target = (STATIC / path[len("/static/") :]).resolve()
            if target.is_relative_to(STATIC.resolve()):
                return str(target)
        return str(STATIC / "__missing__")

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def static_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(STATIC)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def harness(browser, static_server):
    context = browser.new_context()  # fresh IndexedDB for every test
    harness = context.new_page()
    problems: list[str] = []
    harness.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    harness.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    harness.on("requestfailed", lambda req: problems.append(f"request failed: {req.url}"))
    harness.on("response", lambda res: problems.append(f"HTTP {res.status}: {res.url}") if res.status >= 400 else None)
    harness.goto(f"{static_server}/harness.html")
    try:
        harness.wait_for_function("window.sealerReady === true", timeout=15000)
    except Exception:
        pytest.fail("harness did not load: " + "; ".join(problems))
    harness.evaluate(JS_HELPERS)
    yield harness
    context.close()
    assert not [p for p in problems if not p.startswith("console")], problems


# Helpers installed on the harness: base64 <-> Blob and one-call seal/open.
JS_HELPERS = """
() => {
  const S = window.sealer;
  window.b64ToBytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  window.blobToB64 = async (blob) => {
    const b = new Uint8Array(await blob.arrayBuffer());
    let s = "";
    for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
    return btoa(s);
  };
  window.openB64 = async (envB64, privJwk, recipient, signingPublicKey) => {
    const res = await S.openEnvelope(new Blob([b64ToBytes(envB64)]), {
      privateKey: privJwk, recipient, signingPublicKey,
    });
    const parts = {};
    for (const [name, file] of Object.entries(res.parts)) {
      parts[name] = { filename: file.name, type: file.type, b64: await blobToB64(file) };
    }
    return { form: res.form, parts, manifest: res.manifest };
  };
  window.openError = async (...args) => {
    try {
      await window.openB64(...args);
      return null;
    } catch (e) {
      return String(e && e.message || e);
    }
  };
}
"""

SEAL_JS = """
async ([a, files]) => {
  const S = window.sealer;
  const signingKey = await S.importSigningPrivateKey(a.signingJwk);
  const blobs = {};
  for (const [name, f] of Object.entries(files)) {
    blobs[name] = new File([b64ToBytes(f.b64)], f.filename, { type: f.content_type });
  }
  const progress = [];
  const env = await S.sealEnvelope({
    section: a.section, bidderCode: a.bidderCode,
    openingPublicKey: a.openingPublicKey, bidderPublicKey: a.bidderPublicKey,
    signingKey, signingPublicKey: a.signingPublicKey,
    form: a.form, files: blobs, chunkSize: a.chunkSize,
    onProgress: (done, total) => progress.push([done, total]),
  });
  return { b64: await blobToB64(env), size: env.size, progress, extractable: signingKey.extractable };
}
"""


class Party:
    """Fixture keys made in Python: the section's opening key, the bidder's encryption and signing keys."""

    def __init__(self):
        self.opening = ec.generate_private_key(ec.SECP256R1())
        self.bidder = ec.generate_private_key(ec.SECP256R1())
        self.signing = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def party():
    return Party()


FORM = {
    "price_fen": 123456789,
    "currency": "CNY",
    "duration_days": 180,
    "fields": {"项目经理": "张三 (Zhang San)", 'quote"\\\n': "\u0001\u007f\u2028é", "emoji 🀄": "𝄞", "ｚ": "wide"},
}


def seal_in_browser(harness, party, *, section, bidder_code, form, files, chunk_size=65536):
    args = {
        "section": section,
        "bidderCode": bidder_code,
        "openingPublicKey": b64u(point(party.opening.public_key())),
        "bidderPublicKey": b64u(point(party.bidder.public_key())),
        "signingPublicKey": b64u(point(party.signing.public_key())),
        "signingJwk": jwk(party.signing),
        "form": form,
        "chunkSize": chunk_size,
    }
    wire = {
        name: {"filename": fn, "content_type": ct, "b64": base64.b64encode(content).decode()}
        for name, (fn, ct, content) in files.items()
    }
    result = harness.evaluate(SEAL_JS, [args, wire])
    data = base64.b64decode(result["b64"])
    assert len(data) == result["size"]
    assert result["extractable"] is False
    return data, result["progress"]


def open_in_browser(harness, data: bytes, private_key, recipient="opening", signing_pub=None):
    return harness.evaluate(
        "([env, key, recipient, sig]) => openB64(env, key, recipient, sig ?? undefined)",
        [base64.b64encode(data).decode(), jwk(private_key), recipient, b64u(point(signing_pub)) if signing_pub else None],
    )


def open_error(harness, data: bytes, private_key, recipient="opening", signing_pub=None):
    return harness.evaluate(
        "([env, key, recipient, sig]) => openError(env, key, recipient, sig ?? undefined)",
        [base64.b64encode(data).decode(), jwk(private_key), recipient, b64u(point(signing_pub)) if signing_pub else None],
    )


# ---------------------------------------------------------------------------
# (a) the browser opens the shared vectors and Python-sealed envelopes
# ---------------------------------------------------------------------------


def _vector_files():
    return sorted(VECTORS.glob("*.json")) if VECTORS.is_dir() else []


# The vectors are written by bidding/envelope.py's author; their JSON layout is
# theirs (tests/vectors/envelope/README.md). This reader does not assume field
# names: it finds the envelope (a value decoding to bytes that start with the
# magic, or a sibling file that does), the private keys (PEM, DER/PKCS#8, JWK,
# or a 32-byte scalar) matched to the manifest by fingerprint, the expected
# form (a dict with price_fen) and expected part contents (values under a key
# naming the part).

NEGATIVE_HINTS = ("error", "expect_error", "expected_error", "reject", "invalid", "tamper", "negative")


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        yield path, obj
        for k, v in obj.items():
            yield from _leaves(v, (*path, str(k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, (*path, str(i)))
    else:
        yield path, obj


def _decodings(text: str) -> list[bytes]:
    out = []
    if len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text):
        out.append(bytes.fromhex(text))
    for decode in (unb64u, lambda t: base64.b64decode(t + "=" * (-len(t) % 4), validate=True)):
        try:
            out.append(decode(text.strip()))
        except Exception:
            continue
    out.append(text.encode())
    return out


def _private_keys(vector) -> list:
    keys = []
    for _, value in _leaves(vector):
        if isinstance(value, dict) and value.get("kty") == "EC" and "d" in value:
            keys.append(ec.derive_private_key(int.from_bytes(unb64u(value["d"]), "big"), ec.SECP256R1()))
        elif isinstance(value, str) and "PRIVATE KEY" in value:
            try:
                keys.append(serialization.load_pem_private_key(value.encode(), None))
            except Exception:
                continue
        elif isinstance(value, str):
            for raw in _decodings(value):
                try:
                    if len(raw) == 32:
                        keys.append(ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1()))
                    elif raw[:1] == b"\x30":
                        keys.append(serialization.load_der_private_key(raw, None))
                except Exception:
                    continue
    return [k for k in keys if isinstance(k, ec.EllipticCurvePrivateKey)]


def _envelope_bytes(vector, path: Path) -> bytes | None:
    for _, value in _leaves(vector):
        if not isinstance(value, str):
            continue
        sibling = path.parent / value
        if len(value) < 200 and "/" not in value.strip("./") and sibling.is_file():
            data = sibling.read_bytes()
            if data.startswith(MAGIC):
                return data
        for raw in _decodings(value):
            if raw.startswith(MAGIC):
                return raw
    for sibling in (path.with_suffix(".env"), path.with_suffix(".bin"), path.with_suffix(".slenv")):
        if sibling.is_file() and sibling.read_bytes().startswith(MAGIC):
            return sibling.read_bytes()
    return None


def _is_negative(vector, path: Path) -> bool:
    if any(h in path.stem.lower() for h in ("bad", "invalid", "tamper", "negative", "reject")):
        return True
    if isinstance(vector, dict):
        if vector.get("valid") is False or vector.get("ok") is False:
            return True
        return any(vector.get(h) for h in NEGATIVE_HINTS)
    return False


def _split_vectors() -> tuple[list[Path], list[Path]]:
    """Sound vectors, and the negative ones the Python opener refuses (those it opens say nothing about an opener)."""
    sound, refused = [], []
    for path in _vector_files():
        vector = json.loads(path.read_text(encoding="utf-8"))
        if not _is_negative(vector, path):
            sound.append(path)
        elif (vector.get("open") or {}).get("code"):
            refused.append(path)
    return sound, refused


SOUND_VECTORS, REFUSED_VECTORS = _split_vectors()


@pytest.mark.parametrize("path", REFUSED_VECTORS, ids=lambda p: p.stem)
def test_browser_refuses_what_the_python_opener_refuses(harness, path):
    """OPEN-DECRYPT-FAIL / BID-ENCRYPTED: a damaged envelope never opens in the browser either."""
    vector = json.loads(path.read_text(encoding="utf-8"))
    data = base64.urlsafe_b64decode(vector["envelope"] + "=" * (-len(vector["envelope"]) % 4))
    # A vector's `open` outcome is the opening with the section's opening key (the README beside it).
    key = ec.derive_private_key(int.from_bytes(unb64u(vector["opening_private_jwk"]["d"]), "big"), ec.SECP256R1())
    assert open_error(harness, data, key, "opening") is not None, f"{path.name}: the browser opened what Python refuses"


@pytest.mark.parametrize("path", SOUND_VECTORS, ids=lambda p: p.stem)
def test_browser_opens_shared_vector(harness, path):
    vector = json.loads(path.read_text(encoding="utf-8"))
    data = _envelope_bytes(vector, path)
    assert data is not None, f"{path.name}: found no envelope (bytes starting with the magic) in the vector"
    manifest = json.loads(data[12 : 12 + int.from_bytes(data[8:12], "big")])["manifest"]
    by_fingerprint = {fingerprint(k.public_key()): k for k in _private_keys(vector)}
    recipients = [
        (r, by_fingerprint[manifest[f"{r}_key"]]) for r in ("opening", "bidder") if manifest[f"{r}_key"] in by_fingerprint
    ]
    assert recipients, f"{path.name}: no private key in the vector matches opening_key or bidder_key"
    expected_form = next((v for _, v in _leaves(vector) if isinstance(v, dict) and "price_fen" in v), None)
    for recipient, key in recipients:
        reference = py_open(data, key, recipient)  # this module's independent reading of the doc
        got = open_in_browser(harness, data, key, recipient)
        assert got["form"] == reference["form"]
        if expected_form is not None:
            assert got["form"] == expected_form
        for name, (meta, content) in reference["parts"].items():
            browser_content = base64.b64decode(got["parts"][name]["b64"])
            assert browser_content == content, f"{path.name}: part {name} differs from the Python reading"
            assert got["parts"][name]["filename"] == meta.get("filename", name)
            stated = [
                raw
                for p, v in _leaves(vector)
                if isinstance(v, str) and name in p and any(h in p[-1].lower() for h in ("content", "plaintext", "data", "bytes"))
                for raw in _decodings(v)
            ]
            if stated and name != "form":
                assert browser_content in stated, f"{path.name}: part {name} differs from the vector's stated content"


def exact(chunks: int, filename: str, content_type: str) -> int:
    """Content length that makes the part's plaintext exactly `chunks` chunks of 65536 bytes."""
    return chunks * 65536 - len(part_plaintext(filename, content_type, b""))


@pytest.mark.parametrize(
    "sizes",
    [(0, 1), (65536 - 60, 200_000), (3 * 65536, exact(2, "technical.zip", "application/zip"))],
    ids=["tiny", "multi-chunk", "exact-multiple"],
)
def test_browser_opens_python_sealed(harness, party, sizes):
    commercial = secrets.token_bytes(sizes[0])
    technical = secrets.token_bytes(sizes[1])
    files = {
        "commercial": ("商务标.pdf", "application/pdf", commercial),
        "technical": ("technical.zip", "application/zip", technical),
    }
    data = py_seal(
        section="S-2030-0001",
        bidder_code="B-7K3Q",
        opening_pub=party.opening.public_key(),
        bidder_pub=party.bidder.public_key(),
        signing_key=party.signing,
        form=FORM,
        files=files,
    )
    for key, recipient in ((party.opening, "opening"), (party.bidder, "bidder")):
        got = open_in_browser(harness, data, key, recipient, party.signing.public_key())
        assert got["form"] == FORM
        for name, (filename, content_type, content) in files.items():
            assert got["parts"][name]["filename"] == filename
            assert got["parts"][name]["type"] == content_type
            assert base64.b64decode(got["parts"][name]["b64"]) == content


# ---------------------------------------------------------------------------
# (b) Python opens what the browser seals
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "chunk_size"),
    [((0, 10), 65536), ((200_000, exact(2, "tech.pdf", "application/pdf")), 65536), ((1_500_000, 3), 1 << 20)],
    ids=["small", "multi-chunk", "default-chunk"],
)
def test_python_opens_browser_sealed(harness, party, sizes, chunk_size):
    files = {
        "commercial": ("报价 2030.xlsx", "application/vnd.ms-excel", secrets.token_bytes(sizes[0])),
        "technical": ("tech.pdf", "application/pdf", secrets.token_bytes(sizes[1])),
    }
    data, progress = seal_in_browser(
        harness, party, section="S-2030-0002", bidder_code="B-9ZZ1", form=FORM, files=files, chunk_size=chunk_size
    )
    for key, recipient in ((party.opening, "opening"), (party.bidder, "bidder")):
        opened = py_open(data, key, recipient, party.signing.public_key())
        assert opened["form"] == FORM
        assert opened["parts"]["form"][0] == {"filename": "form.json", "content_type": "application/json"}
        for name, (filename, content_type, content) in files.items():
            meta, got = opened["parts"][name]
            assert meta == {"filename": filename, "content_type": content_type}
            assert got == content
    manifest = opened["manifest"]
    assert [p["name"] for p in manifest["parts"]] == ["form", "commercial", "technical"]
    assert manifest["section"] == "S-2030-0002" and manifest["bidder_code"] == "B-9ZZ1"
    assert manifest["opening_key"] == fingerprint(party.opening.public_key())
    assert manifest["bidder_key"] == fingerprint(party.bidder.public_key())
    for p in manifest["parts"]:
        assert p["chunk_size"] == chunk_size
        plain_size = p["ciphertext_size"] - 16 * p["chunk_count"]
        assert p["chunk_count"] == max(1, -(-plain_size // chunk_size))  # an exact multiple adds no empty chunk
        assert all(type(p[f]) is int for f in ("chunk_size", "chunk_count", "ciphertext_size"))
        assert len(unb64u(p["key_opening"])) == 65 + 32 + 16
    # Progress: monotone, ends at the total of plaintext bytes.
    assert progress[0][0] == 0 and progress[-1][0] == progress[-1][1]
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(progress))
    expected_chunks = sum(p["chunk_count"] for p in manifest["parts"])
    assert len(progress) == expected_chunks + 1
    # The browser also reopens its own envelope.
    got = open_in_browser(harness, data, party.bidder, "bidder", party.signing.public_key())
    assert got["form"] == FORM
    _check_with_bidding_envelope(data, party)


def _check_with_bidding_envelope(data: bytes, party) -> None:
    """Once bidding/envelope.py exists, its server-side check must accept the browser's envelope.

    Called the way bidding/submission.py calls it.
    """
    try:
        from bidding import envelope
    except ImportError:
        return
    if not hasattr(envelope, "verify_structure"):
        return
    import io

    header = json.loads(data[12 : 12 + int.from_bytes(data[8:12], "big")])
    manifest = header["manifest"]

    def load(public_key):
        for form in (b64u(point(public_key)), point(public_key)):
            try:
                return envelope.load_public_key(form)
            except Exception:
                continue
        pytest.fail("bidding.envelope.load_public_key takes neither base64url nor raw SEC1 bytes")

    verified = envelope.verify_structure(
        io.BytesIO(data),
        expected_section=manifest["section"],
        expected_bidder_code=manifest["bidder_code"],
        opening_key_fingerprint=fingerprint(party.opening.public_key()),
        signing_public_key=load(party.signing.public_key()),
        bidder_key_fingerprint=envelope.public_key_fingerprint(load(party.bidder.public_key())),
        max_size=len(data) + 1,
    )
    assert verified.digest == hashlib.sha256(data).hexdigest()
    assert verified.size == len(data)


# ---------------------------------------------------------------------------
# (c) tampering is caught by the browser opener
# ---------------------------------------------------------------------------


def _split(data: bytes):
    length = int.from_bytes(data[8:12], "big")
    return json.loads(data[12 : 12 + length]), data[12 + length :]


def _join(header: dict, body: bytes) -> bytes:
    h = canonical(header)
    return MAGIC + len(h).to_bytes(4, "big") + h + body


@pytest.fixture
def sealed(harness, party):
    files = {
        "commercial": ("c.bin", "application/octet-stream", secrets.token_bytes(3 * 65536 + 100)),
        "technical": ("t.bin", "application/octet-stream", secrets.token_bytes(1000)),
    }
    data, _ = seal_in_browser(harness, party, section="S-1", bidder_code="B-1", form=FORM, files=files)
    return data


def _form_size(header):
    return header["manifest"]["parts"][0]["ciphertext_size"]


def test_untampered_opens(harness, party, sealed):
    assert open_error(harness, sealed, party.opening, "opening", party.signing.public_key()) is None


def test_flipped_ciphertext_bit(harness, party, sealed):
    header, body = _split(sealed)
    pos = _form_size(header) + 65536 + 16 + 7  # commercial, chunk 1
    bad = bytearray(sealed)
    bad[len(sealed) - len(body) + pos] ^= 0x01
    err = open_error(harness, bytes(bad), party.opening)
    assert 'part "commercial" chunk 1: authentication failed' in err


def test_reordered_chunks(harness, party, sealed):
    header, body = _split(sealed)
    start, stride = _form_size(header), 65536 + 16
    c0, c1 = body[start : start + stride], body[start + stride : start + 2 * stride]
    body = body[:start] + c1 + c0 + body[start + 2 * stride :]
    part = header["manifest"]["parts"][1]
    part["sha256"] = hashlib.sha256(body[start : start + part["ciphertext_size"]]).hexdigest()
    err = open_error(harness, _join(header, body), party.opening)  # no signature check: the AEAD must catch it
    assert 'part "commercial" chunk 0: authentication failed' in err


def test_truncated_part(harness, party, sealed):
    """Dropping the last chunk and fixing the manifest still fails: the new last chunk lacks the last flag."""
    header, body = _split(sealed)
    parts = header["manifest"]["parts"]
    start = _form_size(header)
    commercial = parts[1]
    cut = commercial["ciphertext_size"] - 3 * (65536 + 16)
    kept = body[start : start + commercial["ciphertext_size"] - cut]
    body = body[:start] + kept + body[start + commercial["ciphertext_size"] :]
    commercial.update(chunk_count=3, ciphertext_size=len(kept), sha256=hashlib.sha256(kept).hexdigest())
    err = open_error(harness, _join(header, body), party.opening)
    assert 'part "commercial" chunk 2: authentication failed' in err
    # With the signature checked, the edited manifest is refused first.
    assert "bad signature" in open_error(harness, _join(header, body), party.opening, "opening", party.signing.public_key())


def test_wrong_sha256_and_size(harness, party, sealed):
    header, body = _split(sealed)
    header["manifest"]["parts"][2]["sha256"] = "0" * 64
    assert "SHA-256" in open_error(harness, _join(header, body), party.opening)
    assert "file size" in open_error(harness, sealed + b"\0", party.opening)
    assert "file size" in open_error(harness, sealed[:-1], party.opening)


def test_edited_manifest(harness, party, sealed):
    header, body = _split(sealed)
    header["manifest"]["section"] = "S-2"
    err = open_error(harness, _join(header, body), party.opening, "opening", party.signing.public_key())
    assert "bad signature" in err
    # Without the signature check the section is still bound through HPKE info and the AAD.
    err = open_error(harness, _join(header, body), party.opening)
    assert 'part "form": cannot unwrap the data key' in err


def test_spliced_parts(harness, party, sealed):
    """A part moved under another name fails: the name is in info and AAD."""
    header, body = _split(sealed)
    parts = header["manifest"]["parts"]
    start = _form_size(header)
    c_size = parts[1]["ciphertext_size"]
    commercial, technical = body[start : start + c_size], body[start + c_size :]
    parts[1], parts[2] = dict(parts[2], name="commercial"), dict(parts[1], name="technical")
    err = open_error(harness, _join(header, body[:start] + technical + commercial), party.opening)
    assert 'part "commercial": cannot unwrap the data key' in err


def test_wrong_key_and_header(harness, party, sealed):
    other = ec.generate_private_key(ec.SECP256R1())
    assert "not the envelope's opening key" in open_error(harness, sealed, other)
    assert "not the envelope's bidder key" in open_error(harness, sealed, party.opening, "bidder")
    assert "bad magic" in open_error(harness, b"SLENV\x00\x02\x00" + sealed[8:], party.opening)
    header, body = _split(sealed)
    spaced = json.dumps(header, sort_keys=True, ensure_ascii=False).encode()
    err = open_error(harness, MAGIC + len(spaced).to_bytes(4, "big") + spaced + body, party.opening)
    assert "not canonical" in err


# ---------------------------------------------------------------------------
# Canonical JSON, keys, backup file, IndexedDB
# ---------------------------------------------------------------------------


def test_canonical_json_matches_python(harness):
    samples = [
        FORM,
        {"b": 1, "a": [3, {"z": None, "y": True, "x": False}], "": -0, "\u00e9": "e", "e": "\u00e9"},
        # Code-point order differs from UTF-16 order here: U+FF5A sorts before U+1D11E in Python.
        {"\U0001d11e": 1, "\uff5a": 2, "\ue000": 3, "a\U0001f600": 4, "a\uffff": 5},
        {"ctl": "".join(chr(i) for i in range(32)) + '\x7f\u2028\u2029"\\/<>&'},
        [1, -9007199254740991, 9007199254740991, "中文", []],
    ]
    got = harness.evaluate("(samples) => samples.map((s) => window.sealer.canonicalJSON(s))", samples)
    assert [g.encode() for g in got] == [canonical(s) for s in samples]
    errors = harness.evaluate(
        """() => [1.5, NaN, {a: undefined}, "\\ud800", {"\\udc00": 1}].map((v) => {
            try { window.sealer.canonicalJSON(v); return null; } catch (e) { return e.message; } })"""
    )
    assert all(errors), errors


def test_generate_keys_non_extractable_and_fingerprints(harness):
    got = harness.evaluate(
        """async () => {
          const S = window.sealer;
          const k = await S.generateBidderKeys();
          return {
            sigExtractable: k.signing.privateKey.extractable,
            encExtractable: k.encryption.privateKey.extractable,
            sigAlg: k.signing.privateKey.algorithm, encAlg: k.encryption.privateKey.algorithm,
            sigUsages: k.signing.privateKey.usages, encUsages: k.encryption.privateKey.usages,
            signingPublicKey: k.signingPublicKey, encryptionPublicKey: k.encryptionPublicKey,
            signingKeyFingerprint: k.signingKeyFingerprint, encryptionKeyFingerprint: k.encryptionKeyFingerprint,
          };
        }"""
    )
    assert got["sigExtractable"] is False and got["encExtractable"] is False
    assert got["sigAlg"] == {"name": "ECDSA", "namedCurve": "P-256"}
    assert got["encAlg"] == {"name": "ECDH", "namedCurve": "P-256"}
    assert got["sigUsages"] == ["sign"] and got["encUsages"] == ["deriveBits"]
    for pub, fp in (("signingPublicKey", "signingKeyFingerprint"), ("encryptionPublicKey", "encryptionKeyFingerprint")):
        raw = unb64u(got[pub])
        assert len(raw) == 65 and raw[0] == 4
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        assert got[fp] == hashlib.sha256(raw).hexdigest()


def test_key_file_roundtrip_indexeddb_and_seal(harness, party):
    """Generate, back up, restore, store in IndexedDB, reload, seal; Python opens with the bidder key from the backup."""
    got = harness.evaluate(
        """async ([openingPublicKey, form]) => {
          const S = window.sealer;
          const k = await S.generateBidderKeys();
          const file = await S.exportKeyFile(k, "correct horse 电池 staple");
          S.forgetKeyMaterial(k);
          let laterExport = null;
          try { await S.exportKeyFile(k, "x"); } catch (e) { laterExport = e.message; }
          let wrong = null;
          try { await S.importKeyFile(file, "wrong"); } catch (e) { wrong = e.message; }
          const restored = await S.importKeyFile(file, "correct horse 电池 staple");
          await S.saveKeys("bid-1", restored);
          const loaded = await S.loadKeys("bid-1");
          let refused = null;
          try {
            const ext = await crypto.subtle.generateKey({name: "ECDSA", namedCurve: "P-256"}, true, ["sign", "verify"]);
            await S.saveKeys("bad", {signing: ext, encryption: ext});
          } catch (e) { refused = e.message; }
          const env = await S.sealEnvelope({
            section: "S-9", bidderCode: "B-KEYS", openingPublicKey,
            bidderPublicKey: loaded.encryptionPublicKey,
            signingKey: loaded.signing.privateKey, signingPublicKey: loaded.signing.publicKey,
            form, files: {technical: new Blob([new Uint8Array([1, 2, 3])])},
          });
          const opened = await S.openEnvelope(env, {privateKey: loaded.encryption, recipient: "bidder",
                                                    signingPublicKey: loaded.signingPublicKey});
          // A bare non-extractable private key works too (@hpke/core derives the public key).
          const bare = await S.openEnvelope(env, {privateKey: loaded.encryption.privateKey, recipient: "bidder"});
          return {
            file: await file.text(), env: await blobToB64(env), laterExport, wrong, refused,
            same: restored.signingKeyFingerprint === k.signingKeyFingerprint
              && loaded.encryptionKeyFingerprint === k.encryptionKeyFingerprint,
            loadedExtractable: [loaded.signing.privateKey.extractable, loaded.encryption.privateKey.extractable],
            missing: await S.loadKeys("nope"), names: await S.listKeys(),
            selfOpen: opened.form, techName: opened.parts.technical.name, bareForm: bare.form,
          };
        }""",
        [b64u(point(party.opening.public_key())), FORM],
    )
    assert got["same"] is True
    assert got["loadedExtractable"] == [False, False]
    assert "no longer be exported" in got["laterExport"]
    assert "wrong passphrase" in got["wrong"]
    assert "non-extractable" in got["refused"]
    assert got["missing"] is None and got["names"] == ["bid-1"]
    assert got["selfOpen"] == FORM and got["bareForm"] == FORM and got["techName"] == "technical"

    # The backup format is documented well enough for Python to read it.
    keyfile = json.loads(got["file"])
    assert canonical(keyfile) == got["file"].encode()
    head = {k: v for k, v in keyfile.items() if k != "ciphertext"}
    assert head["kdf"] == {"name": "PBKDF2", "hash": "SHA-256", "iterations": 600000, "salt": head["kdf"]["salt"]}
    kek = PBKDF2HMAC(hashes.SHA256(), 32, unb64u(head["kdf"]["salt"]), 600000).derive("correct horse 电池 staple".encode())
    inner = json.loads(AESGCM(kek).decrypt(unb64u(head["cipher"]["iv"]), unb64u(keyfile["ciphertext"]), canonical(head)))
    signing = serialization.load_der_private_key(unb64u(inner["signing"]), None)
    bidder = serialization.load_der_private_key(unb64u(inner["encryption"]), None)
    assert b64u(point(signing.public_key())) == head["signing_public_key"]
    assert fingerprint(bidder.public_key()) == head["bidder_key"]

    data = base64.b64decode(got["env"])
    opened = py_open(data, bidder, "bidder", signing.public_key())
    assert opened["form"] == FORM
    assert opened["parts"]["technical"] == ({"filename": "technical", "content_type": "application/octet-stream"}, b"\1\2\3")
    assert py_open(data, party.opening, "opening")["parts"]["technical"][1] == b"\1\2\3"


def test_seal_streams_large_blob_by_slices(harness, party):
    """A 40 MiB Blob is sealed slice by slice; the harness never reads it whole (checked by wrapping Blob.slice)."""
    got = harness.evaluate(
        """async ([a]) => {
          const S = window.sealer;
          const size = 40 * 1024 * 1024;
          const big = new Blob([new Uint8Array(size)]);
          const maxRead = { n: 0 };
          const origSlice = Blob.prototype.slice;
          Blob.prototype.slice = function (...args) {
            const b = origSlice.apply(this, args);
            const origAb = b.arrayBuffer.bind(b);
            b.arrayBuffer = async () => { const r = await origAb(); maxRead.n = Math.max(maxRead.n, r.byteLength); return r; };
            return b;
          };
          try {
            const signingKey = await S.importSigningPrivateKey(a.signingJwk);
            const env = await S.sealEnvelope({
              section: "S-BIG", bidderCode: "B-BIG", openingPublicKey: a.opening, bidderPublicKey: a.bidder,
              signingKey, signingPublicKey: a.signing, form: {price_fen: 1}, files: {commercial: big},
            });
            return { size: env.size, maxRead: maxRead.n };
          } finally {
            Blob.prototype.slice = origSlice;
          }
        }""",
        [
            {
                "signingJwk": jwk(party.signing),
                "opening": b64u(point(party.opening.public_key())),
                "bidder": b64u(point(party.bidder.public_key())),
                "signing": b64u(point(party.signing.public_key())),
            }
        ],
    )
    assert got["maxRead"] <= 1 << 20
    assert got["size"] > 40 * 1024 * 1024 + 40 * 16


def test_open_with_bare_non_extractable_key(harness, party):
    """Only the private CryptoKey: the opener recovers the public point whatever the parity of y."""
    got = harness.evaluate(
        """async ([openingPublicKey]) => {
          const S = window.sealer;
          const out = [];
          const other = await S.generateBidderKeys();
          for (let i = 0; i < 8; i++) {
            const k = await S.generateBidderKeys();
            const env = await S.sealEnvelope({
              section: "S-B", bidderCode: "B-" + i, openingPublicKey, bidderPublicKey: k.encryption.publicKey,
              signingKey: k.signing.privateKey, signingPublicKey: k.signing.publicKey, form: {price_fen: i},
            });
            const y = new Uint8Array(await crypto.subtle.exportKey("raw", k.encryption.publicKey))[64] & 1;
            const opened = await S.openEnvelope(env, {privateKey: k.encryption.privateKey, recipient: "bidder"});
            let wrong = null;
            try {
              await S.openEnvelope(env, {privateKey: other.encryption.privateKey, recipient: "bidder"});
            } catch (e) { wrong = e.message; }
            out.push([y, opened.form.price_fen, wrong]);
          }
          return out;
        }""",
        [b64u(point(party.opening.public_key()))],
    )
    assert [price for _, price, _ in got] == list(range(8))
    assert all("not the envelope's bidder key" in wrong for _, _, wrong in got)
