"""The demo's supervision data: the refused publication reads as a section, the refusal says why."""

import pytest
from django.core.management import call_command

from trading.models import Section
from trading.supervision.models import Alert

pytestmark = pytest.mark.django_db


def test_the_section_refused_for_DOC_MIN_20D_has_a_plausible_name_and_the_alert_says_why():
    call_command("load_demo", quiet=True)
    alert = Alert.objects.get(rule="DOC-MIN-20D")
    assert alert.section.public_id == "HZJS-2026-140-02" and alert.section.state == "draft"
    assert "草稿" not in alert.section.name and "draft" not in alert.section.name.lower()
    assert not Section.objects.filter(name__contains="草稿").exists()
