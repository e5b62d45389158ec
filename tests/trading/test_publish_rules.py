"""Publishing a section runs the publish step's rules and refuses with the rule's code."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from tests.factories import ProjectFactory, SectionFactory, days
from trading.errors import NotAllowed, RuleViolation
from trading.models import Announcement, CalendarDay, Procedure, Role, SectionState, TransactionType
from trading.services.sections import clarification_issue, section_create, section_publish
from trading.workdays import add_working_days, working_days_between

pytestmark = pytest.mark.django_db


def assert_still_draft(section):
    section.refresh_from_db()
    assert section.state == SectionState.DRAFT
    assert section.published_at is None
    assert not Announcement.objects.filter(section=section).exists()


def test_DOC_MIN_20D_a_19_day_document_window_is_refused(staff):
    section = SectionFactory(bid_deadline=days(19, 1), opening_at=days(19, 2), registration_end=days(10))
    with pytest.raises(RuleViolation) as refused:
        section_publish(actor=staff, section=section)
    assert refused.value.code == "DOC-MIN-20D"
    assert "19" in refused.value.message
    assert_still_draft(section)


def test_DOC_MIN_20D_a_20_day_window_is_published_with_its_announcement(staff):
    section = SectionFactory(bid_deadline=days(20, 1), opening_at=days(20, 2))
    section_publish(actor=staff, section=section)
    section.refresh_from_db()
    assert section.state == SectionState.PUBLISHED
    assert Announcement.objects.filter(section=section, kind="tender").count() == 1


def test_DEP_CAP_2PCT_a_deposit_of_2_1_percent_is_refused_at_set_up(make_user):
    tenderer = make_user(Role.TENDERER)
    project = ProjectFactory(tenderer=tenderer.organization)
    with pytest.raises(RuleViolation) as refused:
        section_create(
            actor=tenderer, project=project, public_id="DEP-21", name="x", estimated_price_fen=100_000_000, deposit_fen=2_100_000
        )
    assert refused.value.code == "DEP-CAP-2PCT"
    assert not project.sections.exists()


def test_DEP_CAP_2PCT_a_deposit_of_2_1_percent_is_refused_at_publication(staff):
    section = SectionFactory(estimated_price_fen=100_000_000, deposit_fen=2_100_000)
    with pytest.raises(RuleViolation) as refused:
        section_publish(actor=staff, section=section)
    assert refused.value.code == "DEP-CAP-2PCT"
    assert_still_draft(section)


def test_DEP_CAP_2PCT_exactly_2_percent_is_accepted(staff):
    section = SectionFactory(estimated_price_fen=100_000_000, deposit_fen=2_000_000)
    assert section_publish(actor=staff, section=section).state == SectionState.PUBLISHED


def test_DOC_SALE_5_four_days_of_document_sale_are_refused(staff):
    section = SectionFactory(registration_start=days(0), registration_end=days(3))
    with pytest.raises(RuleViolation) as refused:
        section_publish(actor=staff, section=section)
    assert refused.value.code == "DOC-SALE-5"
    assert_still_draft(section)


def test_DOC_SALE_5_procurement_counts_working_days(staff):
    # Given a procurement whose 7 calendar days of sale hold only 4 working days (a holiday on two weekdays)
    start = timezone.localtime(days(1)).replace(hour=9, minute=0)
    while start.weekday() != 0:  # a Monday
        start += timedelta(days=1)
    CalendarDay.objects.create(date=start.date() + timedelta(days=1), kind=CalendarDay.Kind.HOLIDAY, name="测试假日")
    project = ProjectFactory(transaction_type=TransactionType.PROCUREMENT)
    section = SectionFactory(
        project=project,
        registration_start=start,
        registration_end=start + timedelta(days=5),
        documents_issued_at=start,
        bid_deadline=start + timedelta(days=25),
        opening_at=start + timedelta(days=25),
    )
    with pytest.raises(RuleViolation) as refused:
        section_publish(actor=staff, section=section)
    assert refused.value.code == "DOC-SALE-5"


def test_AUCTION_7D_a_sale_announced_6_days_ahead_is_refused(staff):
    project = ProjectFactory(transaction_type=TransactionType.LAND)
    section = SectionFactory(
        project=project,
        procedure=Procedure.AUCTION,
        registration_end=days(5),
        bid_deadline=days(6),
        opening_at=days(6),
        starting_price_fen=100_000,
        increment_fen=1_000,
    )
    with pytest.raises(RuleViolation) as refused:
        section_publish(actor=staff, section=section)
    assert refused.value.code == "AUCTION-7D"
    assert_still_draft(section)


def test_only_exchange_staff_publish(make_user):
    section = SectionFactory()
    tenderer = make_user(Role.TENDERER, organization=section.project.tenderer)
    with pytest.raises(NotAllowed):
        section_publish(actor=tenderer, section=section)
    assert_still_draft(section)


def test_CLARIFY_15D_a_late_clarification_must_move_the_deadline(staff):
    section = SectionFactory(bid_deadline=days(20, 1), opening_at=days(20, 2))
    section_publish(actor=staff, section=section)
    # Ten days later: documents out for 10 days, 14 left before the deadline.
    section.documents_issued_at, section.bid_deadline = days(-10), days(14)
    section.save(update_fields=["documents_issued_at", "bid_deadline"])
    with pytest.raises(RuleViolation) as refused:
        clarification_issue(actor=staff, section=section, title="澄清一", body="修改工程量清单")
    assert refused.value.code == "CLARIFY-15D"
    assert not section.announcements.filter(kind="clarification").exists()
    # When the deadline moves 15 days out, the clarification goes out.
    clarification_issue(actor=staff, section=section, title="澄清一", body="修改工程量清单", new_deadline=days(16))
    section.refresh_from_db()
    assert section.announcements.filter(kind="clarification").count() == 1
    assert (timezone.localtime(section.bid_deadline).date() - timezone.localdate()).days == 16


def test_working_days_skip_weekends_and_holidays_and_count_adjusted_days():
    # 2026-10-01 .. 10-08 National Day holidays; Saturday 2026-10-10 an adjusted working day (as an example)
    for n in range(1, 9):
        CalendarDay.objects.create(date=date(2026, 10, n), kind=CalendarDay.Kind.HOLIDAY, name="国庆节")
    CalendarDay.objects.create(date=date(2026, 10, 10), kind=CalendarDay.Kind.WORKDAY, name="调休")
    assert working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 2  # Fri 9th and Sat 10th
    assert add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 9)
