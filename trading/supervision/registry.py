"""The monitoring nodes (监察点): every rule of RULES.md, keyed by its code, with where and how it is checked.

Apps add to it from their AppConfig.ready(): `rule_register` for a rule of their own,
`check_provide` to attach the check (or time-based scan) of a rule registered here.
A check is `check(section, *, now) -> Breach | None` (or raises RuleViolation); a scan
is `scan(*, now) -> Iterable[Breach] | int` (an int: it raised its alerts itself).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from trading.models import SectionState

S = SectionState


class Severity:
    HIGH = "high"  # collusion, secrecy, a refused act
    MEDIUM = "medium"  # a deadline missed
    LOW = "low"


class Step:
    """Where a rule runs: a lifecycle transition, an act of one app, or the periodic scan."""

    SETUP = "setup"
    PUBLISH = "publish"
    CLARIFICATION = "clarification"
    OBJECTION = "objection"
    FIREWALL = "firewall"
    REGISTRATION = "registration"
    PAYMENT = "payment"
    UPLOAD = "upload"
    OPENING = "opening"
    OPENED = "opened"
    EVALUATION = "evaluation"
    REPORT = "report"
    AWARD = "award"
    CONTRACT = "contract"
    COMPLAINT = "complaint"
    SCAN = "scan"


# The step a lifecycle transition runs (the transition table is trading.services.lifecycle's).
TRANSITION_STEPS: dict[tuple[str, str], str] = {
    (S.DRAFT, S.PUBLISHED): Step.PUBLISH,
    (S.BIDDING_CLOSED, S.OPENING): Step.OPENING,
    (S.OPENING, S.OPENED): Step.OPENED,
    (S.OPENED, S.EVALUATING): Step.EVALUATION,
    (S.EVALUATING, S.PUBLICIZING): Step.REPORT,
    (S.PUBLICIZING, S.AWARDED): Step.AWARD,
    (S.AWARDED, S.CONTRACTED): Step.CONTRACT,
}


@dataclass
class Breach:
    """One finding of a check: what the alert will say. bidder_codes only where the rule is about bidders."""

    message: str
    section: object = None
    deposit: object = None
    dedupe_key: str | None = None
    bidder_codes: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MonitoredRule:
    code: str
    title: str
    basis: str
    step: str
    severity: str = Severity.MEDIUM
    blocks: bool = False  # a breach refuses the act (the transition is not made)
    owner: str = "supervision"  # the app whose code checks it
    where: str = ""  # where that check lives, when it is not the callable below
    check: Callable | None = None
    scan: Callable | None = None
    extra_steps: tuple[str, ...] = ()  # further steps that also run the check

    @property
    def checked(self) -> bool:
        return bool(self.check or self.scan or self.where)

    def runs_at(self, step: str) -> bool:
        return step == self.step or step in self.extra_steps


REGISTRY: dict[str, MonitoredRule] = {}


def rule_register(rule: MonitoredRule) -> MonitoredRule:
    """Add a rule (or replace one, keeping a check already provided for it)."""
    previous = REGISTRY.get(rule.code)
    if previous is not None:
        rule = replace(rule, check=rule.check or previous.check, scan=rule.scan or previous.scan)
    REGISTRY[rule.code] = rule
    return rule


def check_provide(code: str, *, check: Callable | None = None, scan: Callable | None = None, where: str = "") -> MonitoredRule:
    """An app supplies the check of a rule registered here (its code, basis and step stay as registered).

    Safe from any app's ready(), whatever the order of INSTALLED_APPS: the rows are loaded first.
    """
    if code not in REGISTRY:
        from trading.supervision import checks  # noqa: F401  (registers every row of RULES.md)
    rule = REGISTRY[code]  # a KeyError names a code RULES.md does not have
    REGISTRY[code] = replace(rule, check=check or rule.check, scan=scan or rule.scan, where=where or rule.where)
    return REGISTRY[code]


def rule_get(code: str) -> MonitoredRule | None:
    return REGISTRY.get(code)


def rules_for_step(step: str) -> list[MonitoredRule]:
    return [rule for rule in REGISTRY.values() if rule.runs_at(step) and rule.check is not None]


def scans() -> Iterable[MonitoredRule]:
    return [rule for rule in REGISTRY.values() if rule.scan is not None]
