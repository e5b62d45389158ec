"""The demo trading centre carries an expert pool: expert1-15 can be drawn and sign in to their workspace."""

import pytest
from django.core.management import call_command

from bidding.evaluation.models import Expert, Specialty

pytestmark = pytest.mark.django_db


def test_load_demo_fills_the_expert_pool():
    call_command("load_demo", quiet=True)
    assert Specialty.objects.count() == 5
    assert Expert.objects.count() == 30
    linked = Expert.objects.filter(user__username__startswith="expert")
    assert linked.count() == 15 and all(e.specialties.count() == 2 for e in linked)
