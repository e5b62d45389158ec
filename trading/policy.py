"""The visibility policy (the firewall): the one place that decides who sees what, when.

Before a section's bids are opened nobody but a bidder itself learns who
registered, how many did, or what they bid (SECRET-BIDDERS). Every selector,
serializer, page, stream and export asks this module.
"""

from enum import StrEnum

from django.conf import settings
from django.db.models import Q, QuerySet

from trading.audit.events import BIDDER_PRIVATE_EVENTS, SIGNIN_EVENTS
from trading.models import Role, Section, SectionState


class Phase(StrEnum):
    DRAFT = "draft"
    SEALED = "sealed"  # published until the bids are opened: identities and counts hidden
    OPEN = "open"  # bids opened: identities and read-out forms public


MANAGING_ROLES = {Role.TENDERER, Role.AGENCY}
OFFICIAL_ROLES = {Role.STAFF, Role.SUPERVISOR}


def phase_of(section: Section) -> Phase:
    if section.opened_at is not None:
        return Phase.OPEN
    state = section.suspended_from if section.state == SectionState.SUSPENDED else section.state
    if state == SectionState.DRAFT:
        return Phase.DRAFT
    return Phase.SEALED


def role_of(user) -> str:
    if user is None or not user.is_authenticated:
        return Role.PUBLIC
    return user.role


def manages(user, section: Section) -> bool:
    """The section's own tenderer, or the agency acting for it."""
    if role_of(user) not in MANAGING_ROLES or user.organization_id is None:
        return False
    project = section.project
    return user.organization_id in (project.tenderer_id, project.agency_id)


def section_visibility(user, prefix: str = "") -> Q:
    """Which sections a viewer may see, as a filter (prefix it to filter related rows).

    Anyone sees what was published; a draft is seen by its own tenderer's side and the officials.
    """
    role = role_of(user)
    if role in OFFICIAL_ROLES:
        return Q()
    visible = Q(**{f"{prefix}published_at__isnull": False})
    if role in MANAGING_ROLES and user.organization_id:
        visible |= Q(**{f"{prefix}project__tenderer_id": user.organization_id})
        visible |= Q(**{f"{prefix}project__agency_id": user.organization_id})
    return visible


def sections_visible(user, queryset: QuerySet | None = None) -> QuerySet:
    queryset = Section.objects.all() if queryset is None else queryset
    return queryset.filter(section_visibility(user))


def can_view_section(user, section: Section) -> bool:
    return sections_visible(user, Section.objects.filter(pk=section.pk)).exists()


def can_edit_section(user, section: Section) -> bool:
    """Drafting: the tenderer's side or staff; supervisors watch and stop, never edit."""
    return phase_of(section) == Phase.DRAFT and (manages(user, section) or role_of(user) == Role.STAFF)


def can_publish_section(user, section: Section) -> bool:
    return role_of(user) == Role.STAFF


def can_supervise(user) -> bool:
    return role_of(user) == Role.SUPERVISOR


def identities_revealed(section: Section) -> bool:
    return phase_of(section) == Phase.OPEN


def registrations_visible(user, queryset: QuerySet) -> QuerySet:
    """A bidder sees its own; everyone else sees registrations only of opened sections."""
    role = role_of(user)
    opened = Q(section__opened_at__isnull=False)
    if role == Role.BIDDER and user.organization_id:
        return queryset.filter(Q(organization_id=user.organization_id) | opened)
    if role in OFFICIAL_ROLES | MANAGING_ROLES:
        return queryset.filter(opened)
    return queryset.none()


def bidder_label(user, registration) -> str:
    """The name when the viewer may know it, else the pseudonymous code."""
    if registration.organization_id == getattr(user, "organization_id", None) or identities_revealed(registration.section):
        return registration.organization.name
    return registration.bidder_code


def can_download_documents(user, section: Section) -> bool:
    role = role_of(user)
    if phase_of(section) == Phase.DRAFT:
        return can_edit_section(user, section)
    if role in OFFICIAL_ROLES or manages(user, section):
        return True
    if role == Role.BIDDER and user.organization_id:
        return section.registrations.filter(organization_id=user.organization_id).exists()
    return False


def audit_entries_visible(user, queryset: QuerySet) -> QuerySet:
    """Entries that reveal a bidder's participation stay hidden until opening, but from the bidder itself. (Those of
    a section wait in its sealed chain until then: sealed_entries_visible.)"""
    if role_of(user) not in OFFICIAL_ROLES:
        queryset = queryset.exclude(event__in=[int(e) for e in SIGNIN_EVENTS])
    private = Q(event__in=[int(e) for e in BIDDER_PRIVATE_EVENTS]) & (
        Q(section__isnull=True) | Q(section__opened_at__isnull=True)
    )
    org = getattr(user, "organization_id", None) if role_of(user) == Role.BIDDER else None
    if org:
        return queryset.exclude(private & ~Q(actor_organization_id=org))
    return queryset.exclude(private)


def sealed_entries_visible(user, queryset: QuerySet) -> QuerySet:
    """A section's sealed chain before opening: a bidder sees the entries of its own organization's acts; nobody
    else any, officials included (their count is what the chain keeps from the public log)."""
    org = getattr(user, "organization_id", None) if role_of(user) == Role.BIDDER else None
    return queryset.filter(actor_organization_id=org) if org else queryset.none()


# Deposits (escrow). A list of deposits tells how many registered, so before opening staff get no list:
# they look one deposit up by the bidder code the bidder tells them. After opening, the board lists all.
def deposit_board_mode(user, section: Section) -> str:
    """'list' (every deposit, with names: after opening), 'lookup' (one by bidder code: before) or '' (no board)."""
    if role_of(user) != Role.STAFF or phase_of(section) == Phase.DRAFT:
        return ""
    return "list" if identities_revealed(section) else "lookup"


def deposit_lookup_allowed(user, *, done_today: int) -> bool:
    """A lookup by code needs a code the bidder told: a handful a day. Many more would be trying codes (32^4 of them)
    until the registered ones answer, so past the day's allowance the answer is one refusal for every code."""
    return done_today < settings.ESCROW_LOOKUPS_PER_DAY


def deposits_visible(user, queryset: QuerySet) -> QuerySet:
    """A bidder sees its own deposits; staff every deposit of opened sections; nobody else any."""
    role = role_of(user)
    if role == Role.BIDDER and user.organization_id:
        return queryset.filter(registration__organization_id=user.organization_id)
    if role == Role.STAFF:
        return queryset.filter(registration__section__opened_at__isnull=False)
    return queryset.none()


def can_read_payers(user, section: Section) -> bool:
    """Who paid each deposit (name, account) is sealed; after opening the evaluation and supervisors read it."""
    return role_of(user) in {Role.EXPERT, Role.SUPERVISOR} and identities_revealed(section)


def deposit_alerts_visible(user, queryset: QuerySet) -> QuerySet:
    """Supervisors; an alert naming bidder codes (DEP-SAME-PAYER) only once its section is opened."""
    if not can_supervise(user):
        return queryset.none()
    return queryset.filter(Q(names_bidders=False) | Q(section__opened_at__isnull=False))


def can_reconcile(user) -> bool:
    return role_of(user) == Role.STAFF


def reconciliation_count_visible(sections: QuerySet) -> bool:
    """A day's count of agreeing payments and refunds is how many deposits moved that day: shown once every
    section they belong to is opened. The differences, which staff act on, are always shown."""
    return not sections.filter(opened_at__isnull=True).exists()


# Live streams: the stream kinds are livestream's; only the supervisors' feed is closed to the public.
SUPERVISOR_STREAM_KINDS = frozenset({"supervision"})


def can_watch_stream(user, stream) -> bool:
    """A section's stream is read-only for whoever may see the section; supervisors' feeds need the role."""
    if stream.kind in SUPERVISOR_STREAM_KINDS:
        return can_supervise(user)
    if stream.section_id is None:
        return True
    return can_view_section(user, stream.section)


def stream_viewer_codes(user, section) -> frozenset[str]:
    """The bidder codes a viewer's own organization holds in the section: it always sees its own identity."""
    if section is None or role_of(user) != Role.BIDDER or not user.organization_id:
        return frozenset()
    return frozenset(section.registrations.filter(organization_id=user.organization_id).values_list("bidder_code", flat=True))


def stream_codes_public(section, *, codes, revealed) -> list[str]:
    """Whose identities an event shows everyone: the bidders read out (唱标) so far, or all once the bids are opened."""
    if section is not None and identities_revealed(section):
        return sorted(codes)
    return sorted(set(codes) & set(revealed))


def stream_event_view(event: dict, *, own_codes: frozenset[str] = frozenset()) -> dict:
    """What one viewer sees of a stream event: the payload (codes only) and the sealed entries it may know."""
    view = {"seq": event["seq"], "kind": event["kind"], "at": event["at"], "payload": event["payload"]}
    sealed = event.get("sealed")
    if sealed:
        public = event.get("public") or ()
        bidders = {code: entry for code, entry in sealed.items() if code in public or code in own_codes}
        if bidders:
            view["bidders"] = bidders
    return view


# Openings (开标). Staff run them; a custodian presents its own share; a bidder checks in, unlocks its own
# bid and raises objections; anyone who may see the section watches. Read-out lines are public once read.
def can_run_opening(user, section: Section) -> bool:
    return role_of(user) == Role.STAFF


def can_present_share(user, section: Section) -> bool:
    if user is None or not user.is_authenticated or not getattr(user, "is_key_custodian", False):
        return False
    from bidding.models import KeyShare

    return KeyShare.objects.filter(opening_key__section=section, custodian=user).exists()


def opening_registration(user, section: Section):
    """The viewer's own registration in the section (a bidder at its opening), else None."""
    if role_of(user) != Role.BIDDER or not user.organization_id:
        return None
    return section.registrations.filter(organization_id=user.organization_id).first()


def can_read_opening_record(user, section: Section) -> bool:
    ceremony = getattr(section, "opening_ceremony", None)
    return ceremony is not None and ceremony.record is not None and can_view_section(user, section)


def opening_line_visible(user, bid_opening) -> bool:
    """A bid's read-out line (name, price, main fields, or why it failed): public from its read-out on."""
    return bid_opening.read_out_at is not None


# Evaluation (bidding.evaluation). EVAL-SECRET: who sits on a committee is sealed until its session
# starts; then the officials and the committee itself see the names; the tenderer once results are out,
# everyone else once the award is decided.
RESULT_STATES = {SectionState.PUBLICIZING, SectionState.AWARDED, SectionState.CONTRACTED, SectionState.CLOSED}
# Law 37: the committee's names stay secret until the award is decided, so the public and the bidders do not
# read them during the candidates' publicity; the tenderer's side has the signed report from the results on (Law 40).
AWARD_STATES = RESULT_STATES - {SectionState.PUBLICIZING}


def can_manage_experts(user) -> bool:
    return role_of(user) == Role.STAFF


def can_run_draw(user, section: Section) -> bool:
    """Staff draw, never the tenderer (EVAL-RANDOM: nobody may name the experts), and only after opening,
    because excluding the bidders' employees before then would tell who bid (SECRET-BIDDERS)."""
    return role_of(user) == Role.STAFF and identities_revealed(section)


def _standing_state(section: Section) -> str:
    return section.suspended_from if section.state == SectionState.SUSPENDED else section.state


def results_public(section: Section) -> bool:
    return _standing_state(section) in RESULT_STATES


def award_decided(section: Section) -> bool:
    return _standing_state(section) in AWARD_STATES


def sitting_member(user, draw):
    """The viewer's accepted seat on this committee, if any."""
    if draw is None or role_of(user) != Role.EXPERT:
        return None
    return draw.members.filter(expert__user=user, status="accepted").select_related("expert").first()


def committee_names_visible(user, draw) -> bool:
    if draw is None or draw.session_started_at is None:
        return False
    if role_of(user) in OFFICIAL_ROLES or sitting_member(user, draw) is not None:
        return True
    if manages(user, draw.section):
        return results_public(draw.section)
    return award_decided(draw.section)


def can_view_draw_record(user, section: Section) -> bool:
    """The commitment, candidate codes, rules and (once revealed) the seed: public, so anyone can re-check."""
    return identities_revealed(section) and can_view_section(user, section)


def can_evaluate(user, draw) -> bool:
    return draw is not None and draw.status == "in_session" and sitting_member(user, draw) is not None


def scores_visible(user, draw, *, all_in: bool) -> bool:
    """Nobody sees another expert's scores before every one is in; then the committee and officials,
    and the tenderer's side once the results are out."""
    if draw is None or not all_in:
        return False
    if role_of(user) in OFFICIAL_ROLES or sitting_member(user, draw) is not None:
        return True
    return results_public(draw.section) and manages(user, draw.section)


def collusion_flags_visible(user, section: Section, draw=None) -> bool:
    """COLLUSION-40 flags: for the supervisors after opening, and the committee in session."""
    if not identities_revealed(section):
        return False
    return can_supervise(user) or (draw is not None and sitting_member(user, draw) is not None)


def can_read_opened_parts(user, draw) -> bool:
    return can_evaluate(user, draw)


def report_visible(user, section: Section, draw=None) -> bool:
    if role_of(user) in OFFICIAL_ROLES or (draw is not None and sitting_member(user, draw) is not None):
        return True
    return results_public(section) and manages(user, section)


def can_raise_candidate_objection(user, section: Section) -> bool:
    """A bidder of the section (or anyone interested) objects to the candidates during publicity."""
    if section.state != SectionState.PUBLICIZING or role_of(user) != Role.BIDDER or not user.organization_id:
        return False
    return section.registrations.filter(organization_id=user.organization_id).exists()


def can_decide_award(user, section: Section) -> bool:
    """The tenderer's side answers objections, awards and records the contract; staff may record for it."""
    return manages(user, section) or role_of(user) == Role.STAFF


# Supervision (trading.supervision): alerts, notices, objections, complaints, statistics, open data.
def alerts_visible(user, queryset: QuerySet) -> QuerySet:
    """The supervisors' console: every alert at once, live (a breach waits for nobody), but for a held one
    (DEP-SAME-PAYER before opening: its being there says that two bidders registered), shown from the opening
    on, when the evaluation acts on it. The bidder codes an alert carries are shown only once its section is
    opened (alert_codes_visible). Escrow's own list, which prints the codes, keeps such alerts back until opening
    too (deposit_alerts_visible)."""
    if not can_supervise(user):
        return queryset.none()
    return queryset.filter(Q(held=False) | Q(section__opened_at__isnull=False))


def alert_log_text(*, event, section, message: str) -> str:
    """What a log line says of an alert (operators, staff among them, read the logs): one recorded as a bidder's
    private act (same payer, overdue refund) says nothing of its section before opening, for its being there
    tells that bidders registered and paid in that section. The supervisors' console still shows it all."""
    if int(event) in BIDDER_PRIVATE_EVENTS and (section is None or not identities_revealed(section)):
        return "(sealed until opening)"
    return message


def alert_codes_visible(alert) -> bool:
    return alert.names_bidders and alert.section_id is not None and identities_revealed(alert.section)


def can_answer_notice(user) -> bool:
    return role_of(user) == Role.STAFF


def notices_visible(user, queryset: QuerySet) -> QuerySet:
    return queryset if role_of(user) in OFFICIAL_ROLES else queryset.none()


def can_object(user, section: Section) -> bool:
    """A (potential) bidder objects to the tenderer about a published section."""
    return role_of(user) == Role.BIDDER and bool(user.organization_id) and phase_of(section) != Phase.DRAFT


def can_answer_objection(user, section: Section) -> bool:
    return role_of(user) == Role.STAFF or manages(user, section)


def objections_visible(user, queryset: QuerySet) -> QuerySet:
    """Officials and the section's own tenderer side; a bidder its own. Nobody else learns who objected."""
    role = role_of(user)
    if role in OFFICIAL_ROLES:
        return queryset
    if role in MANAGING_ROLES and user.organization_id:
        return queryset.filter(
            Q(section__project__tenderer_id=user.organization_id) | Q(section__project__agency_id=user.organization_id)
        )
    if role == Role.BIDDER and user.organization_id:
        return queryset.filter(organization_id=user.organization_id)
    return queryset.none()


def can_complain(user, section: Section) -> bool:
    return can_object(user, section)


def complaints_visible(user, queryset: QuerySet) -> QuerySet:
    role = role_of(user)
    if role == Role.SUPERVISOR:
        return queryset
    if role == Role.BIDDER and user.organization_id:
        return queryset.filter(organization_id=user.organization_id)
    return queryset.none()


def complaint_decisions_public(queryset: QuerySet) -> QuerySet:
    """Published on the portal: decisions and refusals to accept, of published sections."""
    return queryset.filter(status__in=["decided", "rejected"], section__published_at__isnull=False)


def party_label(user, *, organization, section: Section, anonymous: str) -> str:
    """An objector's or complainant's name: to itself, or once the section's bids are opened; else a neutral label."""
    if organization.pk == getattr(user, "organization_id", None) or identities_revealed(section):
        return organization.name
    return anonymous


def opendata_sections(queryset: QuerySet) -> QuerySet:
    """Open data (OCDS) and statistics: published sections only; bids appear only once opened (opendata_bids_disclosed)."""
    return queryset.filter(published_at__isnull=False)


def opendata_bids_disclosed(section: Section) -> bool:
    return identities_revealed(section)


def can_read_supervision(user) -> bool:
    """The console, the alerts, per-section timelines and the rule status page."""
    return can_supervise(user)


def can_file_award_report(user, section: Section) -> bool:
    """The written report to the supervisors (REPORT-15D): the tenderer's side, or staff for it."""
    return role_of(user) == Role.STAFF or manages(user, section)


# Sales (bidding.auction): before the listing nobody learns who registered or how many; offers are
# public at once under the bidder code; names (and the sealed reserve) are revealed with the result.
def sale_reserve_revealed(sale) -> bool:
    return sale.ended


def sale_own_registration(user, section):
    """The viewer's own registration in a sale (only a bidder has one); never anyone else's."""
    if role_of(user) != Role.BIDDER or not user.organization_id:
        return None
    return section.registrations.filter(organization_id=user.organization_id).select_related("organization").first()


def can_offer(user, section) -> bool:
    return sale_own_registration(user, section) is not None
