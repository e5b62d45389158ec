"""Monitoring nodes at work: the checks of a lifecycle step, refusals turned into alerts, the periodic scan."""

import contextvars
import logging
from contextlib import contextmanager

from django.utils import timezone

from trading.audit.events import AuditEvent
from trading.errors import RuleViolation
from trading.i18n import in_official_language, official_language
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
    message, detail = record_wording(error)
    return alert_raise(
        rule=error.code,
        message=f"{section.public_id + '：' if section else ''}{message}",
        section=section,
        data={"step": step, "fields": {k: str(v) for k, v in error.fields.items()}, **detail},
        event=AuditEvent.RULE_REFUSED,
        blocked=True,
        actor=actor if getattr(actor, "pk", None) else None,
    )


def record_wording(error: RuleViolation) -> tuple[str, dict]:
    """The alert's words for a refusal, in the language of the record (trading.i18n): the refusal's own when it
    was worded so; else the rule's title, with the refusal as its reader read it kept beside."""
    if error.record_message:
        return error.record_message, {}
    if in_official_language():
        return error.message, {}
    registered = rule_get(error.code)
    return (registered.title if registered else error.code), {"detail": error.message}


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
        with official_language():  # the alert's words; a refusal is worded again for its reader below
            breach = _checked(rule, section, now)
        if breach is None:
            continue
        if rule.blocks:
            shown = breach if in_official_language() else _checked(rule, section, now) or breach
            error = RuleViolation(rule.code, shown.message, fields=breach.data.get("fields", {}))
            error.section, error.record_message = section, breach.message
            raise error
        raised.append(_raise(rule.code, breach))
    return raised


def _checked(rule, section, now) -> Breach | None:
    try:
        return rule.check(section, now=now)
    except RuleViolation as error:
        return Breach(message=error.message, section=section, data={"fields": error.fields})


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
            with official_language():  # what it finds is worded for the record
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
