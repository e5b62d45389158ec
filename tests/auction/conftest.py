"""Sales for tests: a published land sale with bidders registered and (some) deposits paid.

The sale's times lie days ahead (AUCTION-7D); tests walk its clock with `at(...)`, never sleeping.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from bidding.auction.models import Sale
from bidding.auction.services import sale_offer, sale_set_up, sale_tick
from bidding.models import Registration
from bidding.services import registration_create
from tests.escrow.conftest import pay
from tests.factories import ProjectFactory, SectionFactory
from trading.models import Procedure, Role, Section, TransactionType, User
from trading.services.sections import section_publish

STARTING = 100_000_000  # 1,000,000.00 yuan
INCREMENT = 1_000_000  # 10,000.00 yuan
DEPOSIT = 20_000_000


@dataclass
class SaleCase:
    section: Section
    sale: Sale
    bidders: list[User]
    registrations: list[Registration]
    start: datetime
    listing_end: datetime
    spare: list = field(default_factory=list)

    def at(self, **delta) -> "callable":
        moment = self.start + timedelta(**delta)
        return lambda: moment

    def offer(self, n: int, amount: int, moment: datetime, via: str = "api"):
        return sale_offer(actor=self.bidders[n], section=self.section, amount_fen=amount, clock=lambda: moment, via=via)

    def tick(self, moment: datetime) -> Sale:
        return sale_tick(section=self.section, clock=lambda: moment)

    def refresh(self) -> Sale:
        self.sale.refresh_from_db()
        return self.sale


def make_sale_case(*, staff, make_user, bidders=3, paid=None, reserve_fen=None, listing=timedelta(hours=1)) -> SaleCase:
    now = timezone.now()
    section = SectionFactory(
        project=ProjectFactory(transaction_type=TransactionType.LAND, name="国有建设用地使用权"),
        procedure=Procedure.AUCTION,
        estimated_price_fen=STARTING,
        starting_price_fen=STARTING,
        increment_fen=INCREMENT,
        deposit_fen=DEPOSIT,
        registration_start=now - timedelta(minutes=1),
        registration_end=now + timedelta(days=5),
        bid_deadline=now + timedelta(days=6),
        opening_at=now + timedelta(days=8),
    )
    sale = sale_set_up(actor=staff, section=section, listing_end=section.opening_at + listing, reserve_fen=reserve_fen)
    section = section_publish(actor=staff, section=section)
    paid = [True] * bidders if paid is None else paid
    users, registrations = [], []
    for n in range(bidders):
        user = make_user(Role.BIDDER)
        registration = registration_create(actor=user, section=section, contact_name="王五", contact_phone="13700000000")
        if paid[n]:
            pay(registration.deposit, payer_account=f"62220000{n:06d}")
        users.append(user)
        registrations.append(registration)
    sale.refresh_from_db()
    return SaleCase(section, sale, users, registrations, section.opening_at, sale.listing_end)


@pytest.fixture
def sale_case(staff, make_user):
    def make(**kwargs) -> SaleCase:
        return make_sale_case(staff=staff, make_user=make_user, **kwargs)

    return make


from tests.livestream.conftest import anyio_backend, hub_cleanup  # noqa: E402, F401  (fixtures for the websocket tests)
