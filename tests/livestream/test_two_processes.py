"""Two ASGI server processes on the real Redis and PostgreSQL: a viewer on one sees what the other publishes.

Each server is `uvicorn config.asgi:application` on its own free port, against
this test's database; events are published through the demo endpoint of the
other server and from this process. Heartbeats are set far apart, so what a
viewer receives came through Redis, not from a catch-up read.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from livestream.models import StreamKind
from livestream.services import stream_ensure, stream_publish

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def servers():
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ["REDIS_URL"],
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "LIVESTREAM_DEMO": "1",
        # Heartbeats (which also catch up from the database) far apart: what arrives, arrived through Redis.
        "LIVESTREAM_HEARTBEAT_SECONDS": "600",
        "LOG_LEVEL": "WARNING",
    }
    ports = [free_port(), free_port()]
    command = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1"]
    quiet = ["--no-access-log", "--log-level", "warning"]
    processes = [subprocess.Popen([*command, "--port", str(port), *quiet], cwd=ROOT, env=env) for port in ports]
    try:
        deadline = time.monotonic() + 30
        for port in ports:
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/streams/demo/", timeout=2).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def publish_via(port: int, n: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/streams/demo/publish/",
        data=json.dumps({"payload": {"n": n}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["seq"]


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
