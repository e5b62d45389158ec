"""Deposits after a sale: the winner's becomes part of the price, everyone else's goes back at once.

The winner's deposit leaves the bidder's liability account for the sale's price account (owed to
the seller as part of the price); escrow's forfeit fields mark it as no longer held, so no refund
scan can return it. The others go through escrow's own refund (idempotent, exactly once).
"""

import logging

from django.db import transaction
from django.utils import timezone

from bidding.auction.models import Sale, SaleState
from escrow import ledger
from escrow.models import Deposit, Forfeit
from escrow.services.deposits import lock_deposit
from escrow.services.refunds import SECTION_ENDED, deposit_refund
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import DomainError

logger = logging.getLogger(__name__)

TO_PRICE = "AUCTION-TO-PRICE"
LOSER_REFUND = "AUCTION-RESULT"


def sale_price_account(section) -> str:
    return f"liability:sale-price:{section.pk}"


def deposit_to_price(*, deposit: Deposit) -> Deposit:
    """Exactly once: a second call finds it done and changes nothing."""
    with transaction.atomic():
        locked = lock_deposit(deposit.pk)
        if locked.forfeited_at or locked.refunded_at:
            return locked
        amount = locked.held_fen
        if amount <= 0:
            return locked
        section = locked.registration.section
        Forfeit.objects.create(deposit=locked, amount_fen=amount, reason=TO_PRICE)
        ledger.post(
            memo=f"deposit {locked.pk} applied to the price of {section.public_id}",
            entries=[(ledger.deposit_account(locked), amount), (sale_price_account(section), -amount)],
            idempotency_key=f"to-price:{locked.pk}",
            deposit=locked,
        )
        locked.forfeited_fen, locked.forfeited_at, locked.forfeit_reason = amount, timezone.now(), TO_PRICE
        locked.save(update_fields=["forfeited_fen", "forfeited_at", "forfeit_reason"])
        audit_append(
            event=AuditEvent.SALE_DEPOSIT_TO_PRICE,
            section=section,
            data={"bidder_code": locked.registration.bidder_code, "amount_fen": amount},
        )
    return locked


def sale_settle(*, sale: Sale) -> dict:
    """After the result: safe to run twice. Returns what was done, by bidder code."""
    sale.refresh_from_db()
    if not sale.ended:
        return {}
    done = {}
    deposits = Deposit.objects.filter(registration__section_id=sale.section_id, paid_fen__gt=0).select_related("registration")
    for deposit in deposits.order_by("pk"):
        code = deposit.registration.bidder_code
        if sale.state == SaleState.SOLD and deposit.registration_id == sale.winner_id:
            deposit_to_price(deposit=deposit)
            done[code] = TO_PRICE
            continue
        try:
            deposit_refund(deposit=deposit, reason=LOSER_REFUND if sale.state == SaleState.SOLD else SECTION_ENDED)
            done[code] = "refunded"
        except DomainError as error:  # forfeited or nothing held: nothing to send
            logger.info("deposit %s of sale %s not refunded: %s", deposit.pk, sale.pk, error.code)
    return done
