"""Open data: every published section as OCDS 1.1 releases and records.

Releases follow the section: the tender (at publication), the opening (tenderers and bids,
only once opened: nothing sealed appears before), the award and the contract. Each release
is a snapshot of what was known then, so the compiled release of a record is its last one.
Amounts are yuan (OCDS numbers) from integer fen.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from trading import policy
from trading.models import Procedure, Section, SectionState, SectionTransition, TransactionType
from trading.supervision.selectors import current_award_report
from trading.supervision.statistics import RESULT_STATES, award_prices


@dataclass(frozen=True)
class AwardFact:
    """One award of a section; one whose winner gave up or refused to sign (DEP-FORFEIT-REFUSE) is cancelled."""

    awarded_at: datetime
    price_fen: int
    organization: object
    refused_at: datetime | None = None


# Where a section's awards come from: functions section -> [AwardFact] (evaluation registers its own). A section
# none of them knows (a sale, a result only reported) takes its winner from the written report.
AWARD_HISTORY_SOURCES: list[Callable[[Section], list[AwardFact]]] = []


def award_history_source_register(source: Callable[[Section], list[AwardFact]]) -> None:
    if source not in AWARD_HISTORY_SOURCES:
        AWARD_HISTORY_SOURCES.append(source)


def _award_history(section: Section) -> list[AwardFact]:
    return sorted((a for source in AWARD_HISTORY_SOURCES for a in source(section)), key=lambda a: a.awarded_at)


def _as_supplier(parties: dict, organization) -> dict:
    party = parties.setdefault(_party_id(organization), _party(organization, []))
    party["roles"] = sorted({*party["roles"], "supplier"})
    return {"id": party["id"], "name": party["name"]}


def award_id(section: Section, number: int) -> str:
    """The n-th award of a section, numbered as its notices are (ZB-<id>, then ZB-<id>-2 after a refusal)."""
    return f"{section.public_id}-award" if number == 1 else f"{section.public_id}-award-{number}"


OCDS_VERSION = "1.1"
BID_EXTENSION = "https://raw.githubusercontent.com/open-contracting-extensions/ocds_bid_extension/v1.1.5/extension.json"
CATEGORY = {TransactionType.CONSTRUCTION: "works", TransactionType.PROCUREMENT: "goods"}
TENDER_STATUS = {
    SectionState.FAILED: "unsuccessful",
    SectionState.TERMINATED: "cancelled",
    SectionState.AWARDED: "complete",
    SectionState.CONTRACTED: "complete",
    SectionState.CLOSED: "complete",
}


def prefix() -> str:
    return getattr(settings, "OCDS_PREFIX", "ocds-sunlgt")


def ocid(section: Section) -> str:
    return f"{prefix()}-{section.public_id}"


def _iso(moment) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _value(fen: int) -> dict:
    return {"amount": fen / 100, "currency": "CNY"}


def _party_id(organization) -> str:
    return f"CN-USCC-{organization.credit_code}" if organization.credit_code else f"ORG-{organization.pk}"


def _party(organization, roles: list[str]) -> dict:
    party = {"id": _party_id(organization), "name": organization.name, "roles": roles}
    if organization.credit_code:
        party["identifier"] = {"scheme": "CN-USCC", "id": organization.credit_code, "legalName": organization.name}
    return party


def _transition_times(section: Section) -> dict[str, object]:
    rows = (
        SectionTransition.objects.filter(section=section).values("to_state").annotate(at=Max("at")).values_list("to_state", "at")
    )
    return dict(rows)


def _tender(section: Section, *, status: str) -> dict:
    project = section.project
    tender = {
        "id": section.public_id,
        "title": f"{project.name} {section.name}",
        "status": status,
        "procurementMethod": "open",
        "procurementMethodDetails": str(Procedure(section.procedure).label),
        "value": _value(section.estimated_price_fen),
        "tenderPeriod": {"startDate": _iso(section.published_at), "endDate": _iso(section.bid_deadline)},
        "documents": [
            {
                "id": f"{section.public_id}-{d.sha256[:12]}-v{d.version}",  # by content: no row numbers
                "documentType": "biddingDocuments",
                "title": f"{d.name} v{d.version}",
                "datePublished": _iso(d.uploaded_at),
                "format": d.content_type,
            }
            for d in section.documents.all()
        ],
    }
    if project.transaction_type in CATEGORY:
        tender["mainProcurementCategory"] = CATEGORY[project.transaction_type]
    return tender


def _opened_bids(section: Section):
    """Tenderers and bids: only for an opened section (SECRET-BIDDERS), as the bid extension shapes them."""
    from bidding.models import BidOpening, Registration

    openings = list(BidOpening.objects.filter(section=section).select_related("bid__registration__organization"))
    if openings:
        organizations = [o.bid.registration.organization for o in openings]
        details = [
            {
                "id": f"{section.public_id}-bid-{o.pk}",
                "date": _iso(o.bid.submitted_at),
                "status": "valid" if o.status == BidOpening.Status.OPENED else "invalid",
                "tenderers": [{"id": _party_id(org), "name": org.name}],
                **({"value": _value(o.price_fen)} if o.price_fen is not None else {}),
            }
            for o, org in zip(openings, organizations, strict=True)
        ]
    else:  # a sale without sealed bids: the registered bidders
        organizations = [r.organization for r in Registration.objects.filter(section=section).select_related("organization")]
        details = []
    return organizations, details


def section_releases(section: Section) -> list[dict]:
    """The section's releases, oldest first; [] for a section the policy does not publish."""
    if not policy.opendata_sections(Section.objects.filter(pk=section.pk)).exists():
        return []
    project = section.project
    times = _transition_times(section)
    parties = {_party_id(project.tenderer): _party(project.tenderer, ["buyer", "procuringEntity"])}
    if project.agency_id:
        parties[_party_id(project.agency)] = _party(project.agency, ["procuringEntity"])
    base = {
        "ocid": ocid(section),
        "initiationType": "tender",
        "language": "zh",
        "buyer": {"id": _party_id(project.tenderer), "name": project.tenderer.name},
    }
    state = section.suspended_from if section.state == SectionState.SUSPENDED else section.state
    releases = []

    def release(stage: str, tag: str, moment, **blocks) -> None:
        releases.append(
            {
                **base,
                "id": f"{ocid(section)}-{stage}",
                "date": _iso(moment),
                "tag": [tag],
                "parties": [dict(p) for p in parties.values()],
                **blocks,
            }
        )

    tender = _tender(section, status="active")
    release("tender", "tender", section.published_at, tender=tender)
    bids = None
    if policy.opendata_bids_disclosed(section):
        organizations, details = _opened_bids(section)
        for org in organizations:
            parties.setdefault(_party_id(org), _party(org, ["tenderer"]))
        tender = {
            **tender,
            "numberOfTenderers": len(organizations),
            "tenderers": [{"id": _party_id(o), "name": o.name} for o in organizations],
        }
        bids = {"details": details}
        release("opening", "tenderUpdate", section.opened_at, tender=tender, bids=bids)
    history = _award_history(section)
    standing = next((a for a in history if a.refused_at is None), None)
    cancelled = []  # each refused award: active from its notice, cancelled from the refusal on
    for number, refused in enumerate((a for a in history if a.refused_at is not None), start=1):
        award = {
            "id": award_id(section, number),
            "status": "active",
            "date": _iso(refused.awarded_at),
            "value": _value(refused.price_fen),
            "suppliers": [_as_supplier(parties, refused.organization)],
        }
        stage = "award" if number == 1 else f"award-{number}"
        release(stage, "award", refused.awarded_at, tender=tender, awards=[*cancelled, award], **_b(bids))
        cancelled.append({**award, "status": "cancelled"})
        release(f"{stage}-refused", "awardUpdate", refused.refused_at, tender=tender, awards=cancelled, **_b(bids))
    if state in TENDER_STATUS and state not in RESULT_STATES:
        moment = times.get(state) or section.updated_at
        tender = {**tender, "status": TENDER_STATUS[state]}
        awards = {"awards": cancelled} if cancelled else {}
        release(
            state,
            "tenderUpdate" if state == SectionState.FAILED else "tenderCancellation",
            moment,
            tender=tender,
            **awards,
            **_b(bids),
        )
    price = award_prices([section.pk]).get(section.pk)
    if state in RESULT_STATES and price is not None:
        award_at = times.get(SectionState.AWARDED) or section.updated_at
        if standing is not None:
            supplier = _as_supplier(parties, standing.organization)
        else:
            supplier = _reported_supplier(parties, section, current_award_report(section))
        tender = {**tender, "status": "complete"}
        number = len(cancelled) + 1
        award = {
            "id": award_id(section, number),
            "status": "active",
            "date": _iso(award_at),
            "value": _value(price),
            "suppliers": [supplier] if supplier else [],
        }
        awards = [*cancelled, award]
        release("award" if number == 1 else f"award-{number}", "award", award_at, tender=tender, awards=awards, **_b(bids))
        contracted_at = times.get(SectionState.CONTRACTED)
        if contracted_at is not None:
            contract = {
                "id": f"{section.public_id}-contract",
                "awardID": award["id"],
                "status": "active",
                "dateSigned": _iso(contracted_at),
                "value": _value(price),
            }
            release("contract", "contract", contracted_at, tender=tender, awards=awards, contracts=[contract], **_b(bids))
    return releases


def _b(bids) -> dict:
    return {"bids": bids} if bids is not None else {}


def _reported_supplier(parties: dict, section: Section, report) -> dict | None:
    """The winner the written report names: a registered bidder if one has that name."""
    if report is None:
        return None
    from bidding.models import Registration

    registration = (
        Registration.objects.filter(section=section, organization__name=report.winner_name).select_related("organization").first()
    )
    if registration is not None:
        return _as_supplier(parties, registration.organization)
    supplier = {"id": f"{section.public_id}-supplier", "name": report.winner_name}
    parties.setdefault(supplier["id"], {**supplier, "roles": ["supplier"]})
    return supplier


def compiled_release(releases: list[dict]) -> dict:
    last = releases[-1]
    return {**last, "id": f"{last['ocid']}-compiled", "tag": ["compiled"]}


def _publisher() -> dict:
    return {"name": str(getattr(settings, "PLATFORM_NAME", "Sunlight"))}


def release_package(sections, *, uri: str) -> dict:
    releases = [r for section in sections for r in section_releases(section)]
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": _iso(timezone.now()),
        "publisher": _publisher(),
        "extensions": [BID_EXTENSION],
        "releases": releases,
    }


def record_package(sections, *, uri: str) -> dict:
    records = []
    for section in sections:
        releases = section_releases(section)
        if releases:
            records.append({"ocid": ocid(section), "releases": releases, "compiledRelease": compiled_release(releases)})
    return {
        "uri": uri,
        "version": OCDS_VERSION,
        "publishedDate": _iso(timezone.now()),
        "publisher": _publisher(),
        "extensions": [BID_EXTENSION],
        "records": records,
    }


def published_sections():
    return (
        policy.opendata_sections(Section.objects.all())
        .select_related("project__tenderer", "project__agency")
        .prefetch_related("documents")
        .order_by("published_at", "pk")
    )
