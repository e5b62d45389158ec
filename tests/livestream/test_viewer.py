"""The per-socket writer: in order, at once when the socket takes it, a slow reader cut off."""

import asyncio
import json

import pytest

from livestream.hub import CLOSE_TOO_SLOW, Viewer, text_message

pytestmark = pytest.mark.anyio


class Socket:
    """An ASGI send whose writes block while `writable` is clear, as uvicorn's does under backpressure."""

    def __init__(self):
        self.sent = []
        self.writable = asyncio.Event()
        self.writable.set()

    async def send(self, message):
        await self.writable.wait()
        self.sent.append(message)


async def test_a_writable_socket_is_written_at_once_without_a_task():
    socket = Socket()
    viewer = Viewer(socket.send)

    viewer.push(text_message({"n": 1}))

    assert [json.loads(m["text"]) for m in socket.sent] == [{"n": 1}]  # before any await


async def test_a_blocked_socket_gets_its_frames_in_order_once_it_drains():
    socket = Socket()
    socket.writable.clear()
    viewer = Viewer(socket.send)

    for n in range(5):
        viewer.push(text_message({"n": n}))
    await asyncio.sleep(0)
    assert socket.sent == []
    socket.writable.set()
    await asyncio.sleep(0.01)

    assert [json.loads(m["text"])["n"] for m in socket.sent] == [0, 1, 2, 3, 4]


async def test_a_reader_that_stops_is_cut_off_with_4408(settings):
    settings.LIVESTREAM_VIEWER_BACKLOG = 3
    socket = Socket()
    socket.writable.clear()
    viewer = Viewer(socket.send)
    gone = []
    viewer.on_gone = gone.append

    for n in range(10):
        viewer.push(text_message({"n": n}))
    socket.writable.set()
    await asyncio.sleep(0.01)

    assert viewer.closed and gone == [viewer]
    assert socket.sent[-1] == {"type": "websocket.close", "code": CLOSE_TOO_SLOW}
    assert json.loads(socket.sent[-2]["text"])["code"] == "WS-TOO-SLOW"
    assert len(socket.sent) < 10


async def test_a_socket_that_fails_marks_the_viewer_gone():
    async def broken(message):
        raise OSError("reset")

    viewer = Viewer(broken)
    gone = []
    viewer.on_gone = gone.append

    viewer.push(text_message({}))
    viewer.push(text_message({}))

    assert viewer.closed and gone == [viewer]
