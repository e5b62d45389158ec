"""Refunds: through the provider with an idempotency key, under the deposit's row lock, exactly once.

When they fall due (the refund scan runs them; each is also safe to run by hand):
- BID-WITHDRAW-REFUND-5D: a bid withdrawn before the deadline, within 5 days of the withdrawal;
- DEP-REFUND-5D: everyone, within 5 days of the contract;
- a failed or terminated section: at once;
- DEP-BEFORE-DEADLINE: money that arrived after the cut-off never counted: back at once.
A refund still owed after its date raises an alert.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from bidding.models import Bid
from escrow import gateways, ledger
from escrow.models import Deposit, Refund
from escrow.services.alerts import alert_raise
from escrow.services.deposits import lock_deposit
from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import TransitionError
from trading.i18n import official_language
from trading.models import SectionState, SectionTransition

REFUND_DAYS = 5
WITHDRAWN = "BID-WITHDRAW-REFUND-5D"
CONTRACT = "DEP-REFUND-5D"
SECTION_ENDED = "SECTION-ENDED"  # failed (流标) or terminated: at once
LATE = "DEP-BEFORE-DEADLINE"


def refund_key(deposit: Deposit) -> str:
    """One refund per deposit, so one key per deposit: a retry after a crash finds the provider's first refund."""
    return f"sunlight-deposit-{deposit.pk}-refund"


def deposit_refund(*, deposit: Deposit, reason: str, actor=None) -> Deposit:
    """Return what is held (payment and interest) to where it came from, exactly once; a second call changes nothing."""
    with transaction.atomic():
        locked = lock_deposit(deposit.pk)
        if locked.refunded_at:
            return locked
        if locked.forfeited_at:
            raise TransitionError("DEP-FORFEITED", _("保证金已没收，不能退还。"))
        amount = locked.held_fen
        if amount <= 0:
            raise TransitionError("DEP-NOT-PAID", _("保证金未缴纳，无可退还。"))
        payment = locked.payments.order_by("received_at", "pk").first()
        provider = gateways.provider(payment.provider)
        key = refund_key(locked)
        result = provider.refund(
            idempotency_key=key, txn_id=payment.provider_txn_id, virtual_account=locked.virtual_account, amount_fen=amount
        )
        Refund.objects.create(
            deposit=locked,
            provider=provider.name,
            idempotency_key=key,
            provider_refund_id=result.refund_id,
            amount_fen=amount,
            reason=reason,
        )
        ledger.post(
            memo=f"deposit {locked.pk} refunded ({reason})",
            entries=[(ledger.deposit_account(locked), amount), (ledger.BANK, -amount)],
            idempotency_key=f"refund:{locked.pk}",
            deposit=locked,
        )
        locked.refunded_fen, locked.refunded_at, locked.refund_reason = amount, timezone.now(), reason
        locked.save(update_fields=["refunded_fen", "refunded_at", "refund_reason"])
        audit_append(
            event=AuditEvent.DEPOSIT_REFUNDED,
            actor=actor,
            section=locked.registration.section,
            data={"bidder_code": locked.registration.bidder_code, "amount_fen": amount, "rule": reason},
        )
    return locked


@dataclass(frozen=True)
class RefundDue:
    deposit_id: int
    reason: str
    due_at: datetime


def _transition_at(section_ids, states) -> dict[int, datetime]:
    rows = (
        SectionTransition.objects.filter(section_id__in=section_ids, to_state__in=states)
        .values("section_id")
        .annotate(at=Max("at"))
    )
    return {row["section_id"]: row["at"] for row in rows}


def refunds_due(*, now=None) -> list[RefundDue]:
    """Every held deposit that should go back now, with the latest day it may go back."""
    now = now or timezone.now()
    held = list(
        Deposit.objects.filter(paid_fen__gt=0, refunded_at__isnull=True, forfeited_at__isnull=True).select_related(
            "registration__section"
        )
    )
    section_ids = {d.registration.section_id for d in held}
    ended = _transition_at(section_ids, [SectionState.FAILED, SectionState.TERMINATED])
    contracted = _transition_at(section_ids, [SectionState.CONTRACTED])
    withdrawn = dict(
        Bid.objects.filter(registration__deposit__in=held, status=Bid.Status.WITHDRAWN)
        .exclude(registration__bids__status=Bid.Status.ACTIVE)
        .values("registration_id")
        .annotate(at=Max("status_changed_at"))
        .values_list("registration_id", "at")
    )
    due = []
    for deposit in held:
        section = deposit.registration.section
        if section.state in (SectionState.FAILED, SectionState.TERMINATED):
            due.append(RefundDue(deposit.pk, SECTION_ENDED, ended.get(section.pk, now)))
        elif not deposit.on_time and section.bid_deadline and now >= section.bid_deadline:
            due.append(RefundDue(deposit.pk, LATE, section.bid_deadline))
        elif withdrawn.get(deposit.registration_id):
            due.append(RefundDue(deposit.pk, WITHDRAWN, withdrawn[deposit.registration_id] + timedelta(days=REFUND_DAYS)))
        elif section.state in (SectionState.CONTRACTED, SectionState.CLOSED) and section.pk in contracted:
            due.append(RefundDue(deposit.pk, CONTRACT, contracted[section.pk] + timedelta(days=REFUND_DAYS)))
    return due


def refund_overdue_alerts(*, now=None) -> int:
    """An alert for each refund past its latest day and still not made: one per deposit in an opened section; before
    opening (for good, in a section that ends unopened) one a day for all the unopened sections together, naming none.
    An alert of the section's own, even one per section, would tell the supervisors that someone registered and paid
    there, and one per deposit how many (SECRET-BIDDERS); when the section opens, the scan raises each deposit's."""
    now = now or timezone.now()
    raised = 0
    for item in refunds_due(now=now):
        if item.due_at >= now:
            continue
        deposit = Deposit.objects.select_related("registration__section").get(pk=item.deposit_id)
        if policy.identities_revealed(deposit.registration.section):
            alert = _overdue_alert(deposit, item)
        else:
            alert = _overdue_alert_unopened(now)
        raised += alert is not None
    return raised


def _overdue_alert(deposit: Deposit, item: RefundDue):
    section = deposit.registration.section
    with official_language():
        message = _("%(section)s：保证金退还逾期（应于 %(due)s 前退还）。") % {
            "section": section.public_id,
            "due": timezone.localtime(item.due_at).strftime("%Y-%m-%d %H:%M"),
        }
    return alert_raise(
        rule=item.reason if item.reason != SECTION_ENDED else CONTRACT,
        message=message,
        event=AuditEvent.DEPOSIT_REFUND_OVERDUE,
        section=section,
        deposit=deposit,
        bidder_codes=[deposit.registration.bidder_code],
        dedupe_key=f"refund-overdue:{deposit.pk}",
    )


def _overdue_alert_unopened(now):
    """No section, no deposit, no due day (a due day is a withdrawal's or a termination's date plus five), no reason
    (a withdrawal's rule would say that someone withdrew): that refunds are late, which the escrow's operators act
    on at the provider, and nothing of whose. So its audit entry is a public one (ALERT_RAISED): a deposit's own
    event would be a bidder's private act with no section to be released with, hidden from the public log for good."""
    day = timezone.localdate(now).isoformat()
    with official_language():
        message = _("保证金退还逾期：未开标的标段中有保证金未按期退还（标段与投标人开标前保密，开标后逐笔告警）。")
    return alert_raise(
        rule=CONTRACT,
        message=message,
        event=AuditEvent.ALERT_RAISED,
        data={"day": day},
        dedupe_key=f"refund-overdue:unopened:{day}",
    )
