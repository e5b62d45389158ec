"""The tenderer's written report to the supervisors within 15 days of the award (REPORT-15D)."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import DomainError, NotAllowed
from trading.models import SectionState
from trading.services.locks import lock_section
from trading.supervision.models import AwardReport
from trading.supervision.services.feed import feed_publish

REPORTABLE = {SectionState.AWARDED, SectionState.CONTRACTED, SectionState.CLOSED}


def award_report_submit(*, actor, section, award_price_fen: int, winner_name: str, body: str = "") -> AwardReport:
    if not policy.can_file_award_report(actor, section):
        raise NotAllowed("NOT-ALLOWED", _("只有招标人、代理机构或交易中心可以提交书面报告。"))
    if award_price_fen < 0 or not winner_name.strip():
        raise DomainError("REPORT-FORM", _("请填写中标人和中标价。"), fields={"winner_name": _("必填")})
    with transaction.atomic():
        locked = lock_section(section.pk)
        if locked.state not in REPORTABLE:
            raise DomainError("REPORT-STATE", _("确定中标人后方可提交书面报告。"))
        if AwardReport.objects.current().filter(section=locked).exists():
            raise DomainError("REPORT-FILED", _("该标段的书面报告已提交。"))
        report = AwardReport.objects.create(
            section=locked,
            submitted_by=actor,
            award_price_fen=award_price_fen,
            winner_name=winner_name,
            body=body,
            submitted_at=timezone.now(),
        )
        audit_append(
            event=AuditEvent.AWARD_REPORT_FILED,
            actor=actor,
            section=locked,
            data={"award_price_fen": award_price_fen, "winner": winner_name},
        )
        feed_publish(kind="report.filed", payload={"section": locked.public_id, "award_price_fen": award_price_fen})
    return report


def award_report_supersede(*, section, at) -> bool:
    """The winner the current report names gave up or refused to sign: that report no longer stands, and the next
    award is reported anew within its own 15 days (REPORT-15D). Called inside the refusal's transaction."""
    return AwardReport.objects.current().filter(section=section).update(superseded_at=at) > 0
