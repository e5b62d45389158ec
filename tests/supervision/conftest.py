from datetime import timedelta

import pytest
from django.utils import timezone

from bidding.services import registration_create
from tests.factories import SectionFactory
from trading.models import Role, SectionState, SectionTransition
from trading.services.sections import section_publish


def days(n, hours=0):
    return timezone.now() + timedelta(days=n, hours=hours)


@pytest.fixture
def section(staff):
    return section_publish(actor=staff, section=SectionFactory())


@pytest.fixture
def register(make_user):
    def make(section):
        bidder = make_user(Role.BIDDER)
        return registration_create(actor=bidder, section=section, contact_name="李四", contact_phone="13900000000")

    return make


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
