"""Bank transfers to virtual accounts: they arrive as lines of the escrow bank's statement (CSV).

Columns: txn_id, received_at (ISO 8601 with offset), virtual_account, amount (yuan, at most two
decimals), currency, payer_name, payer_account. Each line becomes a `Notification` and is applied
exactly like a provider's notification; refunds are bank transfer instructions, keyed the same way.

A statement credits deposits, so only the bank's word counts: the file comes with the bank's detached
signature (base64 RSA PKCS#1 v1.5 SHA-256 over the file's bytes, the `.sig` file), checked against
ESCROW_BANK_PUBLIC_KEY. A statement typed up by anyone else is refused, whoever uploads it. The embedded
default stands in for the bank with a key of its own (var/keys/bank-rsa.pem; statement_sign).
"""

import base64
import binascii
import csv
import hashlib
import io
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from escrow.gateways import Notification, NotificationInvalid, PaymentOrder, PaymentProvider, RefundResult, StatementLine

NAME = "bank"
COLUMNS = ("txn_id", "received_at", "virtual_account", "amount", "currency", "payer_name", "payer_account")


def yuan_to_fen(text: str) -> int:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise NotificationInvalid("amount is not a number") from None
    fen = value * 100
    if fen != fen.to_integral_value() or fen <= 0:
        raise NotificationInvalid("amount must be positive with at most two decimals")
    return int(fen)


@cache
def _simulated_bank_key() -> rsa.RSAPrivateKey:
    from escrow.gateways.simulated import embedded_rsa_key

    return embedded_rsa_key(
        Path(getattr(settings, "ESCROW_BANK_SIM_KEY_FILE", settings.BASE_DIR / "var" / "keys" / "bank-rsa.pem"))
    )


@cache
def statement_public_key() -> rsa.RSAPublicKey:
    """The bank's statement key as configured (required in production), or the embedded stand-in's."""
    from escrow.gateways.simulated import configured_rsa_public_key

    return configured_rsa_public_key("ESCROW_BANK_PUBLIC_KEY", _simulated_bank_key)


def statement_sign(data: bytes) -> str:
    """The embedded stand-in bank signs a statement (demo, tests); a real bank signs its own."""
    return base64.b64encode(_simulated_bank_key().sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()


def statement_signature_valid(data: bytes, signature: str) -> bool:
    try:
        raw = base64.b64decode((signature or "").strip(), validate=True)
        statement_public_key().verify(raw, data, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def statement_parse(text: str) -> list[tuple[int, Notification | NotificationInvalid]]:
    """(line number, notification or the reason it is unreadable) for every data line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None or not set(COLUMNS) <= {f.strip() for f in reader.fieldnames}:
        raise NotificationInvalid("the statement's header must name: " + ", ".join(COLUMNS))
    lines: list[tuple[int, Notification | NotificationInvalid]] = []
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        try:
            received_at = parse_datetime(row["received_at"])
            if received_at is None or timezone.is_naive(received_at):
                raise NotificationInvalid("received_at is not an aware time")
            if not all(row[c] for c in COLUMNS):
                raise NotificationInvalid("a field is empty")
            lines.append(
                (
                    number,
                    Notification(
                        provider=NAME,
                        txn_id=row["txn_id"][:64],
                        virtual_account=row["virtual_account"],
                        amount_fen=yuan_to_fen(row["amount"]),
                        currency=row["currency"],
                        payer_name=row["payer_name"][:200],
                        payer_account=row["payer_account"][:64],
                        received_at=received_at,
                    ),
                )
            )
        except NotificationInvalid as error:
            lines.append((number, error))
    return lines


class BankStatementProvider(PaymentProvider):
    name = NAME

    def payment_create(self, *, virtual_account: str, amount_fen: int, return_url: str) -> PaymentOrder:
        raise NotImplementedError("a bank transfer is made by the payer at its own bank")

    def notification_verify(self, *, body: bytes, signature: str) -> Notification:
        raise NotificationInvalid("the bank sends statements, not notifications")

    def payment_query(self, *, txn_id: str) -> Notification | None:
        return None

    def refund(self, *, idempotency_key: str, txn_id: str, virtual_account: str, amount_fen: int) -> RefundResult:
        # A transfer instruction to the paying account; the key makes a retried instruction the same one.
        reference = "BR-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]
        return RefundResult(refund_id=reference, amount_fen=amount_fen)

    def statement(self, *, day) -> list[StatementLine]:
        return []
