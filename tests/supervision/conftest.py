from datetime import timedelta

import pytest
from django.utils import timezone

from trading.models import SectionState, SectionTransition


def days(n, hours=0):
    """n days from now; with `hours`, that many hours after noon (Asia/Shanghai) of that day, so that the offset
    never crosses midnight: the rules count calendar dates (DOC-MIN-20D), and 19 days plus an hour taken at
    23:30 would be 20 of them."""
    if not hours:
        return timezone.now() + timedelta(days=n)
    noon = (timezone.localtime() + timedelta(days=n)).replace(hour=12, minute=0, second=0, microsecond=0)
    return noon + timedelta(hours=hours)


def move(section, state, *, days_ago=0, opened=True, from_state="awarded"):
    """Put a section in a state as if it had got there `days_ago` (the transition history says when)."""
    section.state = state
    if opened:
        section.opened_at = section.opened_at or timezone.now()
    section.save(update_fields=["state", "opened_at"])
    transition = SectionTransition.objects.create(section=section, from_state=from_state, to_state=state)
    SectionTransition.objects.filter(pk=transition.pk).update(at=timezone.now() - timedelta(days=days_ago))


def feed_events(kind=None):
    from livestream.models import StreamEvent

    events = StreamEvent.objects.filter(stream__key="supervision").order_by("seq")
    return [e for e in events if kind is None or e.kind == kind]


@pytest.fixture
def awarded(section):
    move(section, SectionState.AWARDED, from_state=SectionState.PUBLICIZING)
    return section
