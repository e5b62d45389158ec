"""Statistics by transaction type, region and period, from published sections only (the policy's open-data set).

savings rate (purchases) = (budget - award) / budget; premium rate (sales) = (price - reserve) / reserve,
both over the sections with a result, summed before dividing. Bidders are counted only for opened
sections (before opening the count is sealed, SECRET-BIDDERS). Money in integer fen.
"""

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from trading import policy
from trading.models import Section, SectionState, SectionTransition
from trading.models.sections import SALE_TYPES

PERIODS = ("month", "quarter", "year")
RESULT_STATES = {SectionState.AWARDED, SectionState.CONTRACTED, SectionState.CLOSED}
CONCLUDED_STATES = RESULT_STATES | {SectionState.FAILED}

# Where award (deal) prices come from: functions section_ids -> {section_id: price_fen}, first answer wins.
# The written report (AwardReport) is the default; evaluation/auction can register theirs in front.
AWARD_SOURCES: list[Callable[[list[int]], dict[int, int]]] = []


def award_source_register(source: Callable[[list[int]], dict[int, int]]) -> None:
    if source not in AWARD_SOURCES:
        AWARD_SOURCES.insert(0, source)


def _reported_prices(section_ids: list[int]) -> dict[int, int]:
    from trading.supervision.models import AwardReport

    reports = AwardReport.objects.current().filter(section_id__in=section_ids)
    return dict(reports.values_list("section_id", "award_price_fen"))


def award_prices(section_ids: list[int]) -> dict[int, int]:
    prices: dict[int, int] = {}
    for source in [*AWARD_SOURCES, _reported_prices]:
        for section_id, price in source([s for s in section_ids if s not in prices]).items():
            prices.setdefault(section_id, price)
    return prices


def bidders_counted(sections: list[Section]) -> dict[int, int]:
    """Bidders of opened sections only: the bids opened, else (a sale without sealed bids) the registrations."""
    from bidding.models import BidOpening, Registration

    opened = [s.pk for s in sections if policy.identities_revealed(s)]
    bids = dict(
        BidOpening.objects.filter(section_id__in=opened)
        .values("section_id")
        .annotate(n=Count("pk"))
        .values_list("section_id", "n")
    )
    registrations = dict(
        Registration.objects.filter(section_id__in=opened)
        .values("section_id")
        .annotate(n=Count("pk"))
        .values_list("section_id", "n")
    )
    return {pk: bids.get(pk) or registrations.get(pk, 0) for pk in opened}


def refund_days(section_ids: list[int]) -> dict[int, list[float]]:
    """Per section, the days from its contract (or its end) to each deposit refund."""
    from escrow.models import Refund

    ends = dict(
        SectionTransition.objects.filter(
            section_id__in=section_ids, to_state__in=[SectionState.CONTRACTED, SectionState.FAILED, SectionState.TERMINATED]
        )
        .values("section_id")
        .annotate(at=Max("at"))
        .values_list("section_id", "at")
    )
    result: dict[int, list[float]] = defaultdict(list)
    refunds = Refund.objects.filter(deposit__registration__section_id__in=list(ends)).values_list(
        "deposit__registration__section_id", "created_at"
    )
    for section_id, at in refunds:
        result[section_id].append(max(0.0, (at - ends[section_id]).total_seconds() / 86400))
    return result


def period_of(moment, period: str) -> str:
    local = timezone.localtime(moment)
    if period == "year":
        return f"{local.year}"
    if period == "quarter":
        return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    return f"{local.year}-{local.month:02d}"


def ratio(numerator: int | float, denominator: int | float, places: int = 4) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass
class Group:
    transaction_type: str
    region: str
    period: str
    sections: int = 0
    estimate_fen: int = 0  # budgets / estimates (purchases) and reserves (sales) of all sections
    results: int = 0  # sections with a result price
    result_budget_fen: int = 0
    result_price_fen: int = 0
    concluded: int = 0
    failed: int = 0
    opened: int = 0
    bidders: int = 0
    refunds: list[float] = field(default_factory=list)

    @property
    def is_sale(self) -> bool:
        return self.transaction_type in SALE_TYPES

    @property
    def savings_fen(self) -> int | None:
        return None if self.is_sale or not self.results else self.result_budget_fen - self.result_price_fen

    @property
    def savings_rate(self) -> Decimal | None:
        return None if self.is_sale else ratio(self.result_budget_fen - self.result_price_fen, self.result_budget_fen)

    @property
    def premium_rate(self) -> Decimal | None:
        return ratio(self.result_price_fen - self.result_budget_fen, self.result_budget_fen) if self.is_sale else None

    @property
    def failure_rate(self) -> Decimal | None:
        return ratio(self.failed, self.concluded)

    @property
    def average_bidders(self) -> Decimal | None:
        return ratio(self.bidders, self.opened, places=2)

    @property
    def average_refund_days(self) -> Decimal | None:
        return ratio(sum(self.refunds), len(self.refunds), places=2)

    @property
    def max_refund_days(self) -> Decimal | None:
        return ratio(max(self.refunds), 1, places=2) if self.refunds else None


def statistics_compute(
    *, period: str = "month", transaction_type: str = "", region: str = "", start=None, end=None
) -> list[Group]:
    """Groups by (type, region, period of publication), sorted; the filters narrow the published sections."""
    if period not in PERIODS:
        period = "month"
    queryset = policy.opendata_sections(Section.objects.select_related("project"))
    if transaction_type:
        queryset = queryset.filter(project__transaction_type=transaction_type)
    if region:
        queryset = queryset.filter(project__region=region)
    if start:
        queryset = queryset.filter(published_at__gte=start)
    if end:
        queryset = queryset.filter(published_at__lt=end)
    sections = list(queryset)
    ids = [s.pk for s in sections]
    prices = award_prices(ids)
    bidders = bidders_counted(sections)
    refunds = refund_days(ids)
    groups: dict[tuple, Group] = {}
    for section in sections:
        key = (section.project.transaction_type, section.project.region, period_of(section.published_at, period))
        group = groups.setdefault(key, Group(*key))
        group.sections += 1
        group.estimate_fen += section.estimated_price_fen
        state = section.suspended_from if section.state == SectionState.SUSPENDED else section.state
        if state in CONCLUDED_STATES:
            group.concluded += 1
            group.failed += state == SectionState.FAILED
        if section.pk in prices and state in RESULT_STATES:
            group.results += 1
            group.result_budget_fen += section.estimated_price_fen
            group.result_price_fen += prices[section.pk]
        if section.pk in bidders:
            group.opened += 1
            group.bidders += bidders[section.pk]
        group.refunds += refunds.get(section.pk, [])
    return [groups[key] for key in sorted(groups)]


def statistics_total(groups: Iterable[Group]) -> Group:
    """The groups added up; result amounts are the purchases' (savings), or the sales' if there are only sales."""
    groups = list(groups)
    total = Group("", "", "")
    types = {g.transaction_type for g in groups}
    only_sales = bool(types) and types <= SALE_TYPES
    if only_sales:
        total.transaction_type = sorted(types)[0]
    for group in groups:
        for name in ("sections", "estimate_fen", "concluded", "failed", "opened", "bidders"):
            setattr(total, name, getattr(total, name) + getattr(group, name))
        total.refunds += group.refunds
        if group.is_sale == only_sales:
            total.results += group.results
            total.result_budget_fen += group.result_budget_fen
            total.result_price_fen += group.result_price_fen
    return total


CSV_COLUMNS = [
    ("transaction_type", _("交易类型")),
    ("region", _("地区")),
    ("period", _("期间")),
    ("sections", _("标段数")),
    ("estimate_fen", _("估算价/预算/底价合计（分）")),
    ("results", _("有成交结果的标段数")),
    ("result_budget_fen", _("有结果标段的预算/底价（分）")),
    ("result_price_fen", _("中标/成交金额（分）")),
    ("savings_fen", _("节约资金（分）")),
    ("savings_rate", _("节资率")),
    ("premium_rate", _("溢价率")),
    ("failure_rate", _("流标率")),
    ("average_bidders", _("平均投标人数（已开标）")),
    ("average_refund_days", _("保证金平均退还天数")),
    ("max_refund_days", _("保证金最长退还天数")),
]


def statistics_csv(groups: list[Group]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([str(label) for _name, label in CSV_COLUMNS])
    for group in groups:
        row = [getattr(group, name) for name, _label in CSV_COLUMNS]
        writer.writerow(["" if value is None else value for value in row])
    return out.getvalue()
