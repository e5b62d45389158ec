"""Demo data for the openings: sections sealed, and opened, through the real services.

A demo is loaded in a moment, not over weeks: a section is published now with the usual schedule
(documents now, registration for 15 days, the deadline 25 days on), its bidders register, seal their
bids as a bidder's machine would, upload them and pay their deposits; then the clock moves to the
deadline: the publication's dates move back by the time that was still to run, so the deadline is the
moment just passed and the schedule keeps the spans the publish rules checked (DOC-MIN-20D,
DOC-SALE-5). Whole days only: no date is built from "now plus hours", which crosses midnight.
"""

import io
from dataclasses import dataclass
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db.models import F
from django.utils import timezone

from bidding import envelope as E
from bidding.decrypt import unwrap_data_keys
from bidding.models import Bid, BidOpening, Registration
from bidding.opening import (
    bid_openings_decrypt,
    opening_advance,
    opening_bidder_unlock,
    opening_checkin,
    opening_decrypt_begin,
    opening_start,
)
from bidding.services import registration_create
from bidding.submission import seal_bids_at_deadline, upload_create, upload_finalize, upload_write
from trading.models import AnnouncementKind, Section, SectionState, SectionTransition
from trading.services.lifecycle import section_transition
from trading.services.sections import document_upload, section_publish

PRICES = [412_300_000, 398_760_000, 405_000_000]
MANAGERS = ["王建华", "李志强", "张伟民", "刘海涛", "陈国栋", "杨立新", "赵明远", "孙庆丰"]
DAY = timedelta(days=1)


@dataclass
class DemoBidder:
    """A registration and the bidder's own encryption key (held on its machine: only the demo plays both)."""

    registration: Registration
    encryption: object

    def data_keys(self) -> dict[str, str]:
        """在线解密 on the bidder's side: its key unwraps its parts' data keys; only those are sent."""
        bid = Bid.objects.get(registration=self.registration, status=Bid.Status.ACTIVE)
        keys = unwrap_data_keys(manifest=bid.manifest, private_key=self.encryption, recipient="bidder")
        return {name: E.b64url(value) for name, value in keys.items()}


def opening_demo(*, staff, project, organizations) -> Section:
    """HZJS-2026-088-03: three sealed bids, the deadline just passed, ready to open from the staff console."""
    section, _bidders = demo_sealed_section(
        staff=staff,
        project=project,
        public_id="HZJS-2026-088-03",
        name="景观照明工程",
        estimated_price_fen=420_000_000,
        deposit_fen=8_000_000,
        organizations=organizations,
        prices=PRICES,
        duration_days=120,
    )
    return section


def demo_opened_section(*, staff, project, public_id, name, estimated_price_fen, deposit_fen, organizations, prices):
    """A section opened at the deadline just passed: the bidders check in and decrypt their own bids online,
    each bid is read out (唱标) and the opening record is signed, as on the day."""
    section, bidders = demo_sealed_section(
        staff=staff,
        project=project,
        public_id=public_id,
        name=name,
        estimated_price_fen=estimated_price_fen,
        deposit_fen=deposit_fen,
        organizations=organizations,
        prices=prices,
    )
    ceremony = opening_start(actor=staff, section=section)
    for bidder in bidders:
        opening_checkin(actor=bidder.registration.registered_by, section=section)
    opening_decrypt_begin(actor=staff, section=section)
    for bidder in bidders:
        opening_bidder_unlock(actor=bidder.registration.registered_by, section=section, data_keys=bidder.data_keys())
    # What the workers do once this transaction commits, done here: nobody is watching, so no pause between lines.
    bid_openings_decrypt(bid_opening_ids=list(BidOpening.objects.filter(section=section).values_list("pk", flat=True)))
    opening_advance(ceremony_id=ceremony.pk, pace=0)
    section.refresh_from_db()
    return section


def demo_sealed_section(
    *, staff, project, public_id, name, estimated_price_fen, deposit_fen, organizations, prices, duration_days=150
) -> tuple[Section, list[DemoBidder]]:
    now = timezone.now()
    section = Section.objects.create(
        project=project,
        public_id=public_id,
        name=name,
        estimated_price_fen=estimated_price_fen,
        deposit_fen=deposit_fen,
        documents_issued_at=now,
        registration_start=now,
        registration_end=now + 15 * DAY,
        bid_deadline=now + 25 * DAY,
        opening_at=now + 25 * DAY,
        camera_url="",
    )
    content = f"{project.name} {name} 招标文件（示例）\n".encode() * 200
    document = ContentFile(content, name=f"{public_id}.txt")
    document_upload(actor=staff, section=section, name="招标文件", upload=document, content_type="text/plain")
    section_publish(actor=staff, section=section, body=f"{project.name}{name}已具备招标条件，现公开招标。")
    opening_key = E.load_public_key(section.opening_key.public_key)
    bidders = []
    for n, (organization, price) in enumerate(zip(organizations, prices, strict=False)):
        user = organization.people.first()
        signing, encryption = E.generate_key(), E.generate_key()
        registration = registration_create(
            actor=user,
            section=section,
            contact_name="联系人",
            contact_phone="0571-88888888",
            signing_public_key=E.public_key_text(signing.public_key()),
            encryption_public_key=E.public_key_text(encryption.public_key()),
        )
        out = io.BytesIO()
        E.seal(
            section=section.public_id,
            bidder_code=registration.bidder_code,
            opening_public_key=opening_key,
            bidder_public_key=encryption.public_key(),
            signing_private_key=signing,
            form={
                "price_fen": price,
                "currency": "CNY",
                "duration_days": duration_days,
                "fields": {"项目经理": MANAGERS[n % len(MANAGERS)]},
            },
            files={"technical": ("技术标.txt", "text/plain", f"{organization.name}技术方案".encode() * 200)},
            out=out,
            chunk_size=65536,
        )
        data = out.getvalue()
        upload = upload_create(actor=user, section=section, size=len(data))
        upload_write(actor=user, upload_id=upload.pk, offset=0, stream=io.BytesIO(data), length=len(data))
        upload_finalize(actor=user, upload_id=upload.pk)
        bidders.append(DemoBidder(registration=registration, encryption=encryption))
    from escrow.demo import demo_deposits_paid

    # Their deposits arrived in time (DEP-BEFORE-DEADLINE), as the bidders' would have.
    demo_deposits_paid(registrations=[b.registration for b in bidders], received_at=timezone.now())
    _deadline_reached(section)
    section_transition(section=section, to_state=SectionState.BIDDING_CLOSED, reason="bid deadline reached")
    seal_bids_at_deadline(section=section)
    section.refresh_from_db()
    return section, bidders


def _deadline_reached(section: Section) -> None:
    """The clock moves on to the deadline: the publication, its documents and the registrations move back by the
    time still to run. The bids and deposits keep their times: they came in just before the deadline."""
    shift = section.bid_deadline - timezone.now()
    dates = ["documents_issued_at", "registration_start", "registration_end", "bid_deadline", "opening_at", "published_at"]
    for field in dates:
        setattr(section, field, getattr(section, field) - shift)
    section.save(update_fields=dates)
    section.announcements.filter(kind=AnnouncementKind.TENDER).update(published_at=F("published_at") - shift)
    section.documents.update(uploaded_at=F("uploaded_at") - shift)
    SectionTransition.objects.filter(section=section, to_state=SectionState.PUBLISHED).update(at=F("at") - shift)
    section.registrations.update(created_at=F("created_at") - shift)
