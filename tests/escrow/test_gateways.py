"""The provider interface: the simulated provider's pay page and outbox, the callback, bank statements, reconciliation."""

import base64
import json
import random
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from escrow.gateways import provider
from escrow.gateways.bank import statement_sign
from escrow.gateways.simulated import ACK, SIGNATURE_HEADER, deliver, inprocess_transport, sim_pay
from escrow.models import Alert, Deposit, Payment, ReconciliationDifference, SimNotice, SimOrder, SimTransaction
from escrow.services.payments import statement_import
from escrow.services.reconciliation import reconciliation_run
from escrow.services.refunds import deposit_refund
from tests.conftest import signed_in
from tests.escrow.conftest import PAYER_ACCOUNT, PAYER_NAME, pay, signed
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry
from trading.errors import NotAllowed

pytestmark = pytest.mark.django_db


def order_for(deposit) -> SimOrder:
    result = provider("sim").payment_create(
        virtual_account=deposit.virtual_account, amount_fen=deposit.amount_due_fen, return_url="/"
    )
    return SimOrder.objects.get(pk=result.order_id)


def test_provider_pays_and_the_outbox_delivers_until_acknowledged(deposit):
    order = order_for(deposit)
    txn = sim_pay(order=order, payer_name=PAYER_NAME, payer_account=PAYER_ACCOUNT)
    notice = SimNotice.objects.get(transaction=txn)
    calls = []

    def flaky(body, signature):  # the platform is down twice, then answers
        calls.append(body)
        return (503, "") if len(calls) <= 2 else inprocess_transport(body, signature)

    now = timezone.now()
    deliver(now=now, transport=flaky, duplicate_rate=0)
    notice.refresh_from_db()
    assert (notice.attempts, notice.acknowledged_at, notice.last_status) == (1, None, 503)
    assert deliver(now=now, transport=flaky, duplicate_rate=0) == 0  # backing off
    deliver(now=now + timedelta(seconds=3), transport=flaky, duplicate_rate=0)
    deliver(now=now + timedelta(seconds=30), transport=flaky, duplicate_rate=0)
    notice.refresh_from_db()
    assert notice.acknowledged_at is not None and notice.attempts == 3
    assert deliver(now=now + timedelta(hours=1), transport=flaky) == 0  # acknowledged: never again
    deposit.refresh_from_db()
    assert deposit.status == Deposit.Status.PAID and Payment.objects.get().provider_txn_id == txn.txn_id


def test_duplicated_and_out_of_order_deliveries_apply_each_payment_once(section, register):
    deposits = [register(section).deposit for _ in range(6)]
    for n, deposit in enumerate(deposits):
        sim_pay(order=order_for(deposit), payer_name=f"付款人{n}", payer_account=f"62220000{n:04d}")
    seen = []

    def recording(body, signature):
        seen.append(body)
        return inprocess_transport(body, signature)

    sent = deliver(transport=recording, duplicate_rate=1.0, rng=random.Random(7))  # every one twice, shuffled
    assert sent == 12 and len(set(seen)) == 6
    assert Payment.objects.count() == 6 and all(d.payments.count() == 1 for d in deposits)
    assert SimNotice.objects.filter(acknowledged_at__isnull=True).count() == 0


def test_query_returns_what_the_provider_holds(deposit):
    txn = sim_pay(order=order_for(deposit), payer_name=PAYER_NAME, payer_account=PAYER_ACCOUNT)
    note = provider("sim").payment_query(txn_id=txn.txn_id)
    assert (note.virtual_account, note.amount_fen) == (deposit.virtual_account, deposit.amount_due_fen)
    assert PAYER_NAME not in repr(note) and PAYER_ACCOUNT not in repr(note)
    assert provider("sim").payment_query(txn_id="nope") is None


def test_the_callback_url_acknowledges_and_refuses_with_the_error_body(client, deposit):
    body, signature = signed(deposit)
    url = "/api/v1/escrow/notifications/sim/"
    headers = {"HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_"): signature}
    for _ in range(2):
        answer = client.post(url, data=body, content_type="application/json", **headers)
        assert answer.status_code == 200 and answer.content.decode() == ACK
    assert Payment.objects.count() == 1
    forged = client.post(url, data=body.replace(b"CNY", b"USD"), content_type="application/json", **headers)
    assert forged.status_code == 422
    assert forged.json() == {"code": "DEP-NOTIFICATION", "message": forged.json()["message"], "fields": {"reason": "signature"}}
    assert PAYER_NAME not in forged.content.decode()


def test_the_pay_page_takes_the_payment_and_returns(client, deposit):
    order = provider("sim").payment_create(
        virtual_account=deposit.virtual_account, amount_fen=deposit.amount_due_fen, return_url="/workspace/"
    )
    page = client.get(order.pay_url)
    assert page.status_code == 200 and deposit.virtual_account in page.content.decode()
    answer = client.post(order.pay_url, {"payer_name": PAYER_NAME, "payer_account": PAYER_ACCOUNT})
    assert answer.status_code == 302 and answer["Location"] == "/workspace/"
    assert SimTransaction.objects.filter(kind="payment").count() == 1
    again = client.post(order.pay_url, {"payer_name": PAYER_NAME, "payer_account": PAYER_ACCOUNT})
    assert again.status_code == 200 and 'data-testid="sim-paid"' in again.content.decode()
    assert SimTransaction.objects.filter(kind="payment").count() == 1  # paid once
    assert client.get("/sim-gateway/pay/00000000-0000-4000-8000-000000000000/").status_code == 404


STATEMENT = "txn_id,received_at,virtual_account,amount,currency,payer_name,payer_account\n"


def test_bank_statement_lines_matched_like_notifications(section, register, staff):
    a, b = register(section).deposit, register(section).deposit
    at = timezone.now().isoformat()
    yuan = f"{a.amount_due_fen // 100}.{a.amount_due_fen % 100:02d}"
    text = (
        STATEMENT
        + f"B1,{at},{a.virtual_account},{yuan},CNY,{PAYER_NAME},{PAYER_ACCOUNT}\n"
        + f"B1,{at},{a.virtual_account},{yuan},CNY,{PAYER_NAME},{PAYER_ACCOUNT}\n"  # the same line twice
        + f"B2,{at},{b.virtual_account},1.00,CNY,某公司,6222\n"  # short
        + f"B3,{at},{b.virtual_account},1.001,CNY,某公司,6222\n"  # not fen
    )
    lines = statement_import(actor=staff, data=text.encode(), signature=statement_sign(text.encode()))
    assert [(x.line, x.outcome, x.reason) for x in lines] == [
        (2, "applied", ""),
        (3, "duplicate", ""),
        (4, "refused", "amount"),
        (5, "refused", "format"),
    ]
    a.refresh_from_db()
    assert a.counts and a.payments.get().provider == "bank"
    assert PAYER_NAME not in repr(lines)
    refunded = deposit_refund(deposit=a, reason="DEP-REFUND-5D")  # a bank transfer instruction, keyed
    assert refunded.refund.provider_refund_id.startswith("BR-")


def test_bank_statement_import_is_for_staff(api, make_user, staff):
    from trading.models import Role

    signature = statement_sign(STATEMENT.encode())
    with pytest.raises(NotAllowed):
        statement_import(actor=make_user(Role.TENDERER), data=STATEMENT.encode(), signature=signature)
    signed_in(api, staff)
    answer = api.post("/api/v1/escrow/statements/", upload(STATEMENT.encode(), signature), format="multipart")
    assert answer.status_code == 200 and answer.json() == []
    garbled = b"a,b\n1,2\n"
    bad = api.post("/api/v1/escrow/statements/", upload(garbled, statement_sign(garbled)), format="multipart")
    assert bad.status_code == 422 and bad.json()["code"] == "STATEMENT-INVALID"


def upload(data: bytes, signature: str) -> dict:
    return {"file": SimpleUploadedFile("s.csv", data), "signature": SimpleUploadedFile("s.csv.sig", signature.encode())}


@pytest.mark.parametrize("forgery", ["unsigned", "typed-up", "altered"])
def test_DEP_NOTIFICATION_a_statement_the_bank_did_not_sign_credits_nothing(api, staff, deposit, forgery):
    """A statement credits deposits, so a member of staff who types one up (or alters the bank's: one amount, one
    account) would mark a deposit paid with no money in the bank. Only the bank's signature counts: refused whole,
    nothing applied, the supervisors alerted."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    yuan = f"{deposit.amount_due_fen // 100}.{deposit.amount_due_fen % 100:02d}"
    line = f"F1,{timezone.now().isoformat()},{deposit.virtual_account},{yuan},CNY,{PAYER_NAME},{PAYER_ACCOUNT}\n"
    text = (STATEMENT + line).encode()
    if forgery == "unsigned":
        signature = "bm90IGEgc2lnbmF0dXJl"  # base64 of "not a signature"
    elif forgery == "typed-up":  # signed, but with a key of the forger's own
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        signature = base64.b64encode(key.sign(text, padding.PKCS1v15(), hashes.SHA256())).decode()
    else:
        signature, text = statement_sign(text), text.replace(b"F1,", b"F2,")
    signed_in(api, staff)
    answer = api.post("/api/v1/escrow/statements/", upload(text, signature), format="multipart")
    assert answer.status_code == 422 and answer.json()["code"] == "DEP-NOTIFICATION"
    deposit.refresh_from_db()
    assert not deposit.counts and not Payment.objects.exists()
    alert = Alert.objects.get(rule="DEP-NOTIFICATION")
    assert alert.data["provider"] == "bank" and alert.data["reason"] == "signature"
    assert PAYER_NAME not in alert.message and PAYER_ACCOUNT not in json.dumps(alert.data)
    missing = api.post("/api/v1/escrow/statements/", {"file": SimpleUploadedFile("s.csv", text)}, format="multipart")
    assert missing.status_code == 400 and "signature" in missing.json()["fields"]  # no signature file at all
    assert not Payment.objects.exists()


def test_reconciliation_reports_each_difference(section, register):
    agreed, refunded, ours_only = [register(section).deposit for _ in range(3)]
    for n, deposit in enumerate((agreed, refunded)):
        sim_pay(order=order_for(deposit), payer_name=f"付款人{n}", payer_account=f"62220000{n:04d}")
    deliver(duplicate_rate=0)
    deposit_refund(deposit=refunded, reason="DEP-REFUND-5D")
    pay(ours_only)  # in the books and the ledger, then (below) gone from the provider's statement
    SimTransaction.objects.filter(virtual_account=ours_only.virtual_account).delete()
    theirs_only = SimTransaction.objects.create(
        txn_id="T-THEIRS", kind="payment", virtual_account="621700", amount_fen=5, at=timezone.now()
    )
    SimTransaction.objects.filter(kind="refund").update(amount_fen=1)  # the provider refunded another amount
    run = reconciliation_run(day=timezone.localdate())
    got = {(d.kind, d.movement, d.reference) for d in run.differences.all()}
    Kind = ReconciliationDifference.Kind
    assert got == {
        (Kind.MISSING_AT_PROVIDER, "payment", ours_only.payments.get().provider_txn_id),
        (Kind.MISSING_IN_LEDGER, "payment", theirs_only.txn_id),
        (Kind.AMOUNT, "refund", refunded.refund.idempotency_key),
    }
    assert run.matched == 2  # both payments that agree
    entry = AuditEntry.objects.get(event=AuditEvent.RECONCILIATION_RUN)
    assert set(entry.data) == {"provider", "day", "run"}  # public: no counts of payments
    assert not Alert.objects.exists()


def test_statement_import_command_prints_outcomes_only(tmp_path, deposit, capsys):
    from django.core.management import call_command

    yuan = f"{deposit.amount_due_fen // 100}.{deposit.amount_due_fen % 100:02d}"
    path = tmp_path / "statement.csv"
    path.write_text(
        STATEMENT + f"C1,{timezone.now().isoformat()},{deposit.virtual_account},{yuan},CNY,{PAYER_NAME},{PAYER_ACCOUNT}\n"
    )
    path.with_name("statement.csv.sig").write_text(statement_sign(path.read_bytes()))  # as the bank delivers it
    call_command("escrow_import_statement", str(path))
    out = capsys.readouterr().out
    assert "line 2: applied" in out and "1 applied" in out
    assert PAYER_NAME not in out and PAYER_ACCOUNT not in out
