"""Payment providers behind one interface: create a payment, verify a notification, query, refund, statement.

A provider adapter knows its own wire format and keys; escrow's services know nothing about either.
The built-in simulated provider (`sim`) behaves like a real one; bank transfers to virtual accounts
arrive through a statement import (`bank`). A real provider joins by subclassing `PaymentProvider`
and naming itself in ESCROW_PROVIDERS.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.utils.module_loading import import_string

CURRENCY = "CNY"


class NotificationInvalid(Exception):
    """The notification's signature does not verify, or its body is not what the provider sends."""


class ProviderError(Exception):
    """The provider refused or could not be reached; the caller retries later."""


@dataclass(frozen=True)
class Notification:
    """A payment as the provider reports it (verified). Payer fields are sealed: escrow internals only."""

    provider: str
    txn_id: str
    virtual_account: str
    amount_fen: int
    currency: str
    payer_name: str
    payer_account: str
    received_at: datetime

    def __repr__(self):  # never print who paid, not even in a traceback
        return f"Notification({self.provider}:{self.txn_id}, {self.amount_fen} {self.currency})"


@dataclass(frozen=True)
class PaymentOrder:
    order_id: str
    pay_url: str


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    amount_fen: int


@dataclass(frozen=True)
class StatementLine:
    movement: str  # "payment" or "refund"
    reference: str  # the provider's transaction id (payments) or refund id (refunds)
    virtual_account: str
    amount_fen: int
    at: datetime


class PaymentProvider(ABC):
    name: str = ""

    @abstractmethod
    def payment_create(self, *, virtual_account: str, amount_fen: int, return_url: str) -> PaymentOrder: ...

    @abstractmethod
    def notification_verify(self, *, body: bytes, signature: str) -> Notification:
        """Check the signature and the shape; raise NotificationInvalid otherwise."""

    @abstractmethod
    def payment_query(self, *, txn_id: str) -> Notification | None: ...

    @abstractmethod
    def refund(self, *, idempotency_key: str, txn_id: str, virtual_account: str, amount_fen: int) -> RefundResult:
        """Send money back; the same key twice returns the first refund, never a second one."""

    @abstractmethod
    def statement(self, *, day: date) -> list[StatementLine]: ...


DEFAULT_PROVIDERS = {
    "sim": "escrow.gateways.simulated.SimulatedProvider",
    "bank": "escrow.gateways.bank.BankStatementProvider",
}


def provider(name: str) -> PaymentProvider:
    paths = getattr(settings, "ESCROW_PROVIDERS", DEFAULT_PROVIDERS)
    if name not in paths:
        raise KeyError(name)
    return import_string(paths[name])()


def default_provider() -> PaymentProvider:
    return provider(getattr(settings, "ESCROW_PROVIDER", "sim"))
