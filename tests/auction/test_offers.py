"""Offers and the sale's clock: listing, limited-time bidding, result, suspension."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bidding.auction import reserve
from bidding.auction.models import Offer, SaleState
from bidding.auction.services import sale_resume, sale_suspend
from escrow import ledger
from escrow.models import Deposit
from livestream.models import StreamEvent
from tests.auction.conftest import INCREMENT, STARTING
from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry
from trading.errors import DomainError
from trading.models import Announcement, AnnouncementKind, Role, SectionState
from trading.services.sections import section_resume, section_suspend

pytestmark = pytest.mark.django_db

MS = timedelta(milliseconds=1)


def events(case, kind=None):
    rows = StreamEvent.objects.filter(stream__section=case.section).order_by("seq")
    return [e for e in rows if kind is None or e.kind == kind]


def refused(fn) -> str:
    offers, audit, stream = (
        Offer.objects.count(),
        AuditEntry.objects.filter(event=AuditEvent.SALE_OFFER).count(),
        len(events_all()),
    )
    with pytest.raises(DomainError) as caught:
        fn()
    # Nothing of the refused offer was written.
    assert Offer.objects.count() == offers
    assert AuditEntry.objects.filter(event=AuditEvent.SALE_OFFER).count() == audit
    assert len(events_all()) == stream
    return caught.value.code


def events_all():
    return list(StreamEvent.objects.filter(kind="offer.accepted"))


def test_listing_offers_rise_by_the_increment_and_are_published_under_the_code(sale_case):
    case = sale_case()
    t = case.start + timedelta(minutes=1)
    assert refused(lambda: case.offer(0, STARTING - 1, t)) == "OFFER-TOO-LOW"
    first = case.offer(0, STARTING, t)
    assert (first.seq, first.amount_fen, first.phase, first.at) == (1, STARTING, "listing", t)
    assert refused(lambda: case.offer(1, STARTING + INCREMENT - 1, t + MS)) == "OFFER-TOO-LOW"
    assert refused(lambda: case.offer(1, STARTING, t + MS)) == "OFFER-TOO-LOW"  # a tie
    assert refused(lambda: case.offer(0, STARTING + 5 * INCREMENT, t + MS)) == "OFFER-ALREADY-LEADING"
    second = case.offer(1, STARTING + INCREMENT, t + 2 * MS)
    assert second.seq == 2
    sale = case.refresh()
    assert (sale.state, sale.current_price_fen, sale.leader_id) == (
        SaleState.LISTING,
        STARTING + INCREMENT,
        case.registrations[1].pk,
    )
    accepted = events(case, "offer.accepted")
    assert [(e.payload["code"], e.payload["amount_fen"]) for e in accepted] == [
        (case.registrations[0].bidder_code, STARTING),
        (case.registrations[1].bidder_code, STARTING + INCREMENT),
    ]
    # The payload carries codes only; the name is sealed and shown only to its own bidder before the result.
    assert all(case.registrations[0].organization.name not in str(e.payload) for e in accepted)
    view = policy.stream_event_view(accepted[0].as_message())
    assert "bidders" not in view
    own = policy.stream_event_view(accepted[0].as_message(), own_codes=frozenset({case.registrations[0].bidder_code}))
    assert own["bidders"][case.registrations[0].bidder_code]["name"] == case.registrations[0].organization.name


def test_offers_before_the_listing_or_without_a_deposit_are_refused(sale_case, make_user):
    case = sale_case(paid=[True, True, False])
    assert refused(lambda: case.offer(0, STARTING, case.start - MS)) == "SALE-NOT-STARTED"
    assert refused(lambda: case.offer(2, STARTING, case.start)) == "OFFER-NOT-QUALIFIED"
    outsider = make_user(Role.BIDDER)
    with pytest.raises(DomainError) as caught:
        from bidding.auction.services import sale_offer

        sale_offer(actor=outsider, section=case.section, amount_fen=STARTING, clock=lambda: case.start)
    assert caught.value.code == "OFFER-NOT-REGISTERED"
    assert refused(lambda: case.offer(0, 0, case.start)) == "OFFER-INVALID"
    assert case.offer(0, STARTING, case.start).seq == 1  # the listing opens at its announced moment


def test_the_countdown_begins_at_the_listing_end_not_before(sale_case):
    case = sale_case()
    case.offer(0, STARTING + 3 * INCREMENT, case.start + timedelta(minutes=5))
    case.offer(1, STARTING + 4 * INCREMENT, case.start + timedelta(minutes=6))
    assert case.tick(case.listing_end - MS).state == SaleState.LISTING
    assert case.tick(case.listing_end).state == SaleState.COUNTDOWN


def test_a_single_competitor_wins_when_the_listing_ends(sale_case):
    case = sale_case()
    case.offer(1, STARTING + 2 * INCREMENT, case.start + timedelta(minutes=5))
    assert refused(lambda: case.offer(0, STARTING + 3 * INCREMENT, case.listing_end)) == "SALE-ENDED"
    sale = case.refresh()
    assert (sale.state, sale.winner_id, sale.final_price_fen, sale.ended_at) == (
        SaleState.SOLD,
        case.registrations[1].pk,
        STARTING + 2 * INCREMENT,
        case.listing_end,
    )
    assert sale.premium_rate == Decimal("0.020000")


def test_no_offer_fails_the_sale(sale_case, django_capture_on_commit_callbacks):
    case = sale_case()
    with django_capture_on_commit_callbacks(execute=True):
        sale = case.tick(case.listing_end + timedelta(days=1))
    assert (sale.state, sale.failure_reason, sale.winner_id, sale.ended_at) == (
        SaleState.FAILED,
        "NO-OFFER",
        None,
        case.listing_end,
    )
    case.section.refresh_from_db()
    assert case.section.state == SectionState.FAILED
    assert Announcement.objects.filter(section=case.section, kind=AnnouncementKind.FAILURE).count() == 1
    # Every deposit back at once (SECTION-ENDED), through escrow's refund.
    assert set(Deposit.objects.filter(registration__section=case.section).values_list("refund_reason", flat=True)) == {
        "SECTION-ENDED"
    }


def test_two_competitors_go_to_a_countdown_that_restarts_with_every_valid_offer(sale_case, settings):
    case = sale_case()
    d = timedelta(seconds=case.sale.countdown_seconds)
    assert case.sale.countdown_seconds == settings.AUCTION_COUNTDOWN_SECONDS == 240
    case.offer(0, STARTING, case.start + timedelta(minutes=1))
    case.offer(1, STARTING + INCREMENT, case.start + timedelta(minutes=2))
    sale = case.tick(case.listing_end)
    assert (sale.state, sale.countdown_round, sale.countdown_ends_at) == (SaleState.COUNTDOWN, 1, case.listing_end + d)
    # The third bidder, silent in the listing, may join the countdown; the offer restarts it from its own moment.
    t = case.listing_end + timedelta(seconds=100)
    offer = case.offer(2, STARTING + 2 * INCREMENT, t)
    assert (offer.phase, offer.countdown_round) == ("countdown", 2)
    assert case.refresh().countdown_ends_at == t + d
    # A refused offer does not restart it.
    assert refused(lambda: case.offer(0, STARTING + 2 * INCREMENT, t + timedelta(seconds=10))) == "OFFER-TOO-LOW"
    assert case.refresh().countdown_ends_at == t + d
    # The last millisecond still counts ...
    last = case.offer(0, STARTING + 3 * INCREMENT, t + d - MS)
    assert case.refresh().countdown_ends_at == last.at + d
    # ... the deadline itself does not: the countdown passed without an offer.
    assert refused(lambda: case.offer(1, STARTING + 9 * INCREMENT, last.at + d)) == "SALE-ENDED"
    sale = case.refresh()
    assert (sale.state, sale.winner_id, sale.final_price_fen, sale.ended_at) == (
        SaleState.SOLD,
        case.registrations[0].pk,
        STARTING + 3 * INCREMENT,
        last.at + d,
    )


def test_COUNTDOWN_warning_once_per_round_in_the_last_minute(sale_case):
    case = sale_case()
    case.offer(0, STARTING, case.start)
    case.offer(1, STARTING + INCREMENT, case.start + MS)
    case.tick(case.listing_end)
    ends = case.refresh().countdown_ends_at
    case.tick(ends - timedelta(seconds=61))
    assert events(case, "sale.warning") == []
    case.tick(ends - timedelta(seconds=60))
    case.tick(ends - timedelta(seconds=30))
    warnings = events(case, "sale.warning")
    assert [(w.payload["round"], w.payload["seconds_left"]) for w in warnings] == [(1, 60)]
    case.offer(0, STARTING + 2 * INCREMENT, ends - timedelta(seconds=10))
    case.tick(case.refresh().countdown_ends_at - timedelta(seconds=5))
    assert [w.payload["round"] for w in events(case, "sale.warning")] == [1, 2]


def test_the_reserve_is_sealed_committed_and_the_sale_fails_below_it(sale_case):
    reserve_fen = STARTING + 5 * INCREMENT
    case = sale_case(reserve_fen=reserve_fen)
    sale = case.sale
    assert sale.reserve_fen is None and str(reserve_fen) not in sale.reserve_sealed
    assert len(sale.reserve_commitment) == 64
    assert str(reserve_fen) not in str(AuditEntry.objects.filter(event=AuditEvent.SALE_SET_UP).values_list("data", flat=True)[0])
    case.offer(0, STARTING + 4 * INCREMENT, case.start)
    sale = case.tick(case.listing_end)
    assert (sale.state, sale.failure_reason, sale.winner_id) == (SaleState.FAILED, "BELOW-RESERVE", None)
    # Revealed after the sale, and anyone can check it against what was published before the first offer.
    assert sale.reserve_fen == reserve_fen
    assert reserve.commitment_holds(
        section_public_id=case.section.public_id,
        reserve_fen=sale.reserve_fen,
        salt=sale.reserve_salt,
        expected=sale.reserve_commitment,
    )
    assert not reserve.commitment_holds(
        section_public_id=case.section.public_id,
        reserve_fen=reserve_fen - 1,
        salt=sale.reserve_salt,
        expected=sale.reserve_commitment,
    )
    result = events(case, "sale.result")[0]
    assert result.payload["reserve"] == {"commitment": sale.reserve_commitment, "fen": reserve_fen, "salt": sale.reserve_salt}


def test_reaching_the_reserve_sells_and_the_premium_is_over_the_reserve(sale_case):
    reserve_fen = STARTING + 4 * INCREMENT
    case = sale_case(reserve_fen=reserve_fen)
    case.offer(0, STARTING + 5 * INCREMENT, case.start)
    sale = case.tick(case.listing_end)
    assert (sale.state, sale.final_price_fen) == (SaleState.SOLD, STARTING + 5 * INCREMENT)
    assert float(sale.premium_rate) == pytest.approx(INCREMENT / reserve_fen, abs=1e-6)
    # The statistics take a sale's result from the sale (premium rate).
    from trading.supervision.statistics import award_prices

    assert award_prices([sale.section_id]) == {sale.section_id: STARTING + 5 * INCREMENT}


def test_the_result_reveals_names_applies_the_winners_deposit_and_refunds_the_others(
    sale_case, django_capture_on_commit_callbacks
):
    case = sale_case()
    case.offer(0, STARTING, case.start)
    case.offer(1, STARTING + INCREMENT, case.start + MS)
    with django_capture_on_commit_callbacks(execute=True):
        case.tick(case.listing_end + timedelta(days=1))  # the countdown passes without an offer
    sale = case.refresh()
    case.section.refresh_from_db()
    assert (sale.state, sale.winner_id) == (SaleState.SOLD, case.registrations[1].pk)
    assert case.section.state == SectionState.AWARDED and case.section.opened_at == sale.ended_at
    assert policy.identities_revealed(case.section)
    result = events(case, "sale.result")[0]
    view = policy.stream_event_view(result.as_message())
    assert view["payload"]["winner"] == case.registrations[1].bidder_code
    assert view["bidders"] == {r.bidder_code: {"name": r.organization.name} for r in case.registrations[:2]}
    announcement = Announcement.objects.get(section=case.section, kind=AnnouncementKind.RESULT)
    assert case.registrations[1].organization.name in announcement.body
    deposits = {d.registration_id: d for d in Deposit.objects.filter(registration__section=case.section)}
    winner = deposits[case.registrations[1].pk]
    assert (winner.forfeit_reason, winner.refunded_at) == ("AUCTION-TO-PRICE", None)
    assert winner.status == "applied"  # shown as part of the price, not as forfeited
    assert ledger.balance(f"liability:sale-price:{case.section.pk}") == -winner.paid_fen
    assert ledger.balance(ledger.deposit_account(winner)) == 0
    for registration in (case.registrations[0], case.registrations[2]):
        assert deposits[registration.pk].refund_reason == "AUCTION-RESULT"
    # Settling twice changes nothing.
    from bidding.auction.settlement import sale_settle

    sale_settle(sale=sale)
    assert ledger.balance(f"liability:sale-price:{case.section.pk}") == -winner.paid_fen
    assert AuditEntry.objects.filter(event=AuditEvent.SALE_DEPOSIT_TO_PRICE).count() == 1


def test_suspension_freezes_the_countdown_and_resumption_restarts_it_with_notice(sale_case, supervisor):
    case = sale_case()
    case.offer(0, STARTING, case.start)
    case.offer(1, STARTING + INCREMENT, case.start + MS)
    case.tick(case.listing_end)
    ends = case.refresh().countdown_ends_at
    paused_at = ends - timedelta(seconds=90)
    sale = sale_suspend(actor=supervisor, section=case.section, reason="网络故障", clock=lambda: paused_at)
    assert (sale.frozen_at, sale.frozen_remaining_ms) == (paused_at, 90_000)
    # Frozen: neither the old deadline nor an offer moves it.
    assert refused(lambda: case.offer(0, STARTING + 2 * INCREMENT, ends + timedelta(hours=1))) == "SALE-SUSPENDED"
    assert case.tick(ends + timedelta(hours=2)).state == SaleState.COUNTDOWN
    resumed_at = ends + timedelta(hours=3)
    sale = sale_resume(actor=supervisor, section=case.section, reason="已恢复", clock=lambda: resumed_at)
    assert (sale.frozen_at, sale.countdown_ends_at, sale.state) == (None, resumed_at + timedelta(seconds=90), SaleState.COUNTDOWN)
    assert [e.kind for e in events(case) if e.kind.startswith("sale.")][-2:] == ["sale.suspended", "sale.resumed"]
    assert events(case, "sale.resumed")[0].payload["ends_at"] == sale.countdown_ends_at.isoformat(timespec="milliseconds")
    assert case.offer(0, STARTING + 2 * INCREMENT, resumed_at + timedelta(seconds=89)).phase == "countdown"


def test_a_suspension_through_the_section_page_holds_the_sale_until_resumed(sale_case, supervisor):
    case = sale_case()
    section_suspend(actor=supervisor, section=case.section, reason="投诉处理")
    # Suspended before its listing: the listing does not start and nobody may offer.
    sale = case.tick(case.start + timedelta(minutes=10))
    assert (sale.state, sale.frozen_at) == (SaleState.SCHEDULED, None)
    assert refused(lambda: case.offer(1, STARTING, case.start + timedelta(minutes=11))) == "SALE-SUSPENDED"
    section_resume(actor=supervisor, section=case.section, reason="处理完毕")
    assert case.offer(1, STARTING, case.start + timedelta(minutes=12)).seq == 1
    assert case.refresh().state == SaleState.LISTING


def test_the_platform_itself_may_suspend_a_running_listing(sale_case):
    case = sale_case()
    case.offer(0, STARTING, case.start)
    at = case.listing_end - timedelta(minutes=10)
    sale = sale_suspend(actor=None, section=case.section, reason="platform failure", clock=lambda: at)
    assert sale.frozen_remaining_ms == 600_000
    later = at + timedelta(days=1)
    sale = sale_resume(actor=None, section=case.section, reason="restored", clock=lambda: later)
    assert (sale.state, sale.listing_end) == (SaleState.LISTING, later + timedelta(minutes=10))


def test_SECRET_BIDDERS_a_sale_tells_nobody_who_registered_before_the_listing(sale_case, staff):
    case = sale_case()
    assert StreamEvent.objects.filter(stream__section=case.section).count() == 0
    assert not policy.identities_revealed(case.section)
    assert policy.sale_own_registration(staff, case.section) is None
    assert policy.sale_own_registration(case.bidders[0], case.section) == case.registrations[0]
    assert timezone.now() < case.start


def test_the_lifecycle_tick_closing_registration_leaves_the_sale_running(sale_case, django_capture_on_commit_callbacks):
    from trading.services.lifecycle import close_due_sections

    case = sale_case()
    assert close_due_sections(now=case.section.bid_deadline) == 1  # the deposit cut-off: registration is over
    case.section.refresh_from_db()
    assert case.section.state == SectionState.BIDDING_CLOSED
    case.offer(0, STARTING, case.start)
    with django_capture_on_commit_callbacks(execute=True):
        sale = case.tick(case.listing_end)
    case.section.refresh_from_db()
    assert (sale.state, case.section.state) == (SaleState.SOLD, SectionState.AWARDED)


def test_DEP_BEFORE_DEADLINE_a_deposit_that_arrived_after_the_cutoff_does_not_qualify(sale_case):
    from escrow.models import DepositTerms
    from tests.escrow.conftest import pay

    case = sale_case(bidders=2, paid=[True, False])
    DepositTerms.objects.create(section=case.section, cutoff_at=timezone.now() - timedelta(minutes=1))
    pay(case.registrations[1].deposit, payer_account="6222000099999999")
    assert Deposit.objects.get(registration=case.registrations[1]).status == Deposit.Status.LATE
    assert refused(lambda: case.offer(1, STARTING, case.start)) == "OFFER-NOT-QUALIFIED"
    assert case.offer(0, STARTING, case.start).seq == 1


def test_the_clock_process_ticks_every_running_sale_and_leaves_the_far_ones(sale_case):
    from bidding.auction.services import sales_tick

    running, later = sale_case(), sale_case()
    from trading.models import Section

    Section.objects.filter(pk=later.section.pk).update(opening_at=later.start + timedelta(days=30))
    running.offer(0, STARTING, running.start)
    assert sales_tick(clock=lambda: running.listing_end) == 1  # sold to its only competitor
    assert (running.refresh().state, later.refresh().state) == (SaleState.SOLD, SaleState.SCHEDULED)
    assert AuditEntry.objects.filter(event=AuditEvent.SALE_OFFER, actor__isnull=True).count() == 1


def test_the_operators_pause_and_resume_a_sale_for_a_platform_failure(sale_case):
    from django.core.management import call_command

    case = sale_case()
    call_command("sale_pause", case.section.public_id, reason="数据库故障切换")
    case.section.refresh_from_db()
    assert case.section.state == SectionState.SUSPENDED
    call_command("sale_pause", case.section.public_id, reason="已恢复", resume=True)
    case.section.refresh_from_db()
    assert case.section.state == SectionState.PUBLISHED
    transitions = list(case.section.transitions.values_list("to_state", "reason"))
    assert transitions[-2:] == [(SectionState.SUSPENDED, "数据库故障切换"), (SectionState.PUBLISHED, "已恢复")]
