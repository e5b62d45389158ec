"""Demo deposits: each registration's virtual account, paid through the simulated provider's notification path."""

from escrow.gateways import CURRENCY, Notification
from escrow.models import Payment, SimTransaction
from escrow.services.deposits import deposit_open
from escrow.services.payments import payment_record


def demo_deposits_paid(*, registrations, received_at) -> None:
    for n, registration in enumerate(registrations):
        deposit = deposit_open(registration=registration)
        if not deposit.amount_due_fen:
            continue
        note = Notification(
            provider="sim",
            txn_id=f"DEMO-{registration.section.public_id}-{registration.bidder_code}",
            virtual_account=deposit.virtual_account,
            amount_fen=deposit.amount_due_fen,
            currency=CURRENCY,
            payer_name=registration.organization.name,
            payer_account=f"6222 0202 {registration.organization_id:04d} {n:04d}",
            received_at=received_at,
        )
        # The transfer as the simulated bank holds it too: refunds and reconciliation find the payment there.
        SimTransaction.objects.create(
            txn_id=note.txn_id,
            kind=SimTransaction.Kind.PAYMENT,
            virtual_account=note.virtual_account,
            amount_fen=note.amount_fen,
            currency=note.currency,
            payer_name=note.payer_name,
            payer_account=note.payer_account,
            at=received_at,
        )
        payment_record(note=note, source=Payment.Source.NOTIFICATION)
