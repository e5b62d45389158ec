"""Deposits: virtual accounts, payments applied once, refusals alerted, refunds and forfeits once, the ledger."""

import base64
import json
from datetime import timedelta

import pytest
from cryptography.exceptions import InvalidTag
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from escrow import ledger
from escrow.models import Alert, Deposit, DepositTerms, Forfeit, LedgerEntry, LedgerTransaction, Payment, Refund
from escrow.services.deposits import (
    deposit_counts,
    deposit_forfeit,
    deposit_interest_credit,
    deposit_open,
    deposit_terms_set,
    mod97_check_digits,
    virtual_account_valid,
)
from escrow.services.payments import notification_receive, same_payer_flags
from escrow.services.refunds import deposit_refund
from tests.escrow.conftest import PAYER_ACCOUNT, PAYER_NAME, nothing_paid, pay, signed
from tests.factories import SectionFactory
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry, SealedAuditEntry
from trading.errors import NotAllowed, RuleViolation, TransitionError
from trading.models import Role, SectionState

pytestmark = pytest.mark.django_db


def opened(section):
    section.opened_at = timezone.now()
    section.state = SectionState.OPENED
    section.save(update_fields=["opened_at", "state"])
    return section


# --- virtual accounts ---------------------------------------------------------------------


def test_registration_opens_a_deposit_with_a_mod97_virtual_account(deposit):
    assert virtual_account_valid(deposit.virtual_account)
    assert deposit.amount_due_fen == deposit.registration.section.deposit_fen
    assert deposit_open(registration=deposit.registration).pk == deposit.pk  # safe twice
    assert Deposit.objects.count() == 1
    assert deposit.status == Deposit.Status.UNPAID and not deposit.counts


def test_mod97_check_digits_catch_a_changed_digit_and_a_swap():
    base = "621712345678901234"
    account = base + mod97_check_digits(base)
    assert virtual_account_valid(account) and int(account) % 97 == 1
    changed = account[:5] + str((int(account[5]) + 1) % 10) + account[6:]
    swapped = account[:6] + account[7] + account[6] + account[8:]  # "3" and "4": different digits
    assert account[6] != account[7]
    assert not virtual_account_valid(changed)
    assert not virtual_account_valid(swapped)


# --- payments ------------------------------------------------------------------------------


def test_payment_applied_to_ledger_and_audit_without_payer_data(deposit):
    payment = pay(deposit)
    deposit.refresh_from_db()
    assert payment.amount_fen == deposit.amount_due_fen == deposit.paid_fen
    assert deposit.status == Deposit.Status.PAID and deposit.counts
    assert ledger.balance(ledger.BANK) == deposit.paid_fen
    assert ledger.balance(ledger.deposit_account(deposit)) == -deposit.paid_fen
    entry = SealedAuditEntry.objects.get(event=AuditEvent.DEPOSIT_PAID)
    code, salt = deposit.registration.bidder_code, entry.data["salt"]  # the salt: sealed entries (SECRET-BIDDERS)
    assert entry.data == {"bidder_code": code, "amount_fen": deposit.paid_fen, "on_time": True, "salt": salt}
    dumped = json.dumps([*AuditEntry.objects.values("data"), *SealedAuditEntry.objects.values("data")], ensure_ascii=False)
    assert PAYER_ACCOUNT not in dumped and PAYER_NAME not in dumped


def test_duplicate_notification_applied_once(deposit, caplog):
    body, signature = signed(deposit)
    first = notification_receive(provider_name="sim", body=body, signature=signature)
    second = notification_receive(provider_name="sim", body=body, signature=signature)
    assert first.pk == second.pk
    deposit.refresh_from_db()
    assert deposit.paid_fen == deposit.amount_due_fen
    assert (Payment.objects.count(), LedgerTransaction.objects.count()) == (1, 1)
    assert SealedAuditEntry.objects.filter(event=AuditEvent.DEPOSIT_PAID).count() == 1
    assert not Alert.objects.exists()


def refused(body, signature, reason):
    with pytest.raises(RuleViolation) as caught:
        notification_receive(provider_name="sim", body=body, signature=signature)
    assert caught.value.code == "DEP-NOTIFICATION"
    assert caught.value.fields["reason"] == reason
    alert = Alert.objects.filter(rule="DEP-NOTIFICATION").latest("pk")
    entry = AuditEntry.objects.filter(event=AuditEvent.DEPOSIT_NOTIFICATION_REFUSED).latest("index")
    assert entry.data["reason"] == reason and entry.section is None
    for text in (alert.message, json.dumps(entry.data, ensure_ascii=False)):
        assert PAYER_NAME not in text and PAYER_ACCOUNT not in text
    return caught.value


def test_forged_signature_refused_with_an_alert(deposit, caplog):
    body, _signature = signed(deposit)
    refused(body, base64.b64encode(b"\x00" * 256).decode(), "signature")
    refused(body, "not base64!", "signature")
    refused(body, "", "signature")
    assert nothing_paid()
    assert "escrow alert DEP-NOTIFICATION" in caplog.text
    assert PAYER_NAME not in caplog.text and PAYER_ACCOUNT not in caplog.text


def test_tampered_body_refused(deposit):
    body, signature = signed(deposit, amount_fen=1)
    tampered = body.replace(b'"amount_fen":1,', f'"amount_fen":{deposit.amount_due_fen},'.encode())
    assert tampered != body
    refused(tampered, signature, "signature")
    assert nothing_paid()


def test_a_key_other_than_the_providers_is_refused(deposit):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    body, _signature = signed(deposit)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = base64.b64encode(other.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()
    refused(body, forged, "signature")
    assert nothing_paid()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"amount_fen": 1}, "amount"),
        ({"currency": "USD"}, "currency"),
        ({"virtual_account": "621700000000000000"}, "account"),  # check digits wrong
        ({"virtual_account": "6217000000000000" + mod97_check_digits("6217000000000000")}, "account"),  # no such account
        ({"amount_fen": "100"}, "signature"),  # a well-signed body of the wrong shape
        ({"received_at": (timezone.now() + timedelta(hours=1)).isoformat()}, "time"),
    ],
    ids=["amount", "currency", "check-digits", "unknown-account", "shape", "future"],
)
def test_mismatched_notification_refused(deposit, overrides, reason):
    body, signature = signed(deposit, **overrides)
    refused(body, signature, reason)
    deposit.refresh_from_db()
    assert deposit.paid_fen == 0
    assert nothing_paid()


def test_replayed_transaction_id_with_other_content_refused(section, register, deposit):
    body, signature = signed(deposit, txn_id="T-REPLAY")
    notification_receive(provider_name="sim", body=body, signature=signature)
    other = register(section).deposit
    body2, signature2 = signed(other, txn_id="T-REPLAY")
    refused(body2, signature2, "replayed")
    other.refresh_from_db()
    assert other.paid_fen == 0 and Payment.objects.count() == 1


def test_second_payment_into_a_paid_deposit_refused(paid):
    body, signature = signed(paid)
    refused(body, signature, "already-paid")
    assert Payment.objects.count() == 1


def test_repeated_refusal_raises_one_alert(deposit):
    body, signature = signed(deposit, currency="USD")
    for _ in range(3):
        with pytest.raises(RuleViolation):
            notification_receive(provider_name="sim", body=body, signature=signature)
    assert Alert.objects.filter(rule="DEP-NOTIFICATION").count() == 1


# --- DEP-BEFORE-DEADLINE ---------------------------------------------------------------------


def test_DEP_BEFORE_DEADLINE_payment_after_the_deadline_does_not_count(deposit):
    section = deposit.registration.section
    section.bid_deadline = timezone.now() - timedelta(minutes=1)  # the deadline has passed
    section.save(update_fields=["bid_deadline"])
    pay(deposit)
    deposit.refresh_from_db()
    assert deposit.paid_fen == deposit.amount_due_fen  # the money is held (and goes back), but
    assert deposit.status == Deposit.Status.LATE
    assert not deposit.counts and not deposit_counts(deposit.registration)


def test_DEP_BEFORE_DEADLINE_earlier_cutoff_set_in_the_documents(staff, register):
    draft = SectionFactory()
    with pytest.raises(RuleViolation) as caught:
        deposit_terms_set(actor=staff, section=draft, cutoff_at=draft.bid_deadline + timedelta(days=1))
    assert caught.value.code == "DEP-BEFORE-DEADLINE" and not DepositTerms.objects.exists()
    deposit_terms_set(actor=staff, section=draft, cutoff_at=draft.bid_deadline - timedelta(days=2))
    assert AuditEntry.objects.filter(event=AuditEvent.DEPOSIT_TERMS_SET).count() == 1
    from trading.services.sections import section_publish

    section = section_publish(actor=staff, section=draft)
    before, after = register(section).deposit, register(section).deposit
    pay(before, payer_account="1111 2222 3333")
    DepositTerms.objects.filter(section=section).update(cutoff_at=timezone.now() - timedelta(seconds=1))  # time passes
    pay(after, payer_account="4444 5555 6666")
    assert section.bid_deadline > timezone.now()  # the bid deadline itself is still ahead
    assert deposit_counts(before.registration) and not deposit_counts(after.registration)


def test_DEP_BEFORE_DEADLINE_cutoff_only_while_drafting(section, make_user):
    with pytest.raises(NotAllowed):
        deposit_terms_set(actor=make_user(Role.STAFF), section=section, cutoff_at=section.bid_deadline)


# --- DEP-SAME-PAYER ---------------------------------------------------------------------------


def test_DEP_SAME_PAYER_flagged_with_codes_never_the_account(section, register):
    deposits = [register(section).deposit for _ in range(3)]
    for deposit, account in zip(deposits, ["6222 0000 1111", "6222-0000-1111", "6222000022"], strict=True):
        pay(deposit, payer_account=account)
    flags = same_payer_flags(section=section)
    assert len(flags) == 1 and flags[0].rule == "DEP-SAME-PAYER"
    assert set(flags[0].bidder_codes) == {d.registration.bidder_code for d in deposits[:2]}
    alert = Alert.objects.get(rule="DEP-SAME-PAYER")
    assert alert.names_bidders and set(alert.bidder_codes) == set(flags[0].bidder_codes)
    assert "6222" not in repr(flags) + alert.message
    entry = SealedAuditEntry.objects.get(event=AuditEvent.DEPOSIT_SAME_PAYER)
    assert "6222" not in json.dumps(entry.data)


# --- refunds, forfeits, interest ----------------------------------------------------------------


def test_refund_exactly_once_through_the_provider(paid):
    first = deposit_refund(deposit=paid, reason="DEP-REFUND-5D")
    second = deposit_refund(deposit=paid, reason="DEP-REFUND-5D")
    assert first.refunded_at == second.refunded_at and second.refunded_fen == paid.paid_fen
    refund = Refund.objects.get()
    assert refund.idempotency_key == f"sunlight-deposit-{paid.pk}-refund" and refund.provider == "sim"
    from escrow.models import SimTransaction

    assert SimTransaction.objects.filter(kind="refund", idempotency_key=refund.idempotency_key).count() == 1
    assert ledger.balance(ledger.BANK) == 0 and ledger.balance(ledger.deposit_account(paid)) == 0
    assert SealedAuditEntry.objects.filter(event=AuditEvent.DEPOSIT_REFUNDED).count() == 1


def test_refund_unpaid_refused_nothing_written(deposit):
    with pytest.raises(TransitionError):
        deposit_refund(deposit=deposit, reason="DEP-REFUND-5D")
    assert not Refund.objects.exists() and not LedgerEntry.objects.exists()


def test_DEP_REFUND_5D_interest_goes_back_with_the_deposit(paid):
    deposit_interest_credit(deposit=paid, period="2026-11", amount_fen=1234)
    deposit_interest_credit(deposit=paid, period="2026-11", amount_fen=1234)  # once per period
    refunded = deposit_refund(deposit=paid, reason="DEP-REFUND-5D")
    assert refunded.interest_fen == 1234 and refunded.refunded_fen == paid.paid_fen + 1234
    assert ledger.balance(ledger.BANK) == 0 and ledger.balance(ledger.deposit_account(paid)) == 0


def test_DEP_FORFEIT_REFUSE_refused_after_a_refund(paid):
    opened(paid.registration.section)
    deposit_refund(deposit=paid, reason="DEP-REFUND-5D")
    with pytest.raises(TransitionError):
        deposit_forfeit(deposit=paid, reason="DEP-FORFEIT-REFUSE")
    paid.refresh_from_db()
    assert paid.forfeited_at is None and paid.forfeited_fen == 0 and not Forfeit.objects.exists()
    assert not AuditEntry.objects.filter(event=AuditEvent.DEPOSIT_FORFEITED).exists()


def test_BID_REVOKE_FORFEIT_exactly_once_then_no_refund(paid):
    with pytest.raises(TransitionError) as caught:
        deposit_forfeit(deposit=paid, reason="BID-REVOKE-FORFEIT")
    assert caught.value.code == "DEP-NOT-OPENED"  # not before opening
    opened(paid.registration.section)
    deposit_forfeit(deposit=paid, reason="BID-REVOKE-FORFEIT")
    again = deposit_forfeit(deposit=paid, reason="BID-REVOKE-FORFEIT")
    assert again.forfeited_fen == paid.paid_fen and again.forfeit_reason == "BID-REVOKE-FORFEIT"
    assert ledger.balance(ledger.FORFEITED) == -paid.paid_fen
    assert AuditEntry.objects.filter(event=AuditEvent.DEPOSIT_FORFEITED).count() == 1
    with pytest.raises(TransitionError):
        deposit_refund(deposit=paid, reason="DEP-REFUND-5D")
    with pytest.raises(RuleViolation):
        deposit_forfeit(deposit=paid, reason="because")


# --- the database's own word --------------------------------------------------------------------


def test_db_refuses_refunded_plus_forfeited_over_paid(paid):
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Deposit.objects.filter(pk=paid.pk).update(refunded_fen=F("paid_fen") + 1, refunded_at=now)
    Deposit.objects.filter(pk=paid.pk).update(refunded_fen=paid.paid_fen, refunded_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Deposit.objects.filter(pk=paid.pk).update(forfeited_fen=1, forfeited_at=now)  # both outcomes
    with pytest.raises(IntegrityError), transaction.atomic():
        Deposit.objects.filter(pk=paid.pk).update(refunded_at=None)  # an amount without its date
    with pytest.raises(IntegrityError), transaction.atomic():
        Deposit.objects.filter(pk=paid.pk).update(paid_fen=-1)


def test_db_refuses_a_second_refund_row_and_a_second_payment_of_one_txn(paid):
    Refund.objects.create(deposit=paid, provider="sim", idempotency_key="k1", provider_refund_id="r1", amount_fen=1, reason="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Refund.objects.create(
            deposit=paid, provider="sim", idempotency_key="k2", provider_refund_id="r2", amount_fen=1, reason="x"
        )
    payment = Payment.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            deposit=paid,
            provider=payment.provider,
            provider_txn_id=payment.provider_txn_id,
            source="notification",
            amount_fen=1,
            currency="CNY",
            payer_name_sealed="x",
            payer_account_sealed="x",
            payer_key="x",
            received_at=timezone.now(),
            on_time=True,
        )


def test_unbalanced_posting_refused_by_the_ledger():
    with pytest.raises(RuleViolation) as caught:
        ledger.post(memo="bad", entries=[("a", 100), ("b", -99)])
    assert caught.value.code == "LEDGER-UNBALANCED"
    for entries in ([], [("a", 0)], [("a", 5)], [("a", True), ("b", -1)]):
        with pytest.raises(RuleViolation):
            ledger.post(memo="bad", entries=entries)
    assert not LedgerTransaction.objects.exists()
    ledger.post(memo="ok", entries=[("a", 100), ("b", -60), ("c", -40)])
    assert ledger.balance("a") == 100 and ledger.balance("c") == -40


@pytest.mark.postgres
def test_unbalanced_rows_refused_by_the_deferred_trigger():
    with pytest.raises(IntegrityError), transaction.atomic():
        txn = LedgerTransaction.objects.create(memo="direct")
        LedgerEntry.objects.create(transaction=txn, account="a", amount_fen=5)  # deferred: not checked yet
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # as at commit
    assert not LedgerEntry.objects.exists()


@pytest.mark.postgres
def test_ledger_rows_are_append_only():
    txn = ledger.post(memo="ok", entries=[("a", 1), ("b", -1)])
    with pytest.raises(Exception, match=r"(?i)protect|cannot"), transaction.atomic():
        LedgerEntry.objects.filter(transaction=txn).update(amount_fen=2)
    with pytest.raises(Exception, match=r"(?i)protect|cannot"), transaction.atomic():
        LedgerTransaction.objects.filter(pk=txn.pk).delete()


def test_SECRET_BIDDERS_who_paid_is_sealed_at_rest_and_bound_to_its_payment(section, register):
    a, b = register(section).deposit, register(section).deposit
    pa, pb = pay(a), pay(b, payer_name="另一付款单位", payer_account="6222999988887777")
    assert (pa.payer_name, pa.payer_account) == (PAYER_NAME, PAYER_ACCOUNT)
    with connection.cursor() as cursor:  # nowhere in the database in the clear, audit log included
        for table in connection.introspection.table_names(cursor):
            if table.startswith("escrow_sim"):
                continue  # the simulated provider's own books: the provider's systems, not the platform's
            cursor.execute(f'SELECT * FROM "{table}"')
            rows = repr(cursor.fetchall())
            for secret in (PAYER_NAME, PAYER_ACCOUNT, "另一付款单位", "6222999988887777"):
                assert secret not in rows, table
    # an administrator swapping sealed values between rows gets nothing readable
    Payment.objects.filter(pk=pa.pk).update(payer_name_sealed=pb.payer_name_sealed)
    with pytest.raises(InvalidTag):
        Payment.objects.get(pk=pa.pk).payer_name  # noqa: B018
