"""Supervision alerts raised by escrow: raised through supervision's service, the one home of every alert."""

import logging

from trading import policy
from trading.audit.events import AuditEvent
from trading.supervision.models import Alert
from trading.supervision.services.alerts import alert_raise as supervision_alert_raise

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
    held: bool = False,
) -> Alert | None:
    """Raise once per dedupe_key (None: every time). Callers pass no payer name or account, ever."""
    alert = supervision_alert_raise(
        rule=rule,
        message=message,
        event=event,
        section=section,
        deposit=deposit,
        bidder_codes=bidder_codes,
        data=data,
        dedupe_key=dedupe_key,
        held=held,
    )
    if alert is not None:
        text = policy.alert_log_text(event=event, section=section, message=message)
        logger.warning("escrow alert %s #%s: %s", rule, alert.pk, text)
    return alert
