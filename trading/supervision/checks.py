"""Every row of RULES.md as a monitoring node, and the checks and scans that live in supervision.

Rules checked in another app are registered here with their step and basis; that app
supplies the callable with `check_provide` (or names where it checks in `where`).
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, Max, OuterRef
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from trading import rules as trading_rules
from trading.models import Section, SectionState, SectionTransition
from trading.models.sections import SALE_TYPES
from trading.supervision.registry import Breach, MonitoredRule, Severity, Step, check_provide, rule_register

H, M, L = Severity.HIGH, Severity.MEDIUM, Severity.LOW

# code, step, severity, blocks, owner, where (for rules not checked by a callable here)
ROWS = [
    # Publication and documents
    ("DOC-MIN-20D", Step.PUBLISH, M, True, "trading", "trading.rules.publish_checks, clarification_issue"),
    ("DOC-SALE-5", Step.PUBLISH, M, True, "trading", "trading.rules.publish_checks"),
    ("CLARIFY-15D", Step.CLARIFICATION, M, True, "trading", "trading.rules.check_clarify_15d"),
    ("OBJ-DOC-10D", Step.OBJECTION, M, True, "supervision", ""),
    ("SECRET-BIDDERS", Step.FIREWALL, H, True, "trading", "trading.policy (the firewall matrix tests it)"),
    ("AUCTION-7D", Step.PUBLISH, M, True, "trading", "trading.rules.publish_checks"),
    # Bidding and deposits
    ("DEP-CAP-2PCT", Step.SETUP, M, True, "trading", "trading.rules.check_dep_cap_2pct (set-up and publish)"),
    ("DEP-BEFORE-DEADLINE", Step.OPENING, M, False, "escrow", "escrow.services.payments (on_time), refund scan"),
    ("DEP-SAME-PAYER", Step.PAYMENT, H, False, "escrow", "escrow.services.payments._check_same_payer"),
    ("BID-ENCRYPTED", Step.UPLOAD, M, True, "bidding", "bidding.submission"),
    ("BID-RECEIPT", Step.UPLOAD, L, False, "bidding", "bidding.receipts"),
    ("BID-DEADLINE", Step.UPLOAD, H, True, "bidding", "bidding.submission (server clock)"),
    ("BID-WITHDRAW-REFUND-5D", Step.SCAN, M, False, "escrow", "escrow refund scan (run with DEP-REFUND-5D's scan)"),
    ("BID-REVOKE-FORFEIT", Step.OPENING, L, False, "bidding", "escrow.services.deposits.deposit_forfeit (after opening)"),
    ("BID-ONE-PER-BIDDER", Step.UPLOAD, M, True, "bidding", "database constraint"),
    ("BID-NO-RELATED", Step.REGISTRATION, H, True, "bidding", "bidding.services.registration_create"),
    # Opening
    ("OPEN-AT-DEADLINE", Step.OPENING, M, True, "bidding", "bidding.opening.opening_start (refusals alerted)"),
    ("OPEN-MIN-3", Step.OPENING, M, True, "bidding", "bidding.opening.opening_start (the section fails, 流标公告)"),
    ("OPEN-READOUT", Step.OPENED, L, False, "bidding", "bidding.opening read-out, one bid per stream event"),
    ("OPEN-OBJECTION", Step.OPENED, M, False, "bidding", "bidding.opening objections; the record waits for every answer"),
    ("OPEN-DECRYPT-FAIL", Step.OPENED, M, False, "bidding", "bidding.decrypt, bidding.opening (fault recorded per bid)"),
    # Evaluation and award
    ("EVAL-SIZE", Step.EVALUATION, M, True, "bidding.evaluation", "bidding.evaluation.services.draw"),
    ("EVAL-RANDOM", Step.EVALUATION, H, True, "bidding.evaluation", "bidding.evaluation.services.draw (commit-reveal seed)"),
    ("EVAL-CONFLICT", Step.EVALUATION, H, True, "bidding.evaluation", "bidding.evaluation.services.draw"),
    ("EVAL-SECRET", Step.FIREWALL, H, True, "trading", "trading.policy"),
    ("EVAL-REJECT", Step.EVALUATION, M, False, "bidding.evaluation", "bidding.evaluation.services.scoring"),
    (
        "COLLUSION-40",
        Step.EVALUATION,
        H,
        False,
        "bidding.evaluation",
        "bidding.evaluation.collusion (flags for the committee and supervisors)",
    ),
    ("CAND-MAX-3", Step.REPORT, M, True, "bidding.evaluation", "bidding.evaluation.services.award"),
    ("CAND-PUBLICITY", Step.AWARD, M, True, "bidding.evaluation", "bidding.evaluation.services.award"),
    ("AWARD-FIRST", Step.AWARD, H, True, "bidding.evaluation", "bidding.evaluation.services.award"),
    ("CONTRACT-30D", Step.SCAN, M, False, "supervision", ""),
    ("REPORT-15D", Step.SCAN, M, False, "supervision", ""),
    ("DEP-REFUND-5D", Step.SCAN, M, False, "escrow", "escrow.services.refunds (refund scan, overdue alerts)"),
    (
        "DEP-FORFEIT-REFUSE",
        Step.AWARD,
        L,
        False,
        "escrow",
        "bidding.evaluation.services.award.award_refuse, escrow.services.deposits.deposit_forfeit",
    ),
    (
        "PERF-BOND-10PCT",
        Step.AWARD,
        M,
        True,
        "bidding.evaluation",
        "bidding.evaluation.services.award.contract_record, database constraint",
    ),
    # Complaints
    ("COMPLAINT-10D", Step.COMPLAINT, M, True, "supervision", "trading.supervision.services.complaints.complaint_file"),
    ("COMPLAINT-ACCEPT-3WD", Step.SCAN, M, False, "supervision", ""),
]

# Titles and bases for the rows trading.rules does not carry.
TEXTS = {
    "BID-WITHDRAW-REFUND-5D": (gettext_noop("投标截止前撤回投标的，保证金5日内退还"), gettext_noop("实施条例第35条")),
    "BID-REVOKE-FORFEIT": (gettext_noop("投标截止后撤销投标的，可以不退还保证金"), gettext_noop("实施条例第35条")),
    "OPEN-READOUT": (gettext_noop("开标时公开宣读投标人名称、投标价格等主要内容"), gettext_noop("招标投标法第36条")),
    "OPEN-OBJECTION": (gettext_noop("对开标有异议的，当场提出、当场答复并记录"), gettext_noop("实施条例第44条")),
    "OPEN-DECRYPT-FAIL": (
        gettext_noop("因投标人原因无法解密的视为撤销，因平台原因的视为撤回"),
        gettext_noop("电子招标投标办法第31条"),
    ),
    "EVAL-SIZE": (gettext_noop("评标委员会5人以上单数，技术、经济专家不少于三分之二"), gettext_noop("招标投标法第37条")),
    "EVAL-RANDOM": (gettext_noop("评标专家随机抽取，任何人不得指定"), gettext_noop("实施条例第46条")),
    "EVAL-CONFLICT": (gettext_noop("与投标人或招标人有利害关系的专家不得进入评标委员会"), gettext_noop("招标投标法第37条")),
    "EVAL-SECRET": (gettext_noop("评标保密，评标委员会名单在结果确定前保密"), gettext_noop("招标投标法第38条")),
    "EVAL-REJECT": (gettext_noop("投标文件否决情形"), gettext_noop("实施条例第51条")),
    "COLLUSION-40": (gettext_noop("视为投标人相互串通投标的情形"), gettext_noop("实施条例第40条")),
    "CAND-MAX-3": (gettext_noop("中标候选人不超过3个并标明排序"), gettext_noop("实施条例第53条")),
    "CAND-PUBLICITY": (gettext_noop("收到评标报告3日内公示中标候选人，公示期不少于3日"), gettext_noop("实施条例第54条")),
    "AWARD-FIRST": (
        gettext_noop("国有资金占控股或主导地位的项目，确定排名第一的中标候选人为中标人"),
        gettext_noop("实施条例第55条"),
    ),
    "CONTRACT-30D": (gettext_noop("自中标通知书发出之日起30日内订立书面合同"), gettext_noop("招标投标法第46条")),
    "REPORT-15D": (gettext_noop("自确定中标人之日起15日内向有关行政监督部门提交书面报告"), gettext_noop("招标投标法第47条")),
    "DEP-REFUND-5D": (
        gettext_noop("最迟在书面合同签订后5日内退还投标保证金及银行同期存款利息"),
        gettext_noop("实施条例第57条；政府采购法实施条例第33条"),
    ),
    "DEP-FORFEIT-REFUSE": (
        gettext_noop("中标人无正当理由不与招标人订立合同的，取消中标资格，投标保证金不予退还"),
        gettext_noop("实施条例第74条"),
    ),
    "PERF-BOND-10PCT": (
        gettext_noop("履约保证金不超过中标合同金额的10%"),
        gettext_noop("实施条例第58条；政府采购法实施条例第48条"),
    ),
    "COMPLAINT-10D": (
        gettext_noop("自知道或应当知道之日起10日内投诉；对文件、开标、评标结果须先提出异议"),
        gettext_noop("实施条例第60条"),
    ),
    "COMPLAINT-ACCEPT-3WD": (
        gettext_noop("收到投诉3个工作日内决定是否受理，受理之日起30个工作日内作出书面处理决定"),
        gettext_noop("实施条例第61条"),
    ),
}

for code, step, severity, blocks, owner, where in ROWS:
    known = trading_rules.RULES.get(code)
    title, basis = (known.title, known.basis) if known else TEXTS[code]
    rule_register(
        MonitoredRule(code=code, title=title, basis=basis, step=step, severity=severity, blocks=blocks, owner=owner, where=where)
    )
rule_register(
    MonitoredRule(
        code="DEP-NOTIFICATION",
        title=gettext_noop("伪造、篡改或无法核实的保证金到账通知予以拒绝"),
        basis=gettext_noop("本中心保证金管理规则"),
        step=Step.PAYMENT,
        severity=H,
        blocks=True,
        owner="escrow",
        where="escrow.services.payments.notification_receive",
    )
)
rule_register(
    MonitoredRule(
        code="NOTICE-RESPONSE",
        title=gettext_noop("督办事项在答复期限内答复"),
        basis=gettext_noop("本中心电子监察规则"),
        step=Step.SCAN,
        severity=M,
        owner="supervision",
    )
)


def figure_or(code: str, name: str, default, transaction_type: str | None = None):
    """A figure of a rule trading.rules does not carry: the SUNLIGHT_RULES override, else RULES.md's default."""
    overrides = getattr(settings, "SUNLIGHT_RULES", {}).get(code, {})
    if transaction_type and name in overrides.get(transaction_type, {}):
        return overrides[transaction_type][name]
    return overrides.get(name, default)


# --- award, contract and report deadlines --------------------------------------------------
def awarded_at(section_ids) -> dict[int, object]:
    rows = (
        SectionTransition.objects.filter(section_id__in=section_ids, to_state=SectionState.AWARDED)
        .values("section_id")
        .annotate(at=Max("at"))
    )
    return {row["section_id"]: row["at"] for row in rows}


def _contract_breach(section, award_at, *, late: bool) -> Breach:
    days = figure_or("CONTRACT-30D", "days", 30)
    message = (
        _("%(section)s：合同在中标通知书发出%(days)d日后才签订。")
        if late
        else _("%(section)s：中标通知书发出已逾%(days)d日，尚未签订合同。")
    ) % {"section": section.public_id, "days": days}
    return Breach(
        message=message, section=section, dedupe_key=f"contract-30d:{section.pk}", data={"awarded_at": award_at.isoformat()}
    )


def tenders():
    """Sections under the Bidding Law (Law 46, 47): land and property sales follow the Auction Law instead."""
    return Section.objects.exclude(project__transaction_type__in=SALE_TYPES)


def contract_30d_scan(*, now):
    days = figure_or("CONTRACT-30D", "days", 30)
    sections = list(tenders().filter(state=SectionState.AWARDED))
    awarded = awarded_at([s.pk for s in sections])
    for section in sections:
        at = awarded.get(section.pk)
        if at is not None and now - at > timedelta(days=days):
            yield _contract_breach(section, at, late=False)


def contract_30d_check(section, *, now):
    """At the contract transition: a contract signed late still raises its alert (it does not block: it is signed)."""
    days = figure_or("CONTRACT-30D", "days", 30)
    at = awarded_at([section.pk]).get(section.pk)
    if at is not None and now - at > timedelta(days=days):
        return _contract_breach(section, at, late=True)
    return None


def report_15d_scan(*, now):
    days = figure_or("REPORT-15D", "days", 15)
    states = [SectionState.AWARDED, SectionState.CONTRACTED, SectionState.CLOSED]
    from trading.supervision.models import AwardReport

    reported = AwardReport.objects.current().filter(section=OuterRef("pk"))
    sections = list(tenders().filter(state__in=states).exclude(Exists(reported)))
    awarded = awarded_at([s.pk for s in sections])
    for section in sections:
        at = awarded.get(section.pk)
        if at is not None and now - at > timedelta(days=days):
            yield Breach(
                message=_("%(section)s：确定中标人已逾%(days)d日，招标人尚未提交书面报告。")
                % {"section": section.public_id, "days": days},
                section=section,
                dedupe_key=f"report-15d:{section.pk}",
            )


def refund_scan(*, now) -> int:
    from escrow.services.refunds import refund_overdue_alerts

    return refund_overdue_alerts(now=now)


check_provide("CONTRACT-30D", scan=contract_30d_scan, check=contract_30d_check)
rule_register(
    MonitoredRule(
        code="CONTRACT-30D",
        title=TEXTS["CONTRACT-30D"][0],
        basis=TEXTS["CONTRACT-30D"][1],
        step=Step.SCAN,
        extra_steps=(Step.CONTRACT,),
        severity=M,
        owner="supervision",
    )
)
check_provide("REPORT-15D", scan=report_15d_scan)
check_provide("DEP-REFUND-5D", scan=refund_scan, where="escrow.services.refunds.refund_overdue_alerts")

from trading.supervision.services import complaints as _complaints  # noqa: E402  (registers its scans)
from trading.supervision.services import notices as _notices  # noqa: E402

_complaints.register()
_notices.register()
