"""Report, candidates, publicity, objections, award and contract (CAND-MAX-3, CAND-PUBLICITY,
AWARD-FIRST, CONTRACT-30D, PERF-BOND-10PCT); deposit refunds after the contract are escrow's, triggered from here."""

import hashlib
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bidding.evaluation.models import (
    Award,
    Candidate,
    CollusionFlag,
    CommitteeMember,
    ContractRecord,
    EvaluationReport,
    ExpertDraw,
    Objection,
    Publicity,
)
from bidding.evaluation.pdf import report_pdf, yuan
from bidding.evaluation.services.draw import lock_draw
from bidding.evaluation.services.scoring import all_scores_in, committee_tally, counted_submissions, scheme_of
from bidding.models import BidOpening
from trading import policy, signing
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append, canonical_json
from trading.errors import DomainError, NotAllowed, RuleViolation, TransitionError
from trading.i18n import official_language
from trading.models import Announcement, AnnouncementKind, SectionState
from trading.services.lifecycle import section_transition
from trading.services.locks import lock_section
from trading.supervision.registry import Step
from trading.supervision.services.monitor import supervised

MAX_CANDIDATES = 3  # CAND-MAX-3
PUBLICITY_DAYS = 3  # CAND-PUBLICITY: at least
PUBLICITY_WITHIN_DAYS = 3  # CAND-PUBLICITY: publicized within 3 days of the report
CONTRACT_DAYS = 30  # CONTRACT-30D


def _bidder(opening: BidOpening) -> str:
    return opening.bid.registration.organization.name  # after opening names are public


def report_document(draw: ExpertDraw, *, now) -> tuple[dict, list]:
    rows, dissent = committee_tally(draw)
    openings = {
        o.pk: o for o in BidOpening.objects.filter(section=draw.section).select_related("bid__registration__organization")
    }
    scheme = scheme_of(draw.section)
    section = draw.section
    members = draw.members.filter(status=CommitteeMember.Status.ACCEPTED).select_related("expert").order_by("seat")
    submissions = counted_submissions(draw).select_related("member__expert").order_by("member__seat")
    replaced = draw.members.filter(status=CommitteeMember.Status.REPLACED).select_related("expert", "submission")
    label = {str(pk): _bidder(o) for pk, o in openings.items()}
    ranked = [r for r in rows if r.rank]
    document = {
        "section": {"public_id": section.public_id, "name": section.name, "project": section.project.name},
        "scheme": {
            "method": scheme.method,
            "method_label": str(scheme.get_method_display()),
            "price_points": scheme.price_points,
            "criteria": scheme.criteria,
        },
        "draw": {
            "commitment": draw.commitment,
            "seed": draw.seed,
            "candidates_digest": draw.candidates_digest,
            "supplements": [
                {"round": s["round"], "seats": s["seats"], "commitment": s["commitment"], "seed": s["seed"]}
                for s in draw.supplements_unsealed()
            ],
        },
        "committee": [
            {
                "seat": m.seat,
                "code": m.expert.code,
                "name": m.expert.name,
                "specialty": m.specialty,
                "source": m.get_source_display(),
            }
            for m in members
        ],
        "submissions": [
            {
                "seat": s.member.seat,
                "expert": s.member.expert.code,
                "submitted_at": s.submitted_at.isoformat(),
                "scores": {label[k]: v for k, v in s.scores.items()},
                "rejections": {label[k]: v for k, v in s.rejections.items()},
                "dissent": s.dissent,
                "sha256": s.canonical_sha256,
                "signature": s.signature,
                "key_id": s.key_id,
                **({"expert_signature": s.expert_signature, "expert_key": s.expert_key} if s.expert_signature else {}),
            }
            for s in submissions
        ],
        # Regs 48: who was taken off the committee and why; a void submission is named by its digest only.
        **(
            {
                "replaced": [
                    {
                        "seat": m.seat,
                        "expert": m.expert.code,
                        "reason": m.reason,
                        "void_submission": getattr(getattr(m, "submission", None), "canonical_sha256", ""),
                    }
                    for m in replaced.order_by("seat", "invited_at")
                ]
            }
            if replaced.exists()
            else {}
        ),
        "ranking": [
            {
                "opening_id": r.opening_id,
                "bidder": label[str(r.opening_id)],
                "rank": r.rank,
                "price_fen": r.price_fen,
                "price_score": str(r.price_score) if r.price_score is not None else None,
                "score": str(r.score) if r.score is not None else None,
                "experts": {str(k): str(v) for k, v in r.experts.items()},
                "rejected": r.rejected,
                "rejected_label": _("否决") if r.rejected else "",
                "reject_votes": r.reject_votes,
                "tie_break": r.tie_break,
            }
            for r in rows
        ],
        "candidates": [
            {
                "rank": r.rank,
                "opening_id": r.opening_id,
                "bidder": label[str(r.opening_id)],
                "price_fen": r.price_fen,
                "score": str(r.score) if r.score is not None else None,
            }
            for r in ranked[:MAX_CANDIDATES]
        ],
        "dissent": [{**d, "bidder": label[str(d["opening_id"])]} for d in dissent],
        "flags": [
            {"kind": str(f.get_kind_display()), "bidders": f.bidder_codes, "evidence": canonical_json(f.evidence).decode()}
            for f in CollusionFlag.objects.filter(section=section)
        ],
        "created_at": now.isoformat(),
    }
    return document, ranked


def report_make(*, actor, draw: ExpertDraw) -> EvaluationReport:
    """Every score in: the committee's report with every score and signature, at most three candidates, a PDF."""
    with transaction.atomic():
        locked = lock_draw(draw.pk)
        if not policy.can_run_draw(actor, locked.section):
            raise NotAllowed("NOT-ALLOWED", _("只有交易中心可以生成评标报告。"))
        if locked.status != ExpertDraw.Status.IN_SESSION or not all_scores_in(locked):
            raise TransitionError("EVAL-SCORES-OPEN", _("全部专家提交评分后方可生成评标报告。"))
        now = timezone.now()
        with official_language():  # a signed record: one text, whoever pressed the button
            document, ranked = report_document(locked, now=now)
        if not ranked:
            raise RuleViolation("EVAL-NO-VALID-BID", _("没有有效投标，不能推荐中标候选人。"))
        canonical = canonical_json(document)
        sha = hashlib.sha256(canonical).hexdigest()
        signature = signing.sign(b"sunlight-evaluation-report/v1|" + canonical)
        report = EvaluationReport(section=locked.section, document=document, sha256=sha, signature=signature, created_at=now)
        with official_language():
            pdf = report_pdf(document, sha256=sha, signature=signature)
        report.pdf.save("report.pdf", ContentFile(pdf), save=False)
        report.save()
        for row in ranked[:MAX_CANDIDATES]:
            Candidate.objects.create(
                report=report, opening_id=row.opening_id, rank=row.rank, score=row.score, price_fen=row.price_fen
            )
        locked.status, locked.closed_at = ExpertDraw.Status.CLOSED, now
        locked.save(update_fields=["status", "closed_at"])
        audit_append(event=AuditEvent.EVALUATION_REPORTED, actor=actor, section=locked.section, data={"sha256": sha})
    return report


def report_verify(report: EvaluationReport) -> bool:
    canonical = canonical_json(report.document)
    return hashlib.sha256(canonical).hexdigest() == report.sha256 and signing.verify(
        b"sunlight-evaluation-report/v1|" + canonical, report.signature
    )


def publicity_start(*, actor, section, days: int = PUBLICITY_DAYS) -> Publicity:
    """CAND-PUBLICITY: the candidates published for at least 3 days, within 3 days of the report."""
    if days < PUBLICITY_DAYS:
        raise RuleViolation("CAND-PUBLICITY", _("中标候选人公示期不得少于3日。"), fields={"days": days})
    with transaction.atomic():
        locked = lock_section(section.pk)
        if not policy.can_run_draw(actor, locked):
            raise NotAllowed("NOT-ALLOWED", _("只有交易中心可以发布公示。"))
        report = EvaluationReport.objects.filter(section=locked).first()
        if report is None or locked.state != SectionState.EVALUATING:
            raise TransitionError("TRANSITION", _("评标报告生成后方可公示候选人。"), fields={"state": locked.state})
        now = timezone.now()
        late = now > report.created_at + timedelta(days=PUBLICITY_WITHIN_DAYS)
        with official_language():  # the public notice, in the language of the record
            lines = [
                _("第%(rank)s名：%(bidder)s，投标报价 %(price)s 元%(score)s")
                % {
                    "rank": c.rank,
                    "bidder": _bidder(c.opening),
                    "price": yuan(c.price_fen),
                    "score": _("，评标得分 %(s)s") % {"s": c.score} if c.score is not None else "",
                }
                for c in report.candidates.select_related("opening__bid__registration__organization")
            ]
            ends = now + timedelta(days=days)
            body = "\n".join(
                [
                    *lines,
                    _("公示期：%(start)s 至 %(end)s。投标人或者其他利害关系人对评标结果有异议的，应当在公示期间提出。")
                    % {
                        "start": timezone.localtime(now).strftime("%Y-%m-%d %H:%M"),
                        "end": timezone.localtime(ends).strftime("%Y-%m-%d %H:%M"),
                    },
                ]
            )
            title = _("%(name)s 中标候选人公示") % {"name": locked.name}
        announcement = Announcement.objects.create(
            section=locked,
            kind=AnnouncementKind.CANDIDATES,
            title=title,
            body=body,
            published_at=now,
        )
        publicity = Publicity.objects.create(section=locked, announcement=announcement, starts_at=now, ends_at=ends)
        audit_append(
            event=AuditEvent.CANDIDATES_PUBLICIZED,
            actor=actor,
            section=locked,
            data={"ends_at": ends.isoformat(), "late": late, "report": report.sha256},
        )
        section_transition(section=locked, to_state=SectionState.PUBLICIZING, actor=actor, reason="candidates publicized")
    section.refresh_from_db()
    return publicity


def objection_raise(*, user, section, text: str) -> Objection:
    if not policy.can_raise_candidate_objection(user, section):
        raise NotAllowed("NOT-ALLOWED", _("只有本标段的投标人可以在公示期间对候选人提出异议。"))
    publicity = Publicity.objects.get(section=section)
    if timezone.now() >= publicity.ends_at:
        raise RuleViolation("CAND-PUBLICITY", _("公示期已结束，不再受理异议。"))
    if not text.strip():
        raise RuleViolation("CAND-OBJECTION", _("请写明异议内容。"), fields={"text": ""})
    with transaction.atomic():
        objection = Objection.objects.create(section=section, raised_by=user, text=text.strip())
        audit_append(event=AuditEvent.CANDIDATE_OBJECTION, actor=user, section=section, data={"objection": objection.pk})
    return objection


def objection_answer(*, user, objection: Objection, answer: str) -> Objection:
    if not policy.can_decide_award(user, objection.section):
        raise NotAllowed("NOT-ALLOWED", _("只有招标人可以答复异议。"))
    if not answer.strip():
        raise RuleViolation("CAND-OBJECTION", _("请写明答复。"), fields={"answer": ""})
    with transaction.atomic():
        locked = Objection.objects.select_for_update().get(pk=objection.pk)
        if locked.answered_at:
            raise TransitionError("TRANSITION", _("该异议已答复。"))
        locked.answer, locked.answered_by, locked.answered_at = answer.strip(), user, timezone.now()
        locked.save(update_fields=["answer", "answered_by", "answered_at"])
        audit_append(
            event=AuditEvent.CANDIDATE_OBJECTION_ANSWERED, actor=user, section=locked.section, data={"objection": locked.pk}
        )
    return locked


def candidate_disqualify(*, actor, candidate: Candidate, reason: str) -> Candidate:
    """AWARD-FIRST: the first-ranked wins unless it gives up, fails to perform, or is found disqualified."""
    section = candidate.report.section
    if not policy.can_decide_award(actor, section):
        raise NotAllowed("NOT-ALLOWED", _("只有招标人可以认定候选人不符合中标条件。"))
    if not reason.strip():
        raise RuleViolation("AWARD-FIRST", _("认定候选人不符合中标条件须写明理由。"), fields={"reason": ""})
    with transaction.atomic():
        locked_section = lock_section(section.pk)
        if locked_section.state != SectionState.PUBLICIZING:
            raise TransitionError("TRANSITION", _("只能在定标前认定。"), fields={"state": locked_section.state})
        locked = Candidate.objects.select_for_update().get(pk=candidate.pk)
        locked.disqualified_at, locked.disqualified_reason = timezone.now(), reason.strip()
        locked.save(update_fields=["disqualified_at", "disqualified_reason"])
        audit_append(
            event=AuditEvent.CANDIDATE_DISQUALIFIED,
            actor=actor,
            section=section,
            data={"rank": locked.rank, "reason": locked.disqualified_reason},
        )
    return locked


def award_make(*, actor, section, candidate: Candidate | None = None) -> Award:
    """After the publicity and every objection answered: the first-ranked candidate not disqualified wins."""
    if not policy.can_decide_award(actor, section):
        raise NotAllowed("NOT-ALLOWED", _("只有招标人可以定标。"))
    with transaction.atomic():
        locked = lock_section(section.pk)
        if locked.state != SectionState.PUBLICIZING:
            raise TransitionError("TRANSITION", _("公示结束后方可定标。"), fields={"state": locked.state})
        publicity = Publicity.objects.get(section=locked)
        now = timezone.now()
        if now < publicity.ends_at:
            raise RuleViolation(
                "CAND-PUBLICITY", _("公示期未满3日，不能定标。"), fields={"ends_at": publicity.ends_at.isoformat()}
            )
        if Objection.objects.filter(section=locked, answered_at__isnull=True).exists():
            raise RuleViolation("CAND-OBJECTION", _("尚有异议未答复，定标暂停。"))
        report = EvaluationReport.objects.get(section=locked)
        standing = list(
            report.candidates.filter(disqualified_at__isnull=True).select_related("opening__bid__registration__organization")
        )
        if not standing:
            raise RuleViolation("AWARD-FIRST", _("没有符合中标条件的候选人，应重新招标。"))
        first = standing[0]
        winner = first if candidate is None else candidate
        if winner.pk not in {c.pk for c in standing}:
            raise RuleViolation("AWARD-FIRST", _("该候选人已被认定不符合中标条件。"))
        if winner.pk != first.pk and locked.project.state_funded:
            raise RuleViolation(
                "AWARD-FIRST", _("国有资金投资项目应确定排名第一的中标候选人为中标人。"), fields={"rank": winner.rank}
            )
        organization = winner.opening.bid.registration.organization
        earlier = Award.objects.filter(section=locked).count()  # refused ones: a new notice gets a number of its own
        notice = {
            "kind": "award-notice",
            "number": f"ZB-{locked.public_id}" + (f"-{earlier + 1}" if earlier else ""),
            "section": locked.public_id,
            "section_name": locked.name,
            "project": locked.project.name,
            "tenderer": locked.project.tenderer.name,
            "winner": organization.name,
            "winner_credit_code": organization.credit_code,
            "rank": winner.rank,
            "price_fen": winner.price_fen,
            "awarded_at": now.isoformat(),
            "contract_by": (timezone.localdate(now) + timedelta(days=CONTRACT_DAYS)).isoformat(),
        }
        signature = signing.sign(b"sunlight-award-notice/v1|" + canonical_json(notice))
        with official_language():
            title = _("%(name)s 中标结果公告") % {"name": locked.name}
            body = _("中标人：%(winner)s；中标价：%(price)s 元。中标通知书编号 %(number)s。") % {
                "winner": organization.name,
                "price": yuan(winner.price_fen),
                "number": notice["number"],
            }
        announcement = Announcement.objects.create(
            section=locked, kind=AnnouncementKind.RESULT, title=title, body=body, published_at=now
        )
        award = Award.objects.create(
            section=locked,
            candidate=winner,
            notice=notice,
            signature=signature,
            announcement=announcement,
            awarded_by=actor,
            awarded_at=now,
        )
        audit_append(
            event=AuditEvent.AWARDED, actor=actor, section=locked, data={"rank": winner.rank, "notice": notice["number"]}
        )
        section_transition(section=locked, to_state=SectionState.AWARDED, actor=actor, reason="award notice")
    section.refresh_from_db()
    return award


def award_refuse(*, actor, section, reason: str) -> Award:
    """The winner gives up or refuses to sign (DEP-FORFEIT-REFUSE, AWARD-FIRST; Regs 55, 74).

    Its award stands refused and its candidacy ends; its deposit is kept; a public notice says so.
    The next candidate still standing may then be awarded (award_make, in rank order), or, with
    none left, the section fails and is tendered again.
    """
    from escrow.models import Deposit
    from escrow.services.deposits import deposit_forfeit
    from trading.supervision.services.reports import award_report_supersede

    if not policy.can_decide_award(actor, section):
        raise NotAllowed("NOT-ALLOWED", _("只有招标人可以登记中标人放弃中标。"))
    if not reason.strip():
        raise RuleViolation("DEP-FORFEIT-REFUSE", _("须写明中标人放弃中标或拒签合同的情况。"), fields={"reason": ""})
    with transaction.atomic():
        locked = lock_section(section.pk)
        award = Award.objects.standing().select_for_update().filter(section=locked).first()
        if award is None or locked.state != SectionState.AWARDED:
            raise TransitionError("TRANSITION", _("定标后、签订合同前方可登记。"), fields={"state": locked.state})
        now = timezone.now()
        award.refused_at, award.refusal_reason = now, reason.strip()
        award.save(update_fields=["refused_at", "refusal_reason"])
        candidate = Candidate.objects.select_for_update().get(pk=award.candidate_id)
        candidate.disqualified_at = now
        registration = candidate.opening.bid.registration
        with official_language():
            candidate.disqualified_reason = _("放弃中标或拒签合同：%(reason)s") % {"reason": award.refusal_reason}
            title = _("%(name)s 中标人放弃中标公告") % {"name": locked.name}
            body = _("原中标人 %(winner)s 放弃中标或拒签合同，中标通知书 %(number)s 作废，其投标保证金不予退还。") % {
                "winner": registration.organization.name,
                "number": award.notice["number"],
            }
        candidate.save(update_fields=["disqualified_at", "disqualified_reason"])
        deposit = Deposit.objects.filter(registration=registration).first()
        if deposit is not None and deposit.held_fen > 0:
            deposit_forfeit(deposit=deposit, reason="DEP-FORFEIT-REFUSE", actor=actor)
        Announcement.objects.create(section=locked, kind=AnnouncementKind.RESULT, title=title, body=body, published_at=now)
        standing = EvaluationReport.objects.get(section=locked).candidates.filter(disqualified_at__isnull=True).exists()
        superseded = award_report_supersede(section=locked, at=now)
        audit_append(
            event=AuditEvent.AWARD_REFUSED,
            actor=actor,
            section=locked,
            data={
                "rank": candidate.rank,
                "notice": award.notice["number"],
                "candidates_left": standing,
                "report_superseded": superseded,
            },
        )
        to_state, why = (SectionState.PUBLICIZING, "award refused") if standing else (SectionState.FAILED, "no candidate left")
        section_transition(section=locked, to_state=to_state, actor=actor, reason=why)
    section.refresh_from_db()
    return award


def award_report_file(*, actor, section, body: str):
    """The written report to the supervisors (REPORT-15D) of the award that stands: its winner and price come
    from the award itself, the tenderer writes the rest."""
    from bidding.evaluation.selectors import award_of
    from trading.supervision.services.reports import award_report_submit

    award = award_of(section)
    if award is None:
        raise TransitionError("TRANSITION", _("确定中标人后方可提交书面报告。"), fields={"state": section.state})
    return award_report_submit(
        actor=actor,
        section=section,
        award_price_fen=award.candidate.price_fen,
        winner_name=award.candidate.opening.bid.registration.organization.name,
        body=body,
    )


def award_notice_verify(award: Award) -> bool:
    return signing.verify(b"sunlight-award-notice/v1|" + canonical_json(award.notice), award.signature)


def contract_record(*, actor, section, signed_on, amount_fen: int, performance_bond_fen: int = 0) -> ContractRecord:
    """CONTRACT-30D and PERF-BOND-10PCT checked and recorded; the section is contracted and every held deposit goes
    back (DEP-REFUND-5D)."""
    if not policy.can_decide_award(actor, section):
        raise NotAllowed("NOT-ALLOWED", _("只有招标人可以登记合同。"))
    if amount_fen <= 0:
        raise RuleViolation("CONTRACT-30D", _("合同金额应大于0。"), fields={"amount_fen": amount_fen})
    if performance_bond_fen < 0:
        raise DomainError("INVALID", _("履约保证金不能为负数。"), fields={"performance_bond_fen": performance_bond_fen})
    with supervised(section=section, step=Step.AWARD, actor=actor), transaction.atomic():
        locked = lock_section(section.pk)
        award = Award.objects.standing().filter(section=locked).first()
        if award is None or locked.state != SectionState.AWARDED:
            raise TransitionError("TRANSITION", _("定标后方可登记合同。"), fields={"state": locked.state})
        notice_day = timezone.localdate(award.awarded_at)
        if signed_on < notice_day:
            raise RuleViolation(
                "CONTRACT-30D", _("合同签订日期不能早于中标通知书发出之日。"), fields={"signed_on": str(signed_on)}
            )
        if performance_bond_fen * 10 > amount_fen:  # in integer fen: no rounding decides it
            raise RuleViolation(
                "PERF-BOND-10PCT",
                _("履约保证金不得超过合同金额的10%%（至多 %(most)s 元）。") % {"most": yuan(amount_fen // 10)},
                fields={"performance_bond_fen": performance_bond_fen, "most_fen": amount_fen // 10},
            )
        within = signed_on <= notice_day + timedelta(days=CONTRACT_DAYS)
        contract = ContractRecord.objects.create(
            section=locked,
            award=award,
            signed_on=signed_on,
            amount_fen=amount_fen,
            performance_bond_fen=performance_bond_fen,
            within_30_days=within,
            recorded_by=actor,
        )
        audit_append(
            event=AuditEvent.CONTRACT_RECORDED,
            actor=actor,
            section=locked,
            data={
                "signed_on": str(signed_on),
                "amount_fen": amount_fen,
                "performance_bond_fen": performance_bond_fen,
                "within_30_days": within,
            },
        )
        section_transition(section=locked, to_state=SectionState.CONTRACTED, actor=actor, reason="contract signed")
        transaction.on_commit(lambda: _refunds_after_contract(locked.pk))
    return contract


def _refunds_after_contract(section_id: int) -> None:
    """Escrow refunds each held deposit (its own service and task, exactly once)."""
    from escrow.models import Deposit
    from escrow.services.refunds import CONTRACT
    from escrow.tasks import deposit_refund_task

    held = Deposit.objects.filter(
        registration__section_id=section_id, paid_fen__gt=0, refunded_at__isnull=True, forfeited_at__isnull=True
    )
    for deposit_id in held.values_list("pk", flat=True):
        deposit_refund_task.delay(deposit_id, CONTRACT)


def contracts_overdue(*, now=None) -> int:
    """CONTRACT-30D scan: an award without a contract after 30 days is written to the audit chain, once."""
    from trading.audit.models import AuditEntry

    now = now or timezone.now()
    late = (
        Award.objects.standing()
        .filter(contract__isnull=True, awarded_at__lt=now - timedelta(days=CONTRACT_DAYS))
        .select_related("section")
    )
    raised = 0
    for award in late:
        if AuditEntry.objects.filter(event=AuditEvent.CONTRACT_OVERDUE, section_public_id=award.section.public_id).exists():
            continue
        audit_append(
            event=AuditEvent.CONTRACT_OVERDUE,
            section=award.section,
            data={"rule": "CONTRACT-30D", "notice": award.notice["number"]},
        )
        raised += 1
    return raised


def evaluation_fail(*, actor, draw: ExpertDraw) -> None:
    """Every bid rejected (EVAL-REJECT): no candidate can be named; the section fails (流标) and is re-tendered,
    and escrow's refund scan returns every deposit at once."""
    with transaction.atomic():
        locked = lock_draw(draw.pk)
        if not policy.can_run_draw(actor, locked.section):
            raise NotAllowed("NOT-ALLOWED", _("只有交易中心可以办理。"))
        if locked.status != ExpertDraw.Status.IN_SESSION or not all_scores_in(locked):
            raise TransitionError("EVAL-SCORES-OPEN", _("全部专家提交评分后方可办理。"))
        rows, _dissent = committee_tally(locked)
        if any(r.rank for r in rows):
            raise RuleViolation("EVAL-REJECT", _("尚有有效投标，应推荐中标候选人。"))
        now = timezone.now()
        locked.status, locked.closed_at = ExpertDraw.Status.CLOSED, now
        locked.save(update_fields=["status", "closed_at"])
        section = locked.section
        Announcement.objects.create(
            section=section,
            kind=AnnouncementKind.FAILURE,
            title=_("%(name)s 流标公告") % {"name": section.name},
            body=_("评标委员会否决了全部投标，本标段依法重新招标。"),
            published_at=now,
        )
        section_transition(section=section, to_state=SectionState.FAILED, actor=actor, reason="all bids rejected")
