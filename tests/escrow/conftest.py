import json
import uuid

import pytest
from django.utils import timezone

from escrow.gateways import simulated
from escrow.models import Deposit, LedgerEntry, Payment, SimTransaction
from escrow.services.payments import notification_receive
from trading.audit.events import AuditEvent
from trading.audit.models import SealedAuditEntry

PAYER_NAME = "某某建设有限公司财务部"
PAYER_ACCOUNT = "6222020200112233445"


@pytest.fixture
def deposit(section, register) -> Deposit:
    return register(section).deposit


def signed(deposit: Deposit | None = None, **overrides) -> tuple[bytes, str]:
    """A notification exactly as the simulated provider signs it (fields overridable before signing)."""
    payload = {
        "txn_id": "T" + uuid.uuid4().hex,
        "virtual_account": deposit.virtual_account if deposit else "",
        "amount_fen": deposit.amount_due_fen if deposit else 1,
        "currency": "CNY",
        "payer_name": PAYER_NAME,
        "payer_account": PAYER_ACCOUNT,
        "received_at": timezone.now().isoformat(),
    }
    payload.update(overrides)
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return body, simulated.sign(body)


def sim_txn(deposit: Deposit, **overrides) -> SimTransaction:
    """A payment in the simulated provider's own books (as its pay page makes one)."""
    fields = {
        "txn_id": "T" + uuid.uuid4().hex,
        "kind": SimTransaction.Kind.PAYMENT,
        "virtual_account": deposit.virtual_account,
        "amount_fen": deposit.amount_due_fen,
        "payer_name": PAYER_NAME,
        "payer_account": PAYER_ACCOUNT,
        "at": timezone.now(),
    }
    fields.update(overrides)
    return SimTransaction.objects.create(**fields)


def pay(deposit: Deposit, **overrides) -> Payment:
    """The provider took the money and notified the platform once."""
    body = simulated.notification_body(sim_txn(deposit, **overrides))
    return notification_receive(provider_name="sim", body=body, signature=simulated.sign(body))


def nothing_paid() -> bool:
    return (
        not Payment.objects.exists()
        and not LedgerEntry.objects.exists()
        and not SealedAuditEntry.objects.filter(event=AuditEvent.DEPOSIT_PAID).exists()
    )


@pytest.fixture
def paid(deposit) -> Deposit:
    pay(deposit)
    deposit.refresh_from_db()
    return deposit
