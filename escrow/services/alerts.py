"""Supervision alerts raised by escrow: a row for the supervisors, an audit entry, a log line without payer data."""

import logging

from django.db import IntegrityError, transaction

from escrow.models import Alert
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append

logger = logging.getLogger("escrow.alerts")


def alert_raise(
    *,
    rule: str,
    message: str,
    event: AuditEvent,
    section=None,
    deposit=None,
    bidder_codes: list[str] | None = None,
    data: dict | None = None,
    dedupe_key: str | None = None,
) -> Alert | None:
    """Raise once per dedupe_key (None: every time). Callers pass no payer name or account, ever."""
    codes = sorted(bidder_codes or [])
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                rule=rule,
                message=message[:300],
                section=section,
                deposit=deposit,
                bidder_codes=codes,
                names_bidders=bool(codes),
                dedupe_key=dedupe_key,
            )
            audit_append(
                event=event, section=section, data={"rule": rule, **({"bidder_codes": codes} if codes else {}), **(data or {})}
            )
    except IntegrityError:
        return None  # raised before
    logger.warning("escrow alert %s: %s", rule, message)
    return alert
