"""Crash-killing the Celery worker, and separately Redis, in the middle of decryption: the opening still finishes,
every bid read out exactly once, no gap in the stream (real PostgreSQL, a real worker with beat, a Redis of its own).

The Redis here is this test's own server (without persistence, the harsher case: a restart forgets every
queued and unacknowledged task), so killing it disturbs nobody else. Decryption is slowed down per chunk
(OPENING_CHUNK_PAUSE) so that "the middle" lasts long enough to be hit.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from bidding.models import BidOpening, OpenedPart, OpeningCeremony
from bidding.opening import opening_decrypt_begin, opening_share_present, opening_start
from livestream.models import Stream, StreamEvent
from tests.bidding.openings import PASSPHRASE, SealedBidder, custodians, past_deadline, published_section
from tests.livestream.conftest import ROOT, free_port
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True), pytest.mark.slow]
BIDS = 8


class Redis:
    def __init__(self, tmp_path):
        self.port, self.dir, self.process = free_port(), tmp_path, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen([*command, "--dir", str(self.dir)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout.strip() != b"PONG":
            assert time.monotonic() < deadline, "redis did not start"
            time.sleep(0.1)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


class Worker:
    """`celery -A config worker -B`: two pool processes and the beat that runs the opening watchdog every second."""

    def __init__(self, tmp_path, redis: Redis, media_root):
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
            "REDIS_URL": redis.url,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "MEDIA_ROOT": str(media_root),
            "OPENING_CHUNK_PAUSE": "0.05",
            "OPENING_WATCHDOG_SECONDS": "1",
            "OPENING_TASK_STALL_SECONDS": "3",
            "OPENING_READOUT_SECONDS": "0.2",
            "OPENING_BATCH": "1",  # one bid per task, so that "the middle" falls between commits
        }
        self.schedule, self.process = tmp_path / "beat-schedule", None

    def start(self):
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-B", "-s", str(self.schedule)]
        options = ["--concurrency", "2", "-l", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        self.process = subprocess.Popen([*command, *options], cwd=ROOT, env=self.env, start_new_session=True)

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)  # the worker, its pool and its beat: nothing gets to clean up
        self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def opened(section) -> int:
    return BidOpening.objects.filter(section=section, status="opened").count()


@pytest.fixture
def broker(tmp_path, monkeypatch):
    """This test's Redis; this process's opening tasks go to it for real (through a Celery app of its own)."""
    from celery import Celery

    from bidding import tasks

    redis = Redis(tmp_path)
    redis.start()
    sender = Celery("crash-test", broker=redis.url, set_as_current=False)  # shared tasks stay on ours

    def send(name):
        return lambda args=(), countdown=None, **_options: sender.send_task(name, args=args, countdown=countdown)

    monkeypatch.setattr(tasks.bid_open_task, "delay", lambda *args: send(tasks.bid_open_task.name)(args))
    monkeypatch.setattr(tasks.opening_advance_task, "apply_async", send(tasks.opening_advance_task.name))
    yield redis
    sender.close()
    if redis.process.poll() is None:
        redis.kill()


def test_killing_the_worker_and_then_redis_mid_decryption_still_reads_every_bid_out_once(staff, tmp_path, broker, settings):
    settings.OPENING_BATCH = 1  # the tasks this process sends at the quorum, too
    section = published_section(staff)
    bidders = []
    for n in range(BIDS):
        bidder = SealedBidder(section)
        files = {"technical": ("技术标.bin", "application/octet-stream", os.urandom(640 * 1024))}
        bidder.submit(bidder.seal(price=100_000_000 + n, files=files))
        bidders.append(bidder)
    past_deadline(section)
    section.refresh_from_db()
    worker = Worker(tmp_path, broker, settings.MEDIA_ROOT)
    worker.start()
    try:
        opening_start(actor=staff, section=section)
        opening_decrypt_begin(actor=staff, section=section)
        for keeper in custodians(section)[:2]:
            opening_share_present(actor=keeper, section=section, passphrase=PASSPHRASE)

        wait_for(lambda: opened(section) >= 1, 60, "the first bid to open")
        worker.kill()
        killed_at = opened(section)
        assert killed_at < BIDS, "decryption was over before the worker was killed"
        worker.start()

        wait_for(lambda: opened(section) >= killed_at + 1, 60, "decryption to go on after the worker's restart")
        broker.kill()
        lost_at = opened(section)
        assert lost_at < BIDS, "decryption was over before Redis was killed"
        time.sleep(1)
        broker.start()  # empty: the queue and every unacknowledged task are gone

        wait_for(lambda: OpeningCeremony.objects.get(section=section).state == "closed", 120, "the opening to close")
        wait_for(lambda: Stream.objects.get(section=section, kind="opening").closed_at is not None, 30, "the stream to close")
    finally:
        worker.stop()

    rows = list(BidOpening.objects.filter(section=section))
    assert len(rows) == BIDS and all(r.status == "opened" for r in rows)
    assert sorted(r.readout_order for r in rows) == list(range(1, BIDS + 1))
    assert OpenedPart.objects.filter(opening__section=section).count() == BIDS
    events = list(StreamEvent.objects.filter(stream__section=section, stream__kind="opening").order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # no gap, no twin
    readouts = [e.payload["code"] for e in events if e.kind == "opening.readout"]
    assert sorted(readouts) == sorted(b.code for b in bidders)  # each read out exactly once
    progress = [e.payload["code"] for e in events if e.kind == "opening.progress"]
    assert sorted(progress) == sorted(b.code for b in bidders)  # each opened exactly once
    assert [e.kind for e in events].count("opening.closed") == 1 and events[-1].kind == "stream.closed"
    assert AuditEntry.objects.filter(section=section, event=AuditEvent.BID_OPENED).count() == BIDS
    assert AuditEntry.objects.filter(section=section, event=AuditEvent.OPENING_RECORD).count() == 1
