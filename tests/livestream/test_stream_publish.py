"""stream_publish: numbered under the row lock, broadcast on commit, sealed identities public only when read out."""

import threading

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.utils import timezone

from livestream.models import Stream, StreamEvent, StreamKind
from livestream.services import stream_close, stream_ensure, stream_publish
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry
from trading.errors import DomainError, TransitionError

pytestmark = pytest.mark.django_db(transaction=True)


def test_given_a_section_when_ensured_twice_then_one_stream_and_one_audit_entry(published_section):
    first = stream_ensure(kind=StreamKind.OPENING, section=published_section)
    second = stream_ensure(kind=StreamKind.OPENING, section=published_section)

    assert first.pk == second.pk
    assert first.key == f"opening.{published_section.public_id}"
    assert AuditEntry.objects.filter(event=AuditEvent.STREAM_CREATED).count() == 1


def test_a_section_stream_needs_a_section_and_the_feed_takes_none(published_section):
    with pytest.raises(DomainError):
        stream_ensure(kind=StreamKind.OPENING)
    with pytest.raises(DomainError):
        stream_ensure(kind=StreamKind.SUPERVISION, section=published_section)
    assert not Stream.objects.exists()


def test_when_published_then_numbered_from_one_without_gap(opening):
    events = [stream_publish(stream=opening, kind="note", payload={"n": n}) for n in range(3)]

    assert [e.seq for e in events] == [1, 2, 3]
    opening.refresh_from_db()
    assert opening.last_seq == 3
    assert list(StreamEvent.objects.filter(stream=opening).values_list("seq", "payload")) == [
        (1, {"n": 0}),
        (2, {"n": 1}),
        (3, {"n": 2}),
    ]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"kind": "Bad Kind", "payload": {}}, "STREAM-EVENT-KIND"),
        ({"kind": "note", "payload": []}, "STREAM-EVENT-SHAPE"),
        ({"kind": "note", "payload": {"x": {1, 2}}}, "STREAM-EVENT-SHAPE"),
        ({"kind": "note", "payload": {}, "sealed": {"not a code!": {}}}, "STREAM-EVENT-CODE"),
        ({"kind": "note", "payload": {"x": "y" * 70_000}}, "STREAM-EVENT-SIZE"),
    ],
)
def test_when_the_event_is_malformed_then_refused_and_nothing_written(opening, kwargs, code):
    with pytest.raises(DomainError) as refused:
        stream_publish(stream=opening, **kwargs)

    assert refused.value.code == code
    assert not StreamEvent.objects.exists()
    opening.refresh_from_db()
    assert opening.last_seq == 0


def test_sealed_names_are_public_only_from_the_read_out_on(opening):
    sealed = {"B-7K3Q": {"name": "阿尔法建设有限公司"}}
    checked_in = stream_publish(stream=opening, kind="bidder.checked_in", payload={"bidder": "B-7K3Q"}, sealed=sealed)
    read_out = stream_publish(
        stream=opening, kind="bid.read", payload={"bidder": "B-7K3Q", "price_fen": 1}, sealed=sealed, reveal=["B-7K3Q"]
    )
    later = stream_publish(stream=opening, kind="objection", payload={"bidder": "B-7K3Q"}, sealed=sealed)

    assert checked_in.public_codes == []
    assert read_out.public_codes == ["B-7K3Q"]
    assert later.public_codes == ["B-7K3Q"]
    opening.refresh_from_db()
    assert opening.revealed_codes == ["B-7K3Q"]


def test_once_the_bids_are_opened_every_sealed_entry_is_public(opening, published_section):
    published_section.opened_at = timezone.now()
    published_section.save(update_fields=["opened_at"])

    event = stream_publish(stream=opening, kind="note", payload={}, sealed={"B-1": {"name": "甲"}, "B-2": {"name": "乙"}})

    assert event.public_codes == ["B-1", "B-2"]


def test_events_chain_their_hashes_and_the_close_audits_the_head(opening):
    first = stream_publish(stream=opening, kind="note", payload={"n": 1})
    second = stream_publish(stream=opening, kind="note", payload={"n": 2})

    closed = stream_close(stream=opening)

    last = StreamEvent.objects.get(stream=opening, seq=3)
    assert first.digest != second.digest != last.digest
    assert last.kind == "stream.closed"
    assert closed.head_digest == last.digest
    entry = AuditEntry.objects.get(event=AuditEvent.STREAM_CLOSED)
    assert entry.data == {"stream": opening.key, "last_seq": 3, "head": last.digest}
    with pytest.raises(TransitionError):
        stream_publish(stream=opening, kind="note", payload={})
    assert StreamEvent.objects.filter(stream=opening).count() == 3


def test_events_are_append_only(opening):
    event = stream_publish(stream=opening, kind="note", payload={})
    with pytest.raises(PermissionError):
        StreamEvent.objects.filter(pk=event.pk).update(kind="forged")
    with pytest.raises(PermissionError):
        event.save()


def test_the_broadcast_leaves_on_commit_and_never_on_rollback(opening):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(opening.group_name, channel)

    with pytest.raises(RuntimeError), transaction.atomic():
        stream_publish(stream=opening, kind="note", payload={"n": "rolled back"})
        raise RuntimeError
    with transaction.atomic():
        stream_publish(stream=opening, kind="note", payload={"n": "a"})
        stream_publish(stream=opening, kind="note", payload={"n": "b"})

    received = [async_to_sync(layer.receive)(channel) for _ in range(2)]
    assert [m["events"][0]["payload"] for m in received] == [{"n": "a"}, {"n": "b"}]
    assert [m["events"][0]["seq"] for m in received] == [1, 2]
    assert {m["type"] for m in received} == {"stream.events"}


@pytest.mark.postgres
def test_concurrent_publishers_get_distinct_contiguous_numbers(opening):
    """On PostgreSQL the row lock serializes the counter: 8 threads x 10 events are 1..80, once each."""
    errors = []

    def publish(worker):
        try:
            for n in range(10):
                stream_publish(stream=Stream.objects.get(pk=opening.pk), kind="note", payload={"w": worker, "n": n})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(StreamEvent.objects.filter(stream=opening).values_list("seq", flat=True)) == list(range(1, 81))
    opening.refresh_from_db()
    assert opening.last_seq == 80
