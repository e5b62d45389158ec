"""Writes to streams: create, publish (numbered under the row lock, broadcast on commit), close, presence.

Lock order: the audit log's lock before a stream's row lock, never after (the
opening service audits its act, then publishes). So publishing appends no audit
entry of its own; each event extends the stream's hash chain instead, and the
chain's head is audited when the stream closes, after the row lock is released.
"""

import asyncio
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Collection
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from livestream.models import Stream, StreamEvent, StreamKind, StreamPresence
from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append, canonical_json
from trading.errors import DomainError, TransitionError

logger = logging.getLogger(__name__)

KIND_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")
CODE_RE = re.compile(r"^[A-Za-z0-9-]{1,16}$")
MAX_EVENT_BYTES = 64 * 1024
# Kinds bound to a section have one stream per section; the others are one per platform.
SECTION_KINDS = {StreamKind.OPENING, StreamKind.AUCTION}
GROUP_MESSAGE = "stream.events"


def stream_key(*, kind: str, section=None) -> str:
    return f"{kind}.{section.public_id}" if section is not None else str(kind)


def stream_ensure(*, kind: str, section=None, actor=None) -> Stream:
    """The stream of this kind (and section), made on first use; safe to call twice."""
    if kind not in StreamKind.values:
        raise DomainError("STREAM-KIND", f"unknown stream kind {kind!r}")
    if (kind in SECTION_KINDS) != (section is not None):
        raise DomainError("STREAM-SECTION", f"a {kind} stream {'needs' if kind in SECTION_KINDS else 'takes no'} section")
    key = stream_key(kind=kind, section=section)
    existing = Stream.objects.filter(key=key).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        stream, created = Stream.objects.get_or_create(key=key, defaults={"kind": kind, "section": section})
        if created:
            audit_append(event=AuditEvent.STREAM_CREATED, actor=actor, section=section, data={"stream": key})
    return stream


def _lock_stream(pk: int) -> Stream:
    return Stream.objects.select_for_update(of=("self",)).select_related("section").get(pk=pk)


def _chain(previous: str, event: StreamEvent) -> str:
    body = canonical_json(
        {"seq": event.seq, "kind": event.kind, "at": event.at.isoformat(), "payload": event.payload, "sealed": event.sealed}
    )
    return hashlib.sha256(previous.encode() + b"|" + body).hexdigest()


def stream_publish(
    *,
    stream: Stream,
    kind: str,
    payload: dict,
    sealed: dict[str, dict] | None = None,
    reveal: Collection[str] = (),
    actor=None,
) -> StreamEvent:
    """Append the next numbered event and broadcast it once the transaction commits.

    payload is what every viewer sees and names bidders by code only; sealed maps a
    bidder code to what identifies it, shown by the policy only to whom may know it;
    reveal lists the codes this event makes public (the read-out of their bids).
    """
    event = {"kind": kind, "payload": payload, "sealed": sealed, "reveal": reveal}
    return stream_publish_many(stream=stream, events=[event], actor=actor)[0]


def _checked(kind, payload, sealed, reveal) -> None:
    if not KIND_RE.match(kind):
        raise DomainError("STREAM-EVENT-KIND", f"bad event kind {kind!r}")
    if not isinstance(payload, dict) or not isinstance(sealed, dict):
        raise DomainError("STREAM-EVENT-SHAPE", "payload and sealed must be objects")
    bad = [c for c in [*sealed, *reveal] if not isinstance(c, str) or not CODE_RE.match(c)]
    if bad:
        raise DomainError("STREAM-EVENT-CODE", f"not bidder codes: {bad!r}")
    try:
        size = len(json.dumps([payload, sealed], ensure_ascii=False).encode())
    except (TypeError, ValueError) as exc:
        raise DomainError("STREAM-EVENT-SHAPE", f"not JSON: {exc}") from exc
    if size > MAX_EVENT_BYTES:
        raise DomainError("STREAM-EVENT-SIZE", f"an event holds at most {MAX_EVENT_BYTES} bytes, not {size}")


def stream_publish_many(*, stream: Stream, events: list[dict], actor=None) -> list[StreamEvent]:
    """Append events ({kind, payload, sealed?, reveal?}) in order under one row lock and one insert; one broadcast.

    Each is the event stream_publish would make, numbered and chained one after the other; viewers get
    them in one frame (what happens in one act arrives together).
    """
    specs = [(e["kind"], e["payload"], e.get("sealed") or {}, tuple(e.get("reveal") or ())) for e in events]
    for spec in specs:
        _checked(*spec)
    if not specs:
        return []
    with transaction.atomic():
        locked = _lock_stream(stream.pk)
        if locked.closed_at is not None:
            raise TransitionError("STREAM-CLOSED", f"stream {locked.key} is closed")
        before = list(locked.revealed_codes)
        revealed, made, at = before, [], timezone.now()
        for kind, payload, sealed, reveal in specs:
            revealed = sorted(set(revealed) | set(reveal))
            event = StreamEvent(
                stream=locked,
                seq=locked.last_seq + 1,
                kind=kind,
                at=at,
                actor=actor if getattr(actor, "pk", None) else None,
                payload=payload,
                sealed=sealed,
                public_codes=policy.stream_codes_public(locked.section, codes=sealed.keys(), revealed=revealed),
            )
            event.digest = _chain(locked.head_digest, event)
            locked.last_seq, locked.head_digest = event.seq, event.digest
            made.append(event)
        StreamEvent.objects.bulk_create(made)
        fields = ["last_seq", "head_digest"]
        if revealed != before:
            locked.revealed_codes = revealed
            fields.append("revealed_codes")
        locked.save(update_fields=fields)
        messages = [event.as_message() for event in made]
        transaction.on_commit(lambda: stream_broadcast(stream=locked, events=messages), robust=True)
    stream.last_seq, stream.revealed_codes, stream.head_digest = locked.last_seq, locked.revealed_codes, locked.head_digest
    return made


_sender: tuple[int, asyncio.AbstractEventLoop] | None = None
_sender_lock = threading.Lock()


def _sender_loop() -> asyncio.AbstractEventLoop:
    """One event loop thread per process for sends from plain threads (tasks, commands, WSGI).

    async_to_sync there would make a loop, and with the Redis layer a connection, per event.
    """
    global _sender
    with _sender_lock:
        if _sender is None or _sender[0] != os.getpid():  # a forked worker starts its own
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="livestream-broadcast", daemon=True).start()
            _sender = (os.getpid(), loop)
        return _sender[1]


def _group_send(layer, group: str, message: dict) -> None:
    if isinstance(layer, InMemoryChannelLayer):
        # In-memory queues belong to the consumers' own loop: send from there.
        async_to_sync(layer.group_send)(group, message)
        return
    asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _sender_loop()).result(timeout=10)


def stream_broadcast(*, stream: Stream, events: list[dict]) -> None:
    """Hand committed events to the channel layer; a lost message is recovered from the database by the viewers' processes."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        _group_send(layer, stream.group_name, {"type": GROUP_MESSAGE, "stream": stream.key, "events": events})
    except Exception:
        last = events[-1]["seq"]
        logger.exception("broadcast of %s up to #%s failed; viewers catch up at the next heartbeat", stream.key, last)


def stream_close(*, stream: Stream, actor=None) -> Stream:
    """Refuse further events and put the stream's final hash into the audit chain."""
    with transaction.atomic():
        current = Stream.objects.get(pk=stream.pk)
        if current.closed_at is not None:
            return current
        event = stream_publish(stream=current, kind="stream.closed", payload={}, actor=actor)
        locked = _lock_stream(stream.pk)
        locked.closed_at = timezone.now()
        locked.save(update_fields=["closed_at"])
    # Outside the block above: the row lock is gone unless the caller holds a transaction (see the lock order).
    audit_append(
        event=AuditEvent.STREAM_CLOSED,
        actor=actor,
        section=locked.section,
        data={"stream": locked.key, "last_seq": event.seq, "head": locked.head_digest},
    )
    return locked


def stream_presence_beat(*, stream_id: int, process: str, viewers: int, stale_after: float) -> tuple[int, int]:
    """Record this process's viewer count; answer the stream's total over live processes and its last seq."""
    now = timezone.now()
    StreamPresence.objects.update_or_create(stream_id=stream_id, process=process, defaults={"viewers": viewers, "seen_at": now})
    fresh = StreamPresence.objects.filter(stream_id=stream_id, seen_at__gte=now - timedelta(seconds=stale_after))
    total = fresh.aggregate(n=Sum("viewers"))["n"] or 0
    last_seq = Stream.objects.filter(pk=stream_id).values_list("last_seq", flat=True).first() or 0
    return total, last_seq


def stream_presence_leave(*, stream_id: int, process: str) -> None:
    StreamPresence.objects.filter(stream_id=stream_id, process=process).delete()
