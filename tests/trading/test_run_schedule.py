"""`make run` has no beat and no worker: run_schedule runs the beat schedule's tasks in its own process."""

import logging

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.factories import SectionFactory
from trading.audit.models import Checkpoint
from trading.models import SectionState
from trading.services.sections import section_publish

pytestmark = pytest.mark.django_db(transaction=True)  # it closes its connections between tasks, as a process does


def test_every_entry_runs_at_the_start_a_section_past_its_deadline_closes(staff, caplog):
    section = section_publish(actor=staff, section=SectionFactory())
    section.bid_deadline = section.opening_at = timezone.now()
    section.save(update_fields=["bid_deadline", "opening_at"])
    with caplog.at_level(logging.ERROR):
        call_command("run_schedule", seconds=0.5)
    section.refresh_from_db()
    assert section.state == SectionState.BIDDING_CLOSED and section.sealed_root  # lifecycle-tick
    assert Checkpoint.objects.exists()  # audit-checkpoint
    assert not [r for r in caplog.records if "scheduled task" in r.getMessage()]  # every entry ran without error
