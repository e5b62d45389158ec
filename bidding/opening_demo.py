"""Demo data for the opening: a section whose deadline has just passed, with three sealed bids, ready to open."""

import io
from datetime import timedelta

from django.utils import timezone

from bidding import envelope as E
from bidding.services import registration_create
from bidding.submission import seal_bids_at_deadline, upload_create, upload_finalize, upload_write
from trading.models import Section, SectionState
from trading.services.lifecycle import section_transition
from trading.services.sections import section_publish

PRICES = [412_300_000, 398_760_000, 405_000_000]


def opening_demo(*, staff, project, organizations) -> Section:
    """Published as usual, three bids sealed as a bidder's machine would, then the clock moved past the deadline."""
    now, day = timezone.now(), timedelta(days=1)
    section = Section.objects.create(
        project=project,
        public_id="HZJS-2026-088-03",
        name="景观照明工程",
        estimated_price_fen=420_000_000,
        deposit_fen=8_000_000,
        documents_issued_at=now,
        registration_start=now,
        registration_end=now + 15 * day,
        bid_deadline=now + 25 * day,
        opening_at=now + 25 * day,
        camera_url="",
    )
    section_publish(actor=staff, section=section, body=f"{project.name}{section.name}已具备招标条件，现公开招标。")
    opening_key = E.load_public_key(section.opening_key.public_key)
    for organization, price in zip(organizations, PRICES, strict=False):
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
                "duration_days": 120,
                "fields": {"项目经理": f"{organization.name[:2]}工"},
            },
            files={"technical": ("技术标.txt", "text/plain", f"{organization.name}技术方案".encode() * 200)},
            out=out,
            chunk_size=65536,
        )
        data = out.getvalue()
        upload = upload_create(actor=user, section=section, size=len(data))
        upload_write(actor=user, upload_id=upload.pk, offset=0, stream=io.BytesIO(data), length=len(data))
        upload_finalize(actor=user, upload_id=upload.pk)
    from escrow.demo import demo_deposits_paid

    # Their deposits arrived in time (DEP-BEFORE-DEADLINE), as the three bidders' would have.
    demo_deposits_paid(registrations=list(section.registrations.all()), received_at=timezone.now())
    section.bid_deadline = section.opening_at = timezone.now()  # just after the last bid
    section.save(update_fields=["bid_deadline", "opening_at"])
    section_transition(section=section, to_state=SectionState.BIDDING_CLOSED, reason="bid deadline reached")
    seal_bids_at_deadline(section=section)
    return section
