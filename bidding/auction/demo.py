"""Demo data: the demo's published sale sections get their sale (listing end, countdown, a sealed reserve)."""

from datetime import timedelta

from django.db import transaction

from bidding.auction.models import Sale
from bidding.auction.reserve import reserve_seal
from bidding.auction.services import countdown_seconds_default
from livestream.models import StreamKind
from livestream.services import stream_ensure
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.models import Procedure, Section


def demo_sales(*, actor) -> list[Sale]:
    """As history would have left them: set up before publication (the announcement is already out)."""
    made = []
    with transaction.atomic():
        for section in Section.objects.filter(procedure=Procedure.AUCTION, sale__isnull=True, published_at__isnull=False):
            reserve = section.starting_price_fen + 10 * section.increment_fen  # the seller's sealed floor
            sealed, commitment = reserve_seal(section_public_id=section.public_id, reserve_fen=reserve)
            sale = Sale.objects.create(
                section=section,
                listing_end=section.opening_at + timedelta(days=1),
                countdown_seconds=countdown_seconds_default(),
                reserve_sealed=sealed,
                reserve_commitment=commitment,
            )
            audit_append(
                event=AuditEvent.SALE_SET_UP,
                actor=actor,
                section=section,
                data={
                    "listing_end": sale.listing_end.isoformat(),
                    "countdown_seconds": sale.countdown_seconds,
                    "reserve_commitment": commitment,
                },
            )
            stream_ensure(kind=StreamKind.AUCTION, section=section, actor=actor)
            made.append(sale)
    return made
