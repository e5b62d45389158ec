"""The demo's sale sections carry their sale, and their rooms open."""

import pytest
from django.core.management import call_command

from bidding.auction.models import Sale, SaleState
from trading.models import Procedure, Section

pytestmark = pytest.mark.django_db


def test_the_demo_sales_are_set_up_with_a_committed_reserve_and_open_their_room(client):
    call_command("load_demo", quiet=True)
    sections = Section.objects.filter(procedure=Procedure.AUCTION, published_at__isnull=False)
    assert sections.count() == 2
    for section in sections:
        sale = Sale.objects.get(section=section)
        assert (sale.state, len(sale.reserve_commitment), sale.reserve_fen) == (SaleState.SCHEDULED, 64, None)
        page = client.get(f"/sales/{section.public_id}/")
        assert page.status_code == 200 and sale.reserve_commitment.encode() in page.content
        assert b"sale-room-link" in client.get(f"/sections/{section.public_id}/").content
