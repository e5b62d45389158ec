"""Reads of streams, already passed through the visibility policy where a viewer is involved."""

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser

from livestream.models import Stream, StreamEvent
from trading import policy


@dataclass(frozen=True)
class StreamMeta:
    pk: int
    key: str
    kind: str
    group: str
    # Only a yes is kept between joins: a stream open to everyone never closes to them (publishing is one-way).
    anyone_may_watch: bool


@dataclass(frozen=True)
class Watcher:
    meta: StreamMeta | None
    allowed: bool
    own_codes: frozenset[str]


def _meta(stream: Stream) -> StreamMeta:
    return StreamMeta(
        pk=stream.pk,
        key=stream.key,
        kind=stream.kind,
        group=stream.group_name,
        anyone_may_watch=policy.can_watch_stream(AnonymousUser(), stream),
    )


def stream_watcher(*, key: str, user) -> Watcher:
    """The stream behind a key, whether this viewer may watch it and which bidder codes are its own."""
    stream = Stream.objects.select_related("section__project").filter(key=key).first()
    if stream is None:
        return Watcher(meta=None, allowed=False, own_codes=frozenset())
    allowed = policy.can_watch_stream(user, stream)
    own = policy.stream_viewer_codes(user, stream.section) if allowed else frozenset()
    return Watcher(meta=_meta(stream), allowed=allowed, own_codes=own)


def stream_tail(*, stream_id: int, limit: int) -> tuple[int, list[dict]]:
    """The stream's last seq and its last `limit` events, oldest first."""
    last_seq = Stream.objects.filter(pk=stream_id).values_list("last_seq", flat=True).first() or 0
    rows = StreamEvent.objects.filter(stream_id=stream_id, seq__gt=max(last_seq - limit, 0), seq__lte=last_seq)
    return last_seq, [event.as_message() for event in rows.order_by("seq")]


def stream_events_after(*, stream_id: int, after: int, until: int | None = None, limit: int = 500) -> list[dict]:
    rows = StreamEvent.objects.filter(stream_id=stream_id, seq__gt=after)
    if until is not None:
        rows = rows.filter(seq__lte=until)
    return [event.as_message() for event in rows.order_by("seq")[:limit]]


def stream_events_visible(*, stream: Stream, user, after: int = 0, limit: int = 500) -> list[dict]:
    """A viewer's rendering of a stream's events (for pages and exports); nothing when it may not watch."""
    if not policy.can_watch_stream(user, stream):
        return []
    own = policy.stream_viewer_codes(user, stream.section)
    return [
        policy.stream_event_view(event, own_codes=own)
        for event in stream_events_after(stream_id=stream.pk, after=after, limit=limit)
    ]
