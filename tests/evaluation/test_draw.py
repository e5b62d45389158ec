"""The expert draw: EVAL-SIZE, EVAL-RANDOM (commit-reveal, re-run), EVAL-CONFLICT, declines replaced."""

import hashlib
from io import StringIO

import pytest
from django.core.management import call_command

from bidding.evaluation import draw as pure
from bidding.evaluation.models import CommitteeMember, ExpertDraw
from bidding.evaluation.services.draw import (
    draw_commit,
    draw_make,
    draw_rerun,
    expert_conflicts,
    member_respond,
    session_start,
)
from tests.evaluation.conftest import seat_all
from tests.evaluation.factories import ExpertFactory, opened_section
from tests.factories import SectionFactory
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry
from trading.errors import RuleViolation, TransitionError
from trading.models import SectionState

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("size", [3, 4, 6])
def test_EVAL_SIZE_committee_of_five_or_more_and_odd(staff, section, pool, size):
    with pytest.raises(RuleViolation) as refused:
        draw_commit(actor=staff, section=section, size=size, quotas=[("A01", size)])
    assert refused.value.code == "EVAL-SIZE"
    assert not ExpertDraw.objects.exists()


def test_EVAL_SIZE_tenderer_representatives_at_most_a_third(staff, section, pool, specialties):
    reps = [ExpertFactory(employer=section.project.tenderer, specialties=specialties[:1]) for _ in range(2)]
    with pytest.raises(RuleViolation) as refused:
        draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 3)], representatives=reps)
    assert refused.value.code == "EVAL-SIZE"
    draw = draw_commit(actor=staff, section=section, size=7, quotas=[("A01", 3), ("A02", 2)], representatives=reps)
    assert draw.members.filter(source="representative").count() == 2


def test_EVAL_SIZE_quotas_must_add_up(staff, section, pool):
    with pytest.raises(RuleViolation) as refused:
        draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 3), ("A02", 1)])
    assert refused.value.code == "EVAL-SIZE" and not ExpertDraw.objects.exists()


def test_no_draw_before_the_bids_are_opened(staff, pool):
    """Excluding the bidders' employees before opening would tell who bid (SECRET-BIDDERS)."""
    sealed = SectionFactory(state=SectionState.BIDDING_CLOSED)
    with pytest.raises(TransitionError) as refused:
        draw_commit(actor=staff, section=sealed, size=5, quotas=[("A01", 3), ("A02", 2)])
    assert refused.value.code == "EVAL-NOT-OPENED" and not ExpertDraw.objects.exists()


def test_EVAL_RANDOM_commitment_published_before_the_draw(committed):
    entry = AuditEntry.objects.get(event=AuditEvent.DRAW_COMMITTED)
    assert entry.data["commitment"] == hashlib.sha256(bytes.fromhex(committed.seed)).hexdigest()
    assert entry.data["candidates_digest"] == pure.digest(committed.candidates)
    assert committed.seed not in str(entry.data)
    assert not committed.members.exists()  # nothing drawn at commitment
    assert len(committed.candidates) == 24


def test_EVAL_SECRET_the_seed_is_nowhere_in_the_database_before_it_is_revealed(staff, committed, pool):
    """Whoever reads the seed can compute the committee: a dump of the draw's row does not give it."""
    from cryptography.exceptions import InvalidTag
    from django.db import connection

    from bidding.evaluation.seed import seed_unseal

    seed = ExpertDraw.objects.get(pk=committed.pk).seed
    assert pure.commitment_of(seed) == committed.commitment  # the sealed seed is the committed one
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ExpertDraw._meta.db_table}")
        dumped = repr(cursor.fetchall())
    assert seed not in dumped and seed.upper() not in dumped
    # Bound to its section and commitment: moved to another draw it does not open.
    with pytest.raises(InvalidTag):
        seed_unseal(committed.seed_sealed, section_id=committed.section_id + 1, commitment=committed.commitment)


def test_EVAL_RANDOM_rerunning_a_finished_draw_from_its_revealed_seed_gives_the_same_committee(staff, committed):
    draw = draw_make(actor=staff, draw=committed)
    first = draw.members.filter(seat=2).select_related("expert__user").get()
    member_respond(user=first.expert.user, member=first, accept=False, reason="出差")
    draw = seat_all(staff, ExpertDraw.objects.get(pk=draw.pk))
    assert draw.status == "in_session" and draw.revealed_at is not None
    revealed = AuditEntry.objects.get(event=AuditEvent.DRAW_SEED_REVEALED).data
    assert revealed["seed"] == draw.seed and revealed["replacements"] == [
        {"seat": 2, "code": first.expert.code, "reason": "declined"}
    ]

    seats = {s.seat: s.code for s in draw_rerun(draw)}
    assert seats == draw.members.drawn_codes()
    assert first.expert.code not in seats.values()

    out = StringIO()
    call_command("evaluation_redraw", draw.section.public_id, stdout=out)
    assert "MATCH" in out.getvalue()
    for seat, code in seats.items():
        assert f"{seat}\t{code}" in out.getvalue()


def test_EVAL_RANDOM_the_redraw_command_catches_a_swapped_member(staff, committed):
    draw = seat_all(staff, committed)
    member = draw.members.filter(status="accepted", source="drawn").first()
    spare = ExpertFactory()
    CommitteeMember.objects.filter(pk=member.pk).update(expert=spare)
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("evaluation_redraw", draw.section.public_id, stdout=out, stderr=out)
    assert "MISMATCH" in out.getvalue()


def test_EVAL_RANDOM_a_seed_that_does_not_match_its_commitment_is_refused(staff, committed):
    draw = seat_all(staff, committed)
    draw.seed = "00" * 32
    draw.save(update_fields=["seed_sealed"])
    with pytest.raises(RuleViolation) as refused:
        draw_rerun(ExpertDraw.objects.get(pk=draw.pk))
    assert refused.value.code == "EVAL-RANDOM"


def test_the_draw_is_not_redone(staff, committed, section):
    with pytest.raises(TransitionError) as refused:
        draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 3), ("A02", 2)])
    assert refused.value.code == "EVAL-DRAW-EXISTS"
    assert ExpertDraw.objects.get().commitment == committed.commitment


def test_seats_follow_quotas_and_a_decline_is_replaced_from_the_same_seed(staff, committed):
    draw = draw_make(actor=staff, draw=committed)
    members = list(draw.members.select_related("expert"))
    assert [m.specialty for m in members] == ["A01", "A01", "A01", "A02", "A02"]
    for member in members:
        assert member.specialty in {s.code for s in member.expert.specialties.all()}
    declined = members[3]
    member_respond(user=declined.expert.user, member=declined, accept=False, reason="身体原因")
    replacement = draw.members.get(seat=4, status="invited")
    expected = pure.draw_committee(
        seed_hex=draw.seed, candidates=draw.candidates, rules=draw.rules, replacements=[{"seat": 4, "code": declined.expert.code}]
    )
    assert replacement.expert.code == expected[3].code != declined.expert.code
    assert replacement.specialty == "A02"


def test_a_decline_needs_a_reason_and_only_the_invited_expert_answers(staff, committed, make_user):
    draw = draw_make(actor=staff, draw=committed)
    member = draw.members.select_related("expert__user").first()
    with pytest.raises(RuleViolation):
        member_respond(user=member.expert.user, member=member, accept=False, reason=" ")
    with pytest.raises(Exception) as refused:
        member_respond(user=make_user("expert"), member=member, accept=True)
    assert refused.value.code == "NOT-ALLOWED"
    member.refresh_from_db()
    assert member.status == "invited" and draw.members.count() == 5


def test_the_session_waits_for_every_seat(staff, committed):
    draw = draw_make(actor=staff, draw=committed)
    with pytest.raises(TransitionError) as refused:
        session_start(actor=staff, draw=draw)
    assert refused.value.code == "EVAL-SEATS-OPEN"
    draw.refresh_from_db()
    assert draw.revealed_at is None and draw.section.state == SectionState.OPENED


def test_EVAL_CONFLICT_bidders_tenderer_agency_and_recent_service_are_excluded(staff, specialties):
    section = opened_section(bids=3)
    bidder_org = section.registrations.first().organization
    a01 = specialties[0]
    conflicted = [
        ExpertFactory(employer=bidder_org, specialties=[a01]),
        ExpertFactory(employer=section.project.tenderer, specialties=[a01]),
    ]
    previous = opened_section(bids=3, project=section.project)
    served = ExpertFactory(specialties=[a01])
    from django.utils import timezone

    from bidding.evaluation.models import ServiceRecord

    ServiceRecord.objects.create(expert=served, tenderer=section.project.tenderer, section=previous, served_at=timezone.now())
    clean = [ExpertFactory(specialties=[a01]) for _ in range(5)]
    draw = draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 5)])
    codes = {c["code"] for c in draw.candidates}
    assert codes == {e.code for e in clean}
    assert expert_conflicts(expert=conflicted[0], section=section) == ["employed-by-bidder"]
    assert expert_conflicts(expert=conflicted[1], section=section) == ["employed-by-tenderer"]
    assert expert_conflicts(expert=served, section=section) == ["recent-service"]


def test_EVAL_CONFLICT_rechecked_at_session_start_and_the_seat_redrawn(staff, committed):
    draw = draw_make(actor=staff, draw=committed)
    for member in draw.members.select_related("expert__user"):
        member_respond(user=member.expert.user, member=member, accept=True)
    victim = draw.members.get(seat=1)
    bidder_org = draw.section.registrations.first().organization
    victim.expert.employer = bidder_org  # changed jobs since the draw
    victim.expert.save()
    draw = session_start(actor=staff, draw=draw)
    assert draw.status == "drawn"  # not started: the replacement is invited first
    victim.refresh_from_db()
    assert victim.status == "recused" and draw.members.get(seat=1, status="invited").expert_id != victim.expert_id
    assert draw.replacements == [{"seat": 1, "code": victim.expert.code, "reason": "recused"}]
    draw = seat_all(staff, draw)
    assert draw.status == "in_session"
    assert {s.seat: s.code for s in draw_rerun(draw)} == draw.members.drawn_codes()


def test_remote_evaluation_draws_only_from_other_regions(staff, section, pool):
    draw = draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 3), ("A02", 2)], remote=True)
    draw = draw_make(actor=staff, draw=draw)
    assert section.project.region == "上城区"
    assert len(draw.candidates) == 16  # the eight of each specialty from elsewhere
    assert set(draw.members.values_list("expert__region", flat=True)) == {"西湖区"}


def test_experts_without_an_account_are_not_drawn(staff, section, pool, specialties):
    """An expert with no account (a CSV row without a username), or a disabled one, cannot answer the invitation
    nor score: drawn, its seat would hold the session forever. It stays in the pool, out of the candidate list."""
    no_account = ExpertFactory(specialties=specialties[:1], user=None)
    disabled = ExpertFactory(specialties=specialties[:1])
    disabled.user.is_active = False
    disabled.user.save(update_fields=["is_active"])
    draw = draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 3), ("A02", 2)])
    listed = {c["code"] for c in draw.candidates}
    assert no_account.code not in listed and disabled.code not in listed
    assert {e.code for e in pool} <= listed


def test_a_short_pool_is_refused_at_the_commitment(staff, section, specialties):
    """A commitment whose candidate list cannot fill the seats would be a draw nobody can ever make (it cannot be
    redone either): it is refused before anything is published, so staff can change the rules."""
    ExpertFactory(specialties=specialties[:1])
    with pytest.raises(RuleViolation) as refused:
        draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 3), ("A02", 2)])
    assert refused.value.code == "EVAL-POOL-SHORT"
    assert not ExpertDraw.objects.filter(section=section).exists()
    assert not AuditEntry.objects.filter(event=AuditEvent.DRAW_COMMITTED).exists()


def test_EVAL_RANDOM_anyone_re_runs_the_draw_offline_from_the_public_record(staff, committed, api, tmp_path):
    draw = draw_make(actor=staff, draw=committed)
    first = draw.members.select_related("expert__user").get(seat=1)
    member_respond(user=first.expert.user, member=first, accept=False, reason="出差")
    draw = seat_all(staff, ExpertDraw.objects.get(pk=draw.pk))
    record = tmp_path / "record.json"
    record.write_bytes(api.get(f"/api/v1/sections/{draw.section.public_id}/draw/").content)
    out = StringIO()
    call_command("evaluation_redraw", record=str(record), stdout=out)
    assert "MATCH" in out.getvalue() and draw.seed in out.getvalue()
    tampered = record.read_text().replace(draw.seed, "11" * 32)
    record.write_text(tampered)
    with pytest.raises(SystemExit):
        call_command("evaluation_redraw", record=str(record), stdout=StringIO(), stderr=StringIO())


def test_a_representative_who_declines_is_not_redrawn_from_the_pool(staff, section, pool, specialties):
    rep = ExpertFactory(employer=section.project.tenderer, specialties=specialties[:1])
    draw = draw_commit(actor=staff, section=section, size=5, quotas=[("A01", 2), ("A02", 2)], representatives=[rep])
    draw = draw_make(actor=staff, draw=draw)
    member = draw.members.get(source="representative")
    member_respond(user=rep.user, member=member, accept=False, reason="另有安排")
    draw.refresh_from_db()
    assert draw.replacements == [] and draw.members.count() == 5
    assert draw.members.get(source="representative").seat == 5
