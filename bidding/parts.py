"""Opened parts (commercial, technical) stay sealed at rest: the envelope is their only copy.

The opening authenticates every chunk of every part and reads the form, but writes no plaintext: each file
part's data key is kept in OpenedPart.sealed_key, sealed under OPENED_PARTS_KEY (base64 of 32 bytes,
required in production; in the embedded default derived from SECRET_KEY) and bound to its bid and part.
The committee's downloads and the collusion scan decrypt the part from the envelope as they read it, one
chunk at a time. So a copy of storage reads no opened bid, nor does a copy of the database, and the opening
costs one pass of AES-GCM over each bid, not a second copy of every file.
"""

import base64
import hashlib
import io
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.files.storage import default_storage

from bidding import envelope as E
from bidding.models import OpenedPart
from trading.sealing import sealing_key

CHUNK = 1 << 20
PREFIX = "k1:"


def _aead() -> AESGCM:
    return AESGCM(sealing_key("OPENED_PARTS_KEY", b"sunlight-opened-parts/v1"))


def _aad(bid_digest: str, name: str) -> bytes:
    return f"sunlight-opened-part|{bid_digest}|{name}".encode()


def seal_data_key(*, bid_digest: str, name: str, key: bytes) -> str:
    nonce = os.urandom(12)
    return PREFIX + base64.urlsafe_b64encode(nonce + _aead().encrypt(nonce, key, _aad(bid_digest, name))).decode()


def _unseal_data_key(part: OpenedPart) -> bytes:
    if not part.sealed_key.startswith(PREFIX):
        raise ValueError("not a sealed data key")
    raw = base64.urlsafe_b64decode(part.sealed_key[len(PREFIX) :])
    return _aead().decrypt(raw[:12], raw[12:], _aad(part.opening.bid.digest, part.name))


class _PartPlaintext(io.RawIOBase):
    """The content of one part, decrypted from the envelope as it is read: one chunk in memory at a time.

    Seekable (PDF and OOXML readers jump around): chunks are fixed-size and their nonces carry their
    index, so any chunk decrypts on its own; position 0 is the first byte after the part's meta.
    """

    def __init__(self, part: OpenedPart):
        self._stream = default_storage.open(part.opening.bid.envelope.name, "rb")
        try:
            header = E.inspect(self._stream)
            spec, manifest = header.part(part.name), header.manifest
            if spec is None:
                raise ValueError(f"the envelope has no part {part.name}")
            self._name, self._offset = part.name, header.part_offset(part.name)
            self._aead = AESGCM(_unseal_data_key(part))
            self._aad = E._aad(manifest["section"], manifest["bidder_code"], part.name)
            self._chunk, self._count, self._total = spec["chunk_size"], spec["chunk_count"], spec["ciphertext_size"]
            first = self._decrypt(0)  # the u32 meta length: the meta itself was read at opening
            self._base = 4 + int.from_bytes(first[:4], "big")
            self._size = self._total - self._count * E.TAG - self._base
        except BaseException:
            self._stream.close()
            raise
        self._pos, self._pending = 0, memoryview(b"")

    def _decrypt(self, index: int) -> bytes:
        start = index * (self._chunk + E.TAG)
        want = min(self._chunk + E.TAG, self._total - start)
        self._stream.seek(self._offset + start)
        data = self._stream.read(want)
        if len(data) != want:
            raise OSError(f"part {self._name}: chunk {index} is truncated in storage")
        return self._aead.decrypt(E._nonce(index, index == self._count - 1), data, self._aad)  # raises if it changed

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._pos >= self._size:
            return 0
        if not self._pending:
            index, within = divmod(self._base + self._pos, self._chunk)
            self._pending = memoryview(self._decrypt(index))[within:]
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending, self._pos = self._pending[n:], self._pos + n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self._pos + offset, io.SEEK_END: self._size + offset}[whence]
        if target < 0:
            raise ValueError("negative seek position")
        if target != self._pos:
            self._pos, self._pending = target, memoryview(b"")
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()


def opened_part_open(part: OpenedPart) -> io.BufferedReader:
    """A file object over the part's content (for FileResponse and the scans); close it when done."""
    return io.BufferedReader(_PartPlaintext(part), buffer_size=CHUNK)


def opened_part_digest(*, part: OpenedPart) -> str:
    """The part's plaintext SHA-256 (collusion scan): the stored one, or computed once as it is decrypted."""
    if part.sha256:
        return part.sha256
    digest = hashlib.sha256()
    with opened_part_open(part) as fh:
        while data := fh.read(CHUNK):
            digest.update(data)
    part.sha256 = digest.hexdigest()
    # Only fills an empty field: two scans racing compute the same value; neither overwrites a stored one.
    OpenedPart.objects.filter(pk=part.pk, sha256__isnull=True).update(sha256=part.sha256)
    return part.sha256
