"""Evaluation reads, each through the visibility policy (trading.policy decides; nothing here does)."""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from bidding.evaluation.models import (
    Award,
    CollusionFlag,
    CommitteeMember,
    Expert,
    ExpertDraw,
    Objection,
    ScoreSubmission,
)
from bidding.evaluation.services.scoring import all_scores_in, counted_submissions, valid_openings
from bidding.models import OpenedPart
from trading import policy
from trading.errors import NotAllowed


def draw_of(section) -> ExpertDraw | None:
    return ExpertDraw.objects.filter(section=section).select_related("section__project").first()


@dataclass(frozen=True)
class SeatView:
    seat: int
    specialty: str
    source: str
    source_label: str
    status: str
    status_label: str
    code: str  # the expert's pool code once the seed is revealed, else ""
    name: str  # once names are unsealed for this viewer (EVAL-SECRET), else ""
    employer: str


@dataclass(frozen=True)
class DrawRecord:
    draw: ExpertDraw
    seed: str  # "" until revealed
    seats: list[SeatView]
    names_visible: bool
    # The supplementary rounds: seats, commitment, candidate list and digest, and "seed" ("" until revealed).
    supplements: list[dict]


def draw_record(*, user, section) -> DrawRecord | None:
    """The published record of the draw: commitment, rules, candidate codes, the seed once revealed.

    Before the session the seats show only their number and status (EVAL-SECRET): nobody, staff
    included, learns who was drawn; each expert sees its own invitation in its workspace.
    """
    if not policy.can_view_draw_record(user, section):
        raise NotAllowed("NOT-ALLOWED", _("开标后公布专家抽取记录。"))
    draw = draw_of(section)
    if draw is None:
        return None
    names = policy.committee_names_visible(user, draw)
    revealed = draw.revealed_at is not None
    seats = [
        SeatView(
            seat=m.seat,
            specialty=m.specialty,
            source=m.source,
            source_label=m.get_source_display(),
            status=m.status,
            status_label=m.get_status_display(),
            code=m.expert.code if revealed else "",
            name=m.expert.name if names else "",
            employer=m.expert.employer.name if names else "",
        )
        for m in draw.members.select_related("expert__employer").order_by("seat", "invited_at", "pk")
    ]
    supplements = [{**s, "seed": s["seed"] if revealed else ""} for s in draw.supplements_unsealed()]
    return DrawRecord(draw=draw, seed=draw.seed if revealed else "", seats=seats, names_visible=names, supplements=supplements)


def vacant_representative_seats(draw) -> list[int]:
    """The tenderer's representatives' seats with nobody invited or sitting (declined or replaced), while the
    draw can still take one: they wait for staff to enter the tenderer's next representative."""
    if draw.status not in (ExpertDraw.Status.DRAWN, ExpertDraw.Status.IN_SESSION):
        return []
    seats = set(draw.members.filter(source=CommitteeMember.Source.REPRESENTATIVE).values_list("seat", flat=True))
    return sorted(seats - set(draw.members.sitting().values_list("seat", flat=True)))


def vacant_drawn_seats(draw) -> list[tuple[int, str]]:
    """(seat, specialty) of the drawn seats nobody sits in: no published list had anyone left for them
    (EVAL-POOL-SHORT), so they wait for a supplementary draw (services.draw.draw_supplement)."""
    if draw.status not in (ExpertDraw.Status.DRAWN, ExpertDraw.Status.IN_SESSION):
        return []
    specialties = [code for code, count in draw.rules["quotas"] for _n in range(count)]
    sitting = set(draw.members.sitting().values_list("seat", flat=True))
    return [(seat, code) for seat, code in enumerate(specialties, start=1) if seat not in sitting]


def replaceable_seats(draw) -> list[int]:
    """Seats whose member staff may replace (Regs 48): every sitting one, from the draw until the report."""
    if draw.status not in (ExpertDraw.Status.DRAWN, ExpertDraw.Status.IN_SESSION):
        return []
    return list(draw.members.sitting().order_by("seat").values_list("seat", flat=True))


def pending_seats(draw) -> list[int]:
    """In session, the seats still to submit (not their scores): whom to call, or to replace."""
    if draw.status != ExpertDraw.Status.IN_SESSION:
        return []
    return list(draw.members.sitting().filter(submission__isnull=True).order_by("seat").values_list("seat", flat=True))


def experts_list(*, user) -> QuerySet:
    if not policy.can_manage_experts(user):
        raise NotAllowed("NOT-ALLOWED", _("只有交易中心可以管理专家库。"))
    return Expert.objects.select_related("employer").prefetch_related("specialties")


def my_seats(*, user) -> QuerySet:
    """An expert's own invitations and seats: the only place a drawn name is known before the session."""
    if policy.role_of(user) != "expert":
        return CommitteeMember.objects.none()
    return CommitteeMember.objects.filter(expert__user=user).select_related("draw__section__project", "expert")


def submissions_list(*, user, draw) -> list[ScoreSubmission]:
    """Every expert's scores: hidden from everyone, the committee included, until all are in."""
    if not policy.scores_visible(user, draw, all_in=all_scores_in(draw)):
        raise NotAllowed("EVAL-INDEPENDENT", _("全部专家提交评分之前，任何人不能查看他人的评分。"))
    return list(counted_submissions(draw).select_related("member__expert").order_by("member__seat"))


def own_submission(*, user, draw) -> ScoreSubmission | None:
    member = policy.sitting_member(user, draw)
    return getattr(member, "submission", None) if member else None


def flags_list(*, user, section) -> list[CollusionFlag]:
    if not policy.collusion_flags_visible(user, section, draw_of(section)):
        raise NotAllowed("NOT-ALLOWED", _("串通投标预警仅供评标委员会和监督部门查看。"))
    return list(CollusionFlag.objects.filter(section=section))


def bids_for_committee(*, user, draw):
    """The valid bids and their decrypted parts, for the committee in session."""
    if not policy.can_read_opened_parts(user, draw):
        raise NotAllowed("NOT-ALLOWED", _("投标文件仅供评标委员会在评标期间查阅。"))
    openings = valid_openings(draw.section)
    parts = {}
    for part in OpenedPart.objects.filter(opening__in=openings):
        parts.setdefault(part.opening_id, []).append(part)
    return [(o, parts.get(o.pk, [])) for o in openings]


def objections_list(*, user, section) -> QuerySet:
    """The tenderer's side and officials see every objection; a bidder its own."""
    queryset = Objection.objects.filter(section=section)
    if policy.can_decide_award(user, section) or policy.role_of(user) in policy.OFFICIAL_ROLES:
        return queryset
    if policy.role_of(user) == "bidder":
        return queryset.filter(raised_by=user)
    return queryset.none()


def award_of(section) -> Award | None:
    return (
        Award.objects.standing()
        .filter(section=section)
        .select_related("candidate__opening__bid__registration__organization")
        .first()
    )


def award_history(section) -> list:
    """Open data: every award of the section, the refused ones too (DEP-FORFEIT-REFUSE), oldest first."""
    from trading.supervision.opendata import AwardFact

    awards = Award.objects.filter(section=section).select_related("candidate__opening__bid__registration__organization")
    return [
        AwardFact(
            awarded_at=a.awarded_at,
            price_fen=a.candidate.price_fen,
            organization=a.candidate.opening.bid.registration.organization,
            refused_at=a.refused_at,
        )
        for a in awards.order_by("awarded_at", "pk")
    ]


def award_prices_by_section(section_ids: list[int]) -> dict[int, int]:
    """The awarded candidate's price per section: statistics' award amounts (savings rate)."""
    standing = Award.objects.standing().filter(section_id__in=section_ids)
    return dict(standing.values_list("section_id", "candidate__price_fen"))
