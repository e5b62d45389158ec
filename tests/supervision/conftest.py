from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import days  # noqa: F401 (the supervision tests import it from here)
from trading.models import SectionState, SectionTransition


def move(section, state, *, days_ago=0, opened=True, from_state="awarded"):
    """Put a section in a state as if it had got there `days_ago` (the transition history says when)."""
    section.state = state
    if opened:
        section.opened_at = section.opened_at or timezone.now()
    section.save(update_fields=["state", "opened_at"])
    transition = SectionTransition.objects.create(section=section, from_state=from_state, to_state=state)
    SectionTransition.objects.filter(pk=transition.pk).update(at=timezone.now() - timedelta(days=days_ago))


def opened(section):
    """Opened through the lifecycle, as the opening does: what was sealed is released in its transaction."""
    from trading.services.lifecycle import section_transition

    type(section).objects.filter(pk=section.pk).update(state=SectionState.OPENING)
    section.refresh_from_db()
    return section_transition(section=section, to_state=SectionState.OPENED, reason="opening")


def feed_events(kind=None):
    from livestream.models import StreamEvent

    events = StreamEvent.objects.filter(stream__key="supervision").order_by("seq")
    return [e for e in events if kind is None or e.kind == kind]


@pytest.fixture
def awarded(section):
    move(section, SectionState.AWARDED, from_state=SectionState.PUBLICIZING)
    return section
