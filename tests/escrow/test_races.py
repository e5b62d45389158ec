"""Races on the real database: refunds under a row lock, notifications applied once, balances never negative."""

import base64
import contextlib
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.db.models import F, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from escrow import ledger
from escrow.gateways import simulated
from escrow.models import Alert, Deposit, LedgerEntry, LedgerTransaction, Payment, Refund, SimTransaction
from escrow.services.deposits import deposit_forfeit, deposit_interest_credit
from escrow.services.payments import notification_receive
from escrow.services.refunds import deposit_refund
from tests.escrow.conftest import pay, signed, sim_txn
from tests.factories import SectionFactory
from trading.audit.events import AuditEvent
from trading.audit.models import SealedAuditEntry
from trading.errors import DomainError, RuleViolation
from trading.models import SectionState
from trading.services.sections import section_publish


def in_thread(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connections.close_all()

    return run


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_threads_refunding_twenty_deposits_make_exactly_twenty_refunds(staff, register):
    section = section_publish(actor=staff, section=SectionFactory())
    deposits = [register(section).deposit for _ in range(20)]
    for n, deposit in enumerate(deposits):
        pay(deposit, payer_account=f"62220000{n:04d}")
    barrier = threading.Barrier(50)

    @in_thread
    def worker(n):
        barrier.wait()
        deposit_refund(deposit=deposits[n % 20], reason="DEP-REFUND-5D")
        return True

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(worker, range(50)))
    assert results == [True] * 50
    assert Refund.objects.count() == 20
    assert SimTransaction.objects.filter(kind="refund").count() == 20  # the provider was asked once per deposit
    assert LedgerTransaction.objects.filter(idempotency_key__startswith="refund:").count() == 20
    assert SealedAuditEntry.objects.filter(event=AuditEvent.DEPOSIT_REFUNDED).count() == 20
    assert Deposit.objects.filter(refunded_at__isnull=False, refunded_fen=F("paid_fen")).count() == 20
    assert ledger.balance(ledger.BANK) == 0


def bad_notifications(deposits, rng) -> list[tuple[bytes, str, str]]:
    """500 refusals: forged signatures, tampered bodies, mismatched amount, currency or account, replays."""
    out = []
    for n in range(500):
        deposit = deposits[n % len(deposits)]
        kind = ["forged", "tampered", "amount", "currency", "account"][n % 5]
        if kind == "forged":
            body, _sig = signed(deposit)
            out.append((body, base64.b64encode(rng.randbytes(256)).decode(), kind))
        elif kind == "tampered":
            body, sig = signed(deposit, payer_account=f"9{n:08d}")
            out.append((body.replace(f"9{n:08d}".encode(), f"8{n:08d}".encode()), sig, kind))
        elif kind == "amount":
            out.append((*signed(deposit, amount_fen=deposit.amount_due_fen - 1), kind))
        elif kind == "currency":
            out.append((*signed(deposit, currency="HKD"), kind))
        else:
            out.append((*signed(deposit, virtual_account=deposit.virtual_account[:-2] + "00"), kind))
    return out


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_thousand_notifications_delivered_twice_apply_500_once_and_refuse_500(staff, register):
    section = section_publish(actor=staff, section=SectionFactory())
    deposits = [register(section).deposit for _ in range(500)]
    rng = random.Random(2026)
    good = [(*signed(d, payer_account=f"62220000{n:05d}"), "valid") for n, d in enumerate(deposits)]
    deliveries = (good + bad_notifications(deposits, rng)) * 2
    rng.shuffle(deliveries)

    @in_thread
    def deliver(item):
        body, signature, kind = item
        try:
            payment = notification_receive(provider_name="sim", body=body, signature=signature)
        except RuleViolation:
            return kind, "refused"
        return kind, payment.provider_txn_id

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(deliver, deliveries))
    refused = [kind for kind, result in outcomes if result == "refused"]
    assert len(refused) == 1000 and "valid" not in refused  # every bad one, both times
    applied = {result for kind, result in outcomes if kind == "valid"}
    assert len(applied) == 500
    assert Payment.objects.count() == 500
    assert Deposit.objects.filter(paid_fen=F("amount_due_fen")).count() == 500
    assert LedgerTransaction.objects.filter(idempotency_key__startswith="payment:").count() == 500
    assert SealedAuditEntry.objects.filter(event=AuditEvent.DEPOSIT_PAID).count() == 500
    assert ledger.balance(ledger.BANK) == sum(d.amount_due_fen for d in deposits)
    assert Alert.objects.filter(rule="DEP-NOTIFICATION").count() == 500  # one per distinct refused message
    assert not Alert.objects.filter(rule="DEP-SAME-PAYER").exists()


class DepositMachine(RuleBasedStateMachine):
    """Payments (and their duplicates), interest, refunds and forfeits in any order: the books always agree."""

    @initialize()
    def setup(self):
        from tests.conftest import ROLE_ORG_KIND
        from tests.factories import OrganizationFactory, UserFactory

        staff = UserFactory(role="staff", organization=OrganizationFactory(kind=ROLE_ORG_KIND["staff"]))
        section = section_publish(actor=staff, section=SectionFactory(deposit_fen=100_000))
        from bidding.services import registration_create

        self.deposits = []
        for _ in range(3):
            bidder = UserFactory(role="bidder", organization=OrganizationFactory())
            registration = registration_create(actor=bidder, section=section, contact_name="甲", contact_phone="13900000000")
            self.deposits.append(registration.deposit)
        section.state, section.opened_at = SectionState.OPENED, timezone.now()  # forfeits happen after opening
        section.save(update_fields=["state", "opened_at"])
        self.notes: list[tuple[bytes, str]] = []
        self.bank0 = ledger.balance(ledger.BANK)
        self.forfeited0 = ledger.balance(ledger.FORFEITED)

    index = st.integers(min_value=0, max_value=2)

    @rule(i=index)
    def notify(self, i):
        deposit = self.deposits[i]
        body = simulated.notification_body(sim_txn(deposit, payer_account=f"6222{deposit.pk:08d}"))
        self.notes.append((body, simulated.sign(body)))
        self._try(notification_receive, provider_name="sim", body=body, signature=self.notes[-1][1])

    @precondition(lambda self: self.notes)
    @rule(data=st.data())
    def redeliver(self, data):
        body, signature = data.draw(st.sampled_from(self.notes))
        self._try(notification_receive, provider_name="sim", body=body, signature=signature)

    @rule(i=index, amount=st.integers(min_value=1, max_value=500), period=st.sampled_from(["2026-10", "2026-11"]))
    def interest(self, i, amount, period):
        self._try(deposit_interest_credit, deposit=self.deposits[i], period=period, amount_fen=amount)

    @rule(i=index)
    def refund(self, i):
        self._try(deposit_refund, deposit=self.deposits[i], reason="DEP-REFUND-5D")

    @rule(i=index, reason=st.sampled_from(["BID-REVOKE-FORFEIT", "DEP-FORFEIT-REFUSE"]))
    def forfeit(self, i, reason):
        self._try(deposit_forfeit, deposit=self.deposits[i], reason=reason)

    def _try(self, fn, **kwargs):
        with contextlib.suppress(DomainError):  # a refusal is fine; what it leaves behind is checked below
            fn(**kwargs)

    @invariant()
    def books_agree(self):
        if not hasattr(self, "deposits"):
            return
        bank = forfeited = 0
        for deposit in self.deposits:
            d = Deposit.objects.get(pk=deposit.pk)
            held = d.paid_fen + d.interest_fen - d.refunded_fen - d.forfeited_fen
            assert held >= 0 and min(d.paid_fen, d.interest_fen, d.refunded_fen, d.forfeited_fen) >= 0
            assert not (d.refunded_at and d.forfeited_at)
            assert d.paid_fen in (0, d.amount_due_fen) and d.payments.count() == (1 if d.paid_fen else 0)
            assert ledger.balance(ledger.deposit_account(d)) == -held
            if d.refunded_at or d.forfeited_at:
                assert held == 0
            bank += d.paid_fen + d.interest_fen - d.refunded_fen
            forfeited += d.forfeited_fen
        assert ledger.balance(ledger.BANK) - self.bank0 == bank
        assert ledger.balance(ledger.FORFEITED) - self.forfeited0 == -forfeited
        assert (LedgerEntry.objects.aggregate(total=Sum("amount_fen"))["total"] or 0) == 0


@pytest.mark.slow
@pytest.mark.django_db
def test_payments_refunds_and_forfeits_keep_every_balance_consistent_and_never_negative():
    """DEP-FORFEIT-REFUSE, BID-REVOKE-FORFEIT, DEP-REFUND-5D under any interleaving (hypothesis state machine)."""
    machine = DepositMachine.TestCase
    machine.settings = settings(max_examples=15, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck))
    machine().runTest()
