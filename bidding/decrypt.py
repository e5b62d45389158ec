"""Opening one sealed bid with its parts' data keys, and keeping those keys wrapped while the opening runs.

Where the keys live (the design, in short):
- The custodians' shares stay sealed to their passphrases in KeyShare. A custodian who presents
  its share unseals it in the memory of its own request. Below the quorum the share waits in
  PresentedShare wrapped under the at-rest key below (never more than threshold - 1 of them, so
  even the database and the server secret together hold less than the key).
- The request that brings the last share rebuilds the opening key in memory, unwraps every
  bid's per-part data keys (HPKE, from the manifest kept with the bid), wraps them under the
  at-rest key into BidOpening.sealed_keys, erases the waiting shares, and drops the private key.
  The whole opening key is never written anywhere and never reaches a task.
- A bidder that unlocks its own bid (在线解密) unwraps its data keys on its own machine with its
  own key and sends only those, which take the same road.
- Celery tasks get ids only, read the wrapped data keys from the row, authenticate every chunk, read
  the form, and erase them; the file parts stay sealed in the envelope, their keys kept for the
  committee under the opened-parts key (bidding.parts), so no plaintext copy is ever written.
  A crashed worker or a Redis that lost its queue loses nothing: the row still holds what the
  next attempt needs, and the periodic watchdog starts it.

The at-rest key comes from the server's secret (HKDF of SECRET_KEY, per ceremony), so a copy of
the database alone opens none of it; what it protects is bounded to one opening, and gone after.
"""

import hashlib
import io
import json
import os
import time
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from bidding import envelope as E

AT_REST_LABEL = b"sunlight-opening-at-rest/v1"
TAG = 16


def _at_rest(ceremony_id: int) -> AESGCM:
    key = HKDF(hashes.SHA256(), 32, salt=AT_REST_LABEL, info=b"ceremony|%d" % ceremony_id).derive(settings.SECRET_KEY.encode())
    return AESGCM(key)


def wrap_at_rest(*, ceremony_id: int, label: str, value: bytes) -> str:
    nonce = os.urandom(12)
    return E.b64url(nonce + _at_rest(ceremony_id).encrypt(nonce, value, label.encode()))


def unwrap_at_rest(*, ceremony_id: int, label: str, text: str) -> bytes:
    raw = E.b64url_decode(text)
    return _at_rest(ceremony_id).decrypt(raw[:12], raw[12:], label.encode())


def data_key_label(bid_id: int, part: str) -> str:
    return f"bid|{bid_id}|{part}"


def unwrap_data_keys(*, manifest: dict, private_key, recipient: str = "opening") -> dict[str, bytes]:
    """Every part's data key from the manifest, with the opening key (or the bidder's own)."""
    header = E.EnvelopeHeader(manifest=manifest, signature="", header_length=0, raw=b"")
    return {
        p["name"]: E.unwrap_key(header, private_key=private_key, recipient=recipient, part_name=p["name"])
        for p in manifest["parts"]
    }


class OpenFailure(Exception):
    """OPEN-DECRYPT-FAIL with whose fault it is: the bidder's (revoked) or the platform's (withdrawn)."""

    def __init__(self, reason: str, *, fault: str, code: str = "OPEN-DECRYPT-FAIL"):
        super().__init__(reason)
        self.reason, self.fault, self.code = reason, fault, code


@dataclass
class OpenedFile:
    name: str
    filename: str
    content_type: str
    size: int  # of the content, without the meta


@dataclass
class OpenedBid:
    form: dict
    files: list[OpenedFile] = field(default_factory=list)
    data_keys: dict[str, bytes] = field(default_factory=dict)  # what opened it, for the parts' sealed keys


def _ciphertext_sha256(stream, header: E.EnvelopeHeader, name: str) -> str:
    digest, left = hashlib.sha256(), header.part(name)["ciphertext_size"]
    stream.seek(header.part_offset(name))
    while left > 0 and (data := stream.read(min(left, 1 << 20))):
        digest.update(data)
        left -= len(data)
    return digest.hexdigest()


def _decrypt_part(stream, header: E.EnvelopeHeader, *, name: str, key: bytes, out=None, pause: float) -> tuple[dict, int]:
    """Authenticate every chunk of a part; returns its meta and content size.

    Only the small bid form is written (to `out`): the file parts stay sealed in the envelope, their data keys
    kept for the committee (bidding.parts), so the opening writes no plaintext: each chunk is read and decrypted
    into two reused buffers. Bids open side by side on OPENING_THREADS threads instead of reading ahead here.
    No plaintext hash: AES-GCM per chunk under bound nonces already guarantees integrity.
    """
    part, manifest = header.part(name), header.manifest
    aead, aad = AESGCM(key), E._aad(manifest["section"], manifest["bidder_code"], name)
    stream.seek(header.part_offset(name))
    chunk, count, total = part["chunk_size"], part["chunk_count"], part["ciphertext_size"]
    biggest = min(chunk + TAG, total)
    cipher, plain = memoryview(bytearray(biggest)), memoryview(bytearray(max(biggest - TAG, 0)))
    content = E.PartContent(name)
    for index in range(count):
        want = min(chunk + TAG, total - index * (chunk + TAG))
        if E._read_exact(stream, cipher[:want]) != want:
            raise OpenFailure(f"part {name}: chunk {index} is truncated", fault="platform")
        try:
            n = aead.decrypt_into(E._nonce(index, index == count - 1), cipher[:want], aad, plain[: want - TAG])
        except (InvalidTag, ValueError) as error:
            # Only on failure: hash the part's ciphertext. The receipted bytes sealed wrong are the bidder's
            # doing; bytes that changed since the receipt are the platform's (its storage).
            fault = "bidder" if _ciphertext_sha256(stream, header, name) == part["sha256"] else "platform"
            raise OpenFailure(
                f"part {name}: chunk {index} fails authentication (damaged, truncated, reordered or spliced)",
                fault=fault,
            ) from error
        try:
            data = content.feed(plain[:n])
        except ValueError as error:
            raise OpenFailure(str(error), fault="bidder") from error
        if out is not None and data:
            out.write(data)
        if pause:
            time.sleep(pause)  # crash tests only (OPENING_CHUNK_PAUSE): a decryption long enough to kill
    try:
        return content.meta(), content.size
    except ValueError as error:
        raise OpenFailure(str(error), fault="bidder") from error


def check_data_key(*, stream, header: E.EnvelopeHeader, name: str, key: bytes) -> bool:
    """Whether a data key a bidder sent opens the first chunk of its part (a quick check before it is kept)."""
    part = header.part(name)
    if part is None or len(key) != 32:
        return False
    stream.seek(header.part_offset(name))
    want = min(part["chunk_size"] + TAG, part["ciphertext_size"])
    data = stream.read(want)
    aad = E._aad(header.manifest["section"], header.manifest["bidder_code"], name)
    try:
        AESGCM(key).decrypt(E._nonce(0, part["chunk_count"] == 1), data, aad)
    except (InvalidTag, ValueError):
        return False
    return True


def open_bid(*, stream, bid, data_keys: dict[str, bytes]) -> OpenedBid:
    """Verify the stored envelope against the receipted one and authenticate every part; raise OpenFailure.

    The header must be the receipted manifest (same bytes, size, registered signature): a
    difference is the platform's fault (its storage). Past that, every chunk is authenticated
    under a data key the signed manifest holds, so the ciphertext needs no second hash here; a
    chunk or form that fails is the bidder's fault (the file is the one it sealed and we receipted).
    The form is decrypted for the read-out; the file parts only checked, their plaintext not kept.
    """
    pause = float(getattr(settings, "OPENING_CHUNK_PAUSE", 0) or 0)
    try:
        header = E.inspect(stream)
    except E.EnvelopeError as error:
        raise OpenFailure(f"the stored envelope is damaged: {error.message}", fault="platform") from error
    if header.manifest != bid.manifest or header.size != bid.size:
        raise OpenFailure("the stored envelope is not the one receipted", fault="platform")
    signing_key = bid.registration.signing_public_key
    if signing_key:
        try:
            header.verify_signature(E.load_public_key(signing_key))
        except (E.EnvelopeError, ValueError) as error:
            raise OpenFailure("the stored envelope's signature does not verify", fault="platform") from error
    missing = [p["name"] for p in header.manifest["parts"] if p["name"] not in data_keys]
    if missing:
        raise OpenFailure(f"no data key for part {missing[0]}", fault="platform")
    opened = OpenedBid(form={})
    for part in header.manifest["parts"]:
        name = part["name"]
        if name == "form":
            buffer = io.BytesIO()
            _decrypt_part(stream, header, name=name, key=data_keys[name], out=buffer, pause=0)
            try:
                form = json.loads(buffer.getvalue(), parse_float=E._no_float, parse_constant=E._no_float)
                E._check_form(form)
            except ValueError as error:
                raise OpenFailure(f"part form: {error}", fault="bidder") from error
            opened.form = form
            continue
        meta, size = _decrypt_part(stream, header, name=name, key=data_keys[name], pause=pause)
        opened.files.append(
            OpenedFile(name=name, filename=meta["filename"][:255], content_type=meta["content_type"][:100], size=size)
        )
    return opened
