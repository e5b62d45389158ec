"""Supervision notices (督办): a supervisor asks staff to act by a deadline; the deadline itself is watched."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import DomainError, NotAllowed
from trading.supervision.models import Notice
from trading.supervision.registry import Breach, check_provide
from trading.supervision.services.feed import feed_publish


def notice_issue(*, actor, subject: str, body: str, respond_by, section=None, alert=None) -> Notice:
    if not policy.can_supervise(actor):
        raise NotAllowed("NOT-ALLOWED", _("只有监督人员可以发出督办通知。"))
    if not subject.strip() or not body.strip():
        raise DomainError("NOTICE-TEXT", _("督办事项和要求必填。"), fields={"subject": _("必填")})
    if respond_by <= timezone.now():
        raise DomainError("NOTICE-DEADLINE", _("答复期限须晚于现在。"), fields={"respond_by": _("须晚于现在")})
    with transaction.atomic():
        notice = Notice.objects.create(
            section=section, alert=alert, issued_by=actor, subject=subject, body=body, respond_by=respond_by
        )
        audit_append(
            event=AuditEvent.NOTICE_ISSUED,
            actor=actor,
            section=section,
            data={"notice": notice.pk, "subject": subject, "respond_by": respond_by.isoformat()},
        )
        feed_publish(kind="notice.issued", payload=_payload(notice), actor=actor)
    return notice


def notice_respond(*, actor, notice: Notice, response: str) -> Notice:
    if not policy.can_answer_notice(actor):
        raise NotAllowed("NOT-ALLOWED", _("只有交易中心工作人员可以答复督办通知。"))
    if not response.strip():
        raise DomainError("NOTICE-TEXT", _("答复内容必填。"), fields={"response": _("必填")})
    with transaction.atomic():
        locked = Notice.objects.select_for_update().get(pk=notice.pk)
        if locked.responded_at is not None:
            raise DomainError("NOTICE-ANSWERED", _("该督办通知已答复。"))
        locked.response, locked.responded_by, locked.responded_at = response, actor, timezone.now()
        locked.save(update_fields=["response", "responded_by", "responded_at"])
        audit_append(
            event=AuditEvent.NOTICE_ANSWERED,
            actor=actor,
            section=locked.section,
            data={"notice": locked.pk, "late": locked.responded_at > locked.respond_by},
        )
        feed_publish(kind="notice.answered", payload=_payload(locked), actor=actor)
    return locked


def _payload(notice: Notice) -> dict:
    return {
        "notice": notice.pk,
        "subject": notice.subject,
        "section": notice.section.public_id if notice.section_id else None,
        "respond_by": notice.respond_by.isoformat(),
        "answered": notice.responded_at is not None,
    }


def notice_overdue_scan(*, now):
    for notice in Notice.objects.filter(responded_at__isnull=True, respond_by__lt=now).select_related("section"):
        yield Breach(
            message=_("督办通知“%(subject)s”逾期未答复（期限 %(due)s）。")
            % {"subject": notice.subject[:80], "due": timezone.localtime(notice.respond_by).strftime("%Y-%m-%d %H:%M")},
            section=notice.section,
            dedupe_key=f"notice-overdue:{notice.pk}",
            data={"notice": notice.pk},
        )


def register() -> None:
    check_provide("NOTICE-RESPONSE", scan=notice_overdue_scan)
