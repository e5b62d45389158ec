"""Objections and complaints: OBJ-DOC-10D, COMPLAINT-10D (objection first, 10 days), COMPLAINT-ACCEPT-3WD, suspension."""

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.supervision.conftest import days
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry, SealedAuditEntry
from trading.errors import NotAllowed, RuleViolation
from trading.models import CalendarDay, Role, SectionState
from trading.supervision.models import Alert, Complaint, Objection
from trading.supervision.services.complaints import (
    complaint_accept,
    complaint_decide,
    complaint_file,
    complaint_reject,
    objection_answer,
    objection_file,
)
from trading.supervision.services.monitor import scan_run
from trading.workdays import add_working_days

pytestmark = pytest.mark.django_db


@pytest.fixture
def bidder(make_user):
    return make_user(Role.BIDDER)


@pytest.fixture
def tenderer(make_user, section):
    return make_user(Role.TENDERER, organization=section.project.tenderer)


def test_OBJ_DOC_10D_an_objection_to_the_documents_pauses_the_section_until_answered(section, bidder, tenderer):
    objection = objection_file(actor=bidder, section=section, subject="documents", body="评分标准有倾向性")
    section.refresh_from_db()
    assert section.state == SectionState.SUSPENDED and objection.paused_section
    assert objection.answer_due_at - objection.filed_at == timedelta(days=3)
    objection_answer(actor=tenderer, objection=objection, answer="已修改评分标准")
    section.refresh_from_db()
    assert section.state == SectionState.PUBLISHED
    assert AuditEntry.objects.filter(event=AuditEvent.OBJECTION_ANSWERED, section=section).count() == 1


def test_OBJ_DOC_10D_an_objection_9_days_before_the_deadline_is_refused(section, bidder):
    section.bid_deadline = days(9, 1)
    section.save(update_fields=["bid_deadline"])
    with pytest.raises(RuleViolation) as refused:
        objection_file(actor=bidder, section=section, subject="documents", body="x")
    assert refused.value.code == "OBJ-DOC-10D"
    assert not Objection.objects.exists()
    section.refresh_from_db()
    assert section.state == SectionState.PUBLISHED


def test_OBJ_DOC_10D_an_unanswered_objection_raises_an_alert_after_3_days(section, bidder):
    objection = objection_file(actor=bidder, section=section, subject="documents", body="x")
    Objection.objects.filter(pk=objection.pk).update(answer_due_at=timezone.now() - timedelta(minutes=1))
    scan_run()
    scan_run()
    assert Alert.objects.get(rule="OBJ-DOC-10D").section_id == section.pk


def test_COMPLAINT_10D_about_the_documents_needs_an_objection_first(section, bidder):
    with pytest.raises(RuleViolation) as refused:
        complaint_file(actor=bidder, section=section, subject="documents", body="x", known_on=timezone.localdate())
    assert refused.value.code == "COMPLAINT-10D" and "异议" in refused.value.message
    assert not Complaint.objects.exists()


def test_COMPLAINT_10D_not_while_the_objection_awaits_its_answer(section, bidder):
    objection = objection_file(actor=bidder, section=section, subject="documents", body="x")
    with pytest.raises(RuleViolation) as refused:
        complaint_file(
            actor=bidder, section=section, subject="documents", body="x", known_on=timezone.localdate(), objection=objection
        )
    assert refused.value.code == "COMPLAINT-10D"


def test_COMPLAINT_10D_after_the_answer_with_evidence(section, bidder, tenderer):
    objection = objection_file(actor=bidder, section=section, subject="documents", body="x")
    objection_answer(actor=tenderer, objection=objection, answer="不予采纳")
    evidence = SimpleUploadedFile("证据.pdf", b"%PDF-1.4 evidence")
    complaint = complaint_file(
        actor=bidder,
        section=section,
        subject="documents",
        body="答复不成立",
        known_on=timezone.localdate() - timedelta(days=30),  # the objection's answer is what counts
        objection=objection,
        evidence=[evidence],
    )
    assert complaint.status == Complaint.Status.FILED and complaint.known_on == timezone.localdate()
    (stored,) = complaint.evidence.all()
    assert stored.size == len(b"%PDF-1.4 evidence") and len(stored.sha256) == 64
    entry = SealedAuditEntry.objects.get(event=AuditEvent.COMPLAINT_FILED)
    assert entry.data["evidence"] == [stored.sha256]


def test_COMPLAINT_10D_eleven_days_after_knowing_is_too_late(section, bidder):
    with pytest.raises(RuleViolation) as refused:
        complaint_file(
            actor=bidder, section=section, subject="other", body="x", known_on=timezone.localdate() - timedelta(days=11)
        )
    assert refused.value.code == "COMPLAINT-10D"
    complaint_file(actor=bidder, section=section, subject="other", body="x", known_on=timezone.localdate() - timedelta(days=10))


def test_COMPLAINT_ACCEPT_3WD_deadlines_in_working_days(section, bidder, supervisor):
    friday = date(2026, 10, 2)
    CalendarDay.objects.create(date=date(2026, 10, 5), kind=CalendarDay.Kind.HOLIDAY, name="国庆节")
    assert add_working_days(friday, 3) == date(2026, 10, 8)  # Saturday, Sunday and the holiday skipped
    complaint = complaint_file(actor=bidder, section=section, subject="other", body="x", known_on=timezone.localdate())
    assert complaint.accept_due_on == add_working_days(timezone.localdate(), 3)
    accepted = complaint_accept(actor=supervisor, complaint=complaint)
    assert accepted.decide_due_on == add_working_days(timezone.localdate(), 30)


def test_COMPLAINT_ACCEPT_3WD_the_scan_alerts_a_complaint_not_accepted_in_time(section, bidder):
    complaint = complaint_file(actor=bidder, section=section, subject="other", body="x", known_on=timezone.localdate())
    Complaint.objects.filter(pk=complaint.pk).update(accept_due_on=timezone.localdate() - timedelta(days=1))
    scan_run()
    assert Alert.objects.get(rule="COMPLAINT-ACCEPT-3WD").data == {"complaint": complaint.pk}


def test_COMPLAINT_ACCEPT_3WD_the_scan_alerts_a_decision_past_30_working_days(section, bidder, supervisor):
    complaint = complaint_file(actor=bidder, section=section, subject="other", body="x", known_on=timezone.localdate())
    complaint_accept(actor=supervisor, complaint=complaint)
    scan_run()
    assert not Alert.objects.exists()
    Complaint.objects.filter(pk=complaint.pk).update(decide_due_on=timezone.localdate() - timedelta(days=1))
    scan_run()
    assert "30" in Alert.objects.get(rule="COMPLAINT-ACCEPT-3WD").message


def test_a_complaint_accepted_with_suspension_pauses_the_section_until_the_decision(section, bidder, supervisor):
    complaint = complaint_file(actor=bidder, section=section, subject="other", body="x", known_on=timezone.localdate())
    complaint_accept(actor=supervisor, complaint=complaint, suspend=True)
    section.refresh_from_db()
    assert section.state == SectionState.SUSPENDED
    decided = complaint_decide(actor=supervisor, complaint=complaint, decision="投诉不成立，驳回。")
    section.refresh_from_db()
    assert section.state == SectionState.PUBLISHED and decided.status == Complaint.Status.DECIDED
    assert AuditEntry.objects.filter(event=AuditEvent.COMPLAINT_DECIDED, section=section).exists()


def test_only_supervisors_accept_and_a_rejection_needs_a_reason(section, bidder, staff, supervisor):
    complaint = complaint_file(actor=bidder, section=section, subject="other", body="x", known_on=timezone.localdate())
    with pytest.raises(NotAllowed):
        complaint_accept(actor=staff, complaint=complaint)
    with pytest.raises(Exception) as refused:
        complaint_reject(actor=supervisor, complaint=complaint, reason=" ")
    assert refused.value.code == "REASON-REQUIRED"
    complaint_reject(actor=supervisor, complaint=complaint, reason="不属于受理范围")
    complaint.refresh_from_db()
    assert complaint.status == Complaint.Status.REJECTED


def test_the_decision_is_published_without_the_complainant_before_opening(client, section, bidder, supervisor):
    complaint = complaint_file(actor=bidder, section=section, subject="other", body="x", known_on=timezone.localdate())
    complaint_accept(actor=supervisor, complaint=complaint)
    complaint_decide(actor=supervisor, complaint=complaint, decision="责令招标人改正。")
    page = client.get("/results/").content.decode()
    assert "责令招标人改正。" in page and section.public_id in page
    assert bidder.organization.name not in page
