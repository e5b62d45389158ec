"""Independent scoring: the scheme, each expert's signed submission, and the committee's tally."""

import hashlib
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bidding.evaluation import tally as pure
from bidding.evaluation.models import CommitteeMember, EvaluationScheme, ExpertDraw, ScoreSubmission
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


def scores_submit(*, user, draw: ExpertDraw, scores: dict, rejections: dict, dissent: str = "") -> ScoreSubmission:
    """One expert's scores for every valid bid, alone and once; the platform signs the canonical text with the session."""
    with transaction.atomic():
        locked = lock_draw(draw.pk)
        member = policy.sitting_member(user, locked)
        if not policy.can_evaluate(user, locked) or member is None:
            raise NotAllowed("NOT-ALLOWED", _("只有评标委员会成员在评标期间可以评分。"))
        if ScoreSubmission.objects.filter(member=member).exists():
            raise TransitionError("EVAL-SUBMITTED", _("评分已提交并签名，不能修改。"))
        scheme = scheme_of(locked.section)
        openings = valid_openings(locked.section)
        clean_scores, clean_rejections = _check(scheme, openings, scores, rejections)
        now = timezone.now()
        document = {
            "section": locked.section.public_id,
            "draw_commitment": locked.commitment,
            "seat": member.seat,
            "expert": member.expert.code,
            "session_started_at": locked.session_started_at.isoformat(),
            "scheme": {"method": scheme.method, "price_points": scheme.price_points, "criteria": scheme.criteria},
            "scores": clean_scores,
            "rejections": clean_rejections,
            "dissent": dissent.strip(),
            "submitted_at": now.isoformat(),
        }
        canonical = canonical_json(document)
        submission = ScoreSubmission.objects.create(
            member=member,
            scores=clean_scores,
            rejections=clean_rejections,
            dissent=dissent.strip(),
            canonical_sha256=hashlib.sha256(canonical).hexdigest(),
            signature=signing.sign(submission_message(canonical)),
            key_id=signing.key_id(),
            submitted_at=now,
        )
        audit_append(
            event=AuditEvent.SCORES_SUBMITTED,
            actor=user,
            section=locked.section,
            data={"seat": member.seat, "sha256": submission.canonical_sha256},
        )
    return submission


def submission_document(submission: ScoreSubmission) -> dict:
    """The canonical document a submission's signature covers (rebuilt from the stored rows)."""
    member = submission.member
    draw = member.draw
    scheme = scheme_of(draw.section)
    return {
        "section": draw.section.public_id,
        "draw_commitment": draw.commitment,
        "seat": member.seat,
        "expert": member.expert.code,
        "session_started_at": draw.session_started_at.isoformat(),
        "scheme": {"method": scheme.method, "price_points": scheme.price_points, "criteria": scheme.criteria},
        "scores": submission.scores,
        "rejections": submission.rejections,
        "dissent": submission.dissent,
        "submitted_at": submission.submitted_at.isoformat(),
    }


def submission_verify(submission: ScoreSubmission) -> bool:
    canonical = canonical_json(submission_document(submission))
    return hashlib.sha256(canonical).hexdigest() == submission.canonical_sha256 and signing.verify(
        submission_message(canonical), submission.signature
    )


def all_scores_in(draw: ExpertDraw) -> bool:
    sitting = draw.members.filter(status=CommitteeMember.Status.ACCEPTED)
    return sitting.exists() and not sitting.filter(submission__isnull=True).exists()


def committee_tally(draw: ExpertDraw):
    """The ranking and dissent from every submission (only once all are in)."""
    scheme = scheme_of(draw.section)
    bids = [pure.BidIn(o.pk, o.price_fen, o.readout_order or 0) for o in valid_openings(draw.section)]
    submissions = [
        pure.SubmissionIn(s.member.seat, s.scores, s.rejections)
        for s in ScoreSubmission.objects.filter(member__draw=draw).select_related("member")
    ]
    return pure.tally(
        method=scheme.method, price_points=scheme.price_points, criteria=scheme.criteria, bids=bids, submissions=submissions
    )
