"""The stream consumer through the whole ASGI application: history, live, resume, refusals, malformed frames."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from livestream import services
from livestream.hub import get_hub
from livestream.services import stream_publish
from tests.conftest import signed_in
from tests.livestream.conftest import connect, events_until, frame, frames_until, session_cookie

pytestmark = [pytest.mark.anyio, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_cleanup")]

publish = database_sync_to_async(stream_publish)


async def test_given_history_when_a_viewer_joins_then_hello_history_and_live_without_gap_or_duplicate(opening):
    for n in range(1, 4):
        await publish(stream=opening, kind="note", payload={"n": n})

    viewer = await connect(f"/ws/streams/{opening.key}/")
    hello = await frame(viewer)
    history = await events_until(viewer, 3)
    await publish(stream=opening, kind="note", payload={"n": 4})
    await publish(stream=opening, kind="note", payload={"n": 5})
    live = await events_until(viewer, 5)

    assert hello["t"] == "hello" and hello["stream"] == opening.key and hello["seq"] == 3 and hello["after"] == 0
    assert [e["seq"] for e in history + live] == [1, 2, 3, 4, 5]
    assert [e["payload"]["n"] for e in history + live] == [1, 2, 3, 4, 5]
    assert set(history[0]) == {"seq", "kind", "at", "payload"}
    await viewer.disconnect()


async def test_after_n_sends_only_what_followed_n(opening):
    for n in range(1, 6):
        await publish(stream=opening, kind="note", payload={"n": n})

    viewer = await connect(f"/ws/streams/{opening.key}/?after=3")
    hello = await frame(viewer)
    events = await events_until(viewer, 5)

    assert hello["after"] == 3
    assert [e["seq"] for e in events] == [4, 5]
    await viewer.disconnect()


async def test_a_viewer_cut_mid_stream_resumes_from_its_last_seq_with_nothing_missed(opening):
    first = await connect(f"/ws/streams/{opening.key}/")
    await frame(first)
    await publish(stream=opening, kind="note", payload={"n": 1})
    await publish(stream=opening, kind="note", payload={"n": 2})
    seen = await events_until(first, 2)
    await first.disconnect()
    # While it is away, the stream goes on.
    for n in range(3, 6):
        await publish(stream=opening, kind="note", payload={"n": n})

    again = await connect(f"/ws/streams/{opening.key}/?after={seen[-1]['seq']}")
    await frame(again)
    await publish(stream=opening, kind="note", payload={"n": 6})
    resumed = await events_until(again, 6)

    assert [e["seq"] for e in seen + resumed] == [1, 2, 3, 4, 5, 6]
    await again.disconnect()


async def test_history_older_than_the_cached_tail_is_read_from_the_database(opening, settings):
    settings.LIVESTREAM_CACHE_EVENTS = 3
    settings.LIVESTREAM_HISTORY_CHUNK = 2
    for n in range(1, 10):
        await publish(stream=opening, kind="note", payload={"n": n})

    viewer = await connect(f"/ws/streams/{opening.key}/?after=1")
    await frame(viewer)
    events = await events_until(viewer, 9)

    assert [e["seq"] for e in events] == list(range(2, 10))
    assert get_hub().streams[opening.key].first_seq == 7  # the cache held only the last 3
    await viewer.disconnect()


async def test_what_one_tick_brings_leaves_as_one_frame(opening):
    viewer = await connect(f"/ws/streams/{opening.key}/")
    await frame(viewer)

    def three_in_one_transaction():
        from django.db import transaction

        with transaction.atomic():
            for n in range(3):
                stream_publish(stream=opening, kind="note", payload={"n": n})

    await database_sync_to_async(three_in_one_transaction)()
    got = await frames_until(viewer, lambda f: f["t"] == "ev")

    assert [e["seq"] for e in got[-1]["events"]] == [1, 2, 3]
    await viewer.disconnect()


async def test_an_event_the_layer_lost_is_filled_from_the_database(opening, monkeypatch):
    viewer = await connect(f"/ws/streams/{opening.key}/")
    await frame(viewer)
    real = services.stream_broadcast
    monkeypatch.setattr(services, "stream_broadcast", lambda **kwargs: None)  # the layer drops #1
    await publish(stream=opening, kind="note", payload={"n": 1})
    monkeypatch.setattr(services, "stream_broadcast", real)
    await publish(stream=opening, kind="note", payload={"n": 2})

    events = await events_until(viewer, 2)

    assert [e["seq"] for e in events] == [1, 2]
    await viewer.disconnect()


async def test_a_lost_last_event_arrives_with_the_heartbeat(opening, monkeypatch):
    viewer = await connect(f"/ws/streams/{opening.key}/")
    await frame(viewer)
    monkeypatch.setattr(services, "stream_broadcast", lambda **kwargs: None)
    await publish(stream=opening, kind="note", payload={"n": 1})

    events = await events_until(viewer, 1, timeout=3)

    assert [e["seq"] for e in events] == [1]
    await viewer.disconnect()


async def test_heartbeats_carry_the_seq_and_the_viewer_count(opening):
    first = await connect(f"/ws/streams/{opening.key}/")
    second = await connect(f"/ws/streams/{opening.key}/")
    await frame(first)
    await frame(second)

    beat = (await frames_until(first, lambda f: f["t"] == "hb" and f["viewers"] == 2))[-1]

    assert beat == {"t": "hb", "seq": 0, "viewers": 2}
    await first.disconnect()
    await second.disconnect()


async def test_ping_gets_pong_and_the_stream_stays_read_only(opening):
    viewer = await connect(f"/ws/streams/{opening.key}/")
    await frame(viewer)

    await viewer.send_to(text_data='{"t": "ping", "id": 7}')
    pong = await frame(viewer)
    await viewer.send_to(text_data='{"t": "publish", "kind": "bid.read"}')
    refused = await frame(viewer)

    assert pong == {"t": "pong", "seq": 0, "id": 7}
    assert refused["t"] == "error" and refused["code"] == "WS-UNKNOWN"
    await viewer.disconnect()


@pytest.mark.parametrize(
    ("send", "code"),
    [
        ({"text_data": "{not json"}, "WS-MALFORMED"),
        ({"bytes_data": b"\x00\x01"}, "WS-BINARY"),
        ({"text_data": "[]"}, "WS-UNKNOWN"),
    ],
)
async def test_malformed_frames_get_an_error_and_repeated_ones_the_door(opening, send, code):
    viewer = await connect(f"/ws/streams/{opening.key}/")
    await frame(viewer)

    for _ in range(4):
        await viewer.send_to(**send)
        error = await frame(viewer)
        assert error["t"] == "error" and error["code"] == code
    await viewer.send_to(**send)
    last = await frame(viewer)
    closed = await viewer.receive_output(timeout=3)

    assert last["code"] == code
    assert closed == {"type": "websocket.close", "code": 1008}


async def test_a_frame_over_the_cap_closes_with_1009(opening):
    viewer = await connect(f"/ws/streams/{opening.key}/")
    await frame(viewer)

    await viewer.send_to(text_data='{"t":"ping","pad":"' + "x" * 1000 + '"}')
    error = await frame(viewer)
    closed = await viewer.receive_output(timeout=3)

    assert error["code"] == "WS-TOO-BIG"
    assert closed == {"type": "websocket.close", "code": 1009}


async def test_too_many_frames_close_with_1008(opening, settings):
    settings.LIVESTREAM_CLIENT_FRAMES_PER_MINUTE = 3
    viewer = await connect(f"/ws/streams/{opening.key}/")
    await frame(viewer)

    for _ in range(3):
        await viewer.send_to(text_data='{"t":"ping"}')
        assert (await frame(viewer))["t"] == "pong"
    await viewer.send_to(text_data='{"t":"ping"}')
    error = await frame(viewer)
    closed = await viewer.receive_output(timeout=3)

    assert error["code"] == "WS-RATE"
    assert closed == {"type": "websocket.close", "code": 1008}


async def test_unknown_stream_and_bad_after_are_told_apart(opening):
    missing = await connect("/ws/streams/opening.NOPE/")
    bad = await connect(f"/ws/streams/{opening.key}/?after=-1")

    assert (await frame(missing))["code"] == "STREAM-NOT-FOUND"
    assert await missing.receive_output(timeout=3) == {"type": "websocket.close", "code": 4404}
    assert (await frame(bad))["code"] == "STREAM-BAD-AFTER"
    assert await bad.receive_output(timeout=3) == {"type": "websocket.close", "code": 4400}


async def test_a_foreign_origin_is_refused_at_the_handshake(opening):
    from channels.testing.websocket import WebsocketCommunicator

    from config.asgi import application

    communicator = WebsocketCommunicator(
        application, f"/ws/streams/{opening.key}/", headers=[(b"host", b"testserver"), (b"origin", b"https://evil.example")]
    )
    connected, _ = await communicator.connect(timeout=3)

    assert connected is False


async def test_a_viewer_gone_is_forgotten_and_the_subscription_ends_when_idle(opening):
    viewer = await connect(f"/ws/streams/{opening.key}/")
    await frame(viewer)
    local = get_hub().streams[opening.key]
    assert len(local.viewers) == 1

    await viewer.disconnect()
    await asyncio.sleep(0.6)

    assert not local.viewers
    assert opening.key not in get_hub().streams


async def test_a_signed_in_viewer_watches_a_public_opening(opening, make_user):
    from trading.models import Role

    user = await database_sync_to_async(make_user)(Role.TENDERER)
    client = await database_sync_to_async(lambda: signed_in(Client(), user))()

    viewer = await connect(f"/ws/streams/{opening.key}/", cookie=session_cookie(client))

    assert (await frame(viewer))["t"] == "hello"
    await viewer.disconnect()
