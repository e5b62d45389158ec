"""One channel-layer membership per process per stream, fanned out locally.

A process keeps, for each stream that has viewers here, one membership of the
stream's group (one Redis subscription with the pub/sub layer), the tail of its
events, and its local viewers. A live event is received and decoded once,
checked for gaps against the database, rendered once per visibility class, and
written to every viewer's socket directly: no channel, task or queue per viewer.

The layer delivers at most once, so every hole (a dropped message, a Redis
reconnect, events published before this process subscribed) is filled from
the database, here once per process rather than once per viewer.
"""

import asyncio
import json
import logging
import os
import socket
import types
import uuid
import weakref
from collections import deque
from collections.abc import Awaitable, Callable

from channels.layers import get_channel_layer
from django.conf import settings

from livestream import selectors, services
from livestream.db import db_call
from livestream.selectors import StreamMeta
from trading import policy

logger = logging.getLogger(__name__)

PROCESS = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

# Close codes a client must not retry (4400, 4403, 4404) and ones it should (4408, 1013).
CLOSE_BAD_REQUEST = 4400
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_SLOW = 4408
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009

Send = Callable[[dict], Awaitable[None]]


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def text_message(value) -> dict:
    return {"type": "websocket.send", "text": value if isinstance(value, str) else dumps(value)}


def events_frame(pieces: list[str], *, replay: bool = False) -> dict:
    """Events already rendered to JSON are joined, not re-encoded: one frame per tick, per chunk of history."""
    head = '{"t":"ev","replay":true,"events":[' if replay else '{"t":"ev","events":['
    return {"type": "websocket.send", "text": head + ",".join(pieces) + "]}"}


_background: set[asyncio.Future] = set()


def spawn(coro) -> asyncio.Future:
    """A task the loop only holds weakly: keep it until it ends."""
    task = asyncio.ensure_future(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


@types.coroutine
def _resume(coro, waiting):
    """Finish a coroutine started by hand: give the task what it waits on, and the coroutine what the task returns."""
    while True:
        try:
            value = yield waiting
        except BaseException as exc:
            try:
                waiting = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            waiting = coro.send(value)
        except StopIteration as stop:
            return stop.value


class Viewer:
    """One websocket. Frames leave in order; one the socket can take at once is written at once, without a task."""

    __slots__ = ("_backlog", "_busy", "_send", "closed", "last_seq", "on_gone", "own_codes")

    def __init__(self, send: Send, *, own_codes: frozenset[str] = frozenset()):
        self._send = send
        self._backlog: deque[dict] = deque()
        self._busy = False
        self.closed = False
        self.own_codes = own_codes
        self.last_seq = 0
        self.on_gone: Callable[[Viewer], None] | None = None

    def push(self, message: dict) -> None:
        if self.closed:
            return
        if self._busy:
            if len(self._backlog) >= settings.LIVESTREAM_VIEWER_BACKLOG:
                # It stopped reading: cut it off rather than hold the stream in memory; it resumes from its seq.
                self._backlog.clear()
                self.close(CLOSE_TOO_SLOW, "WS-TOO-SLOW", "客户端接收过慢，请重新连接。")
                return
            self._backlog.append(message)
            return
        coro = self._send(message)
        try:
            waiting = coro.send(None)
        except StopIteration:
            return  # written: the usual case
        except Exception:
            self._gone()
            return
        self._busy = True
        spawn(self._drain(coro, waiting))

    async def _drain(self, coro, waiting) -> None:
        try:
            await _resume(coro, waiting)
            while self._backlog:
                await self._send(self._backlog.popleft())
        except Exception:
            self._gone()
        finally:
            self._busy = False

    def close(self, code: int, error: str | None = None, message: str = "") -> None:
        if self.closed:
            return
        if error:
            self.push(text_message({"t": "error", "code": error, "message": message}))
        self.push({"type": "websocket.close", "code": code})
        self.closed = True
        if self.on_gone:
            self.on_gone(self)

    def _gone(self) -> None:
        self.closed = True
        self._backlog.clear()
        if self.on_gone:
            self.on_gone(self)


class LocalStream:
    """This process's view of one stream: its membership, the tail of its events, its viewers."""

    def __init__(self, hub: "Hub", meta: StreamMeta):
        self.hub = hub
        self.meta = meta
        self.viewers: set[Viewer] = set()
        self.joining: set[Viewer] = set()
        # The cached tail, contiguous: events[i]["seq"] == first_seq + i; pieces[i] is its public rendering.
        self.events: list[dict] = []
        self.pieces: list[str | None] = []
        self.first_seq = 1
        self.last_seq = 0
        self.incoming: list[dict] = []
        self.others = 0  # viewers on the other processes, as of the last heartbeat
        self.ready: asyncio.Future = asyncio.get_running_loop().create_future()
        self._flush_due = False
        self._filling = False
        self._heartbeat: asyncio.Task | None = None
        self._idle: asyncio.TimerHandle | None = None

    # -- life ---------------------------------------------------------------
    async def start(self) -> None:
        try:
            await self.hub.subscribe(self)
            # Subscribed first, read second: whatever commits after this read arrives live.
            last_seq, tail = await db_call(selectors.stream_tail)(stream_id=self.meta.pk, limit=settings.LIVESTREAM_CACHE_EVENTS)
            self.first_seq = tail[0]["seq"] if tail else last_seq + 1
            self.last_seq = last_seq
            self.events = tail
            self.pieces = [None] * len(tail)
            self._heartbeat = spawn(self._beat_forever())
            self.ready.set_result(True)
            self._flush()
        except BaseException as exc:
            # Every joiner awaits ready, so the error reaches them all (and is retrieved).
            self.hub.forget(self)
            self.ready.set_exception(exc)

    def idle(self) -> bool:
        return not self.viewers and not self.joining

    def maybe_retire(self) -> None:
        if self.idle() and self._idle is None:
            loop = asyncio.get_running_loop()
            self._idle = loop.call_later(settings.LIVESTREAM_IDLE_SECONDS, lambda: spawn(self._retire()))

    async def _retire(self) -> None:
        self._idle = None
        if not self.idle():
            return
        if not await self.hub.unsubscribe(self):
            return
        if self._heartbeat:
            self._heartbeat.cancel()
        try:
            await db_call(services.stream_presence_leave)(stream_id=self.meta.pk, process=PROCESS)
        except Exception:
            logger.exception("could not clear presence of %s", self.meta.key)

    # -- viewers -------------------------------------------------------------
    @property
    def viewer_count(self) -> int:
        return self.others + len(self.viewers) + len(self.joining)

    async def join(self, viewer: Viewer, after: int) -> None:
        """Hello, then every event after `after`, then live events: no gap, no duplicate."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        viewer.on_gone = self.leave
        self.joining.add(viewer)
        try:
            viewer.push(
                text_message(
                    {
                        "t": "hello",
                        "stream": self.meta.key,
                        "kind": self.meta.kind,
                        "seq": self.last_seq,
                        "after": after,
                        "viewers": self.viewer_count,
                        "heartbeat": settings.LIVESTREAM_HEARTBEAT_SECONDS,
                    }
                )
            )
            position = after
            chunk = settings.LIVESTREAM_HISTORY_CHUNK
            # Older than the cached tail: read from the database until the tail is reached.
            while position + 1 < self.first_seq and not viewer.closed:
                rows = await db_call(selectors.stream_events_after)(
                    stream_id=self.meta.pk, after=position, until=self.first_seq - 1, limit=chunk
                )
                if not rows:
                    break
                viewer.push(events_frame([self.render(event, viewer.own_codes) for event in rows], replay=True))
                position = rows[-1]["seq"]
            if viewer.closed:
                return
            # From here to the end nothing awaits: the tail and the live set change only between ticks.
            start = max(position + 1 - self.first_seq, 0)
            for index in range(start, len(self.events), chunk):
                viewer.push(events_frame(self._pieces_for(viewer, index, index + chunk), replay=True))
            viewer.last_seq = max(position, self.last_seq)
            self.viewers.add(viewer)
        finally:
            self.joining.discard(viewer)
            if viewer.closed:
                self.viewers.discard(viewer)
                self.maybe_retire()

    def leave(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)
        self.joining.discard(viewer)
        self.maybe_retire()

    # -- rendering -----------------------------------------------------------
    def render(self, event: dict, own_codes: frozenset[str]) -> str:
        return dumps(policy.stream_event_view(event, own_codes=own_codes))

    def _piece(self, index: int) -> str:
        piece = self.pieces[index]
        if piece is None:
            piece = self.pieces[index] = self.render(self.events[index], frozenset())
        return piece

    def _pieces_for(self, viewer: Viewer, start: int, stop: int) -> list[str]:
        stop = min(stop, len(self.events))
        if viewer.own_codes:
            return [self._piece_as(viewer, i) for i in range(start, stop)]
        return [self._piece(i) for i in range(start, stop)]

    def _piece_as(self, viewer: Viewer, index: int) -> str:
        event = self.events[index]
        if viewer.own_codes.isdisjoint(event.get("sealed") or ()):
            return self._piece(index)
        return self.render(event, viewer.own_codes)

    # -- live events -----------------------------------------------------------
    def arrived(self, events: list[dict]) -> None:
        self.incoming.extend(events)
        if not self._flush_due:
            # Whatever else arrives in this tick (or the short window after it) joins the same frame:
            # the events of one transaction come as separate messages, and a frame costs per viewer.
            self._flush_due = True
            window = settings.LIVESTREAM_COALESCE_SECONDS
            loop = asyncio.get_running_loop()
            if window > 0:
                loop.call_later(window, self._flush)
            else:
                loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        if self.ready.done() and not self._filling and self.incoming and self._apply():
            self._fill()

    def _apply(self) -> bool:
        """Deliver what follows on from last_seq; keep what lies beyond a hole. True when something waits."""
        self.incoming.sort(key=lambda event: event["seq"])
        start = len(self.events)
        ahead = []
        for event in self.incoming:
            seq = event["seq"]
            if seq <= self.last_seq:
                continue  # already here: a duplicate, or read from the database first
            if seq == self.last_seq + 1:
                self.events.append(event)
                self.pieces.append(None)
                self.last_seq = seq
            else:
                ahead.append(event)
        self.incoming = ahead
        if len(self.events) > start:
            self._deliver(start)
        return bool(ahead)

    def _fill(self) -> None:
        if not self._filling:
            self._filling = True
            spawn(self._fill_from_database())

    async def _fill_from_database(self) -> None:
        chunk = settings.LIVESTREAM_HISTORY_CHUNK
        try:
            while True:
                rows = await db_call(selectors.stream_events_after)(stream_id=self.meta.pk, after=self.last_seq, limit=chunk)
                self.incoming.extend(rows)
                waiting = self._apply()
                if waiting and not rows:
                    # The database is the truth: live events it does not hold are dropped; a heartbeat reads them later.
                    logger.warning("%s: dropped live events beyond #%s, not in the database", self.meta.key, self.last_seq)
                    self.incoming = []
                    break
                if not waiting and len(rows) < chunk:
                    break
        except Exception:
            logger.exception("catching up %s from the database failed; the next heartbeat retries", self.meta.key)
        finally:
            self._filling = False

    def _deliver(self, start: int) -> None:
        batch = self.events[start:]
        first, last = batch[0]["seq"], batch[-1]["seq"]
        sealed_codes = set().union(*(event.get("sealed") or () for event in batch))
        shared = events_frame([self._piece(i) for i in range(start, len(self.events))])
        for viewer in list(self.viewers):
            if viewer.last_seq >= last:
                continue
            if viewer.last_seq == first - 1 and (not viewer.own_codes or viewer.own_codes.isdisjoint(sealed_codes)):
                viewer.push(shared)
            else:
                begin = start + max(viewer.last_seq + 1 - first, 0)
                viewer.push(events_frame(self._pieces_for(viewer, begin, len(self.events))))
            viewer.last_seq = last
        self._trim()

    def _trim(self) -> None:
        keep = settings.LIVESTREAM_CACHE_EVENTS
        if len(self.events) > 2 * keep:
            cut = len(self.events) - keep
            self.events = self.events[cut:]
            self.pieces = self.pieces[cut:]
            self.first_seq += cut

    # -- heartbeat -------------------------------------------------------------
    async def _beat_forever(self) -> None:
        interval = settings.LIVESTREAM_HEARTBEAT_SECONDS
        while True:
            await asyncio.sleep(interval)
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("heartbeat of %s failed", self.meta.key)

    async def beat(self) -> None:
        """Count viewers over every process, catch up what the layer lost, tell the viewers both."""
        local = len(self.viewers) + len(self.joining)
        total, last_seq = await db_call(services.stream_presence_beat)(
            stream_id=self.meta.pk,
            process=PROCESS,
            viewers=local,
            stale_after=3 * settings.LIVESTREAM_HEARTBEAT_SECONDS,
        )
        self.others = max(total - local, 0)
        if last_seq > self.last_seq:
            self._fill()
        frame = text_message({"t": "hb", "seq": self.last_seq, "viewers": self.viewer_count})
        for viewer in list(self.viewers):
            viewer.push(frame)


class Hub:
    """Per process and event loop: one channel on the layer, joined to the group of each stream watched here."""

    def __init__(self):
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.streams: dict[str, LocalStream] = {}
        self._lock = asyncio.Lock()
        self._receiver: asyncio.Task | None = None

    async def stream(self, meta: StreamMeta) -> LocalStream:
        local = self.streams.get(meta.key)
        if local is None:
            local = self.streams[meta.key] = LocalStream(self, meta)
            spawn(local.start())
        await asyncio.shield(local.ready)
        return local

    def forget(self, local: LocalStream) -> None:
        if self.streams.get(local.meta.key) is local:
            del self.streams[local.meta.key]

    async def subscribe(self, local: LocalStream) -> None:
        async with self._lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel(prefix="livestream.")
                self._receiver = spawn(self._receive())
            await self.layer.group_add(local.meta.group, self.channel)

    async def unsubscribe(self, local: LocalStream) -> bool:
        """Leave the group unless a viewer came back meanwhile; False when the stream stays."""
        async with self._lock:
            if not local.idle() or self.streams.get(local.meta.key) is not local:
                return False
            del self.streams[local.meta.key]
            await self.layer.group_discard(local.meta.group, self.channel)
            return True

    async def _receive(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
                handler = getattr(self, message.get("type", "").replace(".", "_"), None)
                if handler is None:
                    logger.warning("livestream hub: no handler for %r", message.get("type"))
                    continue
                handler(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("livestream hub: receiving failed")
                await asyncio.sleep(0.5)

    async def shutdown(self) -> None:
        """Stop receiving and beating (the loop is ending: tests, server shutdown)."""
        tasks = [self._receiver] + [local._heartbeat for local in self.streams.values()]
        self.streams.clear()
        for task in tasks:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)

    def stream_events(self, message: dict) -> None:
        local = self.streams.get(message.get("stream"))
        if local is not None:
            local.arrived(message["events"])


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub
