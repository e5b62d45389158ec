"""The API (alerts for supervisors with codes sealed until opening, rules, statistics), the beat task, the bidders' forms."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.conftest import signed_in
from tests.escrow.conftest import pay
from tests.supervision.conftest import move
from trading.models import Role, SectionState
from trading.supervision.models import Alert, Complaint, Objection
from trading.supervision.tasks import supervision_scan

pytestmark = pytest.mark.django_db


def test_the_scan_is_on_the_beat_schedule_and_runs_as_a_task(section):
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "trading.supervision.tasks.supervision_scan" in names
    move(section, SectionState.AWARDED, days_ago=31)
    counts = supervision_scan.delay().get()
    assert counts["CONTRACT-30D"] == 1 and counts["REPORT-15D"] == 1
    assert set(Alert.objects.values_list("rule", flat=True)) == {"CONTRACT-30D", "REPORT-15D"}


def test_DEP_SAME_PAYER_the_alerts_api_holds_the_alert_until_opening(api, supervisor, section, register):
    first, second = register(section).deposit, register(section).deposit
    pay(first, payer_account="6222000099990000")
    pay(second, payer_account="6222000099990000")
    signed_in(api, supervisor)
    assert api.get("/api/v1/supervision/alerts/").json() == []  # held until the opening (SECRET-BIDDERS)
    section.opened_at = timezone.now()
    section.save(update_fields=["opened_at"])
    (alert,) = api.get("/api/v1/supervision/alerts/").json()
    assert sorted(alert["bidder_codes"]) == sorted([first.registration.bidder_code, second.registration.bidder_code])


@pytest.mark.parametrize("role", [Role.STAFF, Role.BIDDER, Role.PUBLIC])
def test_the_alerts_api_is_for_supervisors(api, make_user, role):
    signed_in(api, make_user(role))
    assert api.get("/api/v1/supervision/alerts/").status_code == 403


def test_rules_and_statistics_are_public(api):
    rules = api.get("/api/v1/supervision/rules/").json()
    assert {"DOC-MIN-20D", "COMPLAINT-10D"} <= {r["code"] for r in rules}
    assert api.get("/api/v1/statistics/?period=year").status_code == 200
    assert api.get("/statistics/").status_code == 200
    csv = api.get("/statistics/export.csv")
    assert csv["Content-Type"].startswith("text/csv") and "交易类型" in csv.content.decode("utf-8-sig")


def test_a_bidder_objects_and_complains_through_the_page_with_evidence(client, make_user, section):
    bidder = make_user(Role.BIDDER)
    signed_in(client, bidder)
    url = f"/sections/{section.public_id}/objections/"
    assert client.get(url).status_code == 200
    client.post(url, {"form": "objection", "subject": "other", "body": "开标时间变更未通知"})
    assert Objection.objects.get().organization_id == bidder.organization_id
    evidence = SimpleUploadedFile("截图.png", b"\x89PNG evidence")
    client.post(
        url,
        {
            "form": "complaint",
            "subject": "other",
            "body": "请求核查",
            "known_on": timezone.localdate().isoformat(),
            "evidence": evidence,
        },
    )
    complaint = Complaint.objects.get()
    assert complaint.evidence.get().name == "截图.png"
    other = make_user(Role.BIDDER)
    signed_in(client, other)
    page = client.get(url).content.decode()
    assert "开标时间变更未通知" not in page  # another bidder's objection is not shown to it
