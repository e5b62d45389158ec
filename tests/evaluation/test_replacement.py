"""Replacing a committee member who cannot go on (Regs 48: a ground for recusal, leaving the post, health):
its conclusions are void, the seat is redrawn from the same seed, and the replacement scores anew."""

import pytest
from django.test import Client

from bidding.evaluation.models import ServiceRecord
from bidding.evaluation.selectors import vacant_representative_seats
from bidding.evaluation.services.award import report_make
from bidding.evaluation.services.draw import (
    draw_commit,
    draw_make,
    draw_rerun,
    member_replace,
    member_respond,
    representative_appoint,
    session_start,
)
from bidding.evaluation.services.scoring import all_scores_in, committee_tally, scores_submit, valid_openings
from livestream.models import StreamEvent
from tests.conftest import signed_in
from tests.evaluation.conftest import seat_all
from tests.evaluation.factories import ExpertFactory
from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry
from trading.errors import NotAllowed, RuleViolation, TransitionError
from trading.models import Role
from trading.supervision.services.feed import feed_stream

pytestmark = pytest.mark.django_db


def score(member, draw, technical: int):
    openings = valid_openings(draw.section)
    scores = {str(o.pk): {"technical": technical, "schedule": 8, "commercial": 8} for o in openings}
    return scores_submit(user=member.expert.user, draw=draw, scores=scores, rejections={})


def test_Regs48_a_replaced_members_scores_are_void_and_its_replacement_scores_anew(staff, scored):
    draw = scored
    assert all_scores_in(draw)
    victim = draw.members.select_related("expert__user").get(seat=2)
    replacement = member_replace(actor=staff, member=victim, reason="health", note="突发疾病")

    victim.refresh_from_db()
    assert victim.status == "replaced" and victim.reason == "health: 突发疾病"
    assert replacement.seat == 2 and replacement.status == "invited" and replacement.expert_id != victim.expert_id
    draw.refresh_from_db()
    assert draw.replacements[-1] == {"seat": 2, "code": victim.expert.code, "reason": "health"}
    # Anyone re-runs it: the replacement is the seed's next expert of the seat's specialty.
    assert {s.seat: s.code for s in draw_rerun(draw)} == draw.members.drawn_codes()
    entry = AuditEntry.objects.filter(event=AuditEvent.EXPERT_REPLACED).get()
    assert entry.data == {"seat": 2, "reason": "health", "scores_void": True}
    live = StreamEvent.objects.get(stream=feed_stream(), kind="committee.replaced")  # the supervisors' feed
    assert live.payload["seat"] == 2 and victim.expert.name not in str(live.payload)

    # The seat is open again: not all in, and the replaced expert neither scores nor reads the others' scores.
    assert not all_scores_in(draw)
    assert not policy.can_evaluate(victim.expert.user, draw)
    with pytest.raises(NotAllowed):
        score(victim, draw, 10)

    workspace = signed_in(Client(), replacement.expert.user).get("/expert/").content.decode()
    assert 'data-testid="joins-session"' in workspace  # told that the evaluation is already going on
    member_respond(user=replacement.expert.user, member=replacement, accept=True)
    assert ServiceRecord.objects.filter(expert=replacement.expert, section=draw.section).exists()
    assert not all_scores_in(draw)
    score(replacement, draw, 12)
    assert all_scores_in(draw)
    rows, _dissent = committee_tally(draw)
    assert all(row.experts[2] - row.price_score == 12 + 8 + 8 for row in rows)  # seat 2's points: the replacement's

    report = report_make(actor=staff, draw=draw)
    document = report.document
    assert {s["seat"]: s["expert"] for s in document["submissions"]}[2] == replacement.expert.code
    assert len(document["submissions"]) == 5
    void = victim.submission.canonical_sha256
    replaced = {"seat": 2, "expert": victim.expert.code, "reason": "health: 突发疾病", "void_submission": void}
    assert document["replaced"] == [replaced]


def test_Regs48_only_staff_replace_a_sitting_drawn_member_and_only_until_the_report(staff, scored, make_user, supervisor):
    draw = scored
    member = draw.members.get(seat=1)
    for outsider in (supervisor, make_user(Role.TENDERER, organization=draw.section.project.tenderer), member.expert.user):
        with pytest.raises(NotAllowed):
            member_replace(actor=outsider, member=member, reason="absent")
    with pytest.raises(RuleViolation) as refused:
        member_replace(actor=staff, member=member, reason="bored")
    assert refused.value.code == "INVALID"
    report_make(actor=staff, draw=draw)
    with pytest.raises(TransitionError):
        member_replace(actor=staff, member=member, reason="absent")
    member.refresh_from_db()
    assert member.status == "accepted"


def test_Regs48_a_representatives_seat_is_not_redrawn_from_the_pool_but_filled_by_the_tenderers_next(
    staff, section, pool, specialties
):
    rep, other = (ExpertFactory(employer=section.project.tenderer, specialties=specialties[:1]) for _ in range(2))
    draw = draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 2), ("A02", 2)], representatives=[rep])
    draw = seat_all(staff, draw)
    assert member_replace(actor=staff, member=draw.members.get(source="representative"), reason="health") is None
    assert vacant_representative_seats(draw) == [5] and len(draw.replacements) == 0
    for outsider in (pool[0], rep):  # not the tenderer's, or already in this draw
        with pytest.raises(RuleViolation):
            representative_appoint(actor=staff, draw=draw, seat=5, expert=outsider)
    with pytest.raises(RuleViolation) as refused:
        representative_appoint(actor=staff, draw=draw, seat=1, expert=other)  # a drawn seat, and taken
    assert refused.value.code == "EVAL-SEAT"
    member = representative_appoint(actor=staff, draw=draw, seat=5, expert=other)
    assert member.status == "invited" and vacant_representative_seats(draw) == []
    member_respond(user=other.user, member=member, accept=True)
    assert ServiceRecord.objects.filter(expert=other, section=section).exists()
    assert policy.can_evaluate(other.user, draw)


def test_EVAL_CONFLICT_a_replacement_with_a_conflict_is_recused_when_it_accepts(staff, scored):
    """The session-start check, for a seat refilled during the evaluation."""
    draw = scored
    replacement = member_replace(actor=staff, member=draw.members.get(seat=4), reason="conflict")
    replacement.expert.employer = draw.section.registrations.first().organization
    replacement.expert.save()
    member_respond(user=replacement.expert.user, member=replacement, accept=True)
    replacement.refresh_from_db()
    draw.refresh_from_db()
    assert replacement.status == "recused"
    assert [r["reason"] for r in draw.replacements] == ["conflict", "recused"]
    assert draw.members.get(seat=4, status="invited").expert_id not in (replacement.expert_id,)
    assert {s.seat: s.code for s in draw_rerun(draw)} == draw.members.drawn_codes()


def test_Regs48_an_accepted_expert_who_drops_out_before_the_session_is_replaced_and_the_session_waits(staff, committed):
    draw = draw_make(actor=staff, draw=committed)
    for member in draw.members.select_related("expert__user"):
        member_respond(user=member.expert.user, member=member, accept=True)
    replacement = member_replace(actor=staff, member=draw.members.get(seat=3), reason="absent")
    with pytest.raises(TransitionError) as waiting:
        session_start(actor=staff, draw=draw)
    assert waiting.value.code == "EVAL-SEATS-OPEN"
    member_respond(user=replacement.expert.user, member=replacement, accept=True)
    assert session_start(actor=staff, draw=draw).status == "in_session"


def test_Regs48_the_console_replaces_a_seat_by_number_with_a_reason(staff, scored):
    draw = scored
    console = signed_in(Client(), staff)
    url = f"/sections/{draw.section.public_id}/draw/"
    page = console.get(url).content.decode()
    assert 'data-testid="replace-form"' in page and "擅离职守" in page
    response = console.post(url, {"op": "replace", "seat": "5", "reason": "absent", "note": "离场未归"}, follow=True)
    page = response.content.decode()
    assert "席位 5 的专家已更换" in page
    assert draw.members.get(seat=5, status="replaced").reason == "absent: 离场未归"
    assert draw.members.filter(seat=5, status="invited").exists()
    assert "已提交评分：4 / 5" in page
    assert "待提交的席位：5" in page  # the replacement, still to accept and score
    refused = console.post(url, {"op": "replace", "seat": "9", "reason": "absent"}, follow=True).content.decode()
    assert "NOT-FOUND" in refused


def test_EVAL_SIZE_the_console_takes_the_tenderers_representatives_and_a_declined_ones_successor(staff, section, pool):
    rep, successor = (ExpertFactory(employer=section.project.tenderer, specialties=pool[0].specialties.all()) for _ in range(2))
    console = signed_in(Client(), staff)
    url = f"/sections/{section.public_id}/draw/"
    unknown = console.post(url, {"op": "commit", "size": 5, "quotas": "A01:2,A02:2", "representatives": "E-99999"})
    assert "专家库中没有：E-99999" in unknown.content.decode()
    console.post(url, {"op": "commit", "size": 5, "quotas": "A01:2,A02:2", "representatives": rep.code})
    console.post(url, {"op": "make"})
    draw = section.expert_draw
    member = draw.members.get(source="representative")
    assert member.expert == rep and member.seat == 5
    member_respond(user=rep.user, member=member, accept=False, reason="另有公务")
    page = console.get(url).content.decode()
    assert 'data-testid="appoint-form"' in page
    done = console.post(url, {"op": "appoint", "seat": "5", "expert": successor.code}, follow=True).content.decode()
    assert "已登记席位 5 的招标人代表" in done and 'data-testid="appoint-form"' not in done
    assert draw.members.get(seat=5, status="invited").expert == successor
