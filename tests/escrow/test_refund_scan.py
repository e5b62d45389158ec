"""Refunds in time: the beat-scheduled scan sends each refund once, when it falls due, and alerts when one is late."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from bidding.models import Bid
from escrow.gateways import ProviderError
from escrow.gateways.simulated import SimulatedProvider
from escrow.models import Alert, Deposit, Refund
from escrow.services.deposits import deposit_forfeit
from escrow.services.refunds import refunds_due
from escrow.tasks import refund_scan
from tests.escrow.conftest import pay
from tests.factories import SectionFactory
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry
from trading.models import SectionState, SectionTransition
from trading.policy import audit_entries_visible
from trading.services.lifecycle import section_transition
from trading.services.sections import section_publish

pytestmark = pytest.mark.django_db


def bid(registration, status, at=None) -> Bid:
    at = at or timezone.now()
    return Bid.objects.create(
        registration=registration,
        envelope="envelopes/x",
        digest="0" * 64,
        size=1,
        manifest={},
        receipt={},
        status=status,
        submitted_at=at,
        status_changed_at=at if status != Bid.Status.ACTIVE else None,
    )


def paid_deposits(section, register, n, **pay_overrides) -> list[Deposit]:
    deposits = []
    for i in range(n):
        deposit = register(section).deposit
        pay(deposit, payer_account=f"62220000{i:04d}", **pay_overrides)
        deposits.append(deposit)
    return deposits


def move(section, state, *, days_ago=0):
    """Put a section in a state as if it had got there `days_ago` (the transition history says when)."""
    section.state = state
    section.opened_at = section.opened_at or timezone.now()
    section.save(update_fields=["state", "opened_at"])
    transition = SectionTransition.objects.create(section=section, from_state="awarded", to_state=state)
    SectionTransition.objects.filter(pk=transition.pk).update(at=timezone.now() - timedelta(days=days_ago))


def refunded(deposit) -> Deposit:
    deposit.refresh_from_db()
    return deposit


def test_BID_WITHDRAW_REFUND_5D_withdrawn_bid_refunded_by_the_scan(section, register):
    withdrawn, replaced_then_active, never_bid = paid_deposits(section, register, 3)
    bid(withdrawn.registration, Bid.Status.WITHDRAWN)
    bid(replaced_then_active.registration, Bid.Status.WITHDRAWN)
    bid(replaced_then_active.registration, Bid.Status.ACTIVE)
    due = refunds_due()
    assert [(d.deposit_id, d.reason) for d in due] == [(withdrawn.pk, "BID-WITHDRAW-REFUND-5D")]
    assert due[0].due_at > timezone.now() + timedelta(days=4)
    assert refund_scan() == 1
    assert refunded(withdrawn).refund_reason == "BID-WITHDRAW-REFUND-5D"
    assert refunded(replaced_then_active).refunded_at is None and refunded(never_bid).refunded_at is None
    assert refund_scan() == 0  # safe to run again
    assert Refund.objects.count() == 1


def test_DEP_REFUND_5D_everyone_refunded_after_the_contract_but_a_forfeit(section, register):
    deposits = paid_deposits(section, register, 3)
    move(section, SectionState.CONTRACTED)
    deposit_forfeit(deposit=deposits[0], reason="BID-REVOKE-FORFEIT")
    refund_scan()
    assert [refunded(d).refund_reason for d in deposits] == ["", "DEP-REFUND-5D", "DEP-REFUND-5D"]
    assert refunded(deposits[0]).forfeited_at is not None
    assert AuditEntry.objects.filter(event=AuditEvent.DEPOSIT_REFUNDED).count() == 2
    assert not Alert.objects.exists()


def test_a_terminated_section_refunds_everyone_at_once(section, register, staff):
    deposits = paid_deposits(section, register, 2)
    section_transition(section=section, to_state=SectionState.TERMINATED, actor=staff, reason="终止")
    assert all(d.due_at <= timezone.now() for d in refunds_due())
    refund_scan()
    assert all(refunded(d).refund_reason == "SECTION-ENDED" for d in deposits)


def test_DEP_BEFORE_DEADLINE_late_money_goes_back_once_the_deadline_passed(section, register):
    section.bid_deadline = timezone.now() - timedelta(seconds=1)
    section.save(update_fields=["bid_deadline"])
    (late,) = paid_deposits(section, register, 1)
    assert refunded(late).status == Deposit.Status.LATE
    refund_scan()
    assert refunded(late).refund_reason == "DEP-BEFORE-DEADLINE"


def test_nothing_goes_back_while_bidding(section, register):
    paid_deposits(section, register, 2)
    assert refund_scan() == 0 and not Refund.objects.exists()


def test_DEP_REFUND_5D_overdue_refund_raises_one_alert(section, register, monkeypatch):
    (deposit,) = paid_deposits(section, register, 1)
    move(section, SectionState.CONTRACTED, days_ago=6)

    def down(self, **kwargs):
        raise ProviderError("provider unreachable")

    monkeypatch.setattr(SimulatedProvider, "refund", down)
    refund_scan()
    refund_scan()
    alert = Alert.objects.get()
    assert alert.rule == "DEP-REFUND-5D" and alert.deposit_id == deposit.pk
    assert alert.bidder_codes == [deposit.registration.bidder_code]  # the section is opened
    assert AuditEntry.objects.filter(event=AuditEvent.DEPOSIT_REFUND_OVERDUE).count() == 1
    assert refunded(deposit).refunded_at is None and not Refund.objects.exists()
    monkeypatch.undo()
    refund_scan()  # the provider is back: the refund goes out
    assert refunded(deposit).refund_reason == "DEP-REFUND-5D"


def test_the_demo_deposits_refund_at_the_simulated_provider(caplog):
    """The demo's deposits are transfers the simulated bank holds too: the scan refunds them (it used to fail each one
    with "no such payment to refund" at every scan, and raise DEP-REFUND-5D alerts)."""
    import logging

    from django.core.management import call_command

    call_command("load_demo", quiet=True)
    due = refunds_due()
    assert due  # the demo has refunds falling due
    with caplog.at_level(logging.WARNING):
        refund_scan()
    assert not [r for r in caplog.records if "failed at the provider" in r.getMessage()]
    assert all(Deposit.objects.get(pk=item.deposit_id).refunded_at for item in due)


def provider_down(monkeypatch):
    monkeypatch.setattr(SimulatedProvider, "refund", lambda self, **kwargs: (_ for _ in ()).throw(ProviderError("down")))


def test_DEP_REFUND_5D_SECRET_BIDDERS_a_section_never_opened_raises_an_alert_that_names_no_section(
    section, register, monkeypatch, staff
):
    """SECRET-BIDDERS: a section that failed or was terminated before opening keeps its bidders sealed for good. An
    overdue-refund alert per deposit would count them on the supervisors' feed, and even one of the section's own
    would say that someone had paid there: one alert a day for all unopened sections together, naming none."""
    from escrow.services.refunds import refund_overdue_alerts
    from tests.supervision.conftest import feed_events, move

    deposits = paid_deposits(section, register, 3)
    other = section_publish(actor=staff, section=SectionFactory())
    paid_deposits(other, register, 2)
    for s in (section, other):
        move(s, SectionState.TERMINATED, days_ago=6, opened=False, from_state="published")
    provider_down(monkeypatch)
    refund_overdue_alerts()
    refund_overdue_alerts()
    (alert,) = Alert.objects.filter(rule="DEP-REFUND-5D")
    assert alert.section_id is None and alert.deposit_id is None and alert.bidder_codes == []
    assert [e.payload["rule"] for e in feed_events("alert.raised")] == ["DEP-REFUND-5D"]
    for text in (alert.message, str(alert.data), str(feed_events("alert.raised")[0].payload)):
        assert section.public_id not in text and other.public_id not in text
        for deposit in deposits:
            assert deposit.registration.bidder_code not in text
    assert not AuditEntry.objects.filter(event=AuditEvent.DEPOSIT_REFUND_OVERDUE).exists()
    entry = AuditEntry.objects.get(index=alert.audit_index)  # naming nobody, it is in the public log, not hidden
    assert entry.event == AuditEvent.ALERT_RAISED and entry.section_id is None
    assert audit_entries_visible(AnonymousUser(), AuditEntry.objects.filter(pk=entry.pk)).exists()
    refund_overdue_alerts(now=timezone.now() + timedelta(days=1))  # still late the next day: the day's alert
    assert Alert.objects.filter(rule="DEP-REFUND-5D").count() == 2


def test_BID_WITHDRAW_REFUND_5D_SECRET_BIDDERS_a_late_refund_before_opening_names_its_deposit_from_the_opening(
    section, register, monkeypatch, caplog
):
    """A bid withdrawn before the deadline whose refund is late: before opening the alert says only that refunds are
    late (not that someone withdrew: no rule of withdrawal, no section, no due day); once the section is opened the
    scan raises that deposit's own alert, with its rule, section and bidder code."""
    import logging

    from escrow.services.refunds import refund_overdue_alerts
    from tests.supervision.conftest import opened

    (deposit,) = paid_deposits(section, register, 1)
    withdrawn_at = timezone.now() - timedelta(days=6)
    bid(deposit.registration, Bid.Status.WITHDRAWN, at=withdrawn_at)
    provider_down(monkeypatch)
    with caplog.at_level(logging.INFO):
        assert refund_overdue_alerts() == 1
    (sealed,) = Alert.objects.all()
    assert sealed.rule == "DEP-REFUND-5D" and sealed.section_id is None
    due = timezone.localtime(withdrawn_at + timedelta(days=5)).strftime("%Y-%m-%d")
    assert due not in sealed.message and section.public_id not in caplog.text
    assert deposit.registration.bidder_code not in caplog.text

    opened(section)
    assert refund_overdue_alerts() == 1
    named = Alert.objects.exclude(pk=sealed.pk).get()
    assert named.rule == "BID-WITHDRAW-REFUND-5D" and named.section_id == section.pk
    assert named.deposit_id == deposit.pk and named.bidder_codes == [deposit.registration.bidder_code]
    assert refund_overdue_alerts() == 0  # once each
