"""The embedded default (`make run`: eager tasks, no worker, no beat) with the read-out paced as deployed."""

import itertools
import threading
import time

import pytest
from django.test import override_settings

from bidding.models import BidOpening, OpeningCeremony
from bidding.opening import opening_decrypt_begin, opening_share_present, opening_start
from tests.bidding.openings import PASSPHRASE, custodians, section_with_bids

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PACE = 0.3


@override_settings(CELERY_TASK_ALWAYS_EAGER=True, OPENING_READOUT_SECONDS=PACE)
def test_a_paced_read_out_reads_every_line_and_closes_without_a_worker(staff):
    """Eager Celery ignores a countdown: the read-out's "not yet" rescheduled itself until the stack overflowed,
    and the opening stayed in read-out for good. A timer of the process now waits out the pace."""
    section, _bidders = section_with_bids(staff, [123_456_789, 98_765_400, 110_000_000])
    opening_start(actor=staff, section=section)
    opening_decrypt_begin(actor=staff, section=section)
    for custodian in custodians(section)[:2]:
        opening_share_present(actor=custodian, section=section, passphrase=PASSPHRASE)
    deadline = time.monotonic() + 20
    while OpeningCeremony.objects.get(section=section).state != "closed" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert OpeningCeremony.objects.get(section=section).state == "closed"
    read = list(BidOpening.objects.filter(section=section).order_by("readout_order").values_list("readout_order", "read_out_at"))
    assert [order for order, _at in read] == [1, 2, 3]
    gaps = [(b - a).total_seconds() for (_o, a), (_p, b) in itertools.pairwise(read)]
    assert all(gap >= PACE * 0.9 for gap in gaps), gaps  # the pace is kept between lines
    # A timer still due (the read-out's last "anything left?") would query while the teardown truncates the
    # tables: PostgreSQL found that deadlock once in CI. Let every timer of the process finish first.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (
        timers := [t for t in threading.enumerate() if isinstance(t, threading.Timer) and t.is_alive()]
    ):
        timers[0].join(timeout=1)
