"""Raising an alert: the row, the audit entry, the supervisors' live feed; once per dedupe key."""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import NotAllowed
from trading.supervision.models import Alert
from trading.supervision.registry import rule_get

logger = logging.getLogger("trading.supervision")


def alert_raise(
    *,
    rule: str,
    message: str,
    section=None,
    deposit=None,
    bidder_codes: list[str] | None = None,
    data: dict | None = None,
    dedupe_key: str | None = None,
    event: AuditEvent = AuditEvent.ALERT_RAISED,
    blocked: bool = False,
    held: bool = False,
    actor=None,
) -> Alert | None:
    """Raise once per dedupe_key (None: every time); None if it was raised before. Callers pass no payer data, ever.

    A held alert (its being there would tell the supervisors that bidders registered) is recorded now and reaches
    the console and the feed when its section is opened (alerts_release)."""
    from trading.supervision.services.feed import feed_publish

    registered = rule_get(rule)
    codes = sorted(bidder_codes or [])
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                rule=rule,
                severity=registered.severity if registered else "medium",
                step=registered.step if registered else "",
                message=message[:300],
                section=section,
                deposit=deposit,
                bidder_codes=codes,
                names_bidders=bool(codes),
                blocked=blocked,
                held=held and section is not None and not policy.identities_revealed(section),
                data=data or {},
                dedupe_key=dedupe_key,
            )
            entry = audit_append(
                event=event,
                actor=actor,
                section=section,
                data={
                    "rule": rule,
                    "alert": alert.pk,
                    **({"blocked": True} if blocked else {}),
                    **({"bidder_codes": codes} if codes else {}),
                    **(data or {}),
                },
            )
            alert.audit_index = entry.index
            alert.save(update_fields=["audit_index"])
            if not alert.held:
                # After the audit append: the audit log's lock before a stream's row lock (livestream's lock order).
                feed_publish(kind="alert.raised", payload=alert_payload(alert), actor=actor)
    except IntegrityError:
        return None  # raised before
    logger.info("alert %s #%s: %s", rule, alert.pk, policy.alert_log_text(event=event, section=section, message=message))
    return alert


def alerts_release(*, section, released: list) -> None:
    """The section is opened, in this transaction: alerts recorded in its sealed chain take the public index of
    their entry (`released`, from audit_release), and the held ones reach the supervisors' feed, codes and all."""
    from trading.supervision.services.feed import feed_publish

    indexes: dict[int, int] = {}
    for entry in released:
        if "alert" in entry.data:
            indexes.setdefault(entry.data["alert"], entry.index)  # the raise, not the entries that grew it
    for alert in Alert.objects.filter(pk__in=indexes, audit_index__isnull=True):
        alert.audit_index = indexes[alert.pk]
        alert.save(update_fields=["audit_index"])
    for alert in Alert.objects.filter(section=section, held=True).select_related("section").order_by("pk"):
        feed_publish(kind="alert.raised", payload=alert_payload(alert))


def alert_payload(alert: Alert) -> dict:
    """What the supervisors' feed shows of an alert: the codes only once the section is opened."""
    section = alert.section
    payload = {
        "alert": alert.pk,
        "rule": alert.rule,
        "severity": alert.severity,
        "step": alert.step,
        "message": alert.message,
        "blocked": alert.blocked,
        "section": section.public_id if section else None,
        "audit_index": alert.audit_index,
    }
    if policy.alert_codes_visible(alert):
        payload["bidder_codes"] = alert.bidder_codes
    return payload


def alert_handle(*, actor, alert: Alert, note: str) -> Alert:
    """A supervisor records what was done about an alert."""
    if not policy.can_supervise(actor):
        raise NotAllowed("NOT-ALLOWED", _("只有监督人员可以处理预警。"))
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        if locked.status == Alert.Status.HANDLED:
            return locked
        locked.status, locked.handled_by, locked.handled_at, locked.handling_note = (
            Alert.Status.HANDLED,
            actor,
            timezone.now(),
            note,
        )
        locked.save(update_fields=["status", "handled_by", "handled_at", "handling_note"])
        audit_append(event=AuditEvent.ALERT_HANDLED, actor=actor, section=locked.section, data={"alert": locked.pk, "note": note})
    return locked
