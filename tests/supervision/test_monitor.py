"""Monitoring nodes: the registry covers RULES.md, refusals and breaches raise one alert each (row, audit, live feed)."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from escrow.models import Alert as EscrowAlert
from tests.escrow.conftest import pay
from tests.factories import SectionFactory
from tests.supervision.conftest import days, feed_events, move, opened
from trading.audit.events import AuditEvent
from trading.audit.log import audit_verify
from trading.audit.models import AuditEntry, SealedAuditEntry
from trading.errors import RuleViolation
from trading.models import SectionState
from trading.services.lifecycle import section_transition
from trading.services.sections import section_publish
from trading.supervision.models import Alert, AwardReport
from trading.supervision.registry import REGISTRY, Breach, MonitoredRule, Step, check_provide, rule_register
from trading.supervision.services.alerts import alert_payload
from trading.supervision.services.monitor import scan_run

pytestmark = pytest.mark.django_db
# The codes of RULES.md (../shared/RULES.md, read too where it lies beside the checkout).
RULES_MD_CODES = [
    "DOC-MIN-20D",
    "DOC-SALE-5",
    "CLARIFY-15D",
    "OBJ-DOC-10D",
    "SECRET-BIDDERS",
    "AUCTION-7D",
    "DEP-CAP-2PCT",
    "DEP-BEFORE-DEADLINE",
    "DEP-SAME-PAYER",
    "BID-ENCRYPTED",
    "BID-RECEIPT",
    "BID-DEADLINE",
    "BID-WITHDRAW-REFUND-5D",
    "BID-REVOKE-FORFEIT",
    "BID-ONE-PER-BIDDER",
    "BID-NO-RELATED",
    "OPEN-AT-DEADLINE",
    "OPEN-MIN-3",
    "OPEN-READOUT",
    "OPEN-OBJECTION",
    "OPEN-DECRYPT-FAIL",
    "EVAL-SIZE",
    "EVAL-RANDOM",
    "EVAL-CONFLICT",
    "EVAL-SECRET",
    "EVAL-REJECT",
    "COLLUSION-40",
    "CAND-MAX-3",
    "CAND-PUBLICITY",
    "AWARD-FIRST",
    "CONTRACT-30D",
    "REPORT-15D",
    "DEP-REFUND-5D",
    "DEP-FORFEIT-REFUSE",
    "PERF-BOND-10PCT",
    "COMPLAINT-10D",
    "COMPLAINT-ACCEPT-3WD",
]
ROOT = Path(__file__).resolve().parents[2]


def test_every_rule_of_RULES_md_is_a_registered_monitoring_node():
    codes = set(RULES_MD_CODES)
    for rules_md in (ROOT.parent / "shared" / "RULES.md", ROOT.parents[1] / "shared" / "RULES.md"):
        if rules_md.exists():
            codes |= set(re.findall(r"^\| ([A-Z][A-Z0-9-]+) \|", rules_md.read_text(encoding="utf-8"), flags=re.M))
    assert len(codes) >= 37
    assert codes <= set(REGISTRY), sorted(codes - set(REGISTRY))
    for code in codes:
        rule = REGISTRY[code]
        assert rule.basis and rule.title and rule.step and rule.owner
        assert rule.severity in ("high", "medium", "low")


def test_escrow_alerts_are_supervision_alerts():
    assert EscrowAlert is Alert


def test_DOC_MIN_20D_a_refused_publication_raises_a_blocked_alert_after_the_rollback(staff):
    section = SectionFactory(bid_deadline=days(19, 1), opening_at=days(19, 2), registration_end=days(10))
    with pytest.raises(RuleViolation) as refused:
        section_publish(actor=staff, section=section)
    assert refused.value.code == "DOC-MIN-20D"
    section.refresh_from_db()
    assert section.state == SectionState.DRAFT  # the act itself is gone
    alert = Alert.objects.get()
    assert (alert.rule, alert.section_id, alert.blocked, alert.step) == ("DOC-MIN-20D", section.pk, True, Step.PUBLISH)
    entry = AuditEntry.objects.get(event=AuditEvent.RULE_REFUSED)
    assert entry.index == alert.audit_index and entry.data["rule"] == "DOC-MIN-20D" and entry.section_id == section.pk
    assert entry.actor_id == staff.pk
    (event,) = feed_events("alert.raised")
    assert event.payload["rule"] == "DOC-MIN-20D" and event.payload["section"] == section.public_id
    assert event.payload["blocked"] is True
    assert audit_verify().ok


def test_DOC_MIN_20D_a_publication_that_passes_raises_nothing(staff):
    section_publish(actor=staff, section=SectionFactory())
    assert not Alert.objects.exists()
    assert [e.payload["to"] for e in feed_events("section.transition")] == ["published"]


def test_DEP_SAME_PAYER_two_bidders_paying_from_one_account_raise_an_alert_held_until_the_opening(section, register, supervisor):
    """DEP-SAME-PAYER is checked at the payment notification; SECRET-BIDDERS: the alert's being there would tell the
    supervisors that two bidders registered, so it is held, and reaches their console and feed at the opening."""
    from trading.supervision.selectors import alert_counts, alerts_list

    first, second = register(section).deposit, register(section).deposit
    pay(first, payer_account="6222 0000 1111 2222")
    pay(second, payer_account="6222000011112222")
    alert = Alert.objects.get(rule="DEP-SAME-PAYER")
    assert alert.section_id == section.pk and alert.held and alert.names_bidders and len(alert.bidder_codes) == 2
    # Recorded in the section's sealed chain: no public index until the opening releases it.
    assert alert.audit_index is None
    assert SealedAuditEntry.objects.filter(event=AuditEvent.DEPOSIT_SAME_PAYER, section=section, data__alert=alert.pk).exists()
    assert not feed_events("alert.raised")
    assert not alerts_list(user=supervisor).exists() and "DEP-SAME-PAYER" not in alert_counts(user=supervisor)

    opened(section)
    alert.refresh_from_db()
    entry = AuditEntry.objects.get(index=alert.audit_index)  # the released entry of its raise
    assert entry.event == AuditEvent.DEPOSIT_SAME_PAYER and entry.data["alert"] == alert.pk and "sealed_seq" in entry.data
    (event,) = feed_events("alert.raised")
    assert event.payload["rule"] == "DEP-SAME-PAYER" and event.payload["audit_index"] == alert.audit_index
    assert sorted(event.payload["bidder_codes"]) == sorted([first.registration.bidder_code, second.registration.bidder_code])
    assert list(alerts_list(user=supervisor)) == [alert]
    assert audit_verify().ok


def test_DEP_SAME_PAYER_SECRET_BIDDERS_one_alert_however_many_share_the_account(section, register):
    """SECRET-BIDDERS: one alert is raised however many pay from the account, and it names the whole group once
    opened (a new alert for each would count them)."""
    deposits = [register(section).deposit for _ in range(4)]
    for deposit in deposits:
        pay(deposit, payer_account="6222 0000 1111 2222")
    alert = Alert.objects.get(rule="DEP-SAME-PAYER")
    opened(section)
    assert [e.payload["rule"] for e in feed_events("alert.raised")] == ["DEP-SAME-PAYER"]
    alert.refresh_from_db()
    assert alert_payload(alert)["bidder_codes"] == sorted(d.registration.bidder_code for d in deposits)
    assert audit_verify().ok


def test_DEP_SAME_PAYER_found_after_the_opening_is_not_held(section, register):
    """A deposit paid after the opening (late, DEP-BEFORE-DEADLINE) tells nothing new: the alert is live at once."""
    first, second = register(section).deposit, register(section).deposit
    pay(first, payer_account="6222000011113333")
    opened(section)
    pay(second, payer_account="6222000011113333")
    alert = Alert.objects.get(rule="DEP-SAME-PAYER")
    assert not alert.held and alert.audit_index is not None
    assert [e.payload["alert"] for e in feed_events("alert.raised")] == [alert.pk]


def test_DEP_REFUND_5D_the_scan_raises_an_overdue_refund_once(section, register):
    deposit = register(section).deposit
    pay(deposit)
    move(section, SectionState.CONTRACTED, days_ago=6)
    counts = scan_run()
    counts_again = scan_run()
    alert = Alert.objects.get()
    assert counts["DEP-REFUND-5D"] == 1 and counts_again["DEP-REFUND-5D"] == 0
    assert (alert.rule, alert.deposit_id, alert.section_id) == ("DEP-REFUND-5D", deposit.pk, section.pk)
    assert AuditEntry.objects.filter(event=AuditEvent.DEPOSIT_REFUND_OVERDUE).count() == 1
    assert [e.payload["rule"] for e in feed_events("alert.raised")] == ["DEP-REFUND-5D"]


def test_DEP_REFUND_5D_nothing_before_the_fifth_day(section, register):
    pay(register(section).deposit)
    move(section, SectionState.CONTRACTED, days_ago=4)
    assert scan_run()["DEP-REFUND-5D"] == 0 and not Alert.objects.exists()


def test_CONTRACT_30D_the_scan_raises_an_award_without_contract_after_30_days(section):
    move(section, SectionState.AWARDED, days_ago=31)
    scan_run()
    scan_run()
    alert = Alert.objects.get(rule="CONTRACT-30D")
    assert alert.section_id == section.pk and not alert.blocked


def test_CONTRACT_30D_a_late_contract_raises_its_alert_at_the_transition_without_blocking(section):
    move(section, SectionState.AWARDED, days_ago=32)
    section_transition(section=section, to_state=SectionState.CONTRACTED, reason="合同签订")
    section.refresh_from_db()
    assert section.state == SectionState.CONTRACTED
    assert Alert.objects.get().rule == "CONTRACT-30D"


def test_CONTRACT_30D_within_30_days_nothing(section):
    move(section, SectionState.AWARDED, days_ago=29)
    scan_run()
    section_transition(section=section, to_state=SectionState.CONTRACTED)
    assert not Alert.objects.filter(rule="CONTRACT-30D").exists()


def test_REPORT_15D_no_written_report_16_days_after_the_award(section, staff):
    move(section, SectionState.AWARDED, days_ago=16)
    scan_run()
    assert Alert.objects.get(rule="REPORT-15D").section_id == section.pk


def test_REPORT_15D_a_report_in_time_raises_nothing(section, make_user):
    from trading.supervision.services.reports import award_report_submit

    move(section, SectionState.AWARDED, days_ago=16)
    tenderer = make_user("tenderer", organization=section.project.tenderer)
    award_report_submit(actor=tenderer, section=section, award_price_fen=480_000_000, winner_name="甲公司", body="报告")
    scan_run()
    assert not Alert.objects.filter(rule="REPORT-15D").exists()


def test_REPORT_15D_a_report_whose_winner_refused_no_longer_counts(section, make_user):
    """The winner gave up after the report (DEP-FORFEIT-REFUSE): the next award needs a report of its own."""
    from trading.supervision.services.reports import award_report_submit, award_report_supersede

    move(section, SectionState.AWARDED, days_ago=16)
    tenderer = make_user("tenderer", organization=section.project.tenderer)
    award_report_submit(actor=tenderer, section=section, award_price_fen=480_000_000, winner_name="甲公司")
    assert award_report_supersede(section=section, at=timezone.now())
    scan_run()
    assert Alert.objects.get(rule="REPORT-15D").section_id == section.pk
    award_report_submit(actor=tenderer, section=section, award_price_fen=470_000_000, winner_name="乙公司")
    with pytest.raises(Exception) as twice:  # one current report per section
        award_report_submit(actor=tenderer, section=section, award_price_fen=1, winner_name="丙公司")
    assert twice.value.code == "REPORT-FILED"
    with pytest.raises(IntegrityError), transaction.atomic():  # and in the database, past the service
        AwardReport.objects.create(
            section=section, submitted_by=tenderer, award_price_fen=1, winner_name="丙公司", submitted_at=timezone.now()
        )


def test_REPORT_15D_and_CONTRACT_30D_land_and_property_sales_are_not_under_the_bidding_law(section):
    from trading.models import TransactionType

    for kind in (TransactionType.LAND, TransactionType.PROPERTY):
        move(SectionFactory(project__transaction_type=kind), SectionState.AWARDED, days_ago=31)
    move(section, SectionState.AWARDED, days_ago=31)  # a tender beside them: both alerts
    scan_run()
    assert sorted(Alert.objects.values_list("rule", "section_id")) == [("CONTRACT-30D", section.pk), ("REPORT-15D", section.pk)]


def test_a_check_another_app_registers_blocks_its_transition_and_raises_the_alert(section, monkeypatch):
    """How bidding registers a step check later: a blocking one refuses the transition; the alert stays."""
    monkeypatch.setitem(REGISTRY, "OPEN-MIN-3", REGISTRY["OPEN-MIN-3"])
    check_provide("OPEN-MIN-3", check=lambda s, *, now: Breach(message="投标人少于3个", section=s))
    section_transition(section=section, to_state=SectionState.BIDDING_CLOSED)
    with pytest.raises(RuleViolation) as refused:
        section_transition(section=section, to_state=SectionState.OPENING)
    assert refused.value.code == "OPEN-MIN-3"
    section.refresh_from_db()
    assert section.state == SectionState.BIDDING_CLOSED
    alert = Alert.objects.get()
    assert alert.rule == "OPEN-MIN-3" and alert.blocked
    assert AuditEntry.objects.filter(event=AuditEvent.RULE_REFUSED, section=section).count() == 1


def test_a_non_blocking_check_raises_its_alert_with_the_transition(section, monkeypatch):
    monkeypatch.setitem(REGISTRY, "X-TEST", None)
    rule_register(
        MonitoredRule(
            code="X-TEST", title="t", basis="b", step=Step.OPENING, check=lambda s, *, now: Breach(message="x", section=s)
        )
    )
    section_transition(section=section, to_state=SectionState.BIDDING_CLOSED)
    section_transition(section=section, to_state=SectionState.OPENING)
    section.refresh_from_db()
    assert section.state == SectionState.OPENING
    assert Alert.objects.get().rule == "X-TEST"


def test_a_failing_scan_does_not_stop_the_others(section, monkeypatch):
    monkeypatch.setitem(REGISTRY, "REPORT-15D", REGISTRY["REPORT-15D"])

    def broken(*, now):
        raise RuntimeError("boom")

    check_provide("REPORT-15D", scan=broken)
    move(section, SectionState.AWARDED, days_ago=31)
    counts = scan_run(now=timezone.now() + timedelta(seconds=1))
    assert counts["REPORT-15D"] == -1 and counts["CONTRACT-30D"] == 1
