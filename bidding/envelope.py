"""The sealed-bid envelope of docs/envelope.md (format 1, suite 1), in pure Python.

No Django here: the same module serves the server (checks without decrypting)
and the bidder's and custodians' command-line tool (seal, open).
"""

import base64
import binascii
import hashlib
import io
import json
import os
import queue
import re
import tempfile
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, Literal

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

MAGIC = b"SLENV\x00\x01\x00"
LABEL = b"sunlight-envelope/v1"
MAX_HEADER = 65536
TAG = 16
MIN_CHUNK, MAX_CHUNK, DEFAULT_CHUNK = 65536, 16 * 1024 * 1024, 1 << 20
PART_ORDER = ("form", "commercial", "technical")
RECIPIENTS = ("opening", "bidder")
SUITE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
WRAPPED_KEY_SIZE = 65 + 32 + TAG  # HPKE enc (uncompressed P-256 point) || the sealed 32-byte data key
MAX_META = 65536
MAX_PRICE_FEN = 2**53 - 1  # browsers read it exactly
COPY = 1 << 20
PARALLEL_MIN = 1 << 18  # below this a helper thread costs more than it saves
KEYFILE_FORMAT, KEYFILE_VERSION = "sunlight-bidder-keys", 1
KEYFILE_ITERATIONS, KEYFILE_MIN_ITERATIONS = 600_000, 100_000

Recipient = Literal["opening", "bidder"]
MANIFEST_FIELDS = {
    "format": str,
    "version": int,
    "suite": int,
    "section": str,
    "bidder_code": str,
    "opening_key": str,
    "bidder_key": str,
    "signing_key": str,
    "sealed_at": str,
    "parts": list,
}
PART_FIELDS = {
    "name": str,
    "chunk_size": int,
    "chunk_count": int,
    "ciphertext_size": int,
    "sha256": str,
    "key_opening": str,
    "key_bidder": str,
}
HEX64 = re.compile(r"[0-9a-f]{64}")
B64URL = re.compile(r"[A-Za-z0-9_-]*")
SEALED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


class EnvelopeError(Exception):
    """A refusal with a rule code: BID-ENCRYPTED (structure, signature, digest), BID-TOO-LARGE or OPEN-DECRYPT-FAIL."""

    def __init__(self, code: str, message: str, *, part: str | None = None, chunk: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.part, self.chunk = code, message, part, chunk


class KeyFileError(ValueError):
    """A key file that does not open: wrong passphrase, damaged, or not ours."""


def bad(message: str, *, part: str | None = None) -> EnvelopeError:
    return EnvelopeError("BID-ENCRYPTED", message, part=part)


def _fail(message: str, *, part: str | None = None, chunk: int | None = None) -> EnvelopeError:
    return EnvelopeError("OPEN-DECRYPT-FAIL", message, part=part, chunk=chunk)


# --- encodings ------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Strict: only the URL-safe alphabet, no padding, and the one canonical spelling of the bytes."""
    if not isinstance(text, str) or not B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:
        raise ValueError("not base64url") from error
    if b64url(raw) != text:  # unused low bits set: another text for the same bytes
        raise ValueError("not canonical base64url")
    return raw


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- keys --------------------------------------------------------------------------------


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 private key (signing, encryption or opening)."""
    return ec.generate_private_key(ec.SECP256R1())


def public_point(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def public_key_text(public_key: ec.EllipticCurvePublicKey) -> str:
    """The uncompressed SEC1 point, base64url: how public keys travel in forms, files and the API."""
    return b64url(public_point(public_key))


def load_public_key(value: str | bytes) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from base64url text or raw uncompressed SEC1 bytes."""
    try:
        raw = b64url_decode(value) if isinstance(value, str) else bytes(value)
        if len(raw) != 65 or raw[0] != 4:
            raise ValueError("not an uncompressed point")
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError as error:
        raise bad("not a P-256 public key (uncompressed SEC1 point)") from error


def public_key_fingerprint(public_key: ec.EllipticCurvePublicKey) -> str:
    return hashlib.sha256(public_point(public_key)).hexdigest()


def _secret(passphrase: str | bytes) -> bytes:
    # NFC first, as the browser does: the same passphrase typed on another system gives the same bytes.
    return unicodedata.normalize("NFC", passphrase).encode() if isinstance(passphrase, str) else bytes(passphrase)


def private_key_pem(private_key: ec.EllipticCurvePrivateKey, *, passphrase: str | bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with the best available scheme when a passphrase is given."""
    encryption = serialization.BestAvailableEncryption(_secret(passphrase)) if passphrase else serialization.NoEncryption()
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def load_private_key(pem: bytes, *, passphrase: str | bytes | None = None) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=_secret(passphrase) if passphrase else None)
    except (ValueError, TypeError) as error:
        raise KeyFileError("the private key does not load: wrong passphrase, none given, or not a PEM key") from error
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise KeyFileError("not a P-256 private key")
    return key


@dataclass(frozen=True)
class BidderKeys:
    signing: ec.EllipticCurvePrivateKey
    encryption: ec.EllipticCurvePrivateKey


def _keyfile_kek(passphrase: str | bytes, salt: bytes, iterations: int) -> AESGCM:
    return AESGCM(PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations).derive(_secret(passphrase)))


def export_key_file(
    *,
    signing_private_key: ec.EllipticCurvePrivateKey,
    encryption_private_key: ec.EllipticCurvePrivateKey,
    passphrase: str,
    iterations: int = KEYFILE_ITERATIONS,
) -> bytes:
    """The bidder's key backup in the browser sealer's format (static/sealer/sealer.js exportKeyFile), so either opens it."""
    salt, iv = os.urandom(16), os.urandom(12)
    head = {
        "format": KEYFILE_FORMAT,
        "version": KEYFILE_VERSION,
        "kdf": {"name": "PBKDF2", "hash": "SHA-256", "iterations": iterations, "salt": b64url(salt)},
        "cipher": {"name": "AES-256-GCM", "iv": b64url(iv)},
        "signing_public_key": public_key_text(signing_private_key.public_key()),
        "encryption_public_key": public_key_text(encryption_private_key.public_key()),
        "signing_key": public_key_fingerprint(signing_private_key.public_key()),
        "bidder_key": public_key_fingerprint(encryption_private_key.public_key()),
    }
    der = serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    secret = canonical_json(
        {
            "signing": b64url(signing_private_key.private_bytes(*der)),
            "encryption": b64url(encryption_private_key.private_bytes(*der)),
        }
    )
    ciphertext = _keyfile_kek(passphrase, salt, iterations).encrypt(iv, secret, canonical_json(head))
    return canonical_json({**head, "ciphertext": b64url(ciphertext)})


def import_key_file(data: bytes | str | Mapping, *, passphrase: str) -> BidderKeys:
    """Open a key backup written by export_key_file or the browser sealer; checks the keys match the public keys beside them."""
    try:
        document = dict(data) if isinstance(data, Mapping) else json.loads(data)
        head = {k: v for k, v in document.items() if k != "ciphertext"}
        kdf, cipher = head["kdf"], head["cipher"]
        if head["format"] != KEYFILE_FORMAT or head["version"] != KEYFILE_VERSION:
            raise KeyError("format")
        if (kdf["name"], kdf["hash"], cipher["name"]) != ("PBKDF2", "SHA-256", "AES-256-GCM"):
            raise KeyFileError("unsupported key file protection")
        if type(kdf["iterations"]) is not int or kdf["iterations"] < KEYFILE_MIN_ITERATIONS:
            raise KeyFileError("key file: PBKDF2 iteration count too low")
        salt, iv, ciphertext = b64url_decode(kdf["salt"]), b64url_decode(cipher["iv"]), b64url_decode(document["ciphertext"])
    except KeyFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise KeyFileError("not a Sunlight bidder key file") from error
    try:
        secret = _keyfile_kek(passphrase, salt, kdf["iterations"]).decrypt(iv, ciphertext, canonical_json(head))
    except InvalidTag as error:
        raise KeyFileError("wrong passphrase or damaged key file") from error
    inner = json.loads(secret)
    keys = []
    for name, public_field in (("signing", "signing_public_key"), ("encryption", "encryption_public_key")):
        key = serialization.load_der_private_key(b64url_decode(inner[name]), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or public_key_text(key.public_key()) != head[public_field]:
            raise KeyFileError("key file: the private keys do not match the public keys")
        keys.append(key)
    return BidderKeys(signing=keys[0], encryption=keys[1])


# --- shared pieces of the format --------------------------------------------------------


def _aad(section: str, bidder_code: str, name: str) -> bytes:
    return b"|".join([LABEL, section.encode(), bidder_code.encode(), name.encode()])


def _info(section: str, bidder_code: str, name: str, recipient: str) -> bytes:
    return _aad(section, bidder_code, name) + b"|" + recipient.encode()


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(8, "big") + (1 if last else 0).to_bytes(4, "big")


def chunk_count(plaintext_size: int, chunk_size: int) -> int:
    return max(1, -(-plaintext_size // chunk_size))


def _write_all(sink, data: memoryview) -> None:
    # A raw (unbuffered) file may take part of a write: the rest follows.
    while data:
        n = sink.write(data)
        data = data[len(data) if n is None else n :]


def _read_exact(stream, buffer: memoryview) -> int:
    got = 0
    while got < len(buffer):
        n = stream.readinto(buffer[got:])
        if not n:
            break
        got += n
    return got


class _Hasher:
    """SHA-256 updates on a helper thread: hashlib releases the GIL, so the caller encrypts or hashes meanwhile.

    At most one update is in flight (wait() before the next), so a digest sees its data in order.
    """

    def __init__(self, *, parallel: bool):
        self._pending = False
        self._error: BaseException | None = None
        self._todo: queue.SimpleQueue | None = None
        if parallel:
            self._todo, self._done = queue.SimpleQueue(), queue.SimpleQueue()
            self._thread = threading.Thread(target=self._run, name="envelope-sha256", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while (item := self._todo.get()) is not None:
            try:
                item[0].update(item[1])
            except BaseException as error:  # handed back to the caller by wait()
                self._error = error
            self._done.put(None)

    def update(self, digest, data) -> None:
        if self._todo is None or len(data) < PARALLEL_MIN:
            self.wait()
            digest.update(data)
            return
        self.wait()
        self._todo.put((digest, data))
        self._pending = True

    def wait(self) -> None:
        if self._pending:
            self._done.get()
            self._pending = False
            if self._error is not None:
                raise self._error

    def close(self) -> None:
        if self._todo is not None:
            if self._pending:
                self._done.get()
                self._pending = False
            self._todo.put(None)
            self._thread.join()
            self._todo = None


# --- sealing ------------------------------------------------------------------------------


class _Chain(io.RawIOBase):
    """The part's plaintext: u32 meta length, meta, then the content read straight from the source."""

    def __init__(self, prefix: bytes, stream: BinaryIO, *, owned: bool):
        self.prefix, self.stream, self.owned = prefix, stream, owned

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        if self.prefix:
            n = min(len(self.prefix), len(view))
            view[:n] = self.prefix[:n]
            self.prefix = self.prefix[n:]
            return n
        return self.stream.readinto(view) or 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self.owned and not self.stream.closed:
            self.stream.close()
        super().close()


def _part_plaintext(name: str, value) -> tuple[_Chain, int]:
    """(plaintext stream, plaintext size) of a part, without reading the content."""
    if isinstance(value, tuple):
        filename, content_type, source = value
    else:
        filename = os.path.basename(os.fspath(value)) if isinstance(value, (str, os.PathLike)) else name
        content_type, source = "application/octet-stream", value
    meta = canonical_json({"content_type": str(content_type), "filename": str(filename)})
    prefix = len(meta).to_bytes(4, "big") + meta
    if len(meta) > MAX_META:
        raise ValueError(f"{name}: file name or content type too long")
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _Chain(prefix, io.BytesIO(source), owned=True), len(prefix) + memoryview(source).nbytes
    if isinstance(source, (str, os.PathLike)):
        stream = open(source, "rb")  # noqa: SIM115  (closed by _Chain)
        return _Chain(prefix, stream, owned=True), len(prefix) + os.fstat(stream.fileno()).st_size
    if hasattr(source, "readinto") and hasattr(source, "seekable") and source.seekable():
        here = source.tell()
        size = source.seek(0, io.SEEK_END) - here
        source.seek(here)
        return _Chain(prefix, source, owned=False), len(prefix) + size
    raise ValueError(f"{name}: give a path, bytes, or a seekable binary file (its size goes in the header)")


def _check_form(form) -> None:
    if not isinstance(form, dict):
        raise ValueError("the bid form is a JSON object")
    price = form.get("price_fen")
    if type(price) is not int or not 0 <= price <= MAX_PRICE_FEN:
        raise ValueError("the bid form needs price_fen: an integer number of fen, 0 to 2^53-1")

    def walk(value) -> None:
        if isinstance(value, float):
            raise ValueError("no floats in the bid form: amounts are integers (fen)")
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                raise ValueError("bid form keys are strings")
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_PRICE_FEN:
            raise ValueError("bid form integers stay within 2^53-1")

    walk(form)


class _Buffers:
    """One plaintext and two ciphertext buffers for every chunk of every part: no allocation per chunk."""

    def __init__(self, chunk: int):
        self.plain = memoryview(bytearray(chunk))
        # Two: one is hashed on the helper thread while the next is encrypted and written.
        self.ciphers = (memoryview(bytearray(chunk + TAG)), memoryview(bytearray(chunk + TAG)))


def _seal_part(
    *, key: bytes, aad: bytes, source: _Chain, size: int, chunk_size: int, sink, hasher: _Hasher, buffers: _Buffers, name: str
) -> str:
    """Encrypt one part chunk by chunk into `sink` while hashing the ciphertext; returns its SHA-256 (hex)."""
    aead = AESGCM(key)
    count = chunk_count(size, chunk_size)
    plain, ciphers = buffers.plain, buffers.ciphers
    digest, left = hashlib.sha256(), size
    for index in range(count):
        want = min(chunk_size, left)
        if _read_exact(source, plain[:want]) != want:
            raise ValueError(f"{name}: the file shrank while it was being sealed")
        left -= want
        out = ciphers[index % 2][: want + TAG]
        aead.encrypt_into(_nonce(index, index == count - 1), plain[:want], aad, out)
        _write_all(sink, out)
        hasher.update(digest, out)
    hasher.wait()
    if source.readinto(bytearray(1)):
        raise ValueError(f"{name}: the file grew while it was being sealed")
    return digest.hexdigest()


def _envelope_head(manifest: dict, signature: str) -> bytes:
    header = canonical_json({"manifest": manifest, "signature": signature})
    return MAGIC + len(header).to_bytes(4, "big") + header


def sign_raw(private_key: ec.EllipticCurvePrivateKey, message: bytes) -> str:
    """ECDSA P-256 / SHA-256 over `message`, as raw r || s in base64url: what WebCrypto makes and checks."""
    r, s = decode_dss_signature(private_key.sign(message, ec.ECDSA(hashes.SHA256())))
    return b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def signature_fault(public_key: ec.EllipticCurvePublicKey, message: bytes, signature: str) -> str | None:
    """Why `signature` (sign_raw's form) does not verify `message` under `public_key`; None when it does."""
    try:
        raw = b64url_decode(signature)
    except ValueError:
        return "the signature is not base64url"
    if len(raw) != 64:
        return "the signature must be 64 bytes (r || s)"
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public_key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "mismatch"
    return None


def sign_manifest(*, signing_private_key: ec.EllipticCurvePrivateKey, manifest: dict) -> str:
    """ECDSA P-256 / SHA-256 over the manifest's canonical JSON, as raw r || s in base64url."""
    return sign_raw(signing_private_key, canonical_json(manifest))


def seal(
    *,
    section: str,
    bidder_code: str,
    opening_public_key: ec.EllipticCurvePublicKey,
    bidder_public_key: ec.EllipticCurvePublicKey,
    signing_private_key: ec.EllipticCurvePrivateKey,
    form: dict,
    files: Mapping,
    out: BinaryIO,
    chunk_size: int = DEFAULT_CHUNK,
    sealed_at: datetime | None = None,
) -> dict:
    """Seal a bid into `out` in constant memory; returns the signed manifest.

    `files` maps `commercial`/`technical` to a path, bytes, a seekable binary file, or
    `(filename, content_type, source)`. The header comes first but holds the parts' digests:
    they are fixed-width, so a seekable `out` gets a placeholder header of the same length,
    rewritten at the end; any other `out` gets the parts spooled to temporary files first.
    """
    if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        raise ValueError(f"chunk_size must be {MIN_CHUNK}..{MAX_CHUNK}")
    for label, value in (("section", section), ("bidder_code", bidder_code)):
        if not isinstance(value, str) or not value or "|" in value:
            raise ValueError(f"{label} must be a non-empty string without '|'")
    unknown = set(files) - set(PART_ORDER[1:])
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}: only commercial and technical")
    _check_form(form)
    inputs = [("form", ("form.json", "application/json", canonical_json(form)))]
    inputs += [(name, files[name]) for name in PART_ORDER[1:] if name in files]
    streams: list[tuple[str, _Chain, int]] = []
    spools: list = []
    try:
        for name, value in inputs:
            streams.append((name, *_part_plaintext(name, value)))
        keys, parts = [], []
        for name, _stream, size in streams:
            key = AESGCM.generate_key(256)
            keys.append(key)
            count = chunk_count(size, chunk_size)
            info = {r: _info(section, bidder_code, name, r) for r in RECIPIENTS}
            parts.append(
                {
                    "name": name,
                    "chunk_size": chunk_size,
                    "chunk_count": count,
                    "ciphertext_size": size + TAG * count,
                    "sha256": "0" * 64,
                    "key_opening": b64url(SUITE.encrypt(key, opening_public_key, info=info["opening"])),
                    "key_bidder": b64url(SUITE.encrypt(key, bidder_public_key, info=info["bidder"])),
                }
            )
        manifest = {
            "format": "sunlight-envelope",
            "version": 1,
            "suite": 1,
            "section": section,
            "bidder_code": bidder_code,
            "opening_key": public_key_fingerprint(opening_public_key),
            "bidder_key": public_key_fingerprint(bidder_public_key),
            "signing_key": public_key_fingerprint(signing_private_key.public_key()),
            "sealed_at": (sealed_at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "parts": parts,
        }
        seekable = bool(getattr(out, "seekable", lambda: False)())
        start = out.tell() if seekable else 0
        if seekable:
            _write_all(out, memoryview(_envelope_head(manifest, "A" * 86)))  # 86: base64url of a 64-byte signature
        hasher = _Hasher(parallel=any(size > 2 * chunk_size for _n, _s, size in streams))
        buffers = _Buffers(min(chunk_size, max(size for _n, _s, size in streams)))
        try:
            for part, key, (name, stream, size) in zip(parts, keys, streams, strict=True):
                if seekable:
                    sink = out
                else:
                    # In memory while small, on disk beyond: constant memory whatever the bid's size.
                    sink = tempfile.SpooledTemporaryFile(max_size=8 * COPY)  # noqa: SIM115  (closed below)
                    spools.append(sink)
                part["sha256"] = _seal_part(
                    key=key,
                    aad=_aad(section, bidder_code, name),
                    source=stream,
                    size=size,
                    chunk_size=chunk_size,
                    sink=sink,
                    hasher=hasher,
                    buffers=buffers,
                    name=name,
                )
        finally:
            hasher.close()
        head = _envelope_head(manifest, sign_manifest(signing_private_key=signing_private_key, manifest=manifest))
        if seekable:
            end = out.tell()
            out.seek(start)
            _write_all(out, memoryview(head))
            out.seek(end)
        else:
            _write_all(out, memoryview(head))
            buffer = memoryview(bytearray(COPY))
            for spool in spools:
                spool.seek(0)
                while n := _read_exact(spool, buffer):
                    _write_all(out, buffer[:n])
    finally:
        for _name, stream, _size in streams:
            stream.close()
        for spool in spools:
            spool.close()
    return manifest


# --- checks without decrypting ----------------------------------------------------------


@dataclass(frozen=True)
class EnvelopeHeader:
    manifest: dict
    signature: str
    header_length: int
    raw: bytes  # the header's JSON bytes as stored

    @property
    def body_offset(self) -> int:
        return 12 + self.header_length

    @property
    def size(self) -> int:
        """The size the whole file must have."""
        return self.body_offset + sum(p["ciphertext_size"] for p in self.manifest["parts"])

    def part(self, name: str) -> dict | None:
        return next((p for p in self.manifest["parts"] if p["name"] == name), None)

    def part_offset(self, name: str) -> int:
        offset = self.body_offset
        for part in self.manifest["parts"]:
            if part["name"] == name:
                return offset
            offset += part["ciphertext_size"]
        raise KeyError(name)

    def verify_signature(self, signing_public_key: ec.EllipticCurvePublicKey) -> None:
        verify_signature(self.manifest, self.signature, signing_public_key)


@dataclass(frozen=True)
class VerifiedEnvelope:
    digest: str  # SHA-256 of the whole file: the receipt's digest
    size: int
    manifest: dict
    header_length: int


def _length(prefix: bytes) -> int:
    if prefix[:8] != MAGIC:
        raise bad("not a Sunlight envelope format 1 (magic or version)")
    length = int.from_bytes(prefix[8:12], "big")
    if not 0 < length <= MAX_HEADER:
        raise bad(f"header length {length} out of range (1..{MAX_HEADER})")
    return length


def parse_header(raw: bytes) -> EnvelopeHeader:
    """The header's JSON (after magic and length): canonical, every field present and typed, sizes consistent."""
    try:
        header = json.loads(raw.decode(), parse_float=_no_float, parse_constant=_no_float)
    except (UnicodeDecodeError, ValueError) as error:
        raise bad("the header is not JSON (UTF-8, no floats)") from error
    if not isinstance(header, dict) or set(header) != {"manifest", "signature"}:
        raise bad("the header must hold exactly manifest and signature")
    if canonical_json(header) != raw:
        raise bad("the header is not in canonical JSON form")
    if not isinstance(header["signature"], str):
        raise bad("signature must be a string")
    _check_manifest(header["manifest"])
    return EnvelopeHeader(manifest=header["manifest"], signature=header["signature"], header_length=len(raw), raw=raw)


def _no_float(text: str):
    raise ValueError(f"float {text} in the header")


def _check_manifest(manifest) -> None:
    if not isinstance(manifest, dict) or set(manifest) != set(MANIFEST_FIELDS):
        missing = sorted(set(MANIFEST_FIELDS) - set(manifest)) if isinstance(manifest, dict) else ["all"]
        extra = sorted(set(manifest) - set(MANIFEST_FIELDS)) if isinstance(manifest, dict) else []
        raise bad(f"manifest fields: missing {missing}, unknown {extra}")
    for field, kind in MANIFEST_FIELDS.items():
        if type(manifest[field]) is not kind:
            raise bad(f"manifest field {field} must be {kind.__name__}")
    if manifest["format"] != "sunlight-envelope" or manifest["version"] != 1:
        raise bad("unknown format or version")
    if manifest["suite"] != 1:
        raise bad(f"unknown cipher suite {manifest['suite']}")
    for field in ("section", "bidder_code"):
        if not manifest[field] or "|" in manifest[field]:
            raise bad(f"manifest field {field} must be non-empty and without '|'")
    for field in ("opening_key", "bidder_key", "signing_key"):
        if not HEX64.fullmatch(manifest[field]):
            raise bad(f"manifest field {field} must be a lowercase hex SHA-256")
    if not SEALED_AT.fullmatch(manifest["sealed_at"]):
        raise bad("sealed_at must be YYYY-MM-DDTHH:MM:SSZ")
    names = [p.get("name") if isinstance(p, dict) else None for p in manifest["parts"]]
    if not names or names != [n for n in PART_ORDER if n in names]:
        raise bad(f"parts must be form, then commercial, then technical, each at most once; got {names}")
    for part in manifest["parts"]:
        name = part["name"]
        if set(part) != set(PART_FIELDS) or any(type(part[k]) is not t for k, t in PART_FIELDS.items()):
            raise bad(f"part {name}: fields missing, unknown or of the wrong type", part=name)
        if not HEX64.fullmatch(part["sha256"]):
            raise bad(f"part {name}: sha256 must be lowercase hex", part=name)
        for field in ("key_opening", "key_bidder"):
            try:
                wrapped = b64url_decode(part[field])
            except ValueError:
                wrapped = b""
            if len(wrapped) != WRAPPED_KEY_SIZE:
                raise bad(f"part {name}: {field} must be base64url of {WRAPPED_KEY_SIZE} bytes (HPKE enc || ct)", part=name)
        size, count, chunk = part["ciphertext_size"], part["chunk_count"], part["chunk_size"]
        if not MIN_CHUNK <= chunk <= MAX_CHUNK or count < 1:
            raise bad(f"part {name}: chunk_size {chunk} or chunk_count {count} out of range", part=name)
        plaintext = size - TAG * count
        # Every chunk full but the last, which holds 1..chunk_size bytes; at least the 4-byte meta length.
        if not max(4, (count - 1) * chunk + 1) <= plaintext <= count * chunk:
            raise bad(f"part {name}: ciphertext_size {size} does not fit {count} chunks of {chunk}", part=name)


def inspect(stream: BinaryIO) -> EnvelopeHeader:
    """Read and check the header at the stream's position (structure only: no keys, no signature)."""
    prefix = stream.read(12)
    if len(prefix) < 12:
        raise bad("truncated: shorter than the 12-byte preamble")
    length = _length(prefix)
    raw = stream.read(length)
    if len(raw) != length:
        raise bad(f"truncated header: {len(raw)} of {length} bytes")
    return parse_header(raw)


def verify_signature(manifest: dict, signature: str, signing_public_key: ec.EllipticCurvePublicKey) -> None:
    fault = signature_fault(signing_public_key, canonical_json(manifest), signature)
    if fault == "mismatch":
        raise bad("the manifest's signature does not verify with the registered signing key")
    if fault:
        raise bad(fault)


class EnvelopeVerifier:
    """The checks of verify_structure as bytes arrive: feed() every piece in order, then finish().

    Refuses as early as it can (a wrong section is known after the header, before the body).
    feed() is done with its argument when it returns, so the caller may reuse its buffer.
    """

    def __init__(
        self,
        *,
        expected_section: str,
        expected_bidder_code: str,
        opening_key_fingerprint: str,
        signing_public_key: ec.EllipticCurvePublicKey,
        bidder_key_fingerprint: str,
        max_size: int,
        parallel: bool = False,
    ):
        self.expected = (expected_section, expected_bidder_code, opening_key_fingerprint, bidder_key_fingerprint)
        self.signing_public_key = signing_public_key
        self.max_size = max_size
        self.header: EnvelopeHeader | None = None
        self.received = 0
        self._start = bytearray()
        self._whole = hashlib.sha256()
        self._hasher = _Hasher(parallel=parallel)
        self._parts: list[dict] = []
        self._index = 0
        self._left = 0
        self._remaining = 0
        self._digest = hashlib.sha256()

    def __enter__(self) -> "EnvelopeVerifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._hasher.close()

    def feed(self, data) -> None:
        view = memoryview(data).cast("B")
        self.received += len(view)
        if self.header is None:
            view = self._feed_header(view)
            if self.header is None:
                if self.received > self.max_size:  # once the header is read, its sizes decide
                    raise EnvelopeError("BID-TOO-LARGE", f"the envelope is larger than the limit of {self.max_size} bytes")
                return
        if len(view) > self._remaining:
            raise bad("bytes after the last part")
        self._remaining -= len(view)
        try:
            self._hasher.update(self._whole, view)
            while view:
                n = min(len(view), self._left)
                self._digest.update(view[:n])
                self._left -= n
                view = view[n:]
                if not self._left:
                    self._end_part()
        finally:
            self._hasher.wait()

    def _feed_header(self, view: memoryview) -> memoryview:
        if len(self._start) < 12:
            n = min(12 - len(self._start), len(view))
            self._start += view[:n]
            view = view[n:]
            if len(self._start) >= len(MAGIC) and self._start[:8] != MAGIC:
                raise bad("not a Sunlight envelope format 1 (magic or version)")
            if len(self._start) < 12:
                return view
            _length(bytes(self._start))
        total = 12 + int.from_bytes(self._start[8:12], "big")
        n = min(total - len(self._start), len(view))
        self._start += view[:n]
        if len(self._start) < total:
            return view[n:]
        self._accept_header(parse_header(bytes(self._start[12:])))
        self._whole.update(self._start)
        return view[n:]

    def _accept_header(self, header: EnvelopeHeader) -> None:
        manifest = header.manifest
        section, code, opening, bidder = self.expected
        if manifest["section"] != section:
            raise bad(f"the envelope was sealed for another section ({manifest['section']}, expected {section})")
        if manifest["bidder_code"] != code:
            raise bad("the envelope was sealed for another bidder code")  # codes of others are not echoed
        if manifest["opening_key"] != opening:
            raise bad("the envelope is not sealed to this section's opening key")
        if manifest["bidder_key"] != bidder:
            raise bad("the envelope's bidder key is not the one registered")
        if manifest["signing_key"] != public_key_fingerprint(self.signing_public_key):
            raise bad("the envelope's signing key is not the one registered")
        header.verify_signature(self.signing_public_key)
        if header.size > self.max_size:
            raise EnvelopeError("BID-TOO-LARGE", f"the envelope is {header.size} bytes, above the limit of {self.max_size}")
        self.header, self._parts = header, manifest["parts"]
        self._left = self._parts[0]["ciphertext_size"]
        self._remaining = header.size - header.body_offset

    def _end_part(self) -> None:
        part = self._parts[self._index]
        if self._digest.hexdigest() != part["sha256"]:
            raise bad(f"part {part['name']}: the ciphertext's SHA-256 does not match the manifest", part=part["name"])
        self._index += 1
        self._digest = hashlib.sha256()
        self._left = self._parts[self._index]["ciphertext_size"] if self._index < len(self._parts) else 0

    def finish(self) -> VerifiedEnvelope:
        self.close()
        if self.header is None and len(self._start) < 12:
            raise bad("truncated: shorter than the 12-byte preamble")
        if self.header is None:
            length = int.from_bytes(self._start[8:12], "big")
            raise bad(f"truncated header: {len(self._start) - 12} of {length} bytes")
        if self._index < len(self._parts):
            part = self._parts[self._index]
            got = part["ciphertext_size"] - self._left
            raise bad(f"part {part['name']}: truncated, {got} of {part['ciphertext_size']} bytes", part=part["name"])
        return VerifiedEnvelope(
            digest=self._whole.hexdigest(),
            size=self.received,
            manifest=self.header.manifest,
            header_length=self.header.header_length,
        )


def verify_structure(
    stream: BinaryIO,
    *,
    expected_section: str,
    expected_bidder_code: str,
    opening_key_fingerprint: str,
    signing_public_key: ec.EllipticCurvePublicKey,
    bidder_key_fingerprint: str,
    max_size: int,
) -> VerifiedEnvelope:
    """Everything the server checks without decrypting (docs/envelope.md); reads the stream once."""
    with EnvelopeVerifier(
        expected_section=expected_section,
        expected_bidder_code=expected_bidder_code,
        opening_key_fingerprint=opening_key_fingerprint,
        signing_public_key=signing_public_key,
        bidder_key_fingerprint=bidder_key_fingerprint,
        max_size=max_size,
        parallel=True,
    ) as verifier:
        buffer = memoryview(bytearray(COPY))
        while n := _read_exact(stream, buffer):
            verifier.feed(buffer[:n])
        return verifier.finish()


# --- opening ------------------------------------------------------------------------------


def unwrap_key(header: EnvelopeHeader, *, private_key: ec.EllipticCurvePrivateKey, recipient: Recipient, part_name: str) -> bytes:
    """A part's data key, opened with the opening or the bidder's private key."""
    if recipient not in RECIPIENTS:
        raise ValueError("recipient is 'opening' or 'bidder'")
    part = header.part(part_name)
    if part is None:
        raise _fail(f"no part {part_name} in this envelope", part=part_name)
    manifest = header.manifest
    try:
        return SUITE.decrypt(
            b64url_decode(part[f"key_{recipient}"]),
            private_key,
            info=_info(manifest["section"], manifest["bidder_code"], part_name, recipient),
        )
    except (InvalidTag, ValueError) as error:  # a wrong key and a tampered wrap look the same, on purpose
        raise _fail(f"part {part_name}: the data key does not open with this {recipient} key", part=part_name) from error


def open_part(
    stream: BinaryIO, *, private_key: ec.EllipticCurvePrivateKey, recipient: Recipient, part_name: str, out: BinaryIO
) -> dict:
    """Decrypt one part of the envelope in `stream` (seekable, envelope at offset 0) into `out`.

    Writes the content only; returns its meta {filename, content_type}. Chunks reach `out` only
    once authenticated, but a failure midway leaves the earlier chunks there: discard `out` then.
    """
    stream.seek(0)
    header = inspect(stream)
    key = unwrap_key(header, private_key=private_key, recipient=recipient, part_name=part_name)
    part, manifest = header.part(part_name), header.manifest
    aead, aad = AESGCM(key), _aad(manifest["section"], manifest["bidder_code"], part_name)
    stream.seek(header.part_offset(part_name))
    chunk, count, left = part["chunk_size"], part["chunk_count"], part["ciphertext_size"]
    biggest = min(chunk, left - TAG)  # a small part needs no chunk-sized buffers
    cipher, plain = memoryview(bytearray(biggest + TAG)), memoryview(bytearray(biggest))
    content = PartContent(part_name)
    for index in range(count):
        want = min(chunk + TAG, left)
        n = _read_exact(stream, cipher[:want])
        if n != want:
            raise _fail(f"part {part_name}: chunk {index} is truncated ({n} of {want} bytes)", part=part_name, chunk=index)
        left -= n
        try:
            m = aead.decrypt_into(_nonce(index, index == count - 1), cipher[:n], aad, plain[: n - TAG])
        except (InvalidTag, ValueError) as error:
            raise _fail(
                f"part {part_name}: chunk {index} fails authentication (damaged, truncated, reordered or spliced)",
                part=part_name,
                chunk=index,
            ) from error
        try:
            data = content.feed(plain[:m])
        except ValueError as error:
            raise _fail(str(error), part=part_name, chunk=index) from error
        if data:
            out.write(data)
    try:
        return content.meta()
    except ValueError as error:
        raise _fail(str(error), part=part_name) from error


class PartContent:
    """Splits a file part's plaintext, fed chunk by chunk, into its meta (u32 length, JSON) and its content.

    The meta may straddle chunks; `feed` returns the content bytes of what it was given (empty while the
    meta is still coming) and raises ValueError for a meta too long; `meta()` checks it at the end.
    """

    def __init__(self, part_name: str):
        self.part_name, self.size = part_name, 0
        self._head, self._end = bytearray(), None

    def feed(self, data):
        if self._end is not None and len(self._head) >= self._end:
            self.size += len(data)
            return data
        self._head += data
        if self._end is None and len(self._head) >= 4:
            self._end = 4 + int.from_bytes(self._head[:4], "big")
            if self._end - 4 > MAX_META:
                raise ValueError(f"part {self.part_name}: meta of {self._end - 4} bytes is too long")
        if self._end is None or len(self._head) < self._end:
            return b""
        rest = bytes(self._head[self._end :])
        del self._head[self._end :]
        self.size += len(rest)
        return rest

    def meta(self) -> dict:
        if self._end is None or len(self._head) < self._end:
            raise ValueError(f"part {self.part_name}: the plaintext ends inside its meta")
        try:
            meta = json.loads(bytes(self._head[4 : self._end]))
        except ValueError:
            meta = None
        if not isinstance(meta, dict) or not all(isinstance(meta.get(k), str) for k in ("filename", "content_type")):
            raise ValueError(f"part {self.part_name}: the meta is not {{filename, content_type}}")
        return meta


def open_form(stream: BinaryIO, *, private_key: ec.EllipticCurvePrivateKey, recipient: Recipient) -> dict:
    """Decrypt and parse the bid form, read out at opening; price_fen must be an integer."""
    buffer = io.BytesIO()
    open_part(stream, private_key=private_key, recipient=recipient, part_name="form", out=buffer)
    try:
        form = json.loads(buffer.getvalue(), parse_float=_no_float, parse_constant=_no_float)
    except ValueError as error:
        raise _fail("the bid form is not JSON with integers only", part="form") from error
    try:
        _check_form(form)
    except ValueError as error:
        raise _fail(str(error), part="form") from error
    return form
