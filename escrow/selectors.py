"""Escrow's reads, each passed through the visibility policy (trading.policy decides, nothing here does)."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bidding.models import Registration
from escrow.models import Alert, Deposit, Payment, ReconciliationRun
from escrow.services.deposits import deposit_cutoff, deposit_open
from escrow.services.payments import same_payer_flags
from escrow.services.reconciliation import day_sections
from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.audit.models import AuditEntry, SealedAuditEntry
from trading.errors import DomainError, NotAllowed
from trading.models import Role


class LookupLimit(DomainError):
    status = 429


def deposit_own(*, user, section) -> Deposit:
    """The viewer's own deposit on a section; anyone else gets the refusal an unregistered bidder gets."""
    registration = None
    if policy.role_of(user) == Role.BIDDER and user.organization_id:
        registration = Registration.objects.filter(section=section, organization_id=user.organization_id).first()
    if registration is None:
        raise NotAllowed("NOT-REGISTERED", _("只有已报名的投标人可以查看保证金。"))
    deposit = policy.deposits_visible(user, Deposit.objects.filter(registration=registration)).first()
    return deposit or deposit_open(registration=registration)  # registered before escrow existed


@dataclass(frozen=True)
class BoardRow:
    bidder: str  # the code before opening, the name after (policy.bidder_label)
    bidder_code: str
    virtual_account: str
    amount_due_fen: int
    status: str
    status_label: str
    counts: bool
    paid_at: object


def board_row(user, deposit: Deposit) -> BoardRow:
    return BoardRow(
        bidder=policy.bidder_label(user, deposit.registration),
        bidder_code=deposit.registration.bidder_code,
        virtual_account=deposit.virtual_account,
        amount_due_fen=deposit.amount_due_fen,
        status=deposit.status,
        status_label=deposit.get_status_display(),
        counts=deposit.counts,
        paid_at=deposit.paid_at,
    )


def deposit_board(*, user, section, code: str = "") -> tuple[str, list[BoardRow]]:
    """(mode, rows). 'list': every deposit after opening; 'lookup': the one the staff member was told the code of."""
    mode = policy.deposit_board_mode(user, section)
    if not mode:
        raise NotAllowed("NOT-ALLOWED", _("只有交易中心工作人员可以查看保证金看板。"))
    deposits = Deposit.objects.filter(registration__section=section).select_related(
        "registration__section", "registration__organization"
    )
    if mode == "list":
        return mode, [board_row(user, d) for d in policy.deposits_visible(user, deposits).order_by("registration__bidder_code")]
    code = code.strip().upper()
    if not code:
        return mode, []
    with transaction.atomic():
        # One staff member's lookups in turn, so that parallel requests cannot outrun the day's allowance.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        since = timezone.now() - timedelta(days=1)
        # A lookup in a sealed section is recorded in its sealed chain until opening (SealedAuditEntry): count both.
        done = sum(
            model.objects.filter(event=AuditEvent.DEPOSIT_LOOKED_UP, actor_id=user.pk, at__gte=since).count()
            for model in (AuditEntry, SealedAuditEntry)
        )
        if not policy.deposit_lookup_allowed(user, done_today=done):
            raise LookupLimit(
                "DEP-LOOKUP-LIMIT",
                _("保证金查询次数已达上限（每24小时 %(n)d 次），请稍后再查。") % {"n": settings.ESCROW_LOOKUPS_PER_DAY},
            )
        # A sealed read by staff: recorded, and the answer for an unknown code is the answer for an unpaid one's absence.
        audit_append(event=AuditEvent.DEPOSIT_LOOKED_UP, actor=user, section=section, data={"bidder_code": code})
    deposit = deposits.filter(registration__bidder_code=code).first()
    return mode, [board_row(user, deposit)] if deposit else []


@dataclass(frozen=True)
class PayerRow:
    bidder: str
    bidder_code: str
    payer_name: str
    payer_account: str
    amount_fen: int
    received_at: object
    on_time: bool


def deposit_payers(*, user, section) -> tuple[list[PayerRow], list]:
    """Who paid each deposit, and the DEP-SAME-PAYER flags: for the evaluation and supervisors after opening only."""
    if not policy.can_read_payers(user, section):
        raise NotAllowed("NOT-ALLOWED", _("付款人信息在开标后仅供评标委员会和监督部门查看。"))
    payments = Payment.objects.filter(deposit__registration__section=section).select_related(
        "deposit__registration__organization", "deposit__registration__section"
    )
    audit_append(event=AuditEvent.DEPOSIT_PAYERS_READ, actor=user, section=section, data={})
    rows = [
        PayerRow(
            bidder=policy.bidder_label(user, p.deposit.registration),
            bidder_code=p.deposit.registration.bidder_code,
            payer_name=p.payer_name,
            payer_account=p.payer_account,
            amount_fen=p.amount_fen,
            received_at=p.received_at,
            on_time=p.on_time,
        )
        for p in payments
    ]
    return rows, same_payer_flags(section=section)


def alerts_list(*, user):
    return policy.deposit_alerts_visible(user, Alert.objects.select_related("section"))


def reconciliation_runs(*, user, limit: int = 30) -> list[ReconciliationRun]:
    """The latest runs; each run's `matched_shown` is its count of agreeing movements, or None while the policy seals it."""
    if not policy.can_reconcile(user):
        raise NotAllowed("NOT-ALLOWED", _("只有交易中心可以查看对账报告。"))
    runs = list(ReconciliationRun.objects.prefetch_related("differences")[:limit])
    for run in runs:
        visible = policy.reconciliation_count_visible(day_sections(run.provider, run.day))
        run.matched_shown = run.matched if visible else None
    return runs


def section_deposit_facts(section) -> dict:
    """Public facts of a section's deposit (amount and cut-off): the same for every viewer."""
    return {"amount_fen": section.deposit_fen, "cutoff_at": deposit_cutoff(section)}
