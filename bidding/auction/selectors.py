"""Reads of sales, through the visibility policy: the room (page and API) and the results for statistics."""

from django.shortcuts import get_object_or_404
from django.utils import timezone

from bidding.auction.models import Offer, Sale, SaleState
from bidding.auction.services import iso, minimum_offer, registration_qualified
from livestream.services import stream_key
from trading import policy
from trading.models import Section


def sale_for(*, user, public_id: str) -> Sale:
    """The sale of a section this viewer may see (404 otherwise: a draft tells nobody it exists)."""
    section = get_object_or_404(policy.sections_visible(user, Section.objects.select_related("project")), public_id=public_id)
    return get_object_or_404(Sale.objects.select_related("section__project"), section=section)


def _label(user, registration) -> str:
    return policy.bidder_label(user, registration) if registration is not None else ""


def sale_room(*, user, sale: Sale, history: int = 200) -> dict:
    """What the auction room shows this viewer. Before the listing: rules only, no count of anyone."""
    section = sale.section
    own = policy.sale_own_registration(user, section)
    offers = list(
        Offer.objects.filter(sale=sale)
        .select_related("registration__organization", "registration__section")
        .order_by("-seq")[:history]
    )
    offers.reverse()
    leader = sale.leader if sale.leader_id else None
    room = {
        "section": section.public_id,
        "name": f"{section.project.name} {section.name}",
        "state": sale.state,
        "state_label": str(SaleState(sale.state).label),
        "suspended": sale.frozen_at is not None or section.state == "suspended",
        "server_now": iso(timezone.now()),
        "listing_start": iso(section.opening_at),
        "listing_end": iso(sale.listing_end),
        "countdown_seconds": sale.countdown_seconds,
        "countdown_round": sale.countdown_round,
        "countdown_ends_at": iso(sale.countdown_ends_at),
        "frozen_remaining_ms": sale.frozen_remaining_ms,
        "starting_price_fen": section.starting_price_fen,
        "increment_fen": section.increment_fen,
        "deposit_fen": section.deposit_fen,
        "current_price_fen": sale.current_price_fen,
        "next_min_fen": minimum_offer(sale, section),
        "leader": leader.bidder_code if leader else None,
        "leader_label": _label(user, leader),
        "last_seq": sale.last_seq,
        "stream": stream_key(kind="auction", section=section),
        "reserve": {"set": sale.has_reserve, "commitment": sale.reserve_commitment or None},
        "offers": [
            {
                "seq": o.seq,
                "code": o.registration.bidder_code,
                "label": _label(user, o.registration),
                "amount_fen": o.amount_fen,
                "at": iso(o.at),
                "phase": o.phase,
                "mine": own is not None and o.registration_id == own.pk,
            }
            for o in offers
        ],
        "me": None,
        "result": None,
    }
    if own is not None:
        room["me"] = {
            "code": own.bidder_code,
            "qualified": registration_qualified(own),
            "leading": sale.leader_id == own.pk,
            "offered": Offer.objects.filter(sale=sale, registration=own).exists(),
        }
    if policy.sale_reserve_revealed(sale):
        winner = sale.winner if sale.winner_id else None
        room["reserve"].update(fen=sale.reserve_fen, salt=sale.reserve_salt or None)
        room["result"] = {
            "state": sale.state,
            "ended_at": iso(sale.ended_at),
            "winner": winner.bidder_code if winner else None,
            "winner_label": _label(user, winner),
            "price_fen": sale.final_price_fen,
            "premium_rate": str(sale.premium_rate) if sale.premium_rate is not None else None,
            "failure": sale.failure_reason or None,
        }
    return room


def sale_results(*, user) -> list[dict]:
    """Ended sales for statistics and open data: price, premium rate (溢价率), reserve revealed."""
    rows = Sale.objects.filter(state__in=[SaleState.SOLD, SaleState.FAILED]).select_related(
        "section__project", "winner__organization"
    )
    rows = rows.filter(section__in=policy.sections_visible(user))
    return [
        {
            "section": sale.section.public_id,
            "transaction_type": sale.section.project.transaction_type,
            "region": sale.section.project.region,
            "state": sale.state,
            "ended_at": iso(sale.ended_at),
            "starting_price_fen": sale.section.starting_price_fen,
            "reserve_fen": sale.reserve_fen,
            "price_fen": sale.final_price_fen,
            "premium_rate": str(sale.premium_rate) if sale.premium_rate is not None else None,
            "winner": sale.winner.organization.name if sale.winner_id else None,
            "offers": sale.last_seq,
        }
        for sale in rows.order_by("-ended_at", "-pk")
    ]


def sale_prices_by_section(section_ids: list[int]) -> dict[int, int]:
    """The price each sold sale reached: statistics' result amounts (premium rate)."""
    from bidding.auction.models import Sale, SaleState

    rows = Sale.objects.filter(section_id__in=section_ids, state=SaleState.SOLD)
    return dict(rows.values_list("section_id", "final_price_fen"))
