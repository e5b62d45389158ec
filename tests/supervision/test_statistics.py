"""Statistics: checked against figures computed by hand, on a fixture and on the demo data."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.factories import ProjectFactory, RegistrationFactory, SectionFactory
from trading.models import SectionState, TransactionType, User
from trading.supervision.models import Alert, AwardReport
from trading.supervision.statistics import statistics_compute, statistics_csv, statistics_total

pytestmark = pytest.mark.django_db


def concluded(project, budget, state, *, price=None, bidders=0, opened=True, published_days_ago=40):
    published = timezone.now() - timedelta(days=published_days_ago)
    section = SectionFactory(
        project=project,
        estimated_price_fen=budget,
        deposit_fen=0,
        state=state,
        published_at=None if state == SectionState.DRAFT else published,
        opened_at=published + timedelta(days=25) if opened else None,
    )
    for _ in range(bidders):
        RegistrationFactory(section=section)
    if price is not None:
        staff = User.objects.filter(role="staff").first()
        AwardReport.objects.create(
            section=section, submitted_by=staff, award_price_fen=price, winner_name="某公司", submitted_at=timezone.now()
        )
    return section


def by_type(groups):
    totals = {}
    for group in groups:
        totals.setdefault(group.transaction_type, []).append(group)
    return {kind: statistics_total(items) for kind, items in totals.items()}


def test_statistics_of_a_hand_computed_fixture(staff):
    works = ProjectFactory(transaction_type=TransactionType.CONSTRUCTION, region="上城区")
    sale = ProjectFactory(transaction_type=TransactionType.LAND, region="萧山区")
    # works: budgets 1,000,000.00 and 3,000,000.00 awarded at 900,000.00 and 2,850,000.00; one failed; one sealed
    concluded(works, 100_000_000, SectionState.CONTRACTED, price=90_000_000, bidders=4)
    concluded(works, 300_000_000, SectionState.AWARDED, price=285_000_000, bidders=6)
    concluded(works, 50_000_000, SectionState.FAILED, bidders=2, opened=False)
    concluded(works, 70_000_000, SectionState.PUBLISHED, bidders=9, opened=False)  # 9 registered, sealed: not counted
    # the sale: reserve 20,000,000.00 sold at 23,000,000.00
    concluded(sale, 2_000_000_000, SectionState.CONTRACTED, price=2_300_000_000, bidders=3)
    concluded(sale, 1_000_000_000, SectionState.DRAFT, price=None)  # never published: not in the figures

    groups = statistics_compute(period="year")
    figures = by_type(groups)
    w, s = figures["construction"], figures["land"]
    assert (w.sections, w.results, w.result_budget_fen, w.result_price_fen) == (4, 2, 400_000_000, 375_000_000)
    assert w.savings_fen == 25_000_000 and w.savings_rate == Decimal("0.0625")  # 250,000 / 4,000,000
    assert w.failure_rate == Decimal("0.3333")  # 1 failed of 3 concluded
    assert w.average_bidders == Decimal("5.00")  # (4 + 6) / 2: the failed and the sealed ones are not opened
    assert w.premium_rate is None
    assert (s.sections, s.premium_rate, s.savings_rate, s.average_bidders) == (1, Decimal("0.1500"), None, Decimal("3.00"))
    only_sales = statistics_compute(period="year", transaction_type="land")
    assert [g.transaction_type for g in only_sales] == ["land"]
    assert statistics_compute(region="上城区", period="year")[0].sections == 4

    csv_text = statistics_csv(groups)
    header, first = csv_text.splitlines()[:2]
    assert header.startswith("交易类型,地区,期间,标段数")
    assert ",0.0625," in first and "25000000" in first


def test_statistics_of_the_demo_data_match_the_hand_computation():
    """The demo (load_demo): by type, over all regions and periods; see trading/supervision/demo.py."""
    call_command("load_demo", quiet=True)
    assert Alert.objects.get().rule == "DOC-MIN-20D"  # the demo's refused 19-day window (a draft: not in the figures)
    figures = by_type(statistics_compute(period="year"))
    c, p, land, prop = figures["construction"], figures["procurement"], figures["land"], figures["property"]
    # construction: 101-01, 101-02 (bidding), 088-02 and 088-03 (closed, sealed: the opening demo's three bids
    # are not counted), 101-03 (evaluating, 6 bidders), 140-01 (4, contracted)
    assert (c.sections, c.results, c.result_budget_fen, c.result_price_fen) == (6, 1, 200_000_000, 184_000_000)
    assert (c.savings_rate, c.failure_rate, c.average_bidders) == (Decimal("0.0800"), Decimal("0.0000"), Decimal("5.00"))
    # procurement: 207-01 (bidding), 207-02 (opened, 5), 207-03 (failed, sealed), 088-01 (awarded, 5)
    assert (p.sections, p.result_budget_fen, p.result_price_fen) == (4, 80_000_000, 72_000_000)
    assert (p.savings_rate, p.failure_rate, p.average_bidders) == (Decimal("0.1000"), Decimal("0.5000"), Decimal("5.00"))
    # land: 031-01 (bidding) and 015-01 (3 bidders, sold 56,000,000.00 on a 50,000,000.00 reserve)
    assert (land.sections, land.premium_rate, land.average_bidders) == (2, Decimal("0.1200"), Decimal("3.00"))
    assert (prop.sections, prop.failure_rate, prop.average_bidders) == (1, None, None)
    total = statistics_total(statistics_compute(period="year"))
    assert total.sections == 13
    assert total.savings_fen == 24_000_000 and total.savings_rate == Decimal("0.0857")  # 240,000 / 2,800,000
    assert total.failure_rate == Decimal("0.2500")  # 1 failed of 4 concluded
    assert total.average_bidders == Decimal("4.60")  # (6 + 4 + 5 + 5 + 3) / 5 opened sections
    # refunds: 4 + 3 deposits refunded 3 and 25 days after their contracts
    assert len(total.refunds) == 7
    assert total.average_refund_days == Decimal("12.43")  # (4 * 3 + 3 * 25) / 7
    assert total.max_refund_days == Decimal("25.00")
