"""SECRET-BIDDERS for sales: every role, every phase of a sale, every page and answer about it.

Before the listing nobody learns who registered or how many; during it an offer shows its
bidder's code (never its name) and a registration that never offered shows nowhere; at the end
the firewall lifts, as at a tender's opening.
"""

from datetime import timedelta

import pytest
from django.test import Client

from tests.auction.conftest import INCREMENT, STARTING
from tests.conftest import signed_in
from trading.models import Role

pytestmark = pytest.mark.django_db

PHASES = ["scheduled", "listing", "countdown", "ended"]


def pages(case) -> list[str]:
    pid = case.section.public_id
    return [
        f"/sales/{pid}/",
        f"/api/v1/sales/{pid}/",
        "/api/v1/sales/results/",
        f"/sections/{pid}/",
        f"/api/v1/sections/{pid}/registrations/",
    ]


@pytest.mark.parametrize("phase", PHASES)
def test_SECRET_BIDDERS_a_sale_shows_codes_of_offers_only_and_names_only_at_the_end(
    sale_case, make_user, staff, supervisor, phase
):
    case = sale_case(bidders=3)  # a and b offer, c never does
    a, b, c = case.registrations
    if phase != "scheduled":
        case.offer(0, STARTING, case.start + timedelta(seconds=1))
        case.offer(1, STARTING + INCREMENT, case.start + timedelta(seconds=2))
    if phase == "countdown":
        case.tick(case.listing_end)
    if phase == "ended":
        case.tick(case.listing_end + timedelta(days=1))
    viewers = {
        "anonymous": None,
        "public": make_user(Role.PUBLIC),
        "seller": make_user(Role.TENDERER, organization=case.section.project.tenderer),
        "staff": staff,
        "supervisor": supervisor,
        "bidder_a": case.bidders[0],
        "bidder_c": case.bidders[2],
        "outsider": make_user(Role.BIDDER),
    }
    for name, user in viewers.items():
        client = Client()
        if user is not None:
            signed_in(client, user)
        text = "".join(client.get(path).content.decode() for path in pages(case))
        own = {"bidder_a": a, "bidder_c": c}.get(name)
        for registration in (a, b, c):
            if registration == own:
                continue
            offered = registration != c
            # At the end the firewall lifts as at a tender's opening: the registrations are public then.
            code_may_show = phase == "ended" or (phase != "scheduled" and offered)
            name_may_show = phase == "ended"
            assert (registration.bidder_code in text) <= code_may_show, (name, phase, registration.bidder_code)
            assert (registration.organization.name in text) <= name_may_show, (name, phase, registration.organization.name)
        if own is not None:
            assert own.bidder_code in text  # a bidder always sees its own code
        if phase == "ended":
            assert b.organization.name in text  # the winner, by name, to everyone
        elif phase != "scheduled":
            assert a.bidder_code in text and b.bidder_code in text  # offers are public at once, by code
