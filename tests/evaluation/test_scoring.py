"""Independent scoring: signed submissions, EVAL-REJECT, nobody sees another's scores early, tally, ties, dissent."""

from decimal import Decimal

import pytest

from bidding.evaluation import tally as pure
from bidding.evaluation.models import ScoreSubmission
from bidding.evaluation.selectors import submissions_list
from bidding.evaluation.services.scoring import (
    committee_tally,
    scheme_set,
    scores_submit,
    submission_verify,
    valid_openings,
)
from tests.evaluation.conftest import seat_all
from tests.evaluation.factories import opened_section
from trading.errors import NotAllowed, RuleViolation, TransitionError

pytestmark = pytest.mark.django_db

PRICES = [400_000_000, 450_000_000, 500_000_000]


@pytest.fixture
def section(db):
    return opened_section(bids=3, prices=PRICES)


@pytest.fixture
def session(staff, committed):
    return seat_all(staff, committed)


def experts(draw):
    return [m.expert.user for m in draw.members.filter(status="accepted").select_related("expert__user").order_by("seat")]


def even_scores(section, technical=30, schedule=8, commercial=8):
    return {str(o.pk): {"technical": technical, "schedule": schedule, "commercial": commercial} for o in valid_openings(section)}


def test_a_submission_is_signed_over_its_canonical_text(session):
    user = experts(session)[0]
    submission = scores_submit(user=user, draw=session, scores=even_scores(session.section), rejections={})
    assert submission_verify(submission)
    ScoreSubmission.objects.filter(pk=submission.pk).update(scores={**submission.scores, "x": {}})
    assert not submission_verify(ScoreSubmission.objects.get(pk=submission.pk))


def test_a_submission_is_made_once(session):
    user = experts(session)[0]
    scores_submit(user=user, draw=session, scores=even_scores(session.section), rejections={})
    with pytest.raises(TransitionError) as refused:
        scores_submit(user=user, draw=session, scores=even_scores(session.section, technical=40), rejections={})
    assert refused.value.code == "EVAL-SUBMITTED"
    assert ScoreSubmission.objects.get().scores[str(valid_openings(session.section)[0].pk)]["technical"] == "30"


def test_EVAL_REJECT_a_rejection_needs_a_legal_ground_and_a_reason(session):
    user = experts(session)[0]
    first = str(valid_openings(session.section)[0].pk)
    for rejection in ({"code": "not-qualified", "reason": " "}, {"code": "dislike", "reason": "不喜欢"}):
        with pytest.raises(RuleViolation) as refused:
            scores_submit(user=user, draw=session, scores=even_scores(session.section), rejections={first: rejection})
        assert refused.value.code == "EVAL-REJECT"
    assert not ScoreSubmission.objects.exists()


def test_scores_out_of_range_or_missing_are_refused(session):
    user = experts(session)[0]
    scores = even_scores(session.section)
    first = next(iter(scores))
    scores[first]["technical"] = 41
    with pytest.raises(RuleViolation) as refused:
        scores_submit(user=user, draw=session, scores=scores, rejections={})
    assert refused.value.code == "EVAL-SCORE"
    del scores[first]
    with pytest.raises(RuleViolation):
        scores_submit(user=user, draw=session, scores=scores, rejections={})
    assert not ScoreSubmission.objects.exists()


def test_only_a_sitting_expert_in_session_scores(staff, committed, make_user):
    from bidding.evaluation.services.draw import draw_make

    draw = draw_make(actor=staff, draw=committed)
    invited = draw.members.select_related("expert__user").first().expert.user
    for user in (invited, make_user("expert"), staff):
        with pytest.raises(NotAllowed):
            scores_submit(user=user, draw=draw, scores={}, rejections={})


def test_nobody_sees_another_experts_scores_until_all_are_in(session, supervisor):
    users = experts(session)
    for user in users[:4]:
        scores_submit(user=user, draw=session, scores=even_scores(session.section), rejections={})
    for viewer in (users[0], users[4], supervisor):
        with pytest.raises(NotAllowed) as refused:
            submissions_list(user=viewer, draw=session)
        assert refused.value.code == "EVAL-INDEPENDENT"
    scores_submit(user=users[4], draw=session, scores=even_scores(session.section), rejections={})
    assert len(submissions_list(user=users[0], draw=session)) == 5
    assert len(submissions_list(user=supervisor, draw=session)) == 5


def test_comprehensive_scoring_benchmark_mean_rank_and_dissent(session):
    """Price score = 40 x lowest valid price / price; the cheapest bid rejected by 3 of 5 moves the benchmark."""
    users = experts(session)
    cheap, middle, dear = (str(o.pk) for o in valid_openings(session.section))
    reject = {cheap: {"code": "price-ceiling-or-cost", "reason": "报价低于成本"}}
    for n, user in enumerate(users):
        scores = even_scores(session.section, technical=30 + n)
        scores[dear]["technical"] = 40
        scores_submit(user=user, draw=session, scores=scores, rejections=reject if n < 3 else {})
    rows, dissent = committee_tally(session)
    by_id = {str(r.opening_id): r for r in rows}
    assert by_id[cheap].rejected and by_id[cheap].rank is None
    assert by_id[middle].price_score == Decimal("40.00")
    assert by_id[dear].price_score == Decimal("36.00")  # 40 x 4.5 / 5
    # middle: 40 + mean(30..34) + 8 + 8 = 88.00; dear: 36 + 40 + 16 = 92.00
    assert (by_id[middle].score, by_id[dear].score) == (Decimal("88.00"), Decimal("92.00"))
    assert [str(r.opening_id) for r in rows] == [dear, middle, cheap]
    assert sorted(d["seat"] for d in dissent) == [4, 5] and {d["voted"] for d in dissent} == {"keep"}


def test_ties_go_to_the_lower_price_then_the_read_out_order():
    bids = [pure.BidIn(1, 100, 1), pure.BidIn(2, 100, 2), pure.BidIn(3, 90, 3)]
    rows, _ = pure.tally(method="lowest_price", price_points=0, criteria=[], bids=bids, submissions=[])
    assert [r.opening_id for r in rows] == [3, 1, 2]
    assert (rows[1].tie_break, rows[2].tie_break) == ("readout_order", "readout_order")
    criteria = [{"key": "t", "max": 60, "kind": "technical"}]
    subs = [pure.SubmissionIn(1, {"1": {"t": 60}, "2": {"t": 51}}, {})]
    rows, _ = pure.tally(
        method="comprehensive",
        price_points=40,
        criteria=criteria,
        bids=[pure.BidIn(1, 100, 1), pure.BidIn(2, 90, 2)],
        submissions=subs,
    )
    # 1: 40 x 90/100 + 60 = 96.00; 2: 40 + 51 = 91.00 ... then equal scores break on the lower price
    assert [r.score for r in rows] == [Decimal("96.00"), Decimal("91.00")]
    subs = [pure.SubmissionIn(1, {"1": {"t": 59}, "2": {"t": 55}}, {})]
    rows, _ = pure.tally(
        method="comprehensive",
        price_points=40,
        criteria=criteria,
        bids=[pure.BidIn(1, 100, 1), pure.BidIn(2, 90, 2)],
        submissions=subs,
    )
    assert rows[0].score == rows[1].score == Decimal("95.00")
    assert [r.opening_id for r in rows] == [2, 1] and rows[0].tie_break == "price"


def test_lowest_evaluated_price_ranks_the_valid_bids_by_price(staff, section, pool):
    from bidding.evaluation.services.draw import draw_commit

    scheme_set(actor=staff, section=section, method="lowest_price", price_points=0, criteria=[])
    draw = seat_all(staff, draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 3), ("A02", 2)]))
    cheap = str(valid_openings(section)[0].pk)
    for n, user in enumerate(experts(draw)):
        rejections = {cheap: {"code": "not-responsive", "reason": "工期不满足"}} if n < 3 else {}
        scores_submit(user=user, draw=draw, scores={}, rejections=rejections)
    rows, _ = committee_tally(draw)
    assert [r.price_fen for r in rows if not r.rejected] == PRICES[1:]
    assert [r.rank for r in rows] == [1, 2, None]


def test_the_scheme_adds_up_to_100_and_is_fixed_once_the_session_starts(staff, session):
    with pytest.raises(RuleViolation):
        scheme_set(
            actor=staff, section=session.section, method="comprehensive", price_points=50, criteria=[{"key": "t", "max": 40}]
        )
    with pytest.raises(TransitionError):
        scheme_set(
            actor=staff, section=session.section, method="comprehensive", price_points=60, criteria=[{"key": "t", "max": 40}]
        )
