"""Deposits: a virtual account per registration, the cut-off, interest and forfeits.

Every act on a deposit locks its row, posts its ledger transaction and appends its audit entry
in one transaction. The audit log carries the bidder code and amounts, never who paid.
"""

import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from escrow import gateways, ledger
from escrow.models import Deposit, DepositTerms, Forfeit, InterestCredit
from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import NotAllowed, RuleViolation, TransitionError

ACCOUNT_PREFIX = "6217"  # the escrow bank's sub-account range (simulated)
FORFEIT_REASONS = ("BID-REVOKE-FORFEIT", "DEP-FORFEIT-REFUSE")
BANK_NAME = gettext_lazy("阳光交易中心保证金专户（模拟银行）")


def mod97_check_digits(base: str) -> str:
    """ISO 7064 MOD 97-10 check pair for a digit string (as IBAN): base + pair ≡ 1 (mod 97)."""
    if not base.isdigit():
        raise ValueError("digits only")
    return f"{98 - int(base + '00') % 97:02d}"


def virtual_account_valid(account: str) -> bool:
    return isinstance(account, str) and account.isdigit() and len(account) > 2 and int(account) % 97 == 1


def new_virtual_account() -> str:
    base = ACCOUNT_PREFIX + "".join(secrets.choice("0123456789") for _ in range(12))
    return base + mod97_check_digits(base)


def deposit_open(*, registration) -> Deposit:
    """The registration's deposit, made on first call with a fresh virtual account (safe to call twice)."""
    existing = Deposit.objects.filter(registration=registration).first()
    if existing:
        return existing
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Deposit.objects.create(
                    registration=registration,
                    virtual_account=new_virtual_account(),
                    amount_due_fen=registration.section.deposit_fen,
                )
        except IntegrityError:
            existing = Deposit.objects.filter(registration=registration).first()
            if existing:  # made meanwhile by a concurrent call
                return existing
            # else the account number collided: draw again
    raise RuntimeError("could not allocate a virtual account")


def lock_deposit(pk: int) -> Deposit:
    """The one row lock of escrow; inside a transaction."""
    return Deposit.objects.select_for_update(of=("self",)).select_related("registration__section").get(pk=pk)


def deposit_cutoff(section):
    """DEP-BEFORE-DEADLINE: the bid deadline, or the earlier cut-off the tender documents set."""
    terms = DepositTerms.objects.filter(section=section).first()
    times = [t for t in (section.bid_deadline, terms.cutoff_at if terms else None) if t is not None]
    return min(times) if times else None


def deposit_terms_set(*, actor, section, cutoff_at) -> DepositTerms:
    """Set an earlier deposit cut-off while the section is still a draft (it is part of the tender documents)."""
    if not policy.can_edit_section(actor, section):
        raise NotAllowed("NOT-ALLOWED", _("只有草稿阶段的招标人、代理或交易中心可以设置保证金截止时间。"))
    if section.bid_deadline and cutoff_at > section.bid_deadline:
        raise RuleViolation(
            "DEP-BEFORE-DEADLINE", _("保证金截止时间不得晚于投标截止时间。"), fields={"cutoff_at": "<= bid_deadline"}
        )
    with transaction.atomic():
        terms, _created = DepositTerms.objects.update_or_create(section=section, defaults={"cutoff_at": cutoff_at})
        audit_append(event=AuditEvent.DEPOSIT_TERMS_SET, actor=actor, section=section, data={"cutoff_at": cutoff_at.isoformat()})
    return terms


def deposit_payment_order(*, deposit: Deposit, return_url: str) -> gateways.PaymentOrder:
    """Start paying through the provider: the bidder is sent to the provider's own page."""
    if deposit.paid_fen or deposit.refunded_at or deposit.forfeited_at:
        raise TransitionError("DEP-ALREADY-PAID", _("保证金已缴纳或已结清。"))
    if deposit.amount_due_fen <= 0:
        raise TransitionError("DEP-NONE-DUE", _("本标段无需缴纳投标保证金。"))
    return gateways.default_provider().payment_create(
        virtual_account=deposit.virtual_account, amount_fen=deposit.amount_due_fen, return_url=return_url
    )


def deposit_interest_credit(*, deposit: Deposit, period: str, amount_fen: int) -> InterestCredit:
    """Bank interest on a held deposit (once per period): the bank pays it in, the bidder is owed it."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise RuleViolation("LEDGER-AMOUNT", _("利息金额必须是正整数（分）。"))
    with transaction.atomic():
        locked = lock_deposit(deposit.pk)
        existing = InterestCredit.objects.filter(deposit=locked, period=period).first()
        if existing:
            return existing
        if locked.held_fen <= 0 or locked.refunded_at or locked.forfeited_at:
            raise TransitionError("DEP-NOT-HELD", _("保证金未在专户中，不计利息。"))
        credit = InterestCredit.objects.create(deposit=locked, period=period, amount_fen=amount_fen)
        ledger.post(
            memo=f"deposit {locked.pk} interest {period}",
            entries=[(ledger.BANK, amount_fen), (ledger.deposit_account(locked), -amount_fen)],
            idempotency_key=f"interest:{locked.pk}:{period}",
            deposit=locked,
        )
        locked.interest_fen += amount_fen
        locked.save(update_fields=["interest_fen"])
        audit_append(
            event=AuditEvent.DEPOSIT_INTEREST,
            section=locked.registration.section,
            data={"bidder_code": locked.registration.bidder_code, "amount_fen": amount_fen, "period": period},
        )
    return credit


def deposit_forfeit(*, deposit: Deposit, reason: str, actor=None) -> Deposit:
    """Keep the deposit (BID-REVOKE-FORFEIT, DEP-FORFEIT-REFUSE): after opening, exactly once, never after a refund."""
    if reason not in FORFEIT_REASONS:
        raise RuleViolation("DEP-FORFEIT-REASON", _("没收保证金须依据规则 BID-REVOKE-FORFEIT 或 DEP-FORFEIT-REFUSE。"))
    with transaction.atomic():
        locked = lock_deposit(deposit.pk)
        if not policy.identities_revealed(locked.registration.section):
            raise TransitionError("DEP-NOT-OPENED", _("开标前不得没收保证金。"))
        if locked.forfeited_at:
            return locked
        if locked.refunded_at:
            raise TransitionError("DEP-REFUNDED", _("保证金已退还，不能没收。"))
        amount = locked.held_fen
        if amount <= 0:
            raise TransitionError("DEP-NOT-PAID", _("保证金未缴纳，无可没收。"))
        if reason == "DEP-FORFEIT-REFUSE" and not _refused_the_award(locked.registration):
            raise RuleViolation("DEP-FORFEIT-REFUSE", _("只有放弃中标或拒签合同的中标人，其保证金方可依此没收。"))
        Forfeit.objects.create(deposit=locked, amount_fen=amount, reason=reason, actor=actor)
        ledger.post(
            memo=f"deposit {locked.pk} forfeited ({reason})",
            entries=[(ledger.deposit_account(locked), amount), (ledger.FORFEITED, -amount)],
            idempotency_key=f"forfeit:{locked.pk}",
            deposit=locked,
        )
        locked.forfeited_fen = amount
        locked.forfeited_at = timezone.now()
        locked.forfeit_reason = reason
        locked.save(update_fields=["forfeited_fen", "forfeited_at", "forfeit_reason"])
        audit_append(
            event=AuditEvent.DEPOSIT_FORFEITED,
            actor=actor,
            section=locked.registration.section,
            data={"bidder_code": locked.registration.bidder_code, "amount_fen": amount, "rule": reason},
        )
    return locked


def _refused_the_award(registration) -> bool:
    from bidding.evaluation.models import Award

    return Award.objects.filter(refused_at__isnull=False, candidate__opening__bid__registration=registration).exists()


def deposit_counts(registration) -> bool:
    """For the opening: DEP-BEFORE-DEADLINE, a deposit paid in full before the cut-off and still held."""
    if registration.section.deposit_fen <= 0:
        return True
    deposit = Deposit.objects.filter(registration=registration).first()
    return bool(deposit and deposit.counts)
