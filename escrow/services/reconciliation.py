"""Daily reconciliation: the ledger's payments and refunds of a day against the provider's statement."""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from escrow import gateways
from escrow.models import Payment, ReconciliationDifference, ReconciliationRun, Refund
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.models import Section

Kind = ReconciliationDifference.Kind


def _ledger_side(provider: str, day) -> dict[tuple[str, str], tuple[int, str]]:
    """(movement, reference) -> (amount, virtual account) as escrow recorded them that day (local time)."""
    side: dict[tuple[str, str], tuple[int, str]] = {}
    for p in Payment.objects.filter(provider=provider).select_related("deposit"):
        if timezone.localdate(p.received_at) == day:
            side[("payment", p.provider_txn_id)] = (p.amount_fen, p.deposit.virtual_account)
    for r in Refund.objects.filter(provider=provider).select_related("deposit"):
        if timezone.localdate(r.created_at) == day:
            side[("refund", r.idempotency_key)] = (r.amount_fen, r.deposit.virtual_account)
    return side


def day_sections(provider: str, day):
    """The sections whose deposits moved through the provider that day (local time)."""
    start = timezone.make_aware(datetime.combine(day, time.min))
    end = start + timedelta(days=1)
    paid = Payment.objects.filter(provider=provider, received_at__gte=start, received_at__lt=end)
    refunded = Refund.objects.filter(provider=provider, created_at__gte=start, created_at__lt=end)
    return Section.objects.filter(
        Q(pk__in=paid.values("deposit__registration__section_id"))
        | Q(pk__in=refunded.values("deposit__registration__section_id"))
    )


def reconciliation_run(*, day, provider_name: str = "sim") -> ReconciliationRun:
    """Compare and record each difference; a run per call (the report shows the latest per day)."""
    provider = gateways.provider(provider_name)
    theirs = {(line.movement, line.reference): (line.amount_fen, line.virtual_account) for line in provider.statement(day=day)}
    ours = _ledger_side(provider_name, day)
    differences = []
    matched = 0
    for key in sorted(set(ours) | set(theirs)):
        movement, reference = key
        mine, their = ours.get(key), theirs.get(key)
        if mine and their and mine[0] == their[0]:
            matched += 1
            continue
        kind = Kind.MISSING_IN_LEDGER if mine is None else Kind.MISSING_AT_PROVIDER if their is None else Kind.AMOUNT
        differences.append(
            ReconciliationDifference(
                kind=kind,
                movement=movement,
                reference=reference,
                virtual_account=(their or mine)[1],
                ledger_fen=mine[0] if mine else None,
                provider_fen=their[0] if their else None,
            )
        )
    with transaction.atomic():
        run = ReconciliationRun.objects.create(provider=provider_name, day=day, matched=matched)
        for difference in differences:
            difference.run = run
        ReconciliationDifference.objects.bulk_create(differences)
        # No counts in the (public) audit entry: a day's number of payments would tell how many bid.
        audit_append(event=AuditEvent.RECONCILIATION_RUN, data={"provider": provider_name, "day": day.isoformat(), "run": run.pk})
    return run


def reconciliation_daily(*, today=None) -> list[ReconciliationRun]:
    """Scheduled: yesterday, for every provider that publishes a statement."""
    day = (today or timezone.localdate()) - timezone.timedelta(days=1)
    return [reconciliation_run(day=day, provider_name=name) for name in getattr(settings, "ESCROW_RECONCILE_PROVIDERS", ["sim"])]
