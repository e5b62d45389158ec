"""The procurement rules of RULES.md as data, and the checks the lifecycle runs.

Figures are per transaction type with RULES.md's defaults; a centre following a
stricter province overrides them with the SUNLIGHT_RULES setting.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from trading.errors import RuleViolation
from trading.models.sections import Procedure, TransactionType
from trading.workdays import working_days_between


@dataclass(frozen=True)
class Rule:
    """Title and basis in the language of the record (they head alerts); pages translate them (gettext_noop)."""

    code: str
    title: str
    basis: str
    step: str
    severity: str = "block"
    figures: dict = field(default_factory=dict)


RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in [
        Rule(
            "DOC-MIN-20D",
            gettext_noop("招标文件发出至投标截止不少于20日"),
            gettext_noop("招标投标法第24条；政府采购法第35条"),
            "publish",
            figures={"days": 20},
        ),
        Rule(
            "DOC-SALE-5",
            gettext_noop("招标文件发售期不少于5日（政府采购5个工作日）"),
            gettext_noop("实施条例第16条；政府采购法实施条例第31条"),
            "publish",
            figures={"days": 5},
        ),
        Rule(
            "CLARIFY-15D",
            gettext_noop("澄清或修改在投标截止15日前发出，否则顺延截止时间"),
            gettext_noop("招标投标法第23条；实施条例第21条"),
            "clarification",
            figures={"days": 15},
        ),
        Rule(
            "OBJ-DOC-10D",
            gettext_noop("对招标文件的异议在投标截止10日前提出"),
            gettext_noop("实施条例第22条"),
            "objection",
            figures={"days": 10},
        ),
        Rule("SECRET-BIDDERS", gettext_noop("开标前不得泄露潜在投标人名称和数量"), gettext_noop("招标投标法第22条"), "firewall"),
        Rule(
            "AUCTION-7D", gettext_noop("拍卖公告在拍卖日7日前发布"), gettext_noop("拍卖法第45条"), "publish", figures={"days": 7}
        ),
        Rule(
            "DEP-CAP-2PCT",
            gettext_noop("投标保证金不超过估算价（预算）的2%"),
            gettext_noop("实施条例第26条；政府采购法实施条例第33条"),
            "setup",
            figures={"percent": 2},
        ),
        Rule("DEP-BEFORE-DEADLINE", gettext_noop("保证金在投标截止前到账方为有效"), gettext_noop("实施条例第26条"), "opening"),
        Rule(
            "DEP-SAME-PAYER",
            gettext_noop("不同投标人的保证金从同一账户转出，视为串通"),
            gettext_noop("实施条例第40条第6项"),
            "payment",
            severity="alert",
        ),
        Rule("BID-ENCRYPTED", gettext_noop("未加密或加密不当的投标文件予以拒收"), gettext_noop("实施条例第36条"), "upload"),
        Rule("BID-RECEIPT", gettext_noop("投标文件接收后即时发出回执"), gettext_noop("电子招标投标办法"), "upload"),
        Rule(
            "BID-DEADLINE",
            gettext_noop("投标截止后不再接收、修改或撤回投标"),
            gettext_noop("招标投标法第28条；实施条例第36条"),
            "upload",
        ),
        Rule(
            "BID-ONE-PER-BIDDER",
            gettext_noop("每个投标人每个标段只能提交一份投标"),
            gettext_noop("实施条例第51条第4项"),
            "upload",
        ),
        Rule(
            "BID-NO-RELATED",
            gettext_noop("单位负责人为同一人或存在控股、管理关系的单位不得参加同一标段投标"),
            gettext_noop("实施条例第34条"),
            "registration",
        ),
        Rule("OPEN-AT-DEADLINE", gettext_noop("开标在投标截止时间公开进行"), gettext_noop("招标投标法第34条"), "opening"),
        Rule("OPEN-MIN-3", gettext_noop("投标人少于3个的不得开标"), gettext_noop("实施条例第44条"), "opening"),
    ]
}


def figure(code: str, name: str, transaction_type: str | None = None):
    """A rule's figure: the per-type override from settings, else the RULES.md default."""
    overrides = getattr(settings, "SUNLIGHT_RULES", {}).get(code, {})
    if transaction_type and name in overrides.get(transaction_type, {}):
        return overrides[transaction_type][name]
    return overrides.get(name, RULES[code].figures[name])


def refuse(code: str, message: str, **fields) -> RuleViolation:
    return RuleViolation(code, message, fields=fields)


def local_date(moment: datetime):
    return timezone.localtime(moment).date()


def check_doc_min_20d(section) -> None:
    days_needed = figure("DOC-MIN-20D", "days", section.transaction_type)
    days = (local_date(section.bid_deadline) - local_date(section.documents_issued_at)).days
    if days < days_needed:
        raise refuse(
            "DOC-MIN-20D",
            _("招标文件发出之日至投标截止之日仅%(days)d日，不得少于%(need)d日。") % {"days": days, "need": days_needed},
            bid_deadline=f"{days} < {days_needed}",
        )


def check_doc_sale_5(section) -> None:
    days_needed = figure("DOC-SALE-5", "days", section.transaction_type)
    start, end = local_date(section.registration_start), local_date(section.registration_end)
    if section.transaction_type == TransactionType.PROCUREMENT:
        days, unit = working_days_between(start - timedelta(days=1), end), _("个工作日")
    else:
        days, unit = (end - start).days + 1, _("日")
    if days < days_needed:
        raise refuse(
            "DOC-SALE-5",
            _("招标文件发售期仅%(days)d%(unit)s，不得少于%(need)d%(unit)s。") % {"days": days, "need": days_needed, "unit": unit},
            registration_end=f"{days} < {days_needed}",
        )


def check_dep_cap_2pct(section) -> None:
    percent = figure("DEP-CAP-2PCT", "percent", section.transaction_type)
    if section.procedure == Procedure.AUCTION:
        return  # sales set deposits by the local listing rules, not Regs 26
    # Integer arithmetic: deposit * 100 <= estimate * percent, no rounding of fen.
    if section.deposit_fen * 100 > section.estimated_price_fen * percent:
        raise refuse(
            "DEP-CAP-2PCT",
            _("投标保证金%(deposit)s元超过估算价%(estimate)s元的%(percent)s%%。")
            % {
                "deposit": yuan(section.deposit_fen),
                "estimate": yuan(section.estimated_price_fen),
                "percent": percent,
            },
            deposit_fen=f"> {percent}%",
        )


def check_auction_7d(section, *, now: datetime) -> None:
    if section.procedure != Procedure.AUCTION:
        return
    days_needed = figure("AUCTION-7D", "days", section.transaction_type)
    days = (local_date(section.opening_at) - local_date(now)).days
    if days < days_needed:
        raise refuse(
            "AUCTION-7D",
            _("出让公告应在竞价日%(need)d日前发布，现仅提前%(days)d日。") % {"days": days, "need": days_needed},
            opening_at=f"{days} < {days_needed}",
        )


def check_clarify_15d(section, *, now: datetime, new_deadline: datetime | None) -> None:
    days_needed = figure("CLARIFY-15D", "days", section.transaction_type)
    deadline = new_deadline or section.bid_deadline
    days = (local_date(deadline) - local_date(now)).days
    if days < days_needed:
        raise refuse(
            "CLARIFY-15D",
            _("澄清或修改发出之日距投标截止仅%(days)d日，须顺延投标截止时间至少至%(need)d日后。")
            % {"days": days, "need": days_needed},
            bid_deadline=f"{days} < {days_needed}",
        )


def check_schedule_order(section) -> None:
    moments = [
        ("documents_issued_at", section.documents_issued_at),
        ("registration_start", section.registration_start),
        ("registration_end", section.registration_end),
        ("bid_deadline", section.bid_deadline),
        ("opening_at", section.opening_at),
    ]
    missing = [name for name, value in moments if value is None]
    if missing:
        raise refuse("SCHEDULE", _("日程不完整。"), **{name: _("必填") for name in missing})
    if not section.registration_start <= section.registration_end <= section.bid_deadline <= section.opening_at:
        raise refuse("SCHEDULE", _("日程先后顺序不正确：报名开始 ≤ 报名截止 ≤ 投标截止 ≤ 开标。"))
    if section.documents_issued_at > section.bid_deadline:
        raise refuse("SCHEDULE", _("招标文件发出时间不得晚于投标截止时间。"))


def publish_checks(section, *, now: datetime) -> None:
    """The checks of the publish step, in RULES.md order; the first failure refuses."""
    check_schedule_order(section)
    check_dep_cap_2pct(section)
    if section.procedure == Procedure.AUCTION:
        check_auction_7d(section, now=now)
    else:
        check_doc_min_20d(section)
        check_doc_sale_5(section)


def yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"
