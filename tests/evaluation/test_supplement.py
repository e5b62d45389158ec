"""EVAL-POOL-SHORT after the draw: a seat whose published list has nobody left is vacant, not a dead end; a
supplementary draw (补充抽取) fills it at random (EVAL-RANDOM, Regs 46) from the pool as it is now, under a fresh
committed seed, and anyone still re-runs the whole committee from the public record."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from bidding.evaluation import draw as pure
from bidding.evaluation.models import ExpertDraw, ServiceRecord
from bidding.evaluation.selectors import vacant_drawn_seats
from bidding.evaluation.services.draw import (
    draw_rerun,
    draw_supplement,
    member_replace,
    member_respond,
    session_start,
)
from bidding.evaluation.services.scoring import all_scores_in
from livestream.models import StreamEvent
from tests.conftest import signed_in
from tests.evaluation.conftest import seat_all
from tests.evaluation.factories import ExpertFactory
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry
from trading.errors import NotAllowed, RuleViolation, TransitionError
from trading.models import Role
from trading.supervision.services.feed import feed_stream

pytestmark = pytest.mark.django_db


def decline(member, reason="出差"):
    return member_respond(user=member.expert.user, member=member, accept=False, reason=reason)


def test_EVAL_POOL_SHORT_a_decline_with_nobody_left_leaves_the_seat_vacant_and_says_so(staff, tight):
    """The expert can decline (before, the whole answer was refused and the seat held the session forever)."""
    member = tight.members.select_related("expert__user").get(seat=4)
    decline(member)
    member.refresh_from_db()
    assert member.status == "declined"
    draw = ExpertDraw.objects.get(pk=tight.pk)
    assert draw.replacements == [{"seat": 4, "code": member.expert.code, "reason": "declined"}]
    assert vacant_drawn_seats(draw) == [(4, "A02")]
    assert AuditEntry.objects.get(event=AuditEvent.DRAW_REPLACEMENT).data == {"seat": 4, "reason": "declined", "vacant": True}
    alert = StreamEvent.objects.get(stream=feed_stream(), kind="committee.vacant")  # the supervisors are told
    assert alert.payload["seat"] == 4 and alert.payload["specialty"] == "A02"
    assert member.expert.name not in json.dumps(alert.payload, ensure_ascii=False)
    for m in draw.members.filter(status="invited").select_related("expert__user"):
        member_respond(user=m.expert.user, member=m, accept=True)
    with pytest.raises(TransitionError) as refused:
        session_start(actor=staff, draw=draw)
    assert refused.value.code == "EVAL-SEATS-OPEN"  # a vacant seat holds the session


def test_EVAL_POOL_SHORT_a_supplement_the_pool_cannot_fill_is_refused_and_nothing_kept(staff, tight):
    decline(tight.members.select_related("expert__user").get(seat=4))
    with pytest.raises(RuleViolation) as refused:
        draw_supplement(actor=staff, draw=tight)
    assert refused.value.code == "EVAL-POOL-SHORT" and "A02" in refused.value.message
    draw = ExpertDraw.objects.get(pk=tight.pk)
    assert draw.supplements == [] and len(draw.replacements) == 1
    assert not AuditEntry.objects.filter(event=AuditEvent.DRAW_SUPPLEMENT).exists()


def test_a_supplement_with_no_vacant_seat_is_refused(staff, tight):
    with pytest.raises(RuleViolation) as refused:
        draw_supplement(actor=staff, draw=tight)
    assert refused.value.code == "EVAL-SEAT"


def test_EVAL_RANDOM_a_supplementary_draw_fills_the_vacancy_and_the_whole_committee_re_runs(
    staff, tight, specialties, api, tmp_path
):
    declined = tight.members.select_related("expert__user").get(seat=4)
    decline(declined)
    newcomers = [ExpertFactory(specialties=[specialties[1]]) for _ in range(3)]  # admitted to the pool since the draw
    [member] = draw_supplement(actor=staff, draw=tight)
    draw = ExpertDraw.objects.get(pk=tight.pk)
    assert member.seat == 4 and member.specialty == "A02" and member.status == "invited"
    assert member.expert in newcomers
    [round_] = draw.supplements
    listed = {c["code"] for c in round_["candidates"]}
    assert listed == {e.code for e in newcomers}  # the decliner and the sitting members are not listed again
    assert round_["seats"] == [4] and round_["commitment"] == pure.commitment_of(draw.supplements_unsealed()[0]["seed"])
    assert "seed" not in round_  # sealed at rest, as the first seed
    entry = AuditEntry.objects.get(event=AuditEvent.DRAW_SUPPLEMENT)
    assert entry.data["commitment"] == round_["commitment"] and "seed" not in entry.data  # not revealed before the session
    assert draw.replacements[-1] == {"supplement": 1}
    assert vacant_drawn_seats(draw) == []

    before = api.get(f"/api/v1/sections/{draw.section.public_id}/draw/").json()
    assert before["supplements"][0]["seed"] == "" and before["supplements"][0]["commitment"] == round_["commitment"]

    draw = seat_all(staff, draw)
    assert draw.status == "in_session"
    revealed = AuditEntry.objects.get(event=AuditEvent.DRAW_SEED_REVEALED).data
    assert revealed["supplements"] == [{"round": 1, "seed": draw.supplements_unsealed()[0]["seed"]}]
    assert {s.seat: s.code for s in draw_rerun(draw)} == draw.members.drawn_codes()

    out = StringIO()
    call_command("evaluation_redraw", draw.section.public_id, stdout=out)
    assert "MATCH" in out.getvalue()
    record = tmp_path / "record.json"
    record.write_bytes(api.get(f"/api/v1/sections/{draw.section.public_id}/draw/").content)
    out = StringIO()
    call_command("evaluation_redraw", record=str(record), stdout=out)
    assert "MATCH" in out.getvalue() and "supplement 1" in out.getvalue()
    seed = json.loads(record.read_text())["supplements"][0]["seed"]
    record.write_text(record.read_text().replace(seed, "22" * 32))  # a forged supplementary seed
    err = StringIO()
    with pytest.raises(SystemExit):
        call_command("evaluation_redraw", record=str(record), stdout=StringIO(), stderr=err)
    assert "EVAL-RANDOM" in err.getvalue()

    page = Client().get(f"/sections/{draw.section.public_id}/draw/record/").content.decode()
    assert 'data-testid="supplement-1"' in page and round_["commitment"] in page


def test_Regs48_a_replacement_in_session_with_nobody_left_is_filled_by_a_supplement_published_at_once(staff, tight, specialties):
    draw = seat_all(staff, tight)
    victim = draw.members.select_related("expert__user").get(seat=1)
    assert member_replace(actor=staff, member=victim, reason="health") is None  # no A01 left: vacant
    assert vacant_drawn_seats(ExpertDraw.objects.get(pk=draw.pk)) == [(1, "A01")]
    assert not all_scores_in(draw)
    newcomer = ExpertFactory(specialties=[specialties[0]])
    [member] = draw_supplement(actor=staff, draw=draw)
    assert member.expert == newcomer and member.seat == 1
    draw = ExpertDraw.objects.get(pk=draw.pk)
    entry = AuditEntry.objects.get(event=AuditEvent.DRAW_SUPPLEMENT)
    # The first seed is public in session: the round's seed is published with it at once, so it re-runs now.
    assert entry.data["seed"] == draw.supplements_unsealed()[0]["seed"]
    member_respond(user=newcomer.user, member=member, accept=True)
    assert ServiceRecord.objects.filter(expert=newcomer, section=draw.section).exists()
    assert {s.seat: s.code for s in draw_rerun(draw)} == draw.members.drawn_codes()


def test_two_supplementary_rounds_chain_and_re_run(staff, tight, specialties):
    """A member of the first supplement who declines, with the new list used up too, leads to a second round."""
    decline(tight.members.select_related("expert__user").get(seat=5))
    first = ExpertFactory(specialties=[specialties[1]])
    [member] = draw_supplement(actor=staff, draw=tight)
    assert member.expert == first
    decline(member)
    second = ExpertFactory(specialties=[specialties[1]])
    [member] = draw_supplement(actor=staff, draw=tight)
    assert member.expert == second and member.seat == 5
    draw = seat_all(staff, ExpertDraw.objects.get(pk=tight.pk))
    assert [s["round"] for s in draw.supplements] == [1, 2]
    assert {s.seat: s.code for s in draw_rerun(draw)} == draw.members.drawn_codes()


@pytest.mark.parametrize("role", [Role.TENDERER, Role.SUPERVISOR, Role.BIDDER, Role.EXPERT])
def test_only_exchange_staff_make_a_supplementary_draw(staff, tight, specialties, make_user, role):
    decline(tight.members.select_related("expert__user").get(seat=4))
    ExpertFactory(specialties=[specialties[1]])
    other = make_user(role)
    with pytest.raises(NotAllowed):
        draw_supplement(actor=other, draw=tight)
    response = signed_in(Client(), other).post(f"/sections/{tight.section.public_id}/draw/", {"op": "supplement"})
    assert response.status_code in (403, 404)
    assert ExpertDraw.objects.get(pk=tight.pk).supplements == []


def test_the_console_shows_the_vacant_seat_and_draws_it(staff, tight, specialties):
    decline(tight.members.select_related("expert__user").get(seat=4))
    client = signed_in(Client(), staff)
    url = f"/sections/{tight.section.public_id}/draw/"
    page = client.get(url).content.decode()
    assert 'data-testid="vacant-seats"' in page and "4（A02）" in page
    refused = client.post(url, {"op": "supplement"}, follow=True).content.decode()
    assert "EVAL-POOL-SHORT" in refused
    ExpertFactory(specialties=[specialties[1]])
    done = client.post(url, {"op": "supplement"}, follow=True).content.decode()
    assert "已补充抽取席位 4" in done and 'data-testid="vacant-seats"' not in done


def test_pure_a_supplement_marker_out_of_order_does_not_fit():
    candidates = [{"code": f"E{n}", "specialties": ["A01"]} for n in range(5)]
    rules = {"quotas": [["A01", 5]]}
    seats = pure.draw_committee(seed_hex="00" * 32, candidates=candidates, rules=rules)
    log = [{"seat": 1, "code": seats[0].code, "reason": "declined"}]
    assert pure.draw_committee(seed_hex="00" * 32, candidates=candidates, rules=rules, replacements=log)[0].code == ""
    extra = [{"seed": "11" * 32, "candidates": [{"code": "F1", "specialties": ["A01"]}]}]
    refilled = pure.draw_committee(
        seed_hex="00" * 32, candidates=candidates, rules=rules, replacements=[*log, {"supplement": 1}], supplements=extra
    )
    assert refilled[0].code == "F1" and [s.code for s in refilled[1:]] == [s.code for s in seats[1:]]
    with pytest.raises(ValueError):
        pure.draw_committee(
            seed_hex="00" * 32, candidates=candidates, rules=rules, replacements=[*log, {"supplement": 2}], supplements=extra
        )
    with pytest.raises(ValueError):  # a marker without its published round
        pure.draw_committee(seed_hex="00" * 32, candidates=candidates, rules=rules, replacements=[*log, {"supplement": 1}])
