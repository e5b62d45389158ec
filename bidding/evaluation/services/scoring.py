"""Independent scoring: the scheme, each expert's signed submission, and the committee's tally."""

import hashlib
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bidding.evaluation import tally as pure
from bidding.evaluation.models import CommitteeMember, EvaluationScheme, ExpertDraw, ScoreSubmission
from bidding.evaluation.services import expert_keys
from bidding.evaluation.services.draw import lock_draw
from bidding.models import BidOpening
from trading import policy, signing
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append, canonical_json
from trading.errors import NotAllowed, RuleViolation, TransitionError

# EVAL-REJECT (Regs 51): the only grounds on which a bid is rejected.
REJECT_GROUNDS = {
    "no-seal": gettext_lazy("投标文件未经投标单位盖章和单位负责人签字"),
    "joint-bid-unsigned": gettext_lazy("投标联合体没有提交共同投标协议"),
    "not-qualified": gettext_lazy("投标人不符合国家或者招标文件规定的资格条件"),
    "two-bids": gettext_lazy("同一投标人提交两个以上不同的投标文件或者投标报价"),
    "price-ceiling-or-cost": gettext_lazy("投标报价低于成本或者高于招标文件设定的最高投标限价"),
    "not-responsive": gettext_lazy("投标文件没有对招标文件的实质性要求和条件作出响应"),
    "collusion-or-fraud": gettext_lazy("投标人有串通投标、弄虚作假、行贿等违法行为"),
}

DEFAULT_CRITERIA = [
    {"key": "technical", "name": "技术方案", "max": 40, "kind": "technical"},
    {"key": "schedule", "name": "施工组织与进度", "max": 10, "kind": "technical"},
    {"key": "commercial", "name": "商务与信誉", "max": 10, "kind": "commercial"},
]


def scheme_of(section) -> EvaluationScheme:
    scheme, _created = EvaluationScheme.objects.get_or_create(
        section=section, defaults={"criteria": DEFAULT_CRITERIA, "price_points": 40}
    )
    return scheme


def scheme_set(*, actor, section, method: str, price_points: int, criteria: list[dict]) -> EvaluationScheme:
    """Set before the session starts; comprehensive points add up to 100."""
    if EvaluationScheme.Method(method) == EvaluationScheme.Method.LOWEST_PRICE:
        criteria, price_points = [], 0
    elif price_points + sum(int(c["max"]) for c in criteria) != 100:
        raise RuleViolation("EVAL-SCHEME", _("价格分与各评审因素分值之和应为100分。"))
    draw = ExpertDraw.objects.filter(section=section).first()
    if draw is not None and draw.session_started_at is not None:
        raise TransitionError("EVAL-SCHEME", _("评标开始后不能修改评标办法。"))
    scheme = scheme_of(section)
    scheme.method, scheme.price_points, scheme.criteria = method, price_points, criteria
    scheme.save(update_fields=["method", "price_points", "criteria"])
    return scheme


def valid_openings(section) -> list[BidOpening]:
    """The bids the opening read out (a failed decryption is no bid to evaluate)."""
    return list(
        BidOpening.objects.filter(section=section, status=BidOpening.Status.OPENED, price_fen__isnull=False)
        .select_related("bid__registration__organization")
        .order_by("readout_order", "pk")
    )


def submission_message(canonical: bytes) -> bytes:
    return b"sunlight-evaluation/v1|" + canonical


def _check(scheme, openings, scores: dict, rejections: dict) -> tuple[dict, dict]:
    clean_scores, clean_rejections = {}, {}
    for opening in openings:
        key = str(opening.pk)
        rejection = rejections.get(key)
        if rejection:
            code, reason = rejection.get("code", ""), (rejection.get("reason") or "").strip()
            if code not in REJECT_GROUNDS or not reason:
                raise RuleViolation(
                    "EVAL-REJECT", _("否决投标须选择法定情形并写明理由。"), fields={"opening": opening.pk, "code": code}
                )
            clean_rejections[key] = {"code": code, "reason": reason}
            continue
        points = scores.get(key) or {}
        clean = {}
        for criterion in scheme.criteria:
            try:
                value = Decimal(str(points.get(criterion["key"], "")))
            except InvalidOperation:
                value = None
            if value is None or not value.is_finite() or not 0 <= value <= criterion["max"] or value != value.quantize(pure.CENT):
                raise RuleViolation(
                    "EVAL-SCORE", _("评分应在0至该项分值之间。"), fields={"opening": opening.pk, "criterion": criterion["key"]}
                )
            clean[criterion["key"]] = str(value)
        clean_scores[key] = clean
    return clean_scores, clean_rejections


def _statement(draw: ExpertDraw, member: CommitteeMember, scheme, scores: dict, rejections: dict, dissent: str) -> dict:
    """What the expert signs: its checked scores in the session, without the time (the platform adds that)."""
    return {
        "section": draw.section.public_id,
        "draw_commitment": draw.commitment,
        "seat": member.seat,
        "expert": member.expert.code,
        "session_started_at": draw.session_started_at.isoformat(),
        "scheme": {"method": scheme.method, "price_points": scheme.price_points, "criteria": scheme.criteria},
        "scores": scores,
        "rejections": rejections,
        "dissent": dissent,
    }


def _checked_statement(user, draw: ExpertDraw, scores: dict, rejections: dict, dissent: str):
    member = policy.sitting_member(user, draw)
    if not policy.can_evaluate(user, draw) or member is None:
        raise NotAllowed("NOT-ALLOWED", _("只有评标委员会成员在评标期间可以评分。"))
    if ScoreSubmission.objects.filter(member=member).exists():
        raise TransitionError("EVAL-SUBMITTED", _("评分已提交并签名，不能修改。"))
    scheme = scheme_of(draw.section)
    clean_scores, clean_rejections = _check(scheme, valid_openings(draw.section), scores, rejections)
    return member, _statement(draw, member, scheme, clean_scores, clean_rejections, dissent.strip())


def scores_statement(*, user, draw: ExpertDraw, scores: dict, rejections: dict, dissent: str = "") -> bytes:
    """The canonical statement of these scores for the expert to sign with its own key (nothing is stored)."""
    return canonical_json(_checked_statement(user, draw, scores, rejections, dissent)[1])


def _document(statement: dict, submitted_at, expert_signature: str, expert_key: str) -> dict:
    """What the platform signs: the statement, the expert's signature over it (when signed) and the time."""
    signed = {"expert_signature": expert_signature, "expert_key": expert_key} if expert_signature else {}
    return {**statement, **signed, "submitted_at": submitted_at.isoformat()}


def scores_submit(
    *, user, draw: ExpertDraw, scores: dict, rejections: dict, dissent: str = "", expert_signature: str = ""
) -> ScoreSubmission:
    """One expert's scores for every valid bid, alone and once: signed by the expert's own key over the statement
    (required once it has one: services/expert_keys.py), countersigned by the platform with the time."""
    with transaction.atomic():
        locked = lock_draw(draw.pk)
        member, statement = _checked_statement(user, locked, scores, rejections, dissent)
        expert_key = expert_keys.statement_check(member.expert, canonical_json(statement), expert_signature)
        expert_signature = expert_signature if expert_key else ""
        now = timezone.now()
        canonical = canonical_json(_document(statement, now, expert_signature, expert_key))
        submission = ScoreSubmission.objects.create(
            member=member,
            scores=statement["scores"],
            rejections=statement["rejections"],
            dissent=statement["dissent"],
            canonical_sha256=hashlib.sha256(canonical).hexdigest(),
            signature=signing.sign(submission_message(canonical)),
            key_id=signing.key_id(),
            expert_signature=expert_signature,
            expert_key=expert_key,
            submitted_at=now,
        )
        audit_append(
            event=AuditEvent.SCORES_SUBMITTED,
            actor=user,
            section=locked.section,
            data={"seat": member.seat, "sha256": submission.canonical_sha256, "expert_signed": bool(expert_key)},
        )
    return submission


def _stored_statement(submission: ScoreSubmission) -> dict:
    member = submission.member
    scheme = scheme_of(member.draw.section)
    return _statement(member.draw, member, scheme, submission.scores, submission.rejections, submission.dissent)


def submission_document(submission: ScoreSubmission) -> dict:
    """The canonical document the platform's signature covers (rebuilt from the stored rows)."""
    return _document(_stored_statement(submission), submission.submitted_at, submission.expert_signature, submission.expert_key)


def submission_statement(submission: ScoreSubmission) -> bytes:
    """The canonical statement the expert's own signature covers."""
    return canonical_json(_stored_statement(submission))


def submission_verify(submission: ScoreSubmission) -> bool:
    """The platform's signature over the whole submission, and the expert's over its statement where it signed."""
    canonical = canonical_json(submission_document(submission))
    if hashlib.sha256(canonical).hexdigest() != submission.canonical_sha256:
        return False
    if not signing.verify(submission_message(canonical), submission.signature):
        return False
    return not submission.expert_signature or expert_keys.statement_verify(
        submission.expert_key, submission_statement(submission), submission.expert_signature
    )


def all_scores_in(draw: ExpertDraw) -> bool:
    """Every seat taken by an accepted member, and each has submitted (a seat being refilled is not in)."""
    sitting = draw.members.filter(status=CommitteeMember.Status.ACCEPTED)
    return sitting.count() == draw.size and not sitting.filter(submission__isnull=True).exists()


def counted_submissions(draw: ExpertDraw):
    """The sitting committee's submissions: a replaced member's conclusions are void (Regs 48)."""
    return ScoreSubmission.objects.filter(member__draw=draw, member__status=CommitteeMember.Status.ACCEPTED)


def committee_tally(draw: ExpertDraw):
    """The ranking and dissent from every submission (only once all are in)."""
    scheme = scheme_of(draw.section)
    bids = [pure.BidIn(o.pk, o.price_fen, o.readout_order or 0) for o in valid_openings(draw.section)]
    submissions = [
        pure.SubmissionIn(s.member.seat, s.scores, s.rejections) for s in counted_submissions(draw).select_related("member")
    ]
    return pure.tally(
        method=scheme.method, price_points=scheme.price_points, criteria=scheme.criteria, bids=bids, submissions=submissions
    )
