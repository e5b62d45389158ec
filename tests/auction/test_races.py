"""Simultaneous offers on the real database: ordered by the sale's row lock, one accepted per amount."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from bidding.auction.models import Offer
from bidding.auction.services import sale_offer
from livestream.models import StreamEvent
from tests.auction.conftest import INCREMENT, STARTING, make_sale_case
from trading.errors import DomainError


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twelve_bidders_offering_the_same_amounts_at_once_get_one_acceptance_each_round(staff, make_user):
    case = make_sale_case(staff=staff, make_user=make_user, bidders=12)
    t0 = timezone.now()

    def clock():  # the listing's clock, running at real speed from its start
        return case.start + timedelta(minutes=1) + (timezone.now() - t0)

    rounds = 4
    barrier = threading.Barrier(12)

    def worker(n):
        outcomes = []
        try:
            for r in range(rounds):
                barrier.wait()
                try:
                    sale_offer(actor=case.bidders[n], section=case.section, amount_fen=STARTING + r * INCREMENT, clock=clock)
                    outcomes.append("ok")
                except DomainError as error:
                    outcomes.append(error.code)
        finally:
            connections.close_all()
        return outcomes

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(worker, range(12)))
    per_round = [[results[n][r] for n in range(12)] for r in range(rounds)]
    for r, outcomes in enumerate(per_round):
        assert outcomes.count("ok") == 1, (r, outcomes)
        assert set(outcomes) - {"ok"} <= {"OFFER-TOO-LOW", "OFFER-ALREADY-LEADING"}
    offers = list(Offer.objects.filter(sale=case.sale).order_by("seq"))
    assert [o.amount_fen for o in offers] == [STARTING + r * INCREMENT for r in range(rounds)]
    assert [o.at for o in offers] == sorted(o.at for o in offers)  # the clock was read under the lock
    published = [
        e.payload for e in StreamEvent.objects.filter(stream__section=case.section, kind="offer.accepted").order_by("seq")
    ]
    assert [(p["offer"], p["amount_fen"]) for p in published] == [(o.seq, o.amount_fen) for o in offers]
