"""Random offer sequences against a reference model of the rules (hypothesis, on PostgreSQL).

Ties, offers below the increment, late offers, offers at the last millisecond and at the deadline
itself, simultaneous offers (the same clock reading), offers before the listing, an unqualified
bidder, ticks in between: the sale always ends with exactly one winner holding the highest valid
offer (or none, below the reserve or with no offer), and the countdown rules hold throughout.
"""

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bidding.auction.models import Offer, SaleState
from bidding.auction.services import sale_resume, sale_suspend
from tests.auction.conftest import INCREMENT, STARTING, make_sale_case
from trading.errors import DomainError

MS = timedelta(milliseconds=1)
BIDDERS = 4  # the fourth never paid its deposit


@dataclass
class Model:
    """The rules, restated plainly: what the service must do."""

    start: datetime
    listing_end: datetime
    countdown: timedelta
    reserve: int | None
    qualified: list[bool]
    phase: str = "scheduled"
    price: int | None = None
    leader: int | None = None
    offerers: set = field(default_factory=set)
    ends_at: datetime | None = None
    ended_at: datetime | None = None

    def advance(self, t: datetime) -> None:
        if self.phase == "scheduled" and t >= self.start:
            self.phase = "listing"
        if self.phase == "listing" and t >= self.listing_end:
            if len(self.offerers) >= 2:
                self.phase, self.ends_at = "countdown", self.listing_end + self.countdown
            else:
                self.phase, self.ended_at = "ended", self.listing_end
        if self.phase == "countdown" and t >= self.ends_at:
            self.phase, self.ended_at = "ended", self.ends_at

    def minimum(self) -> int:
        return STARTING if self.price is None else self.price + INCREMENT

    def offer(self, bidder: int, amount: int, t: datetime) -> str:
        self.advance(t)
        if self.phase == "ended":
            return "SALE-ENDED"
        if self.phase == "scheduled":
            return "SALE-NOT-STARTED"
        if not self.qualified[bidder]:
            return "OFFER-NOT-QUALIFIED"
        if self.leader == bidder:
            return "OFFER-ALREADY-LEADING"
        if amount < self.minimum():
            return "OFFER-TOO-LOW"
        self.price, self.leader = amount, bidder
        self.offerers.add(bidder)
        if self.phase == "countdown":
            self.ends_at = t + self.countdown
        return "ok"

    def deadline(self) -> datetime:
        if self.phase == "countdown":
            return self.ends_at
        if self.phase == "scheduled":
            return self.start
        return self.listing_end

    def pause(self, t: datetime, until: datetime) -> bool:
        """A suspension at t, resumed at `until`: the running clock keeps what was left. False if nothing runs."""
        self.advance(t)
        if self.phase not in ("listing", "countdown"):
            return False
        left = self.deadline() - t
        if self.phase == "listing":
            self.listing_end = until + left
        else:
            self.ends_at = until + left
        return True

    def winner(self) -> int | None:
        if self.leader is None or (self.reserve is not None and self.price < self.reserve):
            return None
        return self.leader


# Weighted so that most sequences get through the listing into a countdown, and some far into it:
# the listing part keeps the clock inside the listing (but for its last millisecond), the rest runs free.
def _running(sale):
    return sale.listing_end if sale.state == SaleState.LISTING else sale.countdown_ends_at


KINDS = st.sampled_from(["offer"] * 6 + ["tick", "pause"])
AMOUNTS = st.sampled_from(["min"] * 4 + ["above"] * 2 + ["tie", "below_increment", "starting"])
LISTING_STEP = st.tuples(
    KINDS,
    st.integers(0, BIDDERS - 1),
    st.sampled_from(["soon"] * 4 + ["same"] * 2 + ["before_start", "deadline-1ms"]),
    AMOUNTS,
    st.sampled_from([1, 7, 250, 5_003]),
)
STEP = st.tuples(
    KINDS,
    st.integers(0, BIDDERS - 1),
    st.sampled_from(
        ["soon"] * 8 + ["same"] * 3 + ["deadline-1ms"] * 2 + ["deadline", "deadline+1ms", "listing_end", "much_later"]
    ),
    AMOUNTS,
    st.sampled_from([1, 7, 250, 5_003, 30_011, 60_013, 100_019]),
)
RESERVES = st.one_of(st.none(), st.integers(0, 12).map(lambda k: STARTING + k * INCREMENT))


def moment(model: Model, previous: datetime, choice: str, jitter_ms: int) -> datetime:
    targets = {
        "soon": previous + jitter_ms * MS,
        "same": previous,
        "before_start": model.start - MS,
        "deadline-1ms": model.deadline() - MS,
        "deadline": model.deadline(),
        "deadline+1ms": model.deadline() + MS,
        "listing_end": model.listing_end,
        "much_later": previous + timedelta(minutes=10),
    }
    return max(previous, targets[choice])  # the server's clock never runs backwards


def amount(model: Model, choice: str, jitter: int) -> int:
    least = model.minimum()
    return {
        "min": least,
        "tie": model.price or STARTING,
        "below_increment": least - 1 - jitter % (INCREMENT - 1),
        "above": least + (jitter % 7) * INCREMENT + jitter % 100,
        "starting": STARTING,
    }[choice]


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    listing=st.lists(LISTING_STEP, min_size=2, max_size=20), bidding=st.lists(STEP, min_size=3, max_size=30), reserve_fen=RESERVES
)
def test_random_offer_sequences_end_with_one_winner_holding_the_highest_valid_offer(
    staff, supervisor, make_user, listing, bidding, reserve_fen
):
    case = make_sale_case(
        staff=staff,
        make_user=make_user,
        bidders=BIDDERS,
        paid=[True, True, True, False],
        reserve_fen=reserve_fen,
        listing=timedelta(minutes=5),
    )
    d = timedelta(seconds=case.sale.countdown_seconds)
    model = Model(case.start, case.listing_end, d, reserve_fen, [True, True, True, False])
    t = case.start - MS
    pauses: list[tuple[datetime, datetime]] = []  # suspensions, [from, until)
    steps = [*listing, None, *bidding]  # None: the clock reaches the listing's end (the rest may be a countdown)
    for i, step in enumerate(steps):
        if step is None:
            t = max(t, case.listing_end)
            continue
        kind, turn, time_choice, amount_choice, jitter = step
        bidder = (i + turn) % BIDDERS  # rotating, so that the simplest sequences still have rivals
        t = moment(model, t, time_choice, jitter)
        if kind == "tick":
            model.advance(t)
            case.tick(t)
            continue
        if kind == "pause":
            until = t + jitter * MS
            if model.pause(t, until):
                pauses.append((t, until))
                sale_suspend(actor=supervisor, section=case.section, reason="暂停", clock=lambda t=t: t)
                try:  # an offer while frozen is refused, however high
                    case.offer(bidder, model.minimum() + INCREMENT, t)
                    got = "ok"
                except DomainError as error:
                    got = error.code
                assert got == "SALE-SUSPENDED"
                sale_resume(actor=supervisor, section=case.section, reason="恢复", clock=lambda until=until: until)
                t = until
                sale = case.refresh()
                assert _running(sale) == (model.listing_end if model.phase == "listing" else model.ends_at)
            continue
        value = amount(model, amount_choice, jitter)
        expected = model.offer(bidder, value, t)
        try:
            offer = case.offer(bidder, value, t)
            got = "ok"
        except DomainError as error:
            got = error.code
        assert got == expected, (bidder, value, t, model)
        if got == "ok":
            assert (offer.amount_fen, offer.at) == (value, t)
        sale = case.refresh()
        assert sale.current_price_fen == model.price
        if sale.state == SaleState.COUNTDOWN:
            assert sale.countdown_ends_at == model.ends_at  # restarted by the last valid offer, never by a refusal

    t = max(t, model.deadline()) + timedelta(days=1)
    model.advance(t)
    sale = case.tick(t)
    offers = list(Offer.objects.filter(sale=sale).order_by("seq"))

    # The countdown rules, on the clock that runs (suspensions freeze it): strictly rising by the
    # increment, in clock order; each countdown offer came before the deadline in force and restarted
    # it; the sale ended one countdown after the last valid offer (or at the listing's end).
    def running(moment):
        return moment - sum((min(max(moment - a, timedelta(0)), b - a) for a, b in pauses), timedelta(0))

    event(f"{sale.state}, countdown offers: {min(sum(o.phase == 'countdown' for o in offers), 3)}, paused: {bool(pauses)}")
    amounts = [o.amount_fen for o in offers]
    assert all(b - a >= INCREMENT for a, b in itertools.pairwise(amounts))
    assert [o.at for o in offers] == sorted(o.at for o in offers)
    assert all(o.at >= case.start for o in offers)
    assert not any(a < o.at < b for o in offers for a, b in pauses)  # at the very moment of a pause: before it
    listing_end = case.listing_end  # the listing keeps its length on the running clock
    deadline = None
    for o in offers:
        if o.phase == "listing":
            assert running(o.at) < listing_end
        else:
            deadline = deadline or listing_end + d
            assert listing_end <= running(o.at) < deadline
            deadline = running(o.at) + d
    assert sale.ended_at == model.ended_at
    if deadline is not None:
        assert running(sale.ended_at) == deadline
    # Exactly one winner, with the highest valid offer, unless it stayed below the reserve.
    winner = model.winner()
    if winner is None:
        assert (sale.state, sale.winner_id) == (SaleState.FAILED, None)
    else:
        assert sale.state == SaleState.SOLD
        top = max(offers, key=lambda o: o.amount_fen)
        assert (sale.winner_id, sale.final_price_fen) == (case.registrations[winner].pk, top.amount_fen)
        assert sum(1 for o in offers if o.amount_fen == top.amount_fen) == 1
