"""The expert draw (专家抽取): commit, draw, replace declines, start the session, reveal the seed,
replace a member who cannot go on (Regs 48), draw again for seats the published list can no longer fill.

EVAL-SIZE, EVAL-RANDOM, EVAL-CONFLICT, EVAL-SECRET. The committee is a pure function of what is
published (bidding.evaluation.draw); these services only gather its inputs and record each step.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bidding.evaluation import draw as pure
from bidding.evaluation.models import CommitteeMember, Expert, ExpertDraw, ScoreSubmission, ServiceRecord
from bidding.evaluation.seed import seed_seal
from bidding.evaluation.services.invitations import invitation_queue
from bidding.evaluation.tasks import collusion_scan_task
from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import NotAllowed, RuleViolation, TransitionError
from trading.models import Organization, Section, SectionState
from trading.services.lifecycle import section_transition
from trading.services.locks import lock_section

DRAWABLE_STATES = {SectionState.OPENED, SectionState.EVALUATING}
# Regs 48: the grounds on which a member is taken off the committee while it evaluates.
REPLACE_REASONS = {
    "conflict": gettext_lazy("有回避事由"),
    "absent": gettext_lazy("擅离职守"),
    "health": gettext_lazy("因健康等原因不能继续评标"),
}


def recent_service_days() -> int:
    return getattr(settings, "EVALUATION_RECENT_SERVICE_DAYS", 180)


def lock_draw(pk: int) -> ExpertDraw:
    return ExpertDraw.objects.select_for_update(of=("self",)).select_related("section__project").get(pk=pk)


def conflicted_organizations(section: Section) -> set[int]:
    """The tenderer, the agency, every bidder of the section, and whoever controls or is controlled by a bidder."""
    project = section.project
    bidders = set(section.registrations.values_list("organization_id", flat=True))
    related = set(
        Organization.objects.filter(Q(controls__in=bidders) | Q(controlled_by__in=bidders)).values_list("pk", flat=True)
    )
    return {project.tenderer_id, project.agency_id, *bidders, *related} - {None}


def expert_conflicts(*, expert: Expert, section: Section, now=None) -> list[str]:
    """EVAL-CONFLICT: why this expert may not sit on this section (empty: no conflict)."""
    now = now or timezone.now()
    reasons = []
    project = section.project
    if expert.employer_id == project.tenderer_id:
        reasons.append("employed-by-tenderer")
    if project.agency_id and expert.employer_id == project.agency_id:
        reasons.append("employed-by-agency")
    if expert.employer_id in conflicted_organizations(section) - {project.tenderer_id, project.agency_id}:
        reasons.append("employed-by-bidder")
    since = now - timedelta(days=recent_service_days())
    recent = ServiceRecord.objects.filter(expert=expert, tenderer_id=project.tenderer_id, served_at__gte=since)
    if recent.exclude(section=section).exists():
        reasons.append("recent-service")
    return reasons


def eligible_experts(*, section: Section, specialties: set[str], remote: bool, exclude=(), now=None) -> list[Expert]:
    """The draw's candidate list: active, available, of a wanted specialty, without a conflict (and from elsewhere if remote),
    with an account to answer the invitation and score with (a seat nobody can answer would hold the session forever)."""
    now = now or timezone.now()
    since = now - timedelta(days=recent_service_days())
    served = ServiceRecord.objects.filter(tenderer_id=section.project.tenderer_id, served_at__gte=since).exclude(section=section)
    experts = (
        Expert.objects.filter(status=Expert.Status.ACTIVE, available=True, specialties__code__in=specialties)
        .filter(user__isnull=False, user__is_active=True)
        .filter(Q(unavailable_until__isnull=True) | Q(unavailable_until__lt=timezone.localdate(now)))
        .exclude(employer_id__in=conflicted_organizations(section))
        .exclude(pk__in=served.values("expert_id"))
        .exclude(pk__in=[e.pk for e in exclude])
        .distinct()
        .prefetch_related("specialties")
        .order_by("code")
    )
    if remote:
        experts = experts.exclude(region=section.project.region)
    return list(experts)


def _published(candidates: list[Expert], wanted: set[str]) -> list[dict]:
    """A candidate list as the record publishes it: pool codes and the wanted specialties only (EVAL-SECRET)."""
    return [{"code": e.code, "specialties": sorted(s.code for s in e.specialties.all() if s.code in wanted)} for e in candidates]


def check_rules(*, size: int, quotas: list[tuple[str, int]], representatives: int) -> None:
    if size < 5 or size % 2 == 0:
        raise RuleViolation("EVAL-SIZE", _("评标委员会成员人数应为5人以上单数。"), fields={"size": size})
    # Technical and economic experts at least 2/3: the tenderer's representatives at most 1/3.
    if representatives * 3 > size:
        raise RuleViolation(
            "EVAL-SIZE", _("招标人代表不得超过评标委员会成员总数的三分之一。"), fields={"representatives": representatives}
        )
    if any(count < 1 for _code, count in quotas) or sum(c for _s, c in quotas) + representatives != size:
        raise RuleViolation("EVAL-SIZE", _("各专业抽取人数与招标人代表之和应等于委员会人数。"), fields={"quotas": quotas})


def check_representative(expert: Expert, section: Section) -> None:
    """The tenderer's own person, with an account to accept and score with (a seat nobody can answer holds the session)."""
    if expert.employer_id != section.project.tenderer_id:
        raise RuleViolation("EVAL-CONFLICT", _("招标人代表须为招标人的人员。"), fields={"expert": expert.code})
    if expert.user_id is None or not expert.user.is_active:
        raise RuleViolation("EVAL-SEAT", _("该专家没有可用的账号，无法确认和评分。"), fields={"expert": expert.code})


def draw_commit(
    *,
    actor,
    section: Section,
    size: int,
    quotas: list[tuple[str, int]],
    remote: bool = False,
    representatives: list[Expert] = (),
) -> ExpertDraw:
    """Fix the rules and the candidate list, and publish the commitment to a fresh seed; nothing is drawn yet."""
    quotas = [(str(code), int(count)) for code, count in quotas]
    check_rules(size=size, quotas=quotas, representatives=len(representatives))
    with transaction.atomic():
        locked = lock_section(section.pk)
        if locked.state not in DRAWABLE_STATES or locked.opened_at is None:
            raise TransitionError("EVAL-NOT-OPENED", _("开标完成后方可抽取评标专家。"), fields={"state": locked.state})
        if ExpertDraw.objects.filter(section=locked).exists():
            raise TransitionError("EVAL-DRAW-EXISTS", _("本标段已抽取过评标专家，抽取不能重做。"))
        for expert in representatives:
            check_representative(expert, locked)
        candidates = eligible_experts(
            section=locked, specialties={code for code, _n in quotas}, remote=remote, exclude=representatives
        )
        published = _published(candidates, {code for code, _n in quotas})
        rules = {
            "version": pure.DRAW_VERSION,
            "section": locked.public_id,
            "size": size,
            "quotas": [list(q) for q in quotas],
            "representatives": len(representatives),
            "remote": remote,
            "excluded_region": locked.project.region if remote else "",
            "recent_service_days": recent_service_days(),
        }
        seed = secrets.token_hex(32)
        try:  # the committee is a function of what is committed: a list that cannot fill the seats is refused now,
            pure.draw_committee(seed_hex=seed, candidates=published, rules=rules)  # not left as a draw nobody can make
        except pure.PoolExhausted as short:
            raise RuleViolation(
                "EVAL-POOL-SHORT", _("专家库中符合条件的专家不足（专业 %(code)s）。") % {"code": short.specialty}
            ) from None
        draw = ExpertDraw.objects.create(
            section=locked,
            size=size,
            remote=remote,
            rules=rules,
            candidates=published,
            candidates_digest=pure.digest(published),
            commitment=pure.commitment_of(seed),
            seed=seed,
            created_by=actor,
        )
        seat = sum(c for _s, c in quotas)
        for expert in representatives:
            seat += 1
            CommitteeMember.objects.create(draw=draw, expert=expert, seat=seat, source=CommitteeMember.Source.REPRESENTATIVE)
        audit_append(
            event=AuditEvent.DRAW_COMMITTED,
            actor=actor,
            section=locked,
            data={"commitment": draw.commitment, "candidates_digest": draw.candidates_digest, "rules": rules},
        )
    return draw


def draw_make(*, actor, draw: ExpertDraw) -> ExpertDraw:
    """Draw the seats from the committed seed; the invited experts are told, nobody else learns who."""
    with transaction.atomic():
        locked = lock_draw(draw.pk)
        if locked.status != ExpertDraw.Status.COMMITTED:
            raise TransitionError("TRANSITION", _("抽取已完成。"), fields={"status": locked.status})
        try:
            seats = pure.draw_committee(seed_hex=locked.seed, candidates=locked.candidates, rules=locked.rules)
        except pure.PoolExhausted as short:
            raise RuleViolation(
                "EVAL-POOL-SHORT", _("专家库中符合条件的专家不足（专业 %(code)s）。") % {"code": short.specialty}
            ) from None
        _invite_drawn(locked, seats)
        for member in locked.members.filter(source=CommitteeMember.Source.REPRESENTATIVE):
            invitation_queue(member)
        locked.status, locked.drawn_at = ExpertDraw.Status.DRAWN, timezone.now()
        locked.save(update_fields=["status", "drawn_at"])
        # The seats are recorded by number only: the codes come out with the seed (EVAL-SECRET).
        audit_append(event=AuditEvent.DRAW_MADE, actor=actor, section=locked.section, data={"seats": len(seats)})
    return locked


def _seats(draw: ExpertDraw, log: list[dict] | None = None) -> list[pure.Seat]:
    """The drawn seats as the record gives them (the log as kept, or one about to be)."""
    return pure.draw_committee(
        seed_hex=draw.seed,
        candidates=draw.candidates,
        rules=draw.rules,
        replacements=draw.replacements if log is None else log,
        supplements=draw.supplements_unsealed(),
    )


def _invite_drawn(locked: ExpertDraw, seats: list[pure.Seat]) -> list[CommitteeMember]:
    experts = {e.code: e for e in Expert.objects.filter(code__in=[s.code for s in seats])}
    members = [
        CommitteeMember.objects.create(draw=locked, expert=experts[s.code], seat=s.seat, specialty=s.specialty) for s in seats
    ]
    for member in members:
        invitation_queue(member)
    return members


def _replace(locked: ExpertDraw, member: CommitteeMember, reason: str) -> CommitteeMember | None:
    """Redraw the seat from the published lists; None when none has anyone left for it: the seat stays vacant
    until a supplementary draw (draw_supplement), and supervisors are told."""
    log = [*locked.replacements, {"seat": member.seat, "code": member.expert.code, "reason": reason}]
    new = next(s for s in _seats(locked, log) if s.seat == member.seat)
    locked.replacements = log
    locked.save(update_fields=["replacements"])
    audit_append(
        event=AuditEvent.DRAW_REPLACEMENT,
        section=locked.section,
        data={"seat": member.seat, "reason": reason, "vacant": not new.code},
    )
    if new.code:
        return _invite_drawn(locked, [new])[0]
    from trading.supervision.services.feed import feed_publish

    feed_publish(
        kind="committee.vacant",
        payload={
            "section": locked.section.public_id,
            "seat": new.seat,
            "specialty": new.specialty,
            "subject": _("席位 %(seat)s（专业 %(code)s）的候选名单已无可补抽的专家，需补充抽取（EVAL-POOL-SHORT）。")
            % {"seat": new.seat, "code": new.specialty},
        },
    )
    return None


def _vacant_seats(draw: ExpertDraw) -> list[pure.Seat]:
    """Drawn seats nobody on the published lists can fill any more, as the record gives them (the pages read the
    same from the members: selectors.vacant_drawn_seats)."""
    return [s for s in _seats(draw) if not s.code]


def draw_supplement(*, actor, draw: ExpertDraw) -> list[CommitteeMember]:
    """补充抽取: the vacant seats are drawn at random (Regs 46) from a new list of the pool as it is now (experts
    back from leave, newly admitted), under a fresh seed: its commitment and list are published with the round,
    the seed with the first one (at once if that is out), so anyone re-runs the whole committee. Refused, nothing
    kept, when the pool still cannot fill every vacant seat (EVAL-POOL-SHORT). Staff, until the report."""
    with transaction.atomic():
        locked = lock_draw(draw.pk)
        if not policy.can_run_draw(actor, locked.section):
            raise NotAllowed("NOT-ALLOWED", _("只有交易中心工作人员可以补充抽取评标专家。"))
        if locked.status not in (ExpertDraw.Status.DRAWN, ExpertDraw.Status.IN_SESSION):
            raise TransitionError("TRANSITION", _("抽取完成后、评标结束前方可补充抽取。"), fields={"status": locked.status})
        vacant = _vacant_seats(locked)
        if not vacant:
            raise RuleViolation("EVAL-SEAT", _("没有需要补充抽取的空缺席位。"))
        wanted = {s.specialty for s in vacant}
        already = list(Expert.objects.filter(seats__draw=locked))  # declined, recused, replaced: not drawn twice
        candidates = eligible_experts(section=locked.section, specialties=wanted, remote=locked.remote, exclude=already)
        published = _published(candidates, wanted)
        candidates_digest = pure.digest(published)
        number = len(locked.supplements) + 1
        seed = secrets.token_hex(32)
        commitment = pure.commitment_of(seed)
        locked.supplements = [
            *locked.supplements,
            {
                "round": number,
                "seats": [s.seat for s in vacant],
                "candidates": published,
                "candidates_digest": candidates_digest,
                "commitment": commitment,
                "seed_sealed": seed_seal(seed, section_id=locked.section_id, commitment=commitment),
                "at": timezone.now().isoformat(),
            },
        ]
        log = [*locked.replacements, {"supplement": number}]
        filled = {s.seat: s for s in _seats(locked, log)}
        short = next((s for s in vacant if not filled[s.seat].code), None)
        if short is not None:
            raise RuleViolation(
                "EVAL-POOL-SHORT",
                _("专家库中符合条件的专家仍然不足（专业 %(code)s），请先补充专家库再补充抽取。") % {"code": short.specialty},
                fields={"seat": short.seat},
            )
        locked.replacements = log
        locked.save(update_fields=["supplements", "replacements"])
        revealed = locked.revealed_at is not None  # in session the first seed is out: this one is published at once
        audit_append(
            event=AuditEvent.DRAW_SUPPLEMENT,
            actor=actor,
            section=locked.section,
            data={
                "round": number,
                "seats": [s.seat for s in vacant],
                "commitment": commitment,
                "candidates_digest": candidates_digest,
                **({"seed": seed} if revealed else {}),
            },
        )
        members = _invite_drawn(locked, [filled[s.seat] for s in vacant])
    return members


def member_respond(*, user, member: CommitteeMember, accept: bool, reason: str = "") -> CommitteeMember:
    """The invited expert accepts or declines; a decline is replaced by the next draw from the same seed."""
    with transaction.atomic():
        locked_draw = lock_draw(member.draw_id)
        locked = CommitteeMember.objects.select_for_update(of=("self",)).select_related("expert").get(pk=member.pk)
        if locked.expert.user_id != getattr(user, "pk", None):
            raise NotAllowed("NOT-ALLOWED", _("只有受邀专家本人可以答复。"))
        in_session = locked_draw.status == ExpertDraw.Status.IN_SESSION  # a replacement invited during the evaluation
        if locked.status != CommitteeMember.Status.INVITED or not (in_session or locked_draw.status == ExpertDraw.Status.DRAWN):
            raise TransitionError("TRANSITION", _("该邀请已答复。"), fields={"status": locked.status})
        if not accept and not reason.strip():
            raise RuleViolation("EVAL-DECLINE-REASON", _("拒绝参加须说明理由。"), fields={"reason": ""})
        locked.status = CommitteeMember.Status.ACCEPTED if accept else CommitteeMember.Status.DECLINED
        locked.reason, locked.responded_at = reason.strip(), timezone.now()
        locked.save(update_fields=["status", "reason", "responded_at"])
        audit_append(
            event=AuditEvent.EXPERT_RESPONDED,
            actor=user,
            section=locked_draw.section,
            data={"seat": locked.seat, "accept": accept},
        )
        # A drawn seat is redrawn from the seed; a representative's seat waits for the tenderer's next one
        # (representative_appoint).
        if not accept and locked.source == CommitteeMember.Source.DRAWN:
            _replace(locked_draw, locked, "declined")
        if accept and in_session:
            _join_session(locked_draw, locked, actor=user)
    return locked


def _recused(locked: ExpertDraw, member: CommitteeMember, *, actor) -> bool:
    """EVAL-CONFLICT checked again for a drawn member: one with a conflict now is recused and its seat redrawn."""
    if member.source != CommitteeMember.Source.DRAWN or not expert_conflicts(expert=member.expert, section=locked.section):
        return False
    member.status, member.reason = CommitteeMember.Status.RECUSED, "EVAL-CONFLICT"
    member.responded_at = timezone.now()
    member.save(update_fields=["status", "reason", "responded_at"])
    audit_append(event=AuditEvent.EXPERT_RECUSED, actor=actor, section=locked.section, data={"seat": member.seat})
    _replace(locked, member, "recused")
    return True


def _record_service(locked: ExpertDraw, member: CommitteeMember, now) -> None:
    """Recent service for this tenderer keeps the expert out of its next draws (EVAL-CONFLICT)."""
    ServiceRecord.objects.get_or_create(
        expert_id=member.expert_id,
        section=locked.section,
        defaults={"tenderer_id": locked.section.project.tenderer_id, "served_at": now},
    )


def _join_session(locked: ExpertDraw, member: CommitteeMember, *, actor) -> None:
    """A replacement accepted during the evaluation: the session-start checks for its seat alone."""
    if not _recused(locked, member, actor=actor):
        _record_service(locked, member, timezone.now())


def member_replace(*, actor, member: CommitteeMember, reason: str, note: str = "") -> CommitteeMember | None:
    """Regs 48: a member with a ground for recusal, who leaves its post, or who cannot go on for health or the
    like is replaced at once. Its conclusions are void (its submission is kept for the record and counted
    nowhere); a drawn seat is redrawn from the same seed, so anyone can re-run it, and the replacement scores
    anew. A representative's seat is the tenderer's to fill (representative_appoint), not the pool's: None.
    Staff, until the report."""
    if reason not in REPLACE_REASONS:
        raise RuleViolation("INVALID", _("请选择更换理由。"), fields={"reason": reason})
    with transaction.atomic():
        locked_draw = lock_draw(member.draw_id)
        if not policy.can_run_draw(actor, locked_draw.section):
            raise NotAllowed("NOT-ALLOWED", _("只有交易中心工作人员可以更换评标专家。"))
        locked = CommitteeMember.objects.select_for_update(of=("self",)).select_related("expert").get(pk=member.pk)
        if locked_draw.status not in (ExpertDraw.Status.DRAWN, ExpertDraw.Status.IN_SESSION) or not locked.sitting:
            raise TransitionError("TRANSITION", _("该专家不在评标委员会中，或评标已结束。"), fields={"status": locked.status})
        voided = ScoreSubmission.objects.filter(member=locked).exists()
        locked.status = CommitteeMember.Status.REPLACED
        locked.reason = f"{reason}: {note.strip()}" if note.strip() else reason
        locked.save(update_fields=["status", "reason"])
        audit_append(
            event=AuditEvent.EXPERT_REPLACED,
            actor=actor,
            section=locked_draw.section,
            data={"seat": locked.seat, "reason": reason, "scores_void": voided},
        )
        # A representative's seat is not redrawn from the pool: it waits for the tenderer's next representative.
        representative = locked.source == CommitteeMember.Source.REPRESENTATIVE
        replacement = None if representative else _replace(locked_draw, locked, reason)
        from trading.supervision.services.feed import feed_publish

        # Supervisors watch replacements live (the seat and the ground, never a name: EVAL-SECRET); after the
        # audit appends, the audit log's lock before the stream's (livestream's lock order).
        feed_publish(
            kind="committee.replaced",
            payload={
                "section": locked_draw.section.public_id,
                "seat": locked.seat,
                "reason": reason,
                "subject": _("席位 %(seat)s 更换评标专家：%(reason)s") % {"seat": locked.seat, "reason": REPLACE_REASONS[reason]},
            },
            actor=actor,
        )
    return replacement


def representative_appoint(*, actor, draw: ExpertDraw, seat: int, expert: Expert) -> CommitteeMember:
    """A representative's seat left by a decline or a replacement: staff enter the tenderer's next representative
    (one of its own people, with an account), who is invited as the first one was."""
    with transaction.atomic():
        locked = lock_draw(draw.pk)
        if not policy.can_run_draw(actor, locked.section):
            raise NotAllowed("NOT-ALLOWED", _("只有交易中心工作人员可以登记招标人代表。"))
        if locked.status not in (ExpertDraw.Status.DRAWN, ExpertDraw.Status.IN_SESSION):
            raise TransitionError("TRANSITION", _("抽取完成后、评标结束前方可委派。"), fields={"status": locked.status})
        seats = locked.members.filter(seat=seat)
        if not seats.filter(source=CommitteeMember.Source.REPRESENTATIVE).exists() or seats.sitting().exists():
            raise RuleViolation("EVAL-SEAT", _("该席位不是空缺的招标人代表席位。"), fields={"seat": seat})
        check_representative(expert, locked.section)
        if locked.members.filter(expert=expert).exists():
            raise RuleViolation("EVAL-SEAT", _("该专家已在本次抽取中。"), fields={"expert": expert.code})
        member = CommitteeMember.objects.create(
            draw=locked, expert=expert, seat=seat, source=CommitteeMember.Source.REPRESENTATIVE
        )
        invitation_queue(member)
        audit_append(event=AuditEvent.REPRESENTATIVE_APPOINTED, actor=actor, section=locked.section, data={"seat": seat})
    return member


def session_start(*, actor, draw: ExpertDraw) -> ExpertDraw:
    """Every seat accepted: conflicts are checked again (recusals replaced), the names unsealed to the
    committee and officials, the seed revealed, and the section moves to evaluating."""
    with transaction.atomic():
        locked = lock_draw(draw.pk)
        if locked.status != ExpertDraw.Status.DRAWN:
            raise TransitionError("TRANSITION", _("评标尚不能开始。"), fields={"status": locked.status})
        sitting = list(locked.members.sitting().select_related("expert"))
        recused = sum(_recused(locked, member, actor=actor) for member in sitting)
        if recused:
            return locked  # the replacements are invited: the session starts once they accept
        if locked.members.filter(status="accepted").count() != locked.size:
            raise TransitionError("EVAL-SEATS-OPEN", _("尚有专家未确认参加，评标不能开始。"))
        now = timezone.now()
        locked.status, locked.session_started_at, locked.revealed_at = ExpertDraw.Status.IN_SESSION, now, now
        locked.save(update_fields=["status", "session_started_at", "revealed_at"])
        audit_append(
            event=AuditEvent.DRAW_SEED_REVEALED,
            actor=actor,
            section=locked.section,
            data={
                "seed": locked.seed,
                "commitment": locked.commitment,
                "replacements": locked.replacements,
                "supplements": [{"round": s["round"], "seed": s["seed"]} for s in locked.supplements_unsealed()],
            },
        )
        audit_append(event=AuditEvent.EVALUATION_SESSION_STARTED, actor=actor, section=locked.section, data={})
        for member in locked.members.filter(status="accepted"):
            _record_service(locked, member, now)
        if locked.section.state == SectionState.OPENED:
            section_transition(section=locked.section, to_state=SectionState.EVALUATING, actor=actor, reason="evaluation session")
        # COLLUSION-40: the committee finds the flags waiting when it opens its workspace.
        transaction.on_commit(lambda: collusion_scan_task.delay(locked.section_id))
    return locked


def draw_rerun(draw: ExpertDraw) -> list[pure.Seat]:
    """Re-run a revealed draw from its published record alone (what the command does)."""
    if draw.revealed_at is None:
        raise TransitionError("EVAL-SECRET", _("种子尚未公开。"))
    first = {
        "seed": draw.seed,
        "commitment": draw.commitment,
        "candidates": draw.candidates,
        "candidates_digest": draw.candidates_digest,
    }
    for round_ in [first, *draw.supplements_unsealed()]:
        mismatch = pure.round_mismatch(round_)
        if mismatch == "seed":
            raise RuleViolation("EVAL-RANDOM", _("公开的种子与事先公布的承诺不符。"))
        if mismatch == "candidates":
            raise RuleViolation("EVAL-RANDOM", _("候选名单与事先公布的摘要不符。"))
    return _seats(draw)
