"""Demo deposits: each registration's virtual account, paid through the simulated provider's notification path."""

from escrow.gateways import CURRENCY, Notification
from escrow.models import Payment
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
        payment_record(note=note, source=Payment.Source.NOTIFICATION)
