"""Monitoring nodes at work: the checks of a lifecycle step, refusals turned into alerts, the periodic scan."""

import contextvars
import logging
from contextlib import contextmanager

from django.utils import timezone

from trading.audit.events import AuditEvent
from trading.errors import RuleViolation
from trading.supervision.registry import TRANSITION_STEPS, Breach, rule_get, rules_for_step, scans
from trading.supervision.services.alerts import alert_raise

logger = logging.getLogger("trading.supervision")
_depth = contextvars.ContextVar("supervised_depth", default=0)


@contextmanager
def supervised(*, section=None, step: str = "", actor=None):
    """Around a service's own transaction: a refusal by a registered rule raises its alert once that transaction is gone.

    The refused act rolls back, so the alert is written after it (by the outermost block only):
    nested services refuse once, and the alert survives the rollback of what it refused.
    """
    depth = _depth.get()
    token = _depth.set(depth + 1)
    try:
        yield
    except RuleViolation as error:
        _depth.reset(token)
        token = None
        if depth == 0 and rule_get(error.code) is not None:
            refusal_alert(error=error, section=getattr(error, "section", None) or section, step=step, actor=actor)
        raise
    finally:
        if token is not None:
            _depth.reset(token)


def refusal_alert(*, error: RuleViolation, section, step: str, actor=None):
    if section is not None and section.pk is not None:
        from trading.models import Section

        section = Section.objects.filter(pk=section.pk).first()  # what survived the rollback
    return alert_raise(
        rule=error.code,
        message=f"{section.public_id + '：' if section else ''}{error.message}",
        section=section,
        data={"step": step, "fields": {k: str(v) for k, v in error.fields.items()}},
        event=AuditEvent.RULE_REFUSED,
        blocked=True,
        actor=actor if getattr(actor, "pk", None) else None,
    )


def step_of(from_state: str, to_state: str) -> str | None:
    return TRANSITION_STEPS.get((from_state, to_state))


def transition_checks(*, section, from_state: str, to_state: str, now=None) -> list:
    """Run the registered checks of the transition's step on the locked section.

    A breach of a blocking rule refuses the transition (RuleViolation: its alert is raised
    by `supervised` after the rollback); the others raise their alert with the transition.
    """
    step = step_of(from_state, to_state)
    if step is None:
        return []
    now = now or timezone.now()
    raised = []
    for rule in rules_for_step(step):
        try:
            breach = rule.check(section, now=now)
        except RuleViolation as error:
            breach = Breach(message=error.message, section=section, data={"fields": error.fields})
        if breach is None:
            continue
        if rule.blocks:
            error = RuleViolation(rule.code, breach.message, fields=breach.data.get("fields", {}))
            error.section = section
            raise error
        raised.append(_raise(rule.code, breach))
    return raised


def _raise(code: str, breach: Breach):
    return alert_raise(
        rule=code,
        message=breach.message,
        section=breach.section,
        deposit=breach.deposit,
        bidder_codes=breach.bidder_codes,
        data=breach.data,
        dedupe_key=breach.dedupe_key,
    )


def scan_run(*, now=None) -> dict[str, int]:
    """The periodic job: every time-based rule's scan; a failing scan is logged and the others still run."""
    now = now or timezone.now()
    counts = {}
    for rule in scans():
        try:
            found = rule.scan(now=now)
            if isinstance(found, int):
                counts[rule.code] = found
                continue
            counts[rule.code] = sum(_raise(rule.code, breach) is not None for breach in found)
        except Exception:
            logger.exception("supervision scan %s failed", rule.code)
            counts[rule.code] = -1
    return counts


def transition_published(*, section, from_state: str, to_state: str, actor=None, reason: str = ""):
    """Every transition on the supervisors' feed, in its transaction (after its audit entry: the lock order)."""
    from trading.supervision.services.feed import feed_publish

    return feed_publish(
        kind="section.transition",
        payload={"section": section.public_id, "from": from_state, "to": to_state, "reason": reason[:300]},
        actor=actor if getattr(actor, "pk", None) else None,
    )
