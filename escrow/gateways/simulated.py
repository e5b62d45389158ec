"""The built-in simulated provider: its own books, pay page and RSA key, and it misbehaves like a real one.

Notifications are RSA-SHA256 (PKCS#1 v1.5) signed JSON posted to the platform's callback and
retried with backoff until acknowledged; each delivery round sends them in random order and
duplicates some. The key pair comes from ESCROW_SIM_PRIVATE_KEY (PEM) or, in the embedded
default, a file made on first use; the platform needs only the public key to verify.
"""

import base64
import binascii
import json
import logging
import os
import random
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from escrow.gateways import (
    Notification,
    NotificationInvalid,
    PaymentOrder,
    PaymentProvider,
    ProviderError,
    RefundResult,
    StatementLine,
)
from escrow.models import SimNotice, SimOrder, SimTransaction

logger = logging.getLogger(__name__)

NAME = "sim"
SIGNATURE_HEADER = "X-Sim-Signature"
MAX_ATTEMPTS = 12
ACK = "success"  # what the platform answers when it has the payment (applied now or before)


def enabled() -> bool:
    """Its pay page and callback exist only while it is the configured provider (ESCROW_PROVIDER)."""
    return getattr(settings, "ESCROW_PROVIDER", "sim") == NAME


@cache
def private_key() -> rsa.RSAPrivateKey:
    pem = getattr(settings, "ESCROW_SIM_PRIVATE_KEY", "")
    if pem:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    else:
        key = embedded_rsa_key(Path(getattr(settings, "ESCROW_SIM_KEY_FILE", settings.BASE_DIR / "var" / "keys" / "sim-rsa.pem")))
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("the simulated provider's key must be RSA")
    return key


def embedded_rsa_key(path: Path) -> rsa.RSAPrivateKey:
    """A simulated party's own RSA key, made on first use (the embedded default: demo, tests)."""
    if path.exists():
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def configured_rsa_public_key(setting: str, simulated) -> rsa.RSAPublicKey:
    """The RSA public key a setting holds (PEM), or, when it is empty, the public half of a simulated party's key."""
    pem = getattr(settings, setting, "")
    key = serialization.load_pem_public_key(pem.encode()) if pem else simulated().public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError(f"{setting} must be RSA")
    return key


@cache
def public_key() -> rsa.RSAPublicKey:
    """What the platform holds: configured like a real provider's, or the built-in simulator's own."""
    return configured_rsa_public_key("ESCROW_SIM_PUBLIC_KEY", private_key)


def sign(body: bytes) -> str:
    return base64.b64encode(private_key().sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def notification_body(txn: SimTransaction) -> bytes:
    payload = {
        "txn_id": txn.txn_id,
        "virtual_account": txn.virtual_account,
        "amount_fen": txn.amount_fen,
        "currency": txn.currency,
        "payer_name": txn.payer_name,
        "payer_account": txn.payer_account,
        "received_at": txn.at.isoformat(),
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _parse(payload) -> Notification:
    if not isinstance(payload, dict):
        raise NotificationInvalid("body is not a JSON object")
    try:
        fields = {k: payload[k] for k in ("txn_id", "virtual_account", "currency", "payer_name", "payer_account")}
        amount, received = payload["amount_fen"], payload["received_at"]
    except KeyError:
        raise NotificationInvalid("a field is missing") from None
    if not all(isinstance(v, str) and v for v in fields.values()):
        raise NotificationInvalid("a field is empty or not text")
    if len(fields["txn_id"]) > 64 or len(fields["payer_account"]) > 64 or len(fields["payer_name"]) > 200:
        raise NotificationInvalid("a field is too long")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise NotificationInvalid("amount is not a positive integer")
    received_at = parse_datetime(received) if isinstance(received, str) else None
    if received_at is None or timezone.is_naive(received_at):
        raise NotificationInvalid("received_at is not an aware time")
    return Notification(provider=NAME, amount_fen=amount, received_at=received_at, **fields)


class SimulatedProvider(PaymentProvider):
    name = NAME

    def payment_create(self, *, virtual_account: str, amount_fen: int, return_url: str) -> PaymentOrder:
        order = SimOrder.objects.create(virtual_account=virtual_account, amount_fen=amount_fen, return_url=return_url)
        return PaymentOrder(order_id=str(order.id), pay_url=reverse("sim-pay", args=[order.id]))

    def notification_verify(self, *, body: bytes, signature: str) -> Notification:
        try:
            raw = base64.b64decode(signature or "", validate=True)
        except (binascii.Error, ValueError):
            raise NotificationInvalid("signature is not base64") from None
        try:
            public_key().verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise NotificationInvalid("signature does not verify") from None
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise NotificationInvalid("body is not JSON") from None
        return _parse(payload)

    def payment_query(self, *, txn_id: str) -> Notification | None:
        txn = SimTransaction.objects.filter(txn_id=txn_id, kind=SimTransaction.Kind.PAYMENT).first()
        return _parse(json.loads(notification_body(txn))) if txn else None

    def refund(self, *, idempotency_key: str, txn_id: str, virtual_account: str, amount_fen: int) -> RefundResult:
        existing = SimTransaction.objects.filter(idempotency_key=idempotency_key).first()
        if existing:
            return RefundResult(refund_id=existing.txn_id, amount_fen=existing.amount_fen)
        paid = SimTransaction.objects.filter(txn_id=txn_id, kind=SimTransaction.Kind.PAYMENT).first()
        if paid is None or paid.virtual_account != virtual_account:
            raise ProviderError("no such payment to refund")
        try:
            with transaction.atomic():
                refund = SimTransaction.objects.create(
                    txn_id="R" + uuid.uuid4().hex,
                    kind=SimTransaction.Kind.REFUND,
                    virtual_account=virtual_account,
                    amount_fen=amount_fen,
                    currency=paid.currency,
                    refund_of=txn_id,
                    idempotency_key=idempotency_key,
                    at=timezone.now(),
                )
        except IntegrityError:  # the same key arrived concurrently: that one is the refund
            refund = SimTransaction.objects.get(idempotency_key=idempotency_key)
        return RefundResult(refund_id=refund.txn_id, amount_fen=refund.amount_fen)

    def statement(self, *, day) -> list[StatementLine]:
        lines = []
        for txn in SimTransaction.objects.order_by("at", "pk"):
            if timezone.localdate(txn.at) != day:
                continue
            reference = txn.txn_id if txn.kind == SimTransaction.Kind.PAYMENT else txn.idempotency_key
            lines.append(StatementLine(txn.kind, reference, txn.virtual_account, txn.amount_fen, txn.at))
        return lines


# --- the provider's side: its pay page takes the money, its outbox notifies the platform ---


def sim_pay(*, order: SimOrder, payer_name: str, payer_account: str) -> SimTransaction:
    """The payer confirms on the provider's page: money taken, a notification queued."""
    with transaction.atomic():
        locked = SimOrder.objects.select_for_update().get(pk=order.pk)
        if locked.paid_at:
            raise ProviderError("order already paid")
        now = timezone.now()
        txn = SimTransaction.objects.create(
            txn_id="T" + uuid.uuid4().hex,
            kind=SimTransaction.Kind.PAYMENT,
            order=locked,
            virtual_account=locked.virtual_account,
            amount_fen=locked.amount_fen,
            currency=locked.currency,
            payer_name=payer_name,
            payer_account=payer_account,
            at=now,
        )
        body = notification_body(txn)
        SimNotice.objects.create(transaction=txn, body=body.decode(), signature=sign(body), next_attempt_at=now)
        locked.paid_at = now
        locked.save(update_fields=["paid_at"])
        from escrow.tasks import sim_deliver

        sim_deliver.delay_on_commit()
    return txn


def http_transport(body: bytes, signature: str) -> tuple[int, str]:
    url = settings.ESCROW_SIM_CALLBACK_URL
    if not url.startswith(("http://", "https://")):
        raise ValueError("ESCROW_SIM_CALLBACK_URL must be http(s)")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, data=body, method="POST", headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read(200).decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return 0, ""


def inprocess_transport(body: bytes, signature: str) -> tuple[int, str]:
    """The embedded default: hand the notification to the same handler the callback URL runs."""
    from escrow.services.payments import notification_receive
    from trading.errors import DomainError

    try:
        notification_receive(provider_name=NAME, body=body, signature=signature)
    except DomainError as error:
        return error.status, error.code
    return 200, ACK


def transport_default():
    return http_transport if getattr(settings, "ESCROW_SIM_CALLBACK_URL", "") else inprocess_transport


def deliver(*, now=None, transport=None, duplicate_rate: float | None = None, rng: random.Random | None = None) -> int:
    """One delivery round over the pending notifications, shuffled, some sent twice. Returns how many were sent."""
    now = now or timezone.now()
    transport = transport or transport_default()
    rng = rng or random.Random()
    rate = getattr(settings, "ESCROW_SIM_DUPLICATE_RATE", 0.2) if duplicate_rate is None else duplicate_rate
    pending = list(SimNotice.objects.filter(acknowledged_at__isnull=True, next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS))
    rng.shuffle(pending)
    sends: list[SimNotice] = []
    for notice in pending:
        sends.append(notice)
        if rng.random() < rate:
            sends.insert(rng.randrange(len(sends) + 1), notice)
    for notice in sends:
        status, text = transport(notice.body.encode(), notice.signature)
        notice.attempts += 1
        notice.last_status = status
        if status == 200 and text.strip() == ACK:
            notice.acknowledged_at = notice.acknowledged_at or timezone.now()
        else:
            notice.next_attempt_at = now + timedelta(seconds=min(2**notice.attempts, 3600))
            logger.warning("sim gateway: notice %s not acknowledged (status %s)", notice.pk, status)
        notice.save(update_fields=["attempts", "last_status", "acknowledged_at", "next_attempt_at"])
    return len(sends)
