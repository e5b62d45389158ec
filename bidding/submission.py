"""Sealed-bid submission: resumable upload, checks without decryption, signed receipts,
replace and withdraw before the deadline, and the sealed-bids Merkle root at the deadline."""

import os
import secrets
import threading
from collections import OrderedDict
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Exists, F
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from bidding.models import Bid, OpeningKey, Registration, SealedBidsRoot, Upload
from bidding.part_file import PartFileWriter
from trading import signing
from trading.audit import merkle
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append, canonical_json, sealed_anchor, utc_text
from trading.audit.models import AuditEntry
from trading.errors import DomainError, NotAllowed, RuleViolation
from trading.models import Role, Section, SectionState
from trading.services.lifecycle import bidding_is_open

COPY_CHUNK = 1 << 20


class UploadError(DomainError):
    status = 400


def upload_dir() -> Path:
    path = Path(settings.UPLOAD_TEMP_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def upload_path(upload: Upload) -> Path:
    return upload_dir() / f"{upload.pk}.part"


def own_registration(*, actor, section: Section) -> Registration:
    """The actor's registration for the section; an unregistered bidder gets the same refusal as anyone."""
    if actor.role != Role.BIDDER or actor.organization_id is None:
        raise NotAllowed("NOT-REGISTERED", _("只有已报名的投标人可以投标。"))
    registration = Registration.objects.filter(section=section, organization_id=actor.organization_id).first()
    if registration is None:
        raise NotAllowed("NOT-REGISTERED", _("只有已报名的投标人可以投标。"))
    return registration


def latest_bid(registration: Registration):
    """The registration's newest bid (active, replaced or withdrawn), or None: what its bidder's pages show."""
    return registration.bids.order_by("-submitted_at").first()


def require_bidding_open(section: Section, *, now=None) -> None:
    """BID-DEADLINE: the server clock at request time decides, whatever the scheduled job has done."""
    if not bidding_is_open(section, now=now):
        raise RuleViolation("BID-DEADLINE", _("投标截止时间已过（或标段不在投标阶段），不再接收、修改或撤回投标。"))


def upload_create(*, actor, section: Section, size: int) -> Upload:
    registration = own_registration(actor=actor, section=section)
    require_bidding_open(section)
    if not 0 < size <= settings.MAX_ENVELOPE_SIZE:
        raise UploadError(
            "BID-TOO-LARGE" if size > 0 else "INVALID",
            _("投标文件大小须在 1 字节至 %(max)d 字节之间。") % {"max": settings.MAX_ENVELOPE_SIZE},
            fields={"size": f"1..{settings.MAX_ENVELOPE_SIZE}"},
        )
    upload = Upload.objects.create(registration=registration, size=size)
    with open(upload_path(upload), "wb") as fh:
        fh.truncate(0)
    return upload


def upload_get(*, actor, upload_id) -> Upload:
    upload = Upload.objects.select_related("registration__section").filter(pk=upload_id).first()
    if upload is None or upload.registration.organization_id != getattr(actor, "organization_id", None):
        from django.http import Http404

        raise Http404
    return upload


class StreamChecks:
    """Envelope checkers fed while the chunks arrive, per upload, in this process.

    A checker is good for finalize only while it has seen every byte the file holds: its
    `fed` equals the upload's `received` and its `stamp` the upload's `updated_at`, which
    every claim to write moves. Anything else (another process wrote, a chunk was resent,
    the server restarted, the checker was evicted) means finalize reads the file again.
    """

    LIMIT = 512  # uploads in progress per process; the oldest checker beyond falls back to a re-read

    def __init__(self):
        self._lock = threading.Lock()
        self._items: OrderedDict = OrderedDict()

    def take(self, upload_id) -> "Checker | None":
        with self._lock:
            return self._items.pop(upload_id, None)

    def put(self, upload_id, checker: "Checker") -> None:
        with self._lock:
            self._items[upload_id] = checker
            while len(self._items) > self.LIMIT:
                _pk, old = self._items.popitem(last=False)
                old.verifier.close()


class Checker(NamedTuple):
    verifier: object  # bidding.envelope.EnvelopeVerifier
    fed: int  # bytes it has seen, from the start of the file
    stamp: object  # the upload's updated_at after the commit of the last chunk it saw
    upload: Upload  # that row, with its registration and section as they were claimed


stream_checks = StreamChecks()


def envelope_expectations(registration: Registration, opening_key: OpeningKey) -> dict:
    """What an upload's envelope must match: its registration, the section's opening key, the size limit."""
    from bidding import envelope as envelope_format

    return {
        "expected_section": registration.section.public_id,
        "expected_bidder_code": registration.bidder_code,
        "opening_key_fingerprint": opening_key.fingerprint,
        "signing_public_key": envelope_format.load_public_key(registration.signing_public_key),
        "bidder_key_fingerprint": envelope_format.public_key_fingerprint(
            envelope_format.load_public_key(registration.encryption_public_key)
        ),
        "max_size": settings.MAX_ENVELOPE_SIZE,
    }


def _new_verifier(registration: Registration, opening_key: OpeningKey | None):
    from bidding import envelope as envelope_format

    if opening_key is None:
        return None
    return envelope_format.EnvelopeVerifier(**envelope_expectations(registration, opening_key))


class UploadClaim:
    """One writer's right to put `length` bytes at `offset` of the part file, checked under the row lock.

    write() may run on any thread (one at a time); the bytes go into the file and the checker.
    `accepted` counts what write() took, `written` what is in the file (all of it after flush()).
    """

    def __init__(self, *, upload: Upload, offset: int, length: int, stamp, verifier):
        self.upload, self.offset, self.length, self.stamp = upload, offset, length, stamp
        self.verifier = verifier
        self.accepted = 0
        self.file = PartFileWriter(upload_path(upload), offset)

    @property
    def written(self) -> int:
        return self.file.written

    def write(self, pieces: list) -> None:
        self.file.write(pieces)
        self.accepted += sum(len(p) for p in pieces)
        for piece in pieces:
            self._feed(piece)

    def _feed(self, piece) -> None:
        if self.verifier is None:
            return
        try:
            self.verifier.feed(piece)
        except Exception:  # a refusal is reported at finalize, by the re-read that follows
            self.verifier.close()
            self.verifier = None

    def flush(self) -> None:
        self.file.flush()

    def sync(self) -> None:
        """The bytes acknowledged to the client are on disk: a resume after a crash starts from real data."""
        self.file.flush()
        self.file.sync()

    def sync_later(self, executor) -> None:
        """Start writing the chunk to disk without waiting for it: the next chunk arrives meanwhile.

        A power cut before it is done loses bytes already acknowledged; the re-read at finalize
        then refuses the envelope (its digests do not match) and the bidder uploads again.
        finalize itself waits for the disk (upload_finalize syncs before the bid is recorded).
        """
        self.file.flush()
        fd = os.dup(self.file.fd)

        def sync() -> None:
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)

        executor.submit(sync)

    def close(self) -> None:
        """Flushes what is left (after a cut too: the client resumes from what is in the file)."""
        self.file.close()


def upload_claim(*, actor, upload_id, offset: int, length: int) -> UploadClaim:
    """Before a chunk is written: the owner, bidding open by the server clock, the offset and the size."""
    checker = stream_checks.take(upload_id)
    if checker is not None:
        claim = _claim_next_chunk(actor=actor, checker=checker, offset=offset, length=length)
        if claim is not None:
            return claim
        stream_checks.put(upload_id, checker)  # a refusal below leaves it be; a claim makes it stale
    with transaction.atomic():
        locked = (
            Upload.objects.select_related("registration__section").select_for_update(of=("self",)).filter(pk=upload_id).first()
        )
        if locked is None or locked.registration.organization_id != getattr(actor, "organization_id", None):
            from django.http import Http404

            raise Http404
        registration = locked.registration
        require_bidding_open(registration.section)
        if locked.status != Upload.Status.OPEN:
            raise UploadError("UPLOAD-CLOSED", _("该上传已结束。"))
        if offset < 0 or offset > locked.received:
            raise UploadError(
                "UPLOAD-OFFSET",
                _("偏移量应为 %(received)d（已接收的字节数）。") % {"received": locked.received},
                fields={"offset": str(locked.received)},
            )
        if length < 0 or offset + length > locked.size:
            raise UploadError("BID-TOO-LARGE", _("写入超出声明的文件大小。"), fields={"length": str(locked.size - offset)})
        locked.save(update_fields=["updated_at"])  # any checker fed by another writer is stale from now on
    stale = stream_checks.take(locked.pk)
    if stale is not None:
        stale.verifier.close()
    verifier = None
    if offset == 0:
        verifier = _new_verifier(registration, OpeningKey.objects.filter(section=registration.section).first())
    return UploadClaim(upload=locked, offset=offset, length=length, stamp=locked.updated_at, verifier=verifier)


def _claim_next_chunk(*, actor, checker: Checker, offset: int, length: int) -> UploadClaim | None:
    """The common case in one statement: the chunk right after the last one, by the same writer.

    The conditions are those of the general path, on the row itself (so PostgreSQL checks them
    under the row lock the UPDATE takes) and on the section as it is now. No row: None, and the
    general path finds out what is wrong.
    """
    upload = checker.upload
    if offset != checker.fed or length < 0 or getattr(actor, "organization_id", None) != upload.registration.organization_id:
        return None
    now = timezone.now()
    section_open = Section.objects.filter(pk=upload.registration.section_id, state=SectionState.PUBLISHED, bid_deadline__gt=now)
    claimed = (
        Upload.objects.filter(
            pk=upload.pk,
            registration_id=upload.registration_id,
            status=Upload.Status.OPEN,
            received=offset,
            size__gte=offset + length,
            updated_at=checker.stamp,
        )
        .filter(Exists(section_open))
        .update(updated_at=now)
    )
    if not claimed:
        return None
    upload.received, upload.updated_at = offset, now
    return UploadClaim(upload=upload, offset=offset, length=length, stamp=now, verifier=checker.verifier)


def upload_commit(*, claim: UploadClaim) -> Upload:
    """Record what the claim wrote (also after a cut: the client resumes from there)."""
    claim.close()
    end, now = claim.offset + claim.written, timezone.now()
    # One statement, atomic on its row: moves `received` forward only, and tells whether
    # another writer claimed the upload since this one did.
    untouched = Upload.objects.filter(pk=claim.upload.pk, updated_at=claim.stamp, received__lte=end).update(
        received=end, updated_at=now
    )
    if not untouched:
        Upload.objects.filter(pk=claim.upload.pk).update(received=Greatest(F("received"), end), updated_at=now)
    upload = claim.upload
    upload.received, upload.updated_at = (
        (end, now) if untouched else Upload.objects.values_list("received", "updated_at").get(pk=upload.pk)
    )
    if claim.verifier is not None:
        if untouched:
            stream_checks.put(upload.pk, Checker(claim.verifier, fed=end, stamp=now, upload=upload))
        else:
            claim.verifier.close()
    if claim.written < claim.length:
        raise UploadError("UPLOAD-INCOMPLETE", _("连接中断：已写入 %(n)d 字节，请从断点续传。") % {"n": upload.received})
    return upload


def upload_write(*, actor, upload_id, offset: int, stream, length: int) -> Upload:
    """Write `length` bytes from `stream` at `offset`; a resent chunk overwrites, a gap is refused."""
    claim = upload_claim(actor=actor, upload_id=upload_id, offset=offset, length=length)
    try:
        while claim.accepted < length:
            piece = stream.read(min(COPY_CHUNK, length - claim.accepted))
            if not piece:
                break
            claim.write([piece])
        claim.sync()
    finally:
        claim.close()
    return upload_commit(claim=claim)


def _streamed_checks(upload: Upload):
    """The checks done while the chunks arrived, when they saw exactly the bytes in the file."""
    checker = stream_checks.take(upload.pk)
    if checker is None:
        return None
    if checker.fed != upload.received or checker.stamp != upload.updated_at:
        checker.verifier.close()
        return None
    return checker.verifier


def upload_finalize(*, actor, upload_id, client_ip: str | None = None, user_agent: str = "") -> Bid:
    """Check the envelope without decrypting, store it, record the bid and sign its receipt."""
    upload = upload_get(actor=actor, upload_id=upload_id)
    registration = upload.registration
    section = registration.section
    require_bidding_open(section)
    if upload.status != Upload.Status.OPEN or upload.received != upload.size:
        raise UploadError(
            "UPLOAD-INCOMPLETE", _("文件尚未传完：已接收 %(r)d / %(s)d 字节。") % {"r": upload.received, "s": upload.size}
        )
    opening_key = OpeningKey.objects.filter(section=section).first()
    if opening_key is None:
        raise UploadError("BID-ENCRYPTED", _("该标段尚无开标公钥。"))
    from bidding import envelope as envelope_format

    path = upload_path(upload)
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())  # the receipt promises a stored bid: every byte on disk first
    try:
        streamed = _streamed_checks(upload)
        if streamed is not None:
            verified = streamed.finish()
        else:
            with open(path, "rb") as fh:
                verified = envelope_format.verify_structure(fh, **envelope_expectations(registration, opening_key))
    except envelope_format.EnvelopeError as error:
        raise RuleViolation(error.code, str(error.message)) from error
    with transaction.atomic():
        locked_registration = Registration.objects.select_for_update().get(pk=registration.pk)
        now = timezone.now()
        # Checked again inside the transaction, by the clock at this moment.
        require_bidding_open(Section.objects.get(pk=section.pk), now=now)
        locked_upload = Upload.objects.select_for_update().get(pk=upload.pk)
        if locked_upload.status != Upload.Status.OPEN:
            raise UploadError("UPLOAD-CLOSED", _("该上传已结束。"))
        if locked_upload.updated_at != upload.updated_at:  # a chunk was written while the file was checked
            raise UploadError("UPLOAD-BUSY", _("上传在校验期间被改动，请重新提交。"))
        previous = Bid.objects.filter(registration=locked_registration, status=Bid.Status.ACTIVE).first()
        if previous is not None:
            previous.status, previous.status_changed_at = Bid.Status.REPLACED, now
            previous.save(update_fields=["status", "status_changed_at"])
        receipt = receipt_make(
            section=section, bidder_code=registration.bidder_code, digest=verified.digest, size=verified.size, at=now
        )
        bid = Bid(
            registration=locked_registration,
            digest=verified.digest,
            size=verified.size,
            manifest=verified.manifest,
            receipt=receipt,
            submitted_at=now,
            client_ip=client_ip,
            user_agent=user_agent[:300],
        )
        with open(path, "rb") as fh:
            bid.envelope.save(verified.digest, UploadedPart(fh, path), save=False)
        bid.save()
        locked_upload.status = Upload.Status.DONE
        locked_upload.save(update_fields=["status", "updated_at"])
        audit_append(
            event=AuditEvent.BID_REPLACED if previous else AuditEvent.BID_SUBMITTED,
            actor=actor,
            section=section,
            data={"bidder_code": registration.bidder_code, "digest": verified.digest, "size": verified.size},
        )
    path.unlink(missing_ok=True)
    return bid


class UploadedPart(File):
    """The finished part file: local file storage moves it into place (a rename), other storages stream it."""

    def __init__(self, file, path: Path):
        super().__init__(file, name=path.name)
        self.path = path

    def temporary_file_path(self) -> str:
        return str(self.path)


def receipt_make(*, section: Section, bidder_code: str, digest: str, size: int, at) -> dict:
    """BID-RECEIPT: signed with the platform key; verifiable offline with `python -m bidding.cli verify-receipt`."""
    body = {
        "type": "sunlight-bid-receipt/v1",
        "section": section.public_id,
        "bidder_code": bidder_code,
        "digest": digest,
        "size": size,
        "received_at": utc_text(at),
        "key_id": signing.key_id(),
    }
    return {
        "receipt": body,
        "signature": signing.sign(canonical_json(body)),
        "platform_key": signing.b64url(signing.public_key_raw()),
    }


def bid_withdraw(*, actor, section: Section) -> Bid:
    registration = own_registration(actor=actor, section=section)
    with transaction.atomic():
        Registration.objects.select_for_update().get(pk=registration.pk)
        require_bidding_open(Section.objects.get(pk=section.pk))
        bid = Bid.objects.filter(registration=registration, status=Bid.Status.ACTIVE).first()
        if bid is None:
            raise UploadError("NO-BID", _("没有可撤回的投标。"))
        bid.status, bid.status_changed_at = Bid.Status.WITHDRAWN, timezone.now()
        bid.save(update_fields=["status", "status_changed_at"])
        audit_append(
            event=AuditEvent.BID_WITHDRAWN,
            actor=actor,
            section=section,
            data={"bidder_code": registration.bidder_code, "digest": bid.digest},
        )
    return bid


# --- the deadline ------------------------------------------------------------------

MIN_SEALED_TREE = 256  # padding: the root and proofs tell nobody how many bids there are


def bid_leaf(digest: str) -> bytes:
    return merkle.leaf_hash(b"sunlight-bid/v1|" + digest.encode())


def seal_bids_at_deadline(*, section: Section) -> SealedBidsRoot:
    """Publish a Merkle root over every accepted bid's digest, padded with random leaves, in the audit chain."""
    with transaction.atomic():
        existing = SealedBidsRoot.objects.filter(section=section).first()
        if existing is not None:
            return existing  # safe to run twice
        bids = list(Bid.objects.select_for_update().filter(registration__section=section, status=Bid.Status.ACTIVE))
        size = max(MIN_SEALED_TREE, 1 << max(len(bids) - 1, 0).bit_length())
        positions = list(range(size))
        secrets.SystemRandom().shuffle(positions)
        leaves = [secrets.token_bytes(32) for _ in range(size)]
        for bid, position in zip(bids, positions, strict=False):
            leaves[position] = bid_leaf(bid.digest)
            bid.sealed_leaf_index = position
            bid.save(update_fields=["sealed_leaf_index"])
        root = merkle.root_from_leaf_hashes(leaves)
        sealed = SealedBidsRoot.objects.create(
            section=section, root_hash=root.hex(), tree_size=size, leaves=[leaf.hex() for leaf in leaves]
        )
        audit_append(event=AuditEvent.BIDS_SEALED_ROOT, section=section, data={"root_hash": root.hex(), "tree_size": size})
        sealed_anchor(section=section)
    return sealed


def bid_inclusion_proof(*, bid: Bid) -> dict:
    sealed = SealedBidsRoot.objects.get(section=bid.registration.section)
    leaves = [bytes.fromhex(h) for h in sealed.leaves]
    return {
        "root_hash": sealed.root_hash,
        "tree_size": sealed.tree_size,
        "leaf_index": bid.sealed_leaf_index,
        "leaf_hash": bid_leaf(bid.digest).hex(),
        "proof": [h.hex() for h in merkle.inclusion_proof(leaves, bid.sealed_leaf_index)],
    }


def bids_for_opening(*, section: Section) -> tuple[list[Bid], list[tuple[Bid, str]]]:
    """Active bids that are provably in the deadline's root; every other row is flagged, never opened."""
    sealed = SealedBidsRoot.objects.filter(section=section).first()
    active = list(Bid.objects.filter(registration__section=section, status=Bid.Status.ACTIVE).select_related("registration"))
    if sealed is None:
        return [], [(bid, "no sealed-bids root was published at the deadline") for bid in active]
    published = (
        AuditEntry.objects.filter(section=section, event=AuditEvent.BIDS_SEALED_ROOT).values_list("data", flat=True).first()
    )
    leaves = [bytes.fromhex(h) for h in sealed.leaves]
    root_ok = (
        published is not None and published.get("root_hash") == sealed.root_hash == merkle.root_from_leaf_hashes(leaves).hex()
    )
    accepted, flagged = [], []
    for bid in active:
        if not root_ok:
            flagged.append((bid, "the stored sealed-bids tree does not match the root in the audit chain"))
        elif bid.sealed_leaf_index is None or not 0 <= bid.sealed_leaf_index < len(leaves):
            flagged.append((bid, "not in the sealed-bids root published at the deadline"))
        elif leaves[bid.sealed_leaf_index] != bid_leaf(bid.digest):
            flagged.append((bid, "its digest is not the one sealed at the deadline"))
        elif bid.submitted_at > section.bid_deadline:
            flagged.append((bid, "recorded after the deadline"))
        else:
            accepted.append(bid)
    return accepted, flagged
