"""Two ASGI server processes on the real Redis and PostgreSQL: a viewer on one sees what the other publishes.

Each server is `uvicorn config.asgi:application` on its own free port, against
this test's database; events are published through the demo endpoint of the
other server and from this process. Heartbeats are set far apart, so what a
viewer receives came through Redis, not from a catch-up read.
"""

import asyncio
import json

import pytest
from django.db import connection

from livestream.models import StreamKind
from livestream.services import stream_ensure, stream_publish
from tests.livestream.conftest import publish_via

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def publish_here(stream, n: int) -> int:
    try:
        return stream_publish(stream=stream, kind="demo.note", payload={"n": n}).seq
    finally:
        connection.close()  # this runs in a worker thread of its own


async def watch(port: int, after: int = 0):
    from websockets.asyncio.client import connect

    socket_ = await connect(
        f"ws://127.0.0.1:{port}/ws/streams/demo/?after={after}", origin=f"http://127.0.0.1:{port}", compression=None
    )
    hello = json.loads(await socket_.recv())
    assert hello["t"] == "hello" and hello["after"] == after
    return socket_


async def collect(socket_, until_seq: int, got: list, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while not got or got[-1]["seq"] < until_seq:
            frame = json.loads(await socket_.recv())
            if frame["t"] == "ev":
                got.extend(frame["events"])


def test_a_viewer_on_one_process_sees_events_made_on_the_other_in_order(servers):
    a, b = servers
    stream = stream_ensure(kind=StreamKind.DEMO)

    async def scenario():
        viewer = await watch(a)
        seqs = []
        for n in range(1, 31):
            # Never through A itself (a local event would let A fill the rest from the database): B, or this process.
            if n % 2:
                seqs.append(await asyncio.to_thread(publish_via, b, n))
            else:
                seqs.append(await asyncio.to_thread(publish_here, stream, n))
        got = []
        await collect(viewer, 30, got)
        await viewer.close()
        return seqs, got

    seqs, got = asyncio.run(scenario())

    assert seqs == list(range(1, 31))
    assert [e["seq"] for e in got] == list(range(1, 31))
    assert [e["payload"]["n"] for e in got] == list(range(1, 31))


def test_a_viewer_cut_mid_stream_reconnects_elsewhere_and_misses_nothing(servers):
    a, b = servers
    stream_ensure(kind=StreamKind.DEMO)

    async def scenario():
        viewer = await watch(b)
        got = []
        for n in range(1, 11):
            await asyncio.to_thread(publish_via, a, n)
        await collect(viewer, 5, got)
        # Cut: no closing handshake, as when a network drops; events go on meanwhile.
        viewer.transport.abort()
        for n in range(11, 21):
            await asyncio.to_thread(publish_via, a if n % 2 else b, n)
        again = await watch(a, after=got[-1]["seq"])
        publisher = asyncio.create_task(asyncio.to_thread(lambda: [publish_via(b, n) for n in range(21, 31)]))
        await collect(again, 30, got)
        await publisher
        await again.close()
        return got

    got = asyncio.run(scenario())

    assert [e["seq"] for e in got] == list(range(1, 31))
