"""The escrow ledger: double entry, append-only; every balance is derived from the entries.

Signed amounts: debit positive, credit negative. `post` is the only way in; it refuses a
posting whose entries do not sum to zero, and on PostgreSQL a deferred constraint trigger
refuses the same at commit, whoever wrote the rows.
"""

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from escrow.models import LedgerEntry, LedgerTransaction
from trading.errors import RuleViolation

BANK = "asset:bank:escrow"  # the escrow bank account: money held


def deposit_account(deposit) -> str:
    """What the platform owes one bidder (a liability: its balance is negative while held)."""
    return f"liability:deposit:{deposit.pk}"


FORFEITED = "income:deposit:forfeited"  # kept by the tenderer's side (BID-REVOKE-FORFEIT, DEP-FORFEIT-REFUSE)


def post(*, memo: str, entries: list[tuple[str, int]], idempotency_key: str | None = None, deposit=None) -> LedgerTransaction:
    if not entries:
        raise RuleViolation("LEDGER-EMPTY", _("记账分录不能为空。"))
    for account, amount in entries:
        if not account or not isinstance(account, str):
            raise RuleViolation("LEDGER-ACCOUNT", _("记账科目无效。"))
        if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
            raise RuleViolation("LEDGER-AMOUNT", _("记账金额必须是非零整数（分）。"))
    if len(entries) < 2 or sum(amount for _account, amount in entries) != 0:
        raise RuleViolation("LEDGER-UNBALANCED", _("借贷不平衡。"))
    with transaction.atomic():
        txn = LedgerTransaction.objects.create(memo=memo, idempotency_key=idempotency_key, deposit=deposit)
        LedgerEntry.objects.bulk_create(
            LedgerEntry(transaction=txn, account=account, amount_fen=amount) for account, amount in entries
        )
    return txn


def balance(account: str) -> int:
    return LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount_fen"))["total"] or 0
