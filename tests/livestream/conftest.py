"""Streams under test: the in-memory layer unless a test asks for Redis, short heartbeats, one hub per test loop."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import types
import urllib.request
from pathlib import Path

import channels
import pytest
from django.db import connection
from django.utils import timezone

from livestream.hub import _hubs
from livestream.models import StreamKind
from livestream.services import stream_ensure
from tests.factories import SectionFactory
from trading.models import SectionState

try:
    from channels.testing import WebsocketCommunicator
except ModuleNotFoundError:
    # channels.testing's __init__ imports daphne for its live-server case, which these tests do not use:
    # load the package without its __init__ to reach channels' own WebsocketCommunicator.
    _package = types.ModuleType("channels.testing")
    _package.__path__ = [str(Path(channels.__file__).parent / "testing")]
    sys.modules["channels.testing"] = _package
    from channels.testing.websocket import WebsocketCommunicator


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
def _stream_settings(settings, request):
    if "redis" not in request.keywords:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.LIVESTREAM_HEARTBEAT_SECONDS = 0.3
    settings.LIVESTREAM_IDLE_SECONDS = 0.2
    settings.LIVESTREAM_COALESCE_SECONDS = 0.05


@pytest.fixture
async def hub_cleanup():
    yield
    hub = _hubs.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.shutdown()


@pytest.fixture
def published_section(db):
    return SectionFactory(state=SectionState.OPENING, published_at=timezone.now())


@pytest.fixture
def opening(published_section):
    return stream_ensure(kind=StreamKind.OPENING, section=published_section)


@pytest.fixture
def supervision(db):
    return stream_ensure(kind=StreamKind.SUPERVISION)


def session_cookie(client) -> bytes:
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(path: str, *, cookie: bytes | None = None, origin: bytes = b"http://testserver"):
    """A communicator on the whole ASGI application (origin check, sessions, routing), already connected."""
    from config.asgi import application

    headers = [(b"host", b"testserver"), (b"origin", origin)]
    if cookie:
        headers.append((b"cookie", cookie))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected, f"handshake refused for {path}"
    return communicator


async def frame(communicator, timeout: float = 3) -> dict:
    return json.loads(await communicator.receive_from(timeout=timeout))


async def frames_until(communicator, predicate, timeout: float = 5) -> list[dict]:
    """Frames up to and including the first that satisfies predicate."""
    seen = []
    async with asyncio.timeout(timeout):
        while True:
            seen.append(await frame(communicator, timeout))
            if predicate(seen[-1]):
                return seen


async def events_until(communicator, last_seq: int, timeout: float = 5) -> list[dict]:
    """Every event received until seq last_seq (heartbeats skipped), in arrival order."""
    events = []
    async with asyncio.timeout(timeout):
        while not events or events[-1]["seq"] < last_seq:
            got = await frame(communicator, timeout)
            if got["t"] == "ev":
                events.extend(got["events"])
    return events


# --- real server processes (marked redis and postgres) -----------------------------
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def servers():
    """Two `uvicorn config.asgi:application` processes on free ports, against this test's database and the real Redis."""
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
