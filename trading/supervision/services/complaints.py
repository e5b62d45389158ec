"""Objections (异议) to the tenderer and complaints (投诉) to the supervisors, with their deadlines.

OBJ-DOC-10D: an objection to the documents until 10 days before the deadline; the
tenderer answers within 3 days and the section pauses until then (Regs 22).
COMPLAINT-10D: a complaint within 10 days of knowing; about the documents, the opening
or the candidates only after an objection (Regs 60), counted from its answer.
COMPLAINT-ACCEPT-3WD: accepted or not within 3 working days, ruled on within 30 (Regs 61).
"""

import hashlib
from datetime import timedelta

from django.core.files.base import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import DomainError, NotAllowed, RuleViolation
from trading.models import SectionState
from trading.rules import local_date
from trading.services.lifecycle import section_transition
from trading.services.sections import section_resume, section_suspend
from trading.supervision.models import OBJECTION_FIRST, Complaint, Evidence, Objection, Subject
from trading.supervision.registry import Breach, check_provide
from trading.supervision.services.feed import feed_publish
from trading.workdays import add_working_days

OBJECTION_DAYS_BEFORE_DEADLINE = 10
OBJECTION_ANSWER_DAYS = 3
COMPLAINT_DAYS = 10
ACCEPT_WORKING_DAYS = 3
DECIDE_WORKING_DAYS = 30
PAUSABLE = {SectionState.PUBLISHED, SectionState.BIDDING_CLOSED}


def _figure(code: str, name: str, default: int, section) -> int:
    from trading.supervision.checks import figure_or

    return figure_or(code, name, default, section.transaction_type)


def objection_file(*, actor, section, subject: str, body: str, now=None) -> Objection:
    if not policy.can_object(actor, section):
        raise NotAllowed("NOT-ALLOWED", _("只有投标人（潜在投标人）可以对已发布的标段提出异议。"))
    if subject not in Subject.values or not body.strip():
        raise DomainError("OBJECTION-FORM", _("请选择异议事项并填写异议内容。"), fields={"body": _("必填")})
    now = now or timezone.now()
    if subject == Subject.DOCUMENTS:
        days = _figure("OBJ-DOC-10D", "days", OBJECTION_DAYS_BEFORE_DEADLINE, section)
        left = (local_date(section.bid_deadline) - local_date(now)).days
        if left < days:
            raise RuleViolation(
                "OBJ-DOC-10D",
                _("对招标文件的异议应在投标截止时间%(days)d日前提出，现距截止仅%(left)d日。") % {"days": days, "left": left},
                fields={"subject": f"{left} < {days}"},
            )
    answer_days = _figure("OBJ-DOC-10D", "answer_days", OBJECTION_ANSWER_DAYS, section)
    with transaction.atomic():
        objection = Objection.objects.create(
            section=section,
            organization_id=actor.organization_id,
            filed_by=actor,
            subject=subject,
            body=body,
            filed_at=now,
            answer_due_at=now + timedelta(days=answer_days),
        )
        audit_append(
            event=AuditEvent.OBJECTION_FILED, actor=actor, section=section, data={"objection": objection.pk, "subject": subject}
        )
        if subject == Subject.DOCUMENTS and section.state in PAUSABLE:
            # Regs 22: the process pauses until the tenderer answers.
            section_transition(
                section=section, to_state=SectionState.SUSPENDED, reason=_("对招标文件的异议待答复（OBJ-DOC-10D）")
            )
            objection.paused_section = True
            objection.save(update_fields=["paused_section"])
        feed_publish(kind="objection.filed", payload=_objection_payload(objection))
    return objection


def objection_answer(*, actor, objection: Objection, answer: str) -> Objection:
    if not policy.can_answer_objection(actor, objection.section):
        raise NotAllowed("NOT-ALLOWED", _("只有招标人、代理机构或交易中心可以答复异议。"))
    if not answer.strip():
        raise DomainError("OBJECTION-FORM", _("答复内容必填。"), fields={"answer": _("必填")})
    with transaction.atomic():
        locked = Objection.objects.select_for_update().select_related("section").get(pk=objection.pk)
        if locked.answered_at is not None:
            raise DomainError("OBJECTION-ANSWERED", _("该异议已答复。"))
        locked.answer, locked.answered_by, locked.answered_at = answer, actor, timezone.now()
        locked.save(update_fields=["answer", "answered_by", "answered_at"])
        audit_append(
            event=AuditEvent.OBJECTION_ANSWERED,
            actor=actor,
            section=locked.section,
            data={"objection": locked.pk, "late": locked.answered_at > locked.answer_due_at},
        )
        if locked.paused_section and locked.section.state == SectionState.SUSPENDED:
            section_resume(actor=None, section=locked.section, reason=_("异议已答复，恢复招标投标活动"))
        feed_publish(kind="objection.answered", payload=_objection_payload(locked))
    return locked


def _objection_payload(objection: Objection) -> dict:
    # No objector's name: before opening that would name a potential bidder (SECRET-BIDDERS).
    return {
        "objection": objection.pk,
        "section": objection.section.public_id,
        "subject": objection.subject,
        "answer_due_at": objection.answer_due_at.isoformat(),
        "answered": objection.answered_at is not None,
    }


def complaint_file(
    *, actor, section, subject: str, body: str, known_on, objection: Objection | None = None, evidence=(), now=None
) -> Complaint:
    """File with evidence files (uploads: name, chunks()); refused by COMPLAINT-10D before anything is written."""
    if not policy.can_complain(actor, section):
        raise NotAllowed("NOT-ALLOWED", _("只有投标人或其他利害关系人可以投诉。"))
    if subject not in Subject.values or not body.strip():
        raise DomainError("COMPLAINT-FORM", _("请选择投诉事项并填写投诉内容。"), fields={"body": _("必填")})
    now = now or timezone.now()
    today = local_date(now)
    if objection is not None:
        objection = Objection.objects.get(pk=objection.pk)  # its answer as it stands now
    if subject in OBJECTION_FIRST:
        if objection is None or objection.section_id != section.pk or objection.organization_id != actor.organization_id:
            raise RuleViolation(
                "COMPLAINT-10D",
                _("就招标文件、开标或评标结果投诉的，应当先向招标人提出异议。"),
                fields={"objection": _("须先提出异议")},
            )
        if objection.subject != subject:
            raise RuleViolation("COMPLAINT-10D", _("投诉事项与所提异议的事项不一致。"), fields={"objection": subject})
        if objection.answered_at is None and now < objection.answer_due_at:
            raise RuleViolation(
                "COMPLAINT-10D", _("异议答复期内不得投诉，请等待招标人答复。"), fields={"objection": _("答复期未满")}
            )
        # The time of the objection is not counted (Regs 60): the 10 days run from its answer (or its answer deadline).
        known_on = max(known_on, local_date(objection.answered_at or objection.answer_due_at))
    days = _figure("COMPLAINT-10D", "days", COMPLAINT_DAYS, section)
    if (today - known_on).days > days:
        raise RuleViolation(
            "COMPLAINT-10D",
            _("投诉应在知道或应当知道之日起%(days)d日内提出，已过%(late)d日。") % {"days": days, "late": (today - known_on).days},
            fields={"known_on": f"> {days}"},
        )
    accept_days = _figure("COMPLAINT-ACCEPT-3WD", "accept_working_days", ACCEPT_WORKING_DAYS, section)
    with transaction.atomic():
        complaint = Complaint.objects.create(
            section=section,
            organization_id=actor.organization_id,
            filed_by=actor,
            objection=objection if subject in OBJECTION_FIRST else None,
            subject=subject,
            body=body,
            known_on=known_on,
            filed_at=now,
            accept_due_on=add_working_days(today, accept_days),
        )
        for upload in evidence:
            _evidence_store(complaint, upload)
        audit_append(
            event=AuditEvent.COMPLAINT_FILED,
            actor=actor,
            section=section,
            data={
                "complaint": complaint.pk,
                "subject": subject,
                "evidence": [e.sha256 for e in complaint.evidence.all()],
                "accept_due_on": complaint.accept_due_on.isoformat(),
            },
        )
        feed_publish(kind="complaint.filed", payload=complaint_payload(complaint))
    return complaint


def _evidence_store(complaint: Complaint, upload) -> Evidence:
    digest, size = hashlib.sha256(), 0
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    evidence = Evidence(complaint=complaint, name=getattr(upload, "name", "evidence")[:200], size=size, sha256=digest.hexdigest())
    evidence.file.save(evidence.sha256, File(upload), save=False)
    evidence.save()
    return evidence


def _lock(complaint: Complaint) -> Complaint:
    return Complaint.objects.select_for_update(of=("self",)).select_related("section").get(pk=complaint.pk)


def complaint_accept(*, actor, complaint: Complaint, suspend: bool = False, reason: str = "") -> Complaint:
    """Accept; where the supervisors find it necessary the section is suspended while the complaint is pending (Regs 62)."""
    if not policy.can_supervise(actor):
        raise NotAllowed("NOT-ALLOWED", _("只有监督人员可以受理投诉。"))
    with transaction.atomic():
        locked = _lock(complaint)
        if locked.status != Complaint.Status.FILED:
            raise DomainError("COMPLAINT-STATE", _("该投诉不在待受理状态。"))
        now = timezone.now()
        days = _figure("COMPLAINT-ACCEPT-3WD", "decide_working_days", DECIDE_WORKING_DAYS, locked.section)
        locked.status, locked.accepted_at, locked.handled_by = Complaint.Status.ACCEPTED, now, actor
        locked.decide_due_on = add_working_days(local_date(now), days)
        fields = ["status", "accepted_at", "handled_by", "decide_due_on"]
        if suspend and locked.section.state not in {SectionState.SUSPENDED, SectionState.DRAFT} | _ENDED:
            section_suspend(
                actor=actor, section=locked.section, reason=reason or _("投诉处理期间暂停（第%(n)d号投诉）") % {"n": locked.pk}
            )
            locked.suspended_section = True
            fields.append("suspended_section")
        locked.save(update_fields=fields)
        audit_append(
            event=AuditEvent.COMPLAINT_ACCEPTED,
            actor=actor,
            section=locked.section,
            data={
                "complaint": locked.pk,
                "suspended": locked.suspended_section,
                "decide_due_on": locked.decide_due_on.isoformat(),
            },
        )
        feed_publish(kind="complaint.accepted", payload=complaint_payload(locked), actor=actor)
    return locked


_ENDED = {SectionState.CLOSED, SectionState.FAILED, SectionState.TERMINATED, SectionState.CONTRACTED}


def complaint_reject(*, actor, complaint: Complaint, reason: str) -> Complaint:
    if not policy.can_supervise(actor):
        raise NotAllowed("NOT-ALLOWED", _("只有监督人员可以决定不予受理。"))
    if not reason.strip():
        raise DomainError("REASON-REQUIRED", _("不予受理须说明理由。"), fields={"reason": _("必填")})
    with transaction.atomic():
        locked = _lock(complaint)
        if locked.status != Complaint.Status.FILED:
            raise DomainError("COMPLAINT-STATE", _("该投诉不在待受理状态。"))
        locked.status, locked.rejection_reason, locked.handled_by = Complaint.Status.REJECTED, reason, actor
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "rejection_reason", "handled_by", "decided_at"])
        audit_append(
            event=AuditEvent.COMPLAINT_REJECTED,
            actor=actor,
            section=locked.section,
            data={"complaint": locked.pk, "reason": reason},
        )
        feed_publish(kind="complaint.rejected", payload=complaint_payload(locked), actor=actor)
    return locked


def complaint_decide(*, actor, complaint: Complaint, decision: str, resume: bool = True) -> Complaint:
    """The written decision, published on the portal; a suspension made for the complaint ends with it (unless kept)."""
    if not policy.can_supervise(actor):
        raise NotAllowed("NOT-ALLOWED", _("只有监督人员可以作出投诉处理决定。"))
    if not decision.strip():
        raise DomainError("COMPLAINT-FORM", _("处理决定必填。"), fields={"decision": _("必填")})
    with transaction.atomic():
        locked = _lock(complaint)
        if locked.status != Complaint.Status.ACCEPTED:
            raise DomainError("COMPLAINT-STATE", _("只有已受理的投诉可以作出处理决定。"))
        locked.status, locked.decision, locked.decided_at = Complaint.Status.DECIDED, decision, timezone.now()
        locked.save(update_fields=["status", "decision", "decided_at"])
        audit_append(
            event=AuditEvent.COMPLAINT_DECIDED,
            actor=actor,
            section=locked.section,
            data={"complaint": locked.pk, "decision_sha256": hashlib.sha256(decision.encode()).hexdigest()},
        )
        if resume and locked.suspended_section and locked.section.state == SectionState.SUSPENDED:
            section_resume(actor=actor, section=locked.section, reason=_("投诉已处理（第%(n)d号投诉）") % {"n": locked.pk})
        feed_publish(kind="complaint.decided", payload=complaint_payload(locked), actor=actor)
    return locked


def complaint_payload(complaint: Complaint) -> dict:
    return {
        "complaint": complaint.pk,
        "section": complaint.section.public_id,
        "subject": complaint.subject,
        "status": complaint.status,
        "accept_due_on": complaint.accept_due_on.isoformat(),
        "decide_due_on": complaint.decide_due_on.isoformat() if complaint.decide_due_on else None,
    }


# --- the scans ------------------------------------------------------------------------------
def complaint_deadlines_scan(*, now):
    today = local_date(now)
    for complaint in Complaint.objects.filter(status=Complaint.Status.FILED, accept_due_on__lt=today).select_related("section"):
        yield Breach(
            message=_("%(section)s：第%(n)d号投诉逾3个工作日未决定是否受理。")
            % {"section": complaint.section.public_id, "n": complaint.pk},
            section=complaint.section,
            dedupe_key=f"complaint-accept:{complaint.pk}",
            data={"complaint": complaint.pk},
        )
    for complaint in Complaint.objects.filter(status=Complaint.Status.ACCEPTED, decide_due_on__lt=today).select_related(
        "section"
    ):
        yield Breach(
            message=_("%(section)s：第%(n)d号投诉受理后逾30个工作日未作出处理决定。")
            % {"section": complaint.section.public_id, "n": complaint.pk},
            section=complaint.section,
            dedupe_key=f"complaint-decide:{complaint.pk}",
            data={"complaint": complaint.pk},
        )


def objection_answer_scan(*, now):
    for objection in Objection.objects.filter(answered_at__isnull=True, answer_due_at__lt=now).select_related("section"):
        yield Breach(
            message=_("%(section)s：第%(n)d号异议逾期未答复。") % {"section": objection.section.public_id, "n": objection.pk},
            section=objection.section,
            dedupe_key=f"objection-answer:{objection.pk}",
            data={"objection": objection.pk},
        )


def register() -> None:
    check_provide("COMPLAINT-ACCEPT-3WD", scan=complaint_deadlines_scan)
    check_provide("OBJ-DOC-10D", scan=objection_answer_scan, where="trading.supervision.services.complaints.objection_file")
