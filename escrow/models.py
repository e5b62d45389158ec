"""Bid deposits (投标保证金): one per registration, paid to a virtual account, kept in a double-entry ledger.

The payer's name and account (who paid) live in `Payment` only: never in the audit log, a log
line, an alert or a staff screen before opening. Every movement of money is a balanced
`LedgerTransaction`; each deposit also carries its own invariants as database constraints.
"""

import uuid

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class DepositTerms(models.Model):
    """An optional cut-off earlier than the bid deadline, when the tender documents set one (DEP-BEFORE-DEADLINE)."""

    section = models.OneToOneField("trading.Section", on_delete=models.PROTECT, related_name="deposit_terms")
    cutoff_at = models.DateTimeField(_("保证金截止时间"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("保证金条款")
        verbose_name_plural = _("保证金条款")

    def __str__(self):
        return f"{self.section_id} {self.cutoff_at}"


class Deposit(models.Model):
    class Status(models.TextChoices):
        UNPAID = "unpaid", _("未缴纳")
        PAID = "paid", _("已缴纳")
        LATE = "late", _("逾期到账（无效）")
        REFUNDED = "refunded", _("已退还")
        FORFEITED = "forfeited", _("已没收")
        APPLIED_TO_PRICE = "applied", _("已转作成交价款")  # a sale's winner: the deposit becomes part of the price

    registration = models.OneToOneField("bidding.Registration", on_delete=models.PROTECT, related_name="deposit")
    # Digits ending in an ISO 7064 MOD 97-10 check pair: int(virtual_account) % 97 == 1.
    virtual_account = models.CharField(_("虚拟账号"), max_length=32, unique=True)
    amount_due_fen = models.BigIntegerField(_("应缴金额（分）"))
    paid_fen = models.BigIntegerField(default=0)
    interest_fen = models.BigIntegerField(default=0)
    refunded_fen = models.BigIntegerField(default=0)
    forfeited_fen = models.BigIntegerField(default=0)
    paid_at = models.DateTimeField(null=True, blank=True)  # when the money arrived, as the provider signed it
    on_time = models.BooleanField(default=False)  # arrived before the cut-off (DEP-BEFORE-DEADLINE)
    refunded_at = models.DateTimeField(null=True, blank=True)
    refund_reason = models.CharField(max_length=32, blank=True)
    forfeited_at = models.DateTimeField(null=True, blank=True)
    forfeit_reason = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("保证金")
        verbose_name_plural = _("保证金")
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_due_fen__gte=0)
                & Q(paid_fen__gte=0)
                & Q(interest_fen__gte=0)
                & Q(refunded_fen__gte=0)
                & Q(forfeited_fen__gte=0),
                name="deposit_amounts_non_negative",
            ),
            # A balanced ledger alone does not stop a double refund: these do.
            models.CheckConstraint(
                condition=Q(paid_fen__gte=F("refunded_fen") + F("forfeited_fen") - F("interest_fen")),
                name="deposit_out_within_paid",
            ),
            models.CheckConstraint(
                condition=Q(refunded_at__isnull=True) | Q(forfeited_at__isnull=True), name="deposit_refund_or_forfeit"
            ),
            models.CheckConstraint(
                condition=Q(refunded_at__isnull=True, refunded_fen=0) | Q(refunded_at__isnull=False, refunded_fen__gt=0),
                name="deposit_refund_dated",
            ),
            models.CheckConstraint(
                condition=Q(forfeited_at__isnull=True, forfeited_fen=0) | Q(forfeited_at__isnull=False, forfeited_fen__gt=0),
                name="deposit_forfeit_dated",
            ),
        ]

    def __str__(self):
        return self.virtual_account

    @property
    def status(self) -> str:
        if self.refunded_at:
            return self.Status.REFUNDED
        if self.forfeited_at:
            return self.Status.APPLIED_TO_PRICE if self.forfeit_reason == "AUCTION-TO-PRICE" else self.Status.FORFEITED
        if not self.paid_fen:
            return self.Status.UNPAID
        return self.Status.PAID if self.on_time else self.Status.LATE

    def get_status_display(self) -> str:
        return str(self.Status(self.status).label)

    @property
    def counts(self) -> bool:
        """DEP-BEFORE-DEADLINE: paid in full before the cut-off, and still held."""
        return self.status == self.Status.PAID and self.paid_fen >= self.amount_due_fen

    @property
    def held_fen(self) -> int:
        return self.paid_fen + self.interest_fen - self.refunded_fen - self.forfeited_fen


class Payment(models.Model):
    """One payment into a virtual account, applied exactly once per provider transaction id."""

    class Source(models.TextChoices):
        NOTIFICATION = "notification", _("支付通知")
        STATEMENT = "statement", _("银行对账单")

    deposit = models.ForeignKey(Deposit, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=16)
    provider_txn_id = models.CharField(max_length=64)
    source = models.CharField(max_length=16, choices=Source.choices)
    amount_fen = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    # Who paid: sealed at rest (escrow.sealing); read by escrow internals and, after opening, the
    # evaluation (policy.can_read_payers). payer_key: a keyed digest of the account, for DEP-SAME-PAYER.
    payer_name_sealed = models.TextField()
    payer_account_sealed = models.TextField()
    payer_key = models.CharField(max_length=64, db_index=True)
    received_at = models.DateTimeField()
    on_time = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payment_amount_positive"),
            # Idempotency: a provider's transaction is applied once, whoever delivers it how often.
            models.UniqueConstraint(fields=["provider", "provider_txn_id"], name="payment_once_per_provider_txn"),
        ]

    def __str__(self):
        return f"{self.provider}:{self.provider_txn_id}"

    def _context(self, field: str) -> str:
        return f"{self.provider}|{self.provider_txn_id}|{field}"

    def seal_payer(self, *, name: str, account: str) -> None:
        from escrow.sealing import seal

        self.payer_name_sealed = seal(name, context=self._context("name"))
        self.payer_account_sealed = seal(account, context=self._context("account"))

    @property
    def payer_name(self) -> str:
        from escrow.sealing import unseal

        return unseal(self.payer_name_sealed, context=self._context("name"))

    @property
    def payer_account(self) -> str:
        from escrow.sealing import unseal

        return unseal(self.payer_account_sealed, context=self._context("account"))


class Refund(models.Model):
    """At most one per deposit (the one-to-one is the database's word), sent with an idempotency key."""

    deposit = models.OneToOneField(Deposit, on_delete=models.PROTECT, related_name="refund")
    provider = models.CharField(max_length=16)
    idempotency_key = models.CharField(max_length=100, unique=True)
    provider_refund_id = models.CharField(max_length=64)
    amount_fen = models.BigIntegerField()
    reason = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount_fen__gt=0), name="refund_amount_positive")]

    def __str__(self):
        return self.idempotency_key


class Forfeit(models.Model):
    deposit = models.OneToOneField(Deposit, on_delete=models.PROTECT, related_name="forfeit")
    amount_fen = models.BigIntegerField()
    reason = models.CharField(max_length=32)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount_fen__gt=0), name="forfeit_amount_positive")]

    def __str__(self):
        return f"{self.deposit_id} {self.reason}"


class InterestCredit(models.Model):
    """Bank interest credited to a deposit for a period (DEP-REFUND-5D: refunded with the deposit)."""

    deposit = models.ForeignKey(Deposit, on_delete=models.PROTECT, related_name="interest_credits")
    period = models.CharField(max_length=16)
    amount_fen = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deposit", "period"], name="interest_once_per_period"),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="interest_amount_positive"),
        ]

    def __str__(self):
        return f"{self.deposit_id} {self.period}"


class LedgerTransaction(models.Model):
    memo = models.CharField(max_length=200)
    idempotency_key = models.CharField(max_length=100, unique=True, null=True, blank=True)
    deposit = models.ForeignKey(Deposit, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_transactions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        triggers = [pgtrigger.Protect(name="ledger_txn_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self):
        return f"{self.pk} {self.memo}"


class LedgerEntry(models.Model):
    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.CharField(max_length=64, db_index=True)
    amount_fen = models.BigIntegerField()  # signed: debit positive, credit negative

    class Meta:
        ordering = ["pk"]
        triggers = [
            pgtrigger.Protect(name="ledger_entry_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
            # Checked at commit, when all of a transaction's entries are in: they must sum to zero.
            pgtrigger.Trigger(
                name="ledger_entry_balanced",
                when=pgtrigger.After,
                operation=pgtrigger.Insert,
                timing=pgtrigger.Deferred,
                declare=[("total", "numeric")],
                func=(
                    "SELECT COALESCE(SUM(amount_fen), 0) INTO total FROM escrow_ledgerentry"
                    " WHERE transaction_id = NEW.transaction_id;"
                    " IF total <> 0 THEN RAISE EXCEPTION 'ledger transaction % is unbalanced by %',"
                    " NEW.transaction_id, total USING ERRCODE = 'check_violation'; END IF;"
                    " RETURN NULL;"
                ),
            ),
        ]

    def __str__(self):
        return f"{self.account} {self.amount_fen}"


# Alerts live in supervision (one model for every alert); the name stays importable from here.
from trading.supervision.models import Alert  # noqa: E402, F401


class ReconciliationRun(models.Model):
    provider = models.CharField(max_length=16)
    day = models.DateField()
    matched = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "-pk"]

    def __str__(self):
        return f"{self.provider} {self.day}"


class ReconciliationDifference(models.Model):
    class Kind(models.TextChoices):
        MISSING_IN_LEDGER = "missing_in_ledger", _("对账单有、账本无")
        MISSING_AT_PROVIDER = "missing_at_provider", _("账本有、对账单无")
        AMOUNT = "amount", _("金额不符")

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="differences")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    movement = models.CharField(max_length=8)  # payment | refund
    reference = models.CharField(max_length=100)  # the provider's transaction or refund id
    virtual_account = models.CharField(max_length=32, blank=True)
    ledger_fen = models.BigIntegerField(null=True, blank=True)
    provider_fen = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.kind} {self.reference}"


# --- the built-in simulated provider's own books (what a real provider keeps on its side) ---


class SimOrder(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    virtual_account = models.CharField(max_length=32)
    amount_fen = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="CNY")
    return_url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return str(self.id)


class SimTransaction(models.Model):
    class Kind(models.TextChoices):
        PAYMENT = "payment", _("收款")
        REFUND = "refund", _("退款")

    txn_id = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    order = models.ForeignKey(SimOrder, null=True, blank=True, on_delete=models.PROTECT)
    virtual_account = models.CharField(max_length=32)
    amount_fen = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="CNY")
    payer_name = models.CharField(max_length=200, blank=True)
    payer_account = models.CharField(max_length=64, blank=True)
    refund_of = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=100, unique=True, null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return self.txn_id


class SimNotice(models.Model):
    """The provider's outbox: each notification is retried until the platform acknowledges it."""

    transaction = models.ForeignKey(SimTransaction, on_delete=models.PROTECT, related_name="notices")
    body = models.TextField()
    signature = models.TextField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["next_attempt_at", "pk"]

    def __str__(self):
        return f"notice {self.pk} of {self.transaction_id}"
