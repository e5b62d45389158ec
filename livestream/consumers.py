"""The websocket side of streams: read-only viewers of one stream each.

A consumer here owns no channel of its own: the process's hub holds one
membership per stream and writes to the sockets of its viewers directly
(see hub.py). What a viewer may send is a small ping; anything else gets an
error frame, and too much of it the door.
"""

import contextlib
import json
import re
import time
from urllib.parse import parse_qs

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.utils import await_many_dispatch
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext as _

from livestream import selectors
from livestream.db import db_call
from livestream.hub import (
    CLOSE_BAD_REQUEST,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    Viewer,
    get_hub,
    text_message,
)

AFTER_RE = re.compile(r"^\d{1,18}$")


@db_call
def signed_in_user(scope):
    """The scope's user if it passed every factor it needs, else anonymous (as the pages treat it)."""
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return AnonymousUser()
    if getattr(user, "needs_second_factor", False):
        from django_otp import DEVICE_ID_SESSION_KEY
        from django_otp.models import Device

        session = scope.get("session")
        persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
        device = Device.from_persistent_id(persistent_id) if persistent_id else None
        if device is None or device.user_id != user.pk or not device.confirmed:
            return AnonymousUser()
    return user


@db_call
def stream_watcher(key: str, user) -> selectors.Watcher:
    return selectors.stream_watcher(key=key, user=user)


def parse_after(query_string: bytes) -> int | None:
    """?after=N: the last seq the client saw (0 or absent: from the start); None when malformed."""
    values = parse_qs(query_string.decode("latin-1")).get("after")
    if not values:
        return 0
    return int(values[0]) if AFTER_RE.match(values[0]) else None


class StreamConsumer(AsyncWebsocketConsumer):
    async def __call__(self, scope, receive, send):
        # As AsyncConsumer.__call__, minus the per-consumer channel: the hub fans out per process instead.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        self.viewer: Viewer | None = None
        self.local = None
        self.window_start = time.monotonic()
        self.frames_in_window = 0
        self.bad_frames = 0
        with contextlib.suppress(StopConsumer):
            await await_many_dispatch([receive], self.dispatch)

    async def dispatch(self, message):
        # No close_old_connections per frame: the only database access goes through database_sync_to_async, which does it.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_connect(self, message):
        key = self.scope["url_route"]["kwargs"]["key"]
        after = parse_after(self.scope.get("query_string", b""))
        self.viewer = Viewer(self.base_send)
        await self.base_send({"type": "websocket.accept"})
        # Refusals come after the handshake, as frames and close codes a client can tell apart (4403 is not 4404).
        if after is None:
            return self.viewer.close(CLOSE_BAD_REQUEST, "STREAM-BAD-AFTER", _("after 须为非负整数。"))
        hub = get_hub()
        user = self.scope.get("user")
        local = hub.streams.get(key)
        if (user is None or not user.is_authenticated) and local is not None and local.meta.anyone_may_watch:
            meta, own = local.meta, frozenset()  # a public stream already watched here: no database for this join
        else:
            watcher = await stream_watcher(key, await signed_in_user(self.scope))
            if watcher.meta is None:
                return self.viewer.close(CLOSE_NOT_FOUND, "STREAM-NOT-FOUND", _("直播不存在。"))
            if not watcher.allowed:
                return self.viewer.close(CLOSE_FORBIDDEN, "STREAM-FORBIDDEN", _("无权观看此直播。"))
            meta, own = watcher.meta, watcher.own_codes
        self.viewer.own_codes = own
        self.local = await hub.stream(meta)
        await self.local.join(self.viewer, after)

    async def websocket_receive(self, message):
        viewer = self.viewer
        if viewer is None or viewer.closed:
            return
        now = time.monotonic()
        if now - self.window_start >= 60:
            self.window_start, self.frames_in_window = now, 0
        self.frames_in_window += 1
        if self.frames_in_window > settings.LIVESTREAM_CLIENT_FRAMES_PER_MINUTE:
            return viewer.close(CLOSE_POLICY, "WS-RATE", _("发送过于频繁。"))
        text = message.get("text")
        if text is None:
            return self.refuse("WS-BINARY", _("只接受文本帧。"))
        if len(text) > settings.LIVESTREAM_CLIENT_FRAME_BYTES:
            return viewer.close(CLOSE_TOO_BIG, "WS-TOO-BIG", _("消息过长。"))
        try:
            frame = json.loads(text)
        except ValueError:
            return self.refuse("WS-MALFORMED", _("消息不是有效的 JSON。"))
        if not isinstance(frame, dict) or frame.get("t") != "ping":
            return self.refuse("WS-UNKNOWN", _("直播为只读，只接受 ping。"))
        reply = {"t": "pong", "seq": self.local.last_seq if self.local else 0}
        if isinstance(frame.get("id"), int | str) and len(str(frame["id"])) <= 64:
            reply["id"] = frame["id"]
        viewer.push(text_message(reply))

    def refuse(self, code: str, message: str) -> None:
        self.bad_frames += 1
        if self.bad_frames >= settings.LIVESTREAM_CLIENT_BAD_FRAMES:
            self.viewer.close(CLOSE_POLICY, code, message)
        else:
            self.viewer.push(text_message({"t": "error", "code": code, "message": message}))

    async def websocket_disconnect(self, message):
        if self.viewer is not None:
            self.viewer.closed = True
            if self.local is not None:
                self.local.leave(self.viewer)
        raise StopConsumer()
