"""Reads for supervision, every one through the visibility policy (trading/policy.py)."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from trading import policy, signing
from trading.audit.events import AuditEvent
from trading.audit.log import audit_verify, entry_leaf_bytes, tree_head_message
from trading.audit.merkle import leaf_hash
from trading.audit.models import AuditEntry
from trading.errors import NotAllowed
from trading.models import Section, SectionTransition
from trading.supervision.models import Alert, Complaint, Notice, Objection
from trading.supervision.registry import REGISTRY, TRANSITION_STEPS, MonitoredRule, Step


def _supervisor(user) -> None:
    if not policy.can_read_supervision(user):
        raise NotAllowed("NOT-ALLOWED", _("只有监督人员可以使用电子监察。"))


def alerts_list(*, user, section: Section | None = None) -> QuerySet:
    queryset = policy.alerts_visible(user, Alert.objects.select_related("section"))
    return queryset.filter(section=section) if section is not None else queryset


def alert_counts(*, user) -> dict[str, dict[str, int]]:
    """Per rule, its alerts per section public id (the rules page: each rule's status across sections)."""
    counts: dict[str, dict[str, int]] = {}
    rows = alerts_list(user=user).values_list("rule", "section__public_id")
    for rule, section in rows:
        per = counts.setdefault(rule, {})
        per[section or "—"] = per.get(section or "—", 0) + 1
    return counts


def alert_codes_shown(alert: Alert) -> list[str]:
    """Bidder codes of an alert, once its section is opened (the queryset already passed the policy)."""
    return alert.bidder_codes if policy.alert_codes_visible(alert) else []


def notices_list(*, user) -> QuerySet:
    return policy.notices_visible(user, Notice.objects.select_related("section", "issued_by", "responded_by"))


def complaints_list(*, user) -> QuerySet:
    return policy.complaints_visible(user, Complaint.objects.select_related("section", "organization"))


def objections_list(*, user, section: Section | None = None) -> QuerySet:
    queryset = policy.objections_visible(user, Objection.objects.select_related("section", "organization"))
    return queryset.filter(section=section) if section is not None else queryset


def complaint_decisions() -> QuerySet:
    return policy.complaint_decisions_public(Complaint.objects.select_related("section", "organization")).order_by("-decided_at")


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # transition | audit | alert | notice
    text: str
    code: str = ""


def section_timeline(*, user, section: Section) -> list[TimelineItem]:
    """Transitions, audit entries (as the policy lets the viewer see them), alerts and notices, in time order."""
    _supervisor(user)
    items = [
        TimelineItem(t.at, "transition", f"{t.from_state} → {t.to_state} {t.reason}".strip())
        for t in SectionTransition.objects.filter(section=section)
    ]
    entries = policy.audit_entries_visible(user, AuditEntry.objects.filter(section=section))
    items += [TimelineItem(e.at, "audit", f"#{e.index} {_event_name(e.event)}", e.data.get("rule", "")) for e in entries]
    items += [TimelineItem(a.created_at, "alert", a.message, a.rule) for a in alerts_list(user=user, section=section)]
    items += [TimelineItem(n.issued_at, "notice", n.subject) for n in notices_list(user=user).filter(section=section)]
    return sorted(items, key=lambda item: item.at)


def _event_name(event: int) -> str:
    try:
        return AuditEvent(event).name
    except ValueError:
        return str(event)


@dataclass(frozen=True)
class ChainRow:
    entry: AuditEntry
    content_ok: bool  # the leaf hash recomputed from the row
    signature_ok: bool  # the signed tree head that ends with it


@dataclass(frozen=True)
class SectionChain:
    rows: list[ChainRow]
    log_ok: bool
    log_entries: int
    first_finding: str

    @property
    def ok(self) -> bool:
        return self.log_ok and all(r.content_ok and r.signature_ok for r in self.rows)


def section_audit_chain(*, user, section: Section, verify_log: bool = True) -> SectionChain:
    """The section's entries the viewer may see, each checked, and the whole log verified end to end."""
    _supervisor(user)
    entries = policy.audit_entries_visible(user, AuditEntry.objects.filter(section=section)).order_by("index")
    rows = []
    for entry in entries:
        content_ok = leaf_hash(entry_leaf_bytes(entry)).hex() == entry.leaf_hash
        head = tree_head_message(entry.index + 1, bytes.fromhex(entry.tree_root))
        rows.append(ChainRow(entry, content_ok, signing.verify(head, entry.signature)))
    report = audit_verify() if verify_log else None
    return SectionChain(
        rows=rows,
        log_ok=report.ok if report else True,
        log_entries=report.entries if report else 0,
        first_finding=str(report.first) if report and report.first else "",
    )


@dataclass(frozen=True)
class RuleStatus:
    rule: MonitoredRule
    status: str  # breached | passed | pending | not_checked
    alerts: int


STEP_STATES: dict[str, str] = {step: to_state for (_from, to_state), step in TRANSITION_STEPS.items()}
STEP_STATES.update({Step.SETUP: "draft", Step.PAYMENT: "published", Step.REGISTRATION: "published", Step.UPLOAD: "published"})


def rule_status(*, user, section: Section) -> list[RuleStatus]:
    """Each registered rule for one section: breached (an alert), passed (its step is behind the section), pending."""
    _supervisor(user)
    counts: dict[str, int] = {}
    for alert in alerts_list(user=user, section=section):
        counts[alert.rule] = counts.get(alert.rule, 0) + 1
    reached = set(SectionTransition.objects.filter(section=section).values_list("to_state", flat=True)) | {"draft"}
    result = []
    for rule in sorted(REGISTRY.values(), key=lambda r: r.code):
        if counts.get(rule.code):
            status = "breached"
        elif not rule.checked:
            status = "not_checked"
        elif rule.step in STEP_STATES and STEP_STATES[rule.step] not in reached:
            status = "pending"
        else:
            status = "passed"
        result.append(RuleStatus(rule, status, counts.get(rule.code, 0)))
    return result


def sections_watched(*, user) -> QuerySet:
    _supervisor(user)
    return policy.sections_visible(user).select_related("project").order_by("-updated_at")


def opening_records(limit: int = 50) -> list:
    """Opened sections with their read-out bids (names and prices are public once opened)."""
    from bidding.models import BidOpening

    sections = policy.opendata_sections(Section.objects.filter(opened_at__isnull=False)).select_related("project")
    result = []
    for section in sections.order_by("-opened_at")[:limit]:
        if not policy.opendata_bids_disclosed(section):
            continue
        openings = (
            BidOpening.objects.filter(section=section)
            .select_related("bid__registration__organization")
            .order_by("readout_order", "pk")
        )
        result.append((section, list(openings)))
    return result


def current_award_report(section):
    """The written report of the award that stands, or None (REPORT-15D)."""
    from trading.supervision.models import AwardReport

    return AwardReport.objects.current().filter(section=section).first()


def award_results() -> QuerySet:
    """The winners and prices the tenderers reported: public once the award is made (reports exist only then)."""
    from trading.supervision.models import AwardReport

    return (
        AwardReport.objects.current()
        .filter(section__in=policy.opendata_sections(Section.objects.all()))
        .select_related("section", "section__project")
        .order_by("-submitted_at")
    )
