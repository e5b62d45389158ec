"""Payments in: a provider's signed notification or a bank statement line, applied exactly once.

The signature is verified first, then amount, currency and account are checked against the
deposit under its row lock; the unique (provider, transaction id) constraint is the last word on
"once". A refusal raises a supervision alert (no payer data in it) and a DEP-NOTIFICATION error.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from escrow import gateways, ledger
from escrow.gateways import CURRENCY, Notification, NotificationInvalid
from escrow.gateways.bank import statement_parse, statement_signature_valid
from escrow.models import Alert, Deposit, Payment
from escrow.services.alerts import alert_raise
from escrow.services.deposits import deposit_cutoff, virtual_account_valid
from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import NotAllowed, RuleViolation
from trading.i18n import official_language
from trading.services.locks import lock_section

CLOCK_SKEW = timedelta(minutes=5)  # a provider's "received at" may not be in our future by more than this


class _Refused(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(reason)
        self.reason = reason
        self.message = message


def payer_key(account: str) -> str:
    """A keyed digest of the normalized paying account: compares payers without reading them (DEP-SAME-PAYER)."""
    normalized = "".join(ch for ch in account.upper() if ch.isalnum())
    key = hashlib.sha256(b"sunlight-escrow-payer|" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, normalized.encode(), hashlib.sha256).hexdigest()


def signed_fingerprint(body: bytes, signature: str) -> str:
    """What a refused notification or statement is known by: one alert for the same bytes delivered again."""
    return hashlib.sha256(body + b"|" + (signature or "").encode()).hexdigest()[:32]


def _refused(*, provider: str, reason: str, message, fingerprint: str) -> RuleViolation:
    """`message` is lazy: worded for the record in the alert, for its reader in the refusal."""
    with official_language():
        recorded = _("拒绝支付通知（%(provider)s）：%(message)s") % {"provider": provider, "message": message}
    alert_raise(
        rule="DEP-NOTIFICATION",
        message=recorded,
        event=AuditEvent.DEPOSIT_NOTIFICATION_REFUSED,
        data={"provider": provider, "reason": reason, "fingerprint": fingerprint},
        dedupe_key=f"refused:{fingerprint}",
    )
    return RuleViolation("DEP-NOTIFICATION", str(message), fields={"reason": reason})


def notification_receive(*, provider_name: str, body: bytes, signature: str) -> Payment:
    """The callback: verify, then apply once. A duplicate returns the payment already applied."""
    fingerprint = signed_fingerprint(body, signature)
    try:
        provider = gateways.provider(provider_name)
        note = provider.notification_verify(body=body, signature=signature)
    except (KeyError, NotificationInvalid):
        raise _refused(
            provider=provider_name[:16], reason="signature", message=gettext_lazy("签名无效或格式错误。"), fingerprint=fingerprint
        ) from None
    return payment_record(note=note, source=Payment.Source.NOTIFICATION, fingerprint=fingerprint)


def payment_record(*, note: Notification, source: str, fingerprint: str = "") -> Payment:
    try:
        return _apply(note, source)
    except _Refused as refusal:
        fingerprint = fingerprint or hashlib.sha256(f"{note.provider}|{note.txn_id}|{refusal.reason}".encode()).hexdigest()[:32]
        raise _refused(provider=note.provider, reason=refusal.reason, message=refusal.message, fingerprint=fingerprint) from None


def _same_payment(payment: Payment, note: Notification) -> Payment:
    """The same transaction again: a duplicate (acknowledged, nothing applied) or a replay with other content."""
    if (payment.deposit.virtual_account, payment.amount_fen, payment.currency, payment.received_at) != (
        note.virtual_account,
        note.amount_fen,
        note.currency,
        note.received_at,
    ):
        raise _Refused("replayed", gettext_lazy("同一交易号的通知内容不一致（重放或篡改）。"))
    return payment


def _apply(note: Notification, source: str) -> Payment:
    existing = Payment.objects.select_related("deposit").filter(provider=note.provider, provider_txn_id=note.txn_id).first()
    if existing:
        return _same_payment(existing, note)
    if note.currency != CURRENCY:
        raise _Refused("currency", gettext_lazy("币种不符。"))
    if not virtual_account_valid(note.virtual_account):
        raise _Refused("account", gettext_lazy("虚拟账号校验位错误。"))
    if note.received_at > timezone.now() + CLOCK_SKEW:
        raise _Refused("time", gettext_lazy("到账时间晚于当前时间。"))
    with transaction.atomic():
        deposit = (
            Deposit.objects.select_for_update(of=("self",))
            .select_related("registration__section")
            .filter(virtual_account=note.virtual_account)
            .first()
        )
        if deposit is None:
            raise _Refused("account", gettext_lazy("虚拟账号不存在。"))
        # Payments of one section in turn (before any audit append takes its lock), so that two
        # from the same account always see each other (DEP-SAME-PAYER).
        lock_section(deposit.registration.section_id)
        # Under the row lock a concurrent copy of this notification has either committed or not begun.
        existing = Payment.objects.select_related("deposit").filter(provider=note.provider, provider_txn_id=note.txn_id).first()
        if existing:
            return _same_payment(existing, note)
        if deposit.paid_fen or deposit.refunded_at or deposit.forfeited_at:
            raise _Refused("already-paid", gettext_lazy("该保证金已缴纳或已结清。"))
        if note.amount_fen != deposit.amount_due_fen:
            raise _Refused("amount", gettext_lazy("缴纳金额与应缴保证金不符。"))
        section = deposit.registration.section
        cutoff = deposit_cutoff(section)
        on_time = cutoff is None or note.received_at < cutoff
        key = payer_key(note.payer_account)
        try:
            with transaction.atomic():
                payment = Payment(
                    deposit=deposit,
                    provider=note.provider,
                    provider_txn_id=note.txn_id,
                    source=source,
                    amount_fen=note.amount_fen,
                    currency=note.currency,
                    payer_key=key,
                    received_at=note.received_at,
                    on_time=on_time,
                )
                payment.seal_payer(name=note.payer_name, account=note.payer_account)
                payment.save(force_insert=True)
        except IntegrityError:
            # The same transaction id was applied meanwhile (to another deposit): the constraint decides.
            other = Payment.objects.select_related("deposit").get(provider=note.provider, provider_txn_id=note.txn_id)
            return _same_payment(other, note)
        ledger.post(
            memo=f"deposit {deposit.pk} paid",
            entries=[(ledger.BANK, note.amount_fen), (ledger.deposit_account(deposit), -note.amount_fen)],
            idempotency_key=f"payment:{note.provider}:{note.txn_id}",
            deposit=deposit,
        )
        deposit.paid_fen, deposit.paid_at, deposit.on_time = note.amount_fen, note.received_at, on_time
        deposit.save(update_fields=["paid_fen", "paid_at", "on_time"])
        code = deposit.registration.bidder_code
        audit_append(
            event=AuditEvent.DEPOSIT_PAID,
            section=section,
            data={"bidder_code": code, "amount_fen": note.amount_fen, "on_time": on_time},
        )
        _check_same_payer(deposit=deposit, section=section, key=key)
    return payment


def _check_same_payer(*, deposit: Deposit, section, key: str) -> None:
    """DEP-SAME-PAYER: deposits of different bidders from one account; flagged now, held until the opening."""
    codes = set(
        Payment.objects.filter(deposit__registration__section=section, payer_key=key)
        .exclude(deposit=deposit)
        .values_list("deposit__registration__bidder_code", flat=True)
    )
    if not codes:
        return
    codes.add(deposit.registration.bidder_code)
    dedupe_key = f"same-payer:{section.pk}:{key[:24]}"
    with official_language():
        message = _("%(section)s：不同投标人的保证金来自同一账户（视为串通投标，供评标委员会和监督部门核查）。") % {
            "section": section.public_id
        }
    raised = alert_raise(
        rule="DEP-SAME-PAYER",
        message=message,
        event=AuditEvent.DEPOSIT_SAME_PAYER,
        section=section,
        deposit=deposit,
        bidder_codes=sorted(codes),
        dedupe_key=dedupe_key,
        held=True,  # until the opening: nothing before it acts on collusion, the evaluation does (Regs 40)
    )
    if raised is None:
        # One alert per account and section, however many pay from it: a new one for each would let the
        # supervisors' feed count them before opening (SECRET-BIDDERS). The alert grows quietly instead.
        alert = Alert.objects.select_for_update().get(dedupe_key=dedupe_key)
        alert.bidder_codes = sorted(set(alert.bidder_codes) | codes)
        alert.save(update_fields=["bidder_codes"])
        audit_append(
            event=AuditEvent.DEPOSIT_SAME_PAYER,
            section=section,
            data={"rule": "DEP-SAME-PAYER", "alert": alert.pk, "bidder_codes": alert.bidder_codes},
        )


@dataclass(frozen=True)
class SamePayerFlag:
    """DEP-SAME-PAYER for the evaluation: which bidder codes share a paying account (the account itself is not carried)."""

    rule: str
    bidder_codes: tuple[str, ...]
    registration_ids: tuple[int, ...]


def same_payer_flags(*, section) -> list[SamePayerFlag]:
    groups: dict[str, dict[int, str]] = {}
    rows = Payment.objects.filter(deposit__registration__section=section).values_list(
        "payer_key", "deposit__registration_id", "deposit__registration__bidder_code"
    )
    for key, registration_id, code in rows:
        groups.setdefault(key, {})[registration_id] = code
    flags = [
        SamePayerFlag("DEP-SAME-PAYER", tuple(sorted(regs.values())), tuple(sorted(regs)))
        for regs in groups.values()
        if len(regs) > 1
    ]
    return sorted(flags, key=lambda flag: flag.bidder_codes)


@dataclass(frozen=True)
class ImportLine:
    line: int
    outcome: str  # "applied" | "duplicate" | "refused"
    reason: str = ""


def statement_import(*, actor, data: bytes, signature: str) -> list[ImportLine]:
    """A bank statement (CSV, UTF-8) of transfers to virtual accounts, with the bank's signature over its bytes;
    each line is matched like a notification. A statement the bank did not sign is refused whole, nothing applied,
    and the supervisors alerted (DEP-NOTIFICATION): staff cannot credit a deposit by typing up a statement.

    The answer names lines and outcomes only: the statement's payer columns are never echoed.
    """
    if actor is not None and not policy.can_reconcile(actor):
        raise NotAllowed("NOT-ALLOWED", _("只有交易中心可以导入银行对账单。"))
    if not statement_signature_valid(data, signature):
        raise _refused(
            provider="bank",
            reason="signature",
            message=gettext_lazy("对账单没有有效的银行签名，未导入任何一笔。"),
            fingerprint=signed_fingerprint(data, signature),
        )
    try:
        lines = statement_parse(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise RuleViolation("STATEMENT-INVALID", _("对账单须为 UTF-8 编码的 CSV。")) from None
    except NotificationInvalid as error:
        raise RuleViolation("STATEMENT-INVALID", _("对账单格式错误：%(error)s") % {"error": error}) from None
    results = []
    for number, item in lines:
        if isinstance(item, NotificationInvalid):
            results.append(ImportLine(number, "refused", "format"))
            continue
        before = Payment.objects.filter(provider=item.provider, provider_txn_id=item.txn_id).exists()
        try:
            payment_record(note=item, source=Payment.Source.STATEMENT)
        except RuleViolation as error:
            results.append(ImportLine(number, "refused", error.fields.get("reason", "")))
        else:
            results.append(ImportLine(number, "duplicate" if before else "applied"))
    return results
