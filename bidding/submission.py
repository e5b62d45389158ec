"""Sealed-bid submission: resumable upload, checks without decryption, signed receipts,
replace and withdraw before the deadline, and the sealed-bids Merkle root at the deadline."""

import os
import secrets
from datetime import UTC
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bidding.models import Bid, OpeningKey, Registration, SealedBidsRoot, Upload
from trading import signing
from trading.audit import merkle
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append, canonical_json
from trading.audit.models import AuditEntry
from trading.errors import DomainError, NotAllowed, RuleViolation
from trading.models import Role, Section
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


def upload_write(*, actor, upload_id, offset: int, stream, length: int) -> Upload:
    """Write `length` bytes from `stream` at `offset`; a resent chunk overwrites, a gap is refused."""
    upload = upload_get(actor=actor, upload_id=upload_id)
    require_bidding_open(upload.registration.section)
    if upload.status != Upload.Status.OPEN:
        raise UploadError("UPLOAD-CLOSED", _("该上传已结束。"))
    if offset < 0 or offset > upload.received:
        raise UploadError(
            "UPLOAD-OFFSET",
            _("偏移量应为 %(received)d（已接收的字节数）。") % {"received": upload.received},
            fields={"offset": str(upload.received)},
        )
    if offset + length > upload.size:
        raise UploadError("BID-TOO-LARGE", _("写入超出声明的文件大小。"), fields={"length": str(upload.size - offset)})
    written = 0
    with open(upload_path(upload), "r+b") as fh:
        fh.seek(offset)
        while written < length:
            piece = stream.read(min(COPY_CHUNK, length - written))
            if not piece:
                break
            fh.write(piece)
            written += len(piece)
        fh.flush()
        os.fsync(fh.fileno())
    with transaction.atomic():
        locked = Upload.objects.select_for_update().get(pk=upload.pk)
        locked.received = max(locked.received, offset + written)
        locked.save(update_fields=["received", "updated_at"])
    if written < length:
        raise UploadError("UPLOAD-INCOMPLETE", _("连接中断：已写入 %(n)d 字节，请从断点续传。") % {"n": locked.received})
    return locked


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
        try:
            verified = envelope_format.verify_structure(
                fh,
                expected_section=section.public_id,
                expected_bidder_code=registration.bidder_code,
                opening_key_fingerprint=opening_key.fingerprint,
                signing_public_key=envelope_format.load_public_key(registration.signing_public_key),
                bidder_key_fingerprint=envelope_format.public_key_fingerprint(
                    envelope_format.load_public_key(registration.encryption_public_key)
                ),
                max_size=settings.MAX_ENVELOPE_SIZE,
            )
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
        "received_at": at.astimezone(UTC).isoformat(timespec="microseconds"),
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
