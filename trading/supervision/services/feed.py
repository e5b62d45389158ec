"""The supervisors' live feed: the platform-wide `supervision` stream (closed to all but supervisors by the policy)."""

from livestream.models import StreamKind
from livestream.services import stream_ensure, stream_publish


def feed_stream():
    return stream_ensure(kind=StreamKind.SUPERVISION)


def feed_publish(*, kind: str, payload: dict, actor=None):
    """Append to the feed in the caller's transaction: the event exists exactly when the act does."""
    return stream_publish(stream=feed_stream(), kind=kind, payload=payload, actor=actor)
