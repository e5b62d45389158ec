"""Races on PostgreSQL: the draw's row lock keeps the seats and the replacement log consistent."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from bidding.evaluation import draw as pure
from bidding.evaluation.models import CommitteeMember, ExpertDraw, ScoreSubmission
from bidding.evaluation.services.draw import draw_make, draw_rerun, draw_supplement, member_replace, member_respond
from bidding.evaluation.services.scoring import counted_submissions, scores_submit, valid_openings
from tests.evaluation.conftest import seat_all
from tests.evaluation.factories import ExpertFactory
from trading.errors import DomainError

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(fns):
    barrier = threading.Barrier(len(fns))

    def call(fn):
        try:
            barrier.wait()
            return fn()
        except DomainError as error:
            return error.code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(fns)) as pool:
        return list(pool.map(call, fns))


def test_every_invited_expert_declining_at_once_leaves_one_member_per_seat_and_a_replayable_log(staff, committed):
    draw = draw_make(actor=staff, draw=committed)
    members = list(draw.members.select_related("expert__user"))
    results = run_together(
        [lambda m=m: member_respond(user=m.expert.user, member=m, accept=False, reason="冲突") for m in members]
    )
    assert all(isinstance(r, CommitteeMember) for r in results)
    draw = ExpertDraw.objects.get(pk=draw.pk)
    assert len(draw.replacements) == 5
    sitting = dict(draw.members.filter(status="invited").values_list("seat", "expert__code"))
    assert sorted(sitting) == [1, 2, 3, 4, 5]
    replayed = pure.draw_committee(
        seed_hex=draw.seed, candidates=draw.candidates, rules=draw.rules, replacements=draw.replacements
    )
    assert {s.seat: s.code for s in replayed} == sitting


def test_two_draws_at_once_draw_once(staff, committed):
    results = run_together([lambda: draw_make(actor=staff, draw=committed)] * 2)
    assert sorted(r if isinstance(r, str) else "ok" for r in results) == ["TRANSITION", "ok"]
    assert ExpertDraw.objects.get().members.count() == 5


def test_an_expert_submitting_twice_at_once_is_recorded_once(staff, committed):
    draw = seat_all(staff, committed)
    draw_rerun(draw)
    user = draw.members.filter(status="accepted").select_related("expert__user").first().expert.user
    scores = {str(o.pk): {"technical": 30, "schedule": 8, "commercial": 8} for o in valid_openings(draw.section)}
    results = run_together([lambda: scores_submit(user=user, draw=draw, scores=scores, rejections={})] * 3)
    assert sorted(r if isinstance(r, str) else "ok" for r in results) == ["EVAL-SUBMITTED", "EVAL-SUBMITTED", "ok"]
    assert ScoreSubmission.objects.count() == 1


def test_Regs48_a_member_replaced_while_it_submits_never_has_counted_scores(staff, committed):
    """Staff replace seat 2 while its expert submits: whichever goes first, the seat ends with one replacement and
    no counted submission of the replaced expert (both take the draw's row lock)."""
    draw = seat_all(staff, committed)
    member = draw.members.select_related("expert__user").get(seat=2)
    scores = {str(o.pk): {"technical": 30, "schedule": 8, "commercial": 8} for o in valid_openings(draw.section)}
    run_together(
        [
            lambda: scores_submit(user=member.expert.user, draw=draw, scores=scores, rejections={}),
            lambda: member_replace(actor=staff, member=member, reason="absent"),
            lambda: member_replace(actor=staff, member=member, reason="health"),
        ]
    )
    draw = ExpertDraw.objects.get(pk=draw.pk)
    assert draw.members.get(pk=member.pk).status == "replaced"
    assert len(draw.replacements) == 1 and draw.members.filter(seat=2, status="invited").count() == 1
    assert not counted_submissions(draw).filter(member=member).exists()
    assert {s.seat: s.code for s in draw_rerun(draw)} == draw.members.drawn_codes()


def test_two_supplementary_draws_at_once_make_one_round(staff, tight, specialties):
    """EVAL-POOL-SHORT: two staff pressing 补充抽取 together: one round fills the seat, the other finds none vacant."""
    member = tight.members.select_related("expert__user").get(seat=4)
    member_respond(user=member.expert.user, member=member, accept=False, reason="出差")
    for _ in range(3):
        ExpertFactory(specialties=[specialties[1]])
    results = run_together([lambda: draw_supplement(actor=staff, draw=tight)] * 2)
    assert sorted(r if isinstance(r, str) else "ok" for r in results) == ["EVAL-SEAT", "ok"]
    draw = ExpertDraw.objects.get(pk=tight.pk)
    assert len(draw.supplements) == 1 and draw.replacements[-1] == {"supplement": 1}
    assert draw.members.sitting().filter(seat=4).count() == 1
