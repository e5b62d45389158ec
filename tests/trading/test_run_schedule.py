"""The embedded default (`make run`) has no beat and no worker: the ASGI server runs the beat schedule itself."""

import asyncio
import logging
import time

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from tests.factories import SectionFactory
from trading.audit.models import Checkpoint
from trading.models import Section, SectionState
from trading.schedule import send_later
from trading.services.sections import section_publish
from trading.tasks import lifecycle_tick

pytestmark = pytest.mark.django_db(transaction=True)  # the jobs run on threads of their own, as in the server


def past_its_deadline(staff) -> Section:
    section = section_publish(actor=staff, section=SectionFactory())
    section.bid_deadline = section.opening_at = timezone.now()
    section.save(update_fields=["bid_deadline", "opening_at"])
    return section


def state_of(section) -> str:
    return Section.objects.get(pk=section.pk).state


def test_every_entry_runs_at_the_start_a_section_past_its_deadline_closes(staff, caplog):
    section = past_its_deadline(staff)
    with caplog.at_level(logging.ERROR):
        call_command("run_schedule", seconds=0.5)
    section.refresh_from_db()
    assert section.state == SectionState.BIDDING_CLOSED and section.sealed_root  # lifecycle-tick
    assert Checkpoint.objects.exists()  # audit-checkpoint
    assert not [r for r in caplog.records if "scheduled task" in r.getMessage()]  # every entry ran without error


def test_the_asgi_server_runs_the_schedule_and_waits_out_countdowns_on_its_loop(staff, settings):
    from config.asgi import application

    settings.EMBEDDED_SCHEDULE = True
    first = past_its_deadline(staff)

    async def until(check, seconds=10) -> bool:
        deadline = time.monotonic() + seconds
        while not await sync_to_async(check)():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def scenario():
        inbox, said = asyncio.Queue(), []
        await inbox.put({"type": "lifespan.startup"})

        async def send(message):
            said.append(message["type"])

        server = asyncio.create_task(application({"type": "lifespan"}, inbox.get, send))
        closed_at_start = await until(lambda: state_of(first) == SectionState.BIDDING_CLOSED)
        # The next lifecycle tick is a minute away: a countdown of 0.2 s that closes this one ran on the loop.
        second = await sync_to_async(past_its_deadline)(staff)
        await sync_to_async(send_later)(lifecycle_tick, (), countdown=0.2)
        closed_by_countdown = await until(lambda: state_of(second) == SectionState.BIDDING_CLOSED, seconds=5)
        await inbox.put({"type": "lifespan.shutdown"})
        await server
        await sync_to_async(connections.close_all)()  # the checks' thread: its connection would outlive the test
        return closed_at_start, closed_by_countdown, said

    closed_at_start, closed_by_countdown, said = asyncio.run(scenario())
    assert closed_at_start and closed_by_countdown
    assert said == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
