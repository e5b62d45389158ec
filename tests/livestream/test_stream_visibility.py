"""Streams through the firewall: codes before the read-out, names after; the supervisors' feed is theirs alone."""

import json

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from livestream.models import StreamKind
from livestream.services import stream_ensure, stream_publish
from tests.conftest import signed_in
from tests.factories import OrganizationFactory, RegistrationFactory, SectionFactory
from tests.livestream.conftest import connect, frame, session_cookie
from trading.models import Role

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]

ALPHA = "投标人阿尔法建设有限公司"
BETA = "投标人贝塔工程有限公司"


@pytest.fixture
def ceremony(opening, published_section, make_user):
    alpha, beta = OrganizationFactory(name=ALPHA), OrganizationFactory(name=BETA)
    RegistrationFactory(section=published_section, organization=alpha, bidder_code="B-AAAA")
    RegistrationFactory(section=published_section, organization=beta, bidder_code="B-BBBB")
    return {
        "stream": opening,
        "sealed": {"B-AAAA": {"name": ALPHA}, "B-BBBB": {"name": BETA}},
        "alpha_user": make_user(Role.BIDDER, organization=alpha),
    }


async def raw_until(communicator, seq: int) -> list[str]:
    """Every text frame up to the one carrying event seq."""
    texts = []
    while True:
        text = await communicator.receive_from(timeout=5)
        texts.append(text)
        got = json.loads(text)
        if got["t"] == "ev" and got["events"][-1]["seq"] >= seq:
            return texts


def events_of(texts: list[str]) -> list[dict]:
    return [e for t in texts for f in [json.loads(t)] if f["t"] == "ev" for e in f["events"]]


async def run_ceremony_until_first_read_out(ceremony):
    publish = database_sync_to_async(stream_publish)
    stream, sealed = ceremony["stream"], ceremony["sealed"]
    await publish(stream=stream, kind="bidder.checked_in", payload={"bidder": "B-AAAA"}, sealed={"B-AAAA": sealed["B-AAAA"]})
    await publish(stream=stream, kind="bidder.checked_in", payload={"bidder": "B-BBBB"}, sealed={"B-BBBB": sealed["B-BBBB"]})
    await publish(stream=stream, kind="quorum.met", payload={"bids": 2}, sealed=sealed)
    await publish(
        stream=stream,
        kind="bid.read",
        payload={"bidder": "B-AAAA", "price_fen": 480_000_000},
        sealed={"B-AAAA": sealed["B-AAAA"]},
        reveal=["B-AAAA"],
    )


async def test_a_public_viewer_sees_codes_before_the_read_out_and_the_name_read_out_after(ceremony):
    live = await connect(f"/ws/streams/{ceremony['stream'].key}/")
    await frame(live)

    await run_ceremony_until_first_read_out(ceremony)
    texts = await raw_until(live, 4)
    late = await connect(f"/ws/streams/{ceremony['stream'].key}/")
    late_texts = await raw_until(late, 4)

    for received in (texts, late_texts):
        events = events_of(received)
        before = [e for e in events if e["seq"] < 4]
        assert ALPHA not in json.dumps(before, ensure_ascii=False)
        assert BETA not in "".join(received)  # never read out: never named
        assert all("bidders" not in e for e in before)
        assert events[-1]["bidders"] == {"B-AAAA": {"name": ALPHA}}
        assert events[-1]["payload"] == {"bidder": "B-AAAA", "price_fen": 480_000_000}
    await live.disconnect()
    await late.disconnect()


async def test_a_bidder_sees_its_own_name_from_the_start_and_no_other(ceremony):
    client = await database_sync_to_async(lambda: signed_in(Client(), ceremony["alpha_user"]))()
    viewer = await connect(f"/ws/streams/{ceremony['stream'].key}/", cookie=session_cookie(client))
    await frame(viewer)

    await run_ceremony_until_first_read_out(ceremony)
    events = events_of(await raw_until(viewer, 4))

    assert events[0]["bidders"] == {"B-AAAA": {"name": ALPHA}}
    assert "bidders" not in events[1]
    assert events[2]["bidders"] == {"B-AAAA": {"name": ALPHA}}  # B-BBBB's entry stripped
    await viewer.disconnect()


@pytest.mark.parametrize("who", ["anonymous", Role.PUBLIC, Role.BIDDER, Role.STAFF, "supervisor_without_second_factor"])
async def test_the_supervisors_feed_refuses_everyone_but_a_verified_supervisor(supervision, make_user, who):
    cookie = None
    if who != "anonymous":
        role = Role.SUPERVISOR if who == "supervisor_without_second_factor" else who

        def sign_in():
            client = Client()
            user = make_user(role)
            if who == "supervisor_without_second_factor":
                client.force_login(user)  # password only
            else:
                signed_in(client, user)
            return client

        cookie = session_cookie(await database_sync_to_async(sign_in)())
    await database_sync_to_async(stream_publish)(stream=supervision, kind="alert", payload={"rule": "DEP-LATE"})

    viewer = await connect(f"/ws/streams/{supervision.key}/", cookie=cookie)

    refused = await frame(viewer)
    assert refused["t"] == "error" and refused["code"] == "STREAM-FORBIDDEN"
    assert await viewer.receive_output(timeout=3) == {"type": "websocket.close", "code": 4403}


async def test_a_verified_supervisor_watches_the_feed(supervision, supervisor):
    client = await database_sync_to_async(lambda: signed_in(Client(), supervisor))()
    await database_sync_to_async(stream_publish)(stream=supervision, kind="alert", payload={"rule": "DEP-LATE"})

    viewer = await connect(f"/ws/streams/{supervision.key}/", cookie=session_cookie(client))

    assert (await frame(viewer))["t"] == "hello"
    assert [e["payload"] for e in (await frame(viewer))["events"]] == [{"rule": "DEP-LATE"}]
    await viewer.disconnect()


async def test_a_draft_sections_stream_is_not_for_the_public(db):
    stream = await database_sync_to_async(lambda: stream_ensure(kind=StreamKind.OPENING, section=SectionFactory()))()

    viewer = await connect(f"/ws/streams/{stream.key}/")

    assert (await frame(viewer))["code"] == "STREAM-FORBIDDEN"
