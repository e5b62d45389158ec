"""The room's API and page, and offers over the websocket: the same service, the policy's view."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import Client

from bidding.auction.models import Offer
from tests.auction.conftest import INCREMENT, STARTING
from tests.conftest import signed_in
from tests.livestream.conftest import connect, frames_until, session_cookie

pytestmark = pytest.mark.django_db


def running(case):
    """Move the sale's announced times to now (the days of AUCTION-7D have passed)."""
    from django.utils import timezone

    from trading.models import Section

    now = timezone.now()
    Section.objects.filter(pk=case.section.pk).update(opening_at=now - timedelta(seconds=1))
    case.sale.listing_end = now + timedelta(minutes=10)
    case.sale.save(update_fields=["listing_end"])
    case.section.refresh_from_db()
    case.start = case.section.opening_at


def test_SECRET_BIDDERS_the_room_before_the_listing_shows_rules_but_no_one(sale_case, client, api):
    case = sale_case()
    room = api.get(f"/api/v1/sales/{case.section.public_id}/").json()
    assert room["state"] == "scheduled" and room["offers"] == [] and room["me"] is None
    assert room["leader"] is None and room["current_price_fen"] is None
    text = str(room)
    for registration in case.registrations:
        assert registration.bidder_code not in text and registration.organization.name not in text
    assert "registrations" not in text and "qualified" not in text
    page = client.get(f"/sales/{case.section.public_id}/")
    assert page.status_code == 200 and b'data-testid="spectator"' in page.content
    for registration in case.registrations:
        assert registration.bidder_code.encode() not in page.content


def test_a_bidder_offers_through_the_api_and_sees_its_position(sale_case, client):
    case = sale_case()
    running(case)
    signed_in(client, case.bidders[0])
    url = f"/api/v1/sales/{case.section.public_id}/offers/"
    low = client.post(url, {"amount_fen": STARTING - 1}, content_type="application/json")
    assert low.status_code == 422 and low.json()["code"] == "OFFER-TOO-LOW" and low.json()["fields"]["minimum_fen"] == STARTING
    ok = client.post(url, {"amount_fen": STARTING}, content_type="application/json")
    assert ok.status_code == 201 and ok.json()["seq"] == 1
    room = client.get(f"/api/v1/sales/{case.section.public_id}/").json()
    assert room["me"] == {"code": case.registrations[0].bidder_code, "qualified": True, "leading": True, "offered": True}
    assert room["offers"][0]["label"] == case.registrations[0].organization.name  # its own name, to itself
    assert room["next_min_fen"] == STARTING + INCREMENT
    client.logout()
    public = client.get(f"/api/v1/sales/{case.section.public_id}/").json()
    assert public["offers"][0]["label"] == case.registrations[0].bidder_code
    assert case.registrations[0].organization.name not in str(public)


def test_a_spectator_may_not_offer(sale_case, client, make_user):
    case = sale_case()
    running(case)
    response = client.post(
        f"/api/v1/sales/{case.section.public_id}/offers/", {"amount_fen": STARTING}, content_type="application/json"
    )
    assert response.status_code in (401, 403)
    assert Offer.objects.count() == 0


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_offers_over_the_websocket_are_judged_and_broadcast(sale_case, client, hub_cleanup, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    case = await sync_to_async(sale_case)()
    await sync_to_async(running)(case)
    await sync_to_async(signed_in)(client, case.bidders[0])
    cookie = await sync_to_async(session_cookie)(client)
    bidder = await connect(f"/ws/auctions/{case.section.public_id}/?after=0", cookie=cookie)
    spectator = await connect(f"/ws/auctions/{case.section.public_id}/?after=0")
    await frames_until(bidder, lambda f: f["t"] == "hello")
    await frames_until(spectator, lambda f: f["t"] == "hello")
    await bidder.send_json_to({"t": "offer", "id": 1, "amount_fen": STARTING - 5})
    refused = await frames_until(bidder, lambda f: f["t"] == "offer")
    assert refused[-1] == {
        "t": "offer",
        "id": 1,
        "ok": False,
        "code": "OFFER-TOO-LOW",
        "message": refused[-1]["message"],
        "fields": {"amount_fen": f">= {STARTING}", "minimum_fen": STARTING},
    }
    await bidder.send_json_to({"t": "offer", "id": 2, "amount_fen": STARTING})
    accepted = await frames_until(bidder, lambda f: f["t"] == "offer")
    assert accepted[-1]["ok"] is True and accepted[-1]["seq"] == 1
    seen = await frames_until(spectator, lambda f: f["t"] == "ev" and any(e["kind"] == "offer.accepted" for e in f["events"]))
    event = next(e for e in seen[-1]["events"] if e["kind"] == "offer.accepted")
    assert event["payload"]["code"] == case.registrations[0].bidder_code and "bidders" not in event
    # Another bidder's offer below the committed minimum: refused from the stream's tail, with the same reason.
    other_client = Client()
    await sync_to_async(signed_in)(other_client, case.bidders[1])
    other = await connect(
        f"/ws/auctions/{case.section.public_id}/?after=0", cookie=await sync_to_async(session_cookie)(other_client)
    )
    await frames_until(other, lambda f: f["t"] == "ev")
    await other.send_json_to({"t": "offer", "id": 9, "amount_fen": STARTING})
    low = await frames_until(other, lambda f: f["t"] == "offer")
    assert (low[-1]["ok"], low[-1]["code"], low[-1]["fields"]["minimum_fen"]) == (False, "OFFER-TOO-LOW", STARTING + INCREMENT)
    await other.disconnect()
    # A spectator's offer frame is answered, never accepted.
    await spectator.send_json_to({"t": "offer", "id": 3, "amount_fen": STARTING + INCREMENT})
    answer = await frames_until(spectator, lambda f: f["t"] == "offer")
    assert answer[-1]["ok"] is False and answer[-1]["code"] == "OFFER-NOT-REGISTERED"
    assert await sync_to_async(Offer.objects.count)() == 1
    await bidder.disconnect()
    await spectator.disconnect()
    await sync_to_async(connections.close_all)()  # the set-up ran in asgiref's thread: its connection ends here


def test_the_results_give_statistics_the_price_and_premium_rate_only_once_a_sale_ended(sale_case, api):
    case = sale_case(reserve_fen=STARTING + 2 * INCREMENT)
    case.offer(0, STARTING, case.start)
    case.offer(1, STARTING + 4 * INCREMENT, case.start + timedelta(seconds=1))
    assert api.get("/api/v1/sales/results/").json() == []
    case.tick(case.listing_end + timedelta(days=1))
    (row,) = api.get("/api/v1/sales/results/").json()
    assert row["section"] == case.section.public_id and row["state"] == "sold"
    assert (row["price_fen"], row["reserve_fen"], row["winner"]) == (
        STARTING + 4 * INCREMENT,
        STARTING + 2 * INCREMENT,
        case.registrations[1].organization.name,
    )
    assert row["premium_rate"] == f"{2 * INCREMENT / (STARTING + 2 * INCREMENT):.6f}"
    room = api.get(f"/api/v1/sales/{case.section.public_id}/").json()
    assert room["result"]["winner_label"] == case.registrations[1].organization.name
    assert room["reserve"]["fen"] == STARTING + 2 * INCREMENT
