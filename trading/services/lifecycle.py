"""The section lifecycle: a plain transition table and one function that moves along it."""

from django.db import transaction
from django.utils import timezone

from trading.audit.events import AuditEvent
from trading.audit.log import audit_append, audit_release
from trading.errors import TransitionError
from trading.models import Section, SectionState, SectionTransition
from trading.services.locks import lock_section

S = SectionState
TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.PUBLISHED, S.TERMINATED},
    S.PUBLISHED: {S.BIDDING_CLOSED, S.SUSPENDED, S.TERMINATED},
    S.BIDDING_CLOSED: {S.OPENING, S.FAILED, S.SUSPENDED, S.TERMINATED},
    S.OPENING: {S.OPENED, S.FAILED, S.SUSPENDED},
    S.OPENED: {S.EVALUATING, S.FAILED, S.SUSPENDED},
    S.EVALUATING: {S.PUBLICIZING, S.FAILED, S.SUSPENDED},
    S.PUBLICIZING: {S.AWARDED, S.EVALUATING, S.SUSPENDED},
    S.AWARDED: {S.CONTRACTED, S.SUSPENDED, S.PUBLICIZING, S.FAILED},  # back: the winner refused (award_refuse)
    S.CONTRACTED: {S.CLOSED},
    S.SUSPENDED: set(),  # resuming returns to the interrupted state (section_resume)
    S.FAILED: set(),
    S.TERMINATED: set(),
    S.CLOSED: set(),
}


def opened_release(section: Section) -> None:
    """The section is opened, in this transaction: the bidders' acts kept out of the public log until now join it,
    and the alerts held with them reach the supervisors (SECRET-BIDDERS)."""
    from trading.supervision.services.alerts import alerts_release

    alerts_release(section=section, released=audit_release(section))


def transition_allowed(from_state: str, to_state: str) -> bool:
    return to_state in TRANSITIONS.get(from_state, set())


def section_transition(*, section: Section, to_state: str, actor=None, reason: str = "", checks=None) -> Section:
    """Lock, check the table (and the step's rules), save, record history and audit in one transaction."""
    from trading.supervision.services.monitor import supervised, transition_checks, transition_published

    with supervised(section=section, step=f"{section.state}->{to_state}", actor=actor), transaction.atomic():
        locked = lock_section(section.pk)
        if not transition_allowed(locked.state, to_state):
            raise TransitionError(
                "TRANSITION",
                f"a section cannot go from {locked.state} to {to_state}",
                fields={"state": locked.state},
            )
        if checks is not None:
            checks(locked)
        transition_checks(section=locked, from_state=locked.state, to_state=to_state)  # the monitoring nodes of this step
        from_state = locked.state
        locked.state = to_state
        fields = ["state", "updated_at"]
        if to_state == S.SUSPENDED:
            locked.suspended_from = from_state
            fields.append("suspended_from")
        if to_state == S.OPENED and locked.opened_at is None:
            locked.opened_at = timezone.now()
            fields.append("opened_at")
        locked.save(update_fields=fields)
        if "opened_at" in fields:
            opened_release(locked)
        SectionTransition.objects.create(section=locked, from_state=from_state, to_state=to_state, actor=actor, reason=reason)
        audit_append(
            event=AuditEvent.SECTION_TRANSITION,
            actor=actor,
            section=locked,
            data={"from": from_state, "to": to_state, "reason": reason},
        )
        transition_published(section=locked, from_state=from_state, to_state=to_state, actor=actor, reason=reason)
    section.refresh_from_db()
    return section


def bidding_is_open(section: Section, *, now=None) -> bool:
    """The server clock decides at request time, whatever the scheduled job has done yet."""
    now = now or timezone.now()
    return section.state == S.PUBLISHED and section.bid_deadline is not None and now < section.bid_deadline


def close_due_sections(*, now=None) -> int:
    """Scheduled: close bidding on sections past their deadline and seal the accepted bids' root."""
    from bidding.submission import seal_bids_at_deadline

    now = now or timezone.now()
    closed = 0
    for section in Section.objects.filter(state=S.PUBLISHED, bid_deadline__lte=now):
        section_transition(section=section, to_state=S.BIDDING_CLOSED, reason="bid deadline reached")
        seal_bids_at_deadline(section=section)
        closed += 1
    # A tick that died between the two steps is finished by the next one.
    for section in Section.objects.filter(state=S.BIDDING_CLOSED, sealed_root__isnull=True, procedure="open_tender"):
        seal_bids_at_deadline(section=section)
    return closed
