"""The pages from the draw to the award notice, through the Django test client (the browser test drives the same)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bidding.evaluation.models import Award, EvaluationReport, ExpertDraw, Publicity, ScoreSubmission
from bidding.evaluation.services.award import objection_raise, publicity_start, report_make
from bidding.evaluation.services.scoring import valid_openings
from tests.conftest import signed_in
from tests.evaluation.conftest import seat_all
from trading.models import Role, SectionState
from trading.supervision.models import AwardReport

pytestmark = pytest.mark.django_db


def as_user(user) -> Client:
    return signed_in(Client(), user)


def test_staff_console_to_result_page(staff, section, pool, make_user):
    console = as_user(staff)
    url = f"/sections/{section.public_id}/draw/"
    assert console.post(url, {"op": "commit", "size": 5, "quotas": "A01:3,A02:2"}).status_code == 302
    draw = ExpertDraw.objects.get()
    page = console.get(url).content.decode()
    assert draw.commitment in page and draw.seed not in page
    console.post(url, {"op": "make"})
    draw.refresh_from_db()
    names = [m.expert.name for m in draw.members.select_related("expert")]
    page = console.get(url).content.decode()
    assert draw.status == "drawn" and not any(name in page for name in names)  # EVAL-SECRET: not even staff

    for member in draw.members.select_related("expert__user"):
        expert = as_user(member.expert.user)
        assert section.public_id in expert.get("/expert/").content.decode()
        expert.post("/expert/", {"op": "accept", "member": member.pk})
    console.post(url, {"op": "start"})
    draw.refresh_from_db()
    assert draw.status == "in_session"
    page = console.get(url).content.decode()
    assert draw.seed in page and all(name in page for name in names)

    openings = valid_openings(section)
    for n, member in enumerate(draw.members.filter(status="accepted").select_related("expert__user")):
        expert = as_user(member.expert.user)
        form_page = expert.get(f"/expert/sections/{section.public_id}/").content.decode()
        assert 'data-testid="score-form"' in form_page
        data = {
            f"score-{o.pk}-{key}": value
            for o in openings
            for key, value in (("technical", 30 + n), ("schedule", 8), ("commercial", 7))
        }
        expert.post(f"/expert/sections/{section.public_id}/", data)
    assert ScoreSubmission.objects.count() == 5
    console.post(url, {"op": "report"})
    report = EvaluationReport.objects.get()
    assert console.get(f"/sections/{section.public_id}/evaluation-report/").status_code == 200
    pdf = console.get(f"/sections/{section.public_id}/evaluation-report/pdf/")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    console.post(url, {"op": "publicize"})
    assert Publicity.objects.filter(section=section).exists()

    public = Client()
    winner = report.candidates.get(rank=1).opening.bid.registration.organization.name
    assert winner in public.get(f"/sections/{section.public_id}/candidates/").content.decode()
    Publicity.objects.update(ends_at=timezone.now() - timedelta(seconds=1))
    tenderer = as_user(make_user(Role.TENDERER, organization=section.project.tenderer))
    tenderer.post(f"/sections/{section.public_id}/candidates/", {"op": "award"})
    assert Award.objects.get().candidate.rank == 1
    result = public.get(f"/sections/{section.public_id}/result/").content.decode()
    assert winner in result and all(name in result for name in names)  # names public with the result
    # REPORT-15D: the written report from the same page; the winner and the price are the award's.
    candidates = f"/sections/{section.public_id}/candidates/"
    assert 'data-testid="award-report"' not in public.get(candidates).content.decode()
    tenderer.post(candidates, {"op": "report", "body": "招标投标情况"})
    first_report = AwardReport.objects.get()
    assert (first_report.winner_name, first_report.award_price_fen) == (winner, report.candidates.get(rank=1).price_fen)
    assert 'data-testid="award-report-filed"' in tenderer.get(candidates).content.decode()
    # DEP-FORFEIT-REFUSE: the winner refuses to sign; the next candidate is awarded from the same page.
    assert 'data-testid="award-refused"' in tenderer.get(candidates).content.decode()
    tenderer.post(candidates, {"op": "refuse", "reason": "中标人拒签合同"})
    section.refresh_from_db()
    assert section.state == SectionState.PUBLICIZING
    first_report.refresh_from_db()
    assert first_report.superseded_at is not None  # it names a winner that no longer stands
    tenderer.post(candidates, {"op": "award"})
    second = Award.objects.get(refused_at__isnull=True)
    assert second.candidate.rank == 2
    assert 'data-testid="award-report"' in tenderer.get(candidates).content.decode()  # the new award is reported anew
    tenderer.post(candidates, {"op": "report", "body": "重新定标"})
    assert AwardReport.objects.current().get().winner_name == second.candidate.opening.bid.registration.organization.name
    contract = {"op": "contract", "signed_on": timezone.localdate().isoformat(), "amount_yuan": "4500000.00"}
    refused = tenderer.post(candidates, {**contract, "performance_bond_yuan": "450000.01"}, follow=True)
    assert "PERF-BOND-10PCT" in refused.content.decode()  # the page says which rule; nothing recorded
    section.refresh_from_db()
    assert section.state == SectionState.AWARDED
    tenderer.post(candidates, {**contract, "performance_bond_yuan": "450000.00"})
    section.refresh_from_db()
    assert section.state == SectionState.CONTRACTED and section.contract.performance_bond_fen == 45_000_000


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"size": 5, "quotas": "A01:3,A02:1", "remote": "on"}, "EVAL-SIZE"),  # refused by the service
        ({"size": 5, "quotas": "A01-3;A02-1", "remote": "on"}, "专业代码:人数"),  # refused by the form
    ],
)
def test_a_refused_commitment_comes_back_with_what_was_typed(staff, section, pool, data, said):
    console = as_user(staff)
    response = console.post(f"/sections/{section.public_id}/draw/", {"op": "commit", **data})
    page = response.content.decode()
    assert response.status_code == 200 and said in page
    assert 'name="size" value="5"' in page and f'value="{data["quotas"]}"' in page
    assert 'name="remote" id="id_remote" checked' in page
    assert not ExpertDraw.objects.exists()


def test_the_console_says_what_starting_the_session_did(staff, committed, make_user):
    """EVAL-CONFLICT: a start that recuses a conflicted expert and redraws the seat says so (it did not start);
    the start itself says the seed is out. The seats' source reads as a label, not the stored value."""
    console = as_user(staff)
    url = f"/sections/{committed.section.public_id}/draw/"
    console.post(url, {"op": "make"})
    members = list(committed.members.select_related("expert__user"))
    for member in members:
        as_user(member.expert.user).post("/expert/", {"op": "accept", "member": member.pk})
    conflicted = members[0].expert
    conflicted.employer = committed.section.project.tenderer
    conflicted.save(update_fields=["employer"])
    page = console.post(url, {"op": "start"}, follow=True).content.decode()
    committed.refresh_from_db()
    assert committed.status == "drawn" and "EVAL-CONFLICT" in page
    assert "随机抽取" in page and "<td>drawn</td>" not in page
    replacement = committed.members.get(status="invited")
    as_user(replacement.expert.user).post("/expert/", {"op": "accept", "member": replacement.pk})
    page = console.post(url, {"op": "start"}, follow=True).content.decode()
    committed.refresh_from_db()
    assert committed.status == "in_session" and "评标已开始" in page


def test_EVAL_SECRET_the_public_record_shows_no_names_before_the_results(staff, committed, make_user):
    from bidding.evaluation.services.draw import draw_make

    draw = draw_make(actor=staff, draw=committed)
    names = [m.expert.name for m in draw.members.select_related("expert")]
    codes = [m.expert.code for m in draw.members.select_related("expert")]
    for client in (
        Client(),
        as_user(make_user(Role.TENDERER, organization=draw.section.project.tenderer)),
        as_user(make_user(Role.SUPERVISOR)),
    ):
        for path in (f"/sections/{draw.section.public_id}/draw/record/", f"/api/v1/sections/{draw.section.public_id}/draw/"):
            body = client.get(path).content.decode()
            assert draw.commitment in body
            assert not any(name in body for name in names) and draw.seed not in body
            # which pool codes were drawn is not told either (the candidate list itself is public)
            assert body.count(codes[0]) <= 1


def test_a_bid_part_downloads_for_the_committee_only(staff, committed, make_user):
    from tests.evaluation.factories import add_part

    opening = valid_openings(committed.section)[0]
    part = add_part(opening, name="technical", data=b"%PDF-1.4 technical")
    draw = seat_all(staff, committed)
    member = draw.members.filter(status="accepted").select_related("expert__user").first()
    url = f"/expert/sections/{draw.section.public_id}/part/?id={part.pk}"
    response = as_user(member.expert.user).get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"%PDF-1.4 technical"
    for outsider in (staff, make_user(Role.EXPERT), make_user(Role.SUPERVISOR)):
        assert as_user(outsider).get(url).status_code in (403, 404)


@pytest.fixture
def publicized(staff, section, scored):
    publicity_start(actor=staff, section=report_make(actor=staff, draw=scored).section)
    section.refresh_from_db()
    return section


@pytest.mark.parametrize(
    ("language", "disqualified", "answered"),
    [
        ("zh-hans", "已认定第1名中标候选人不符合中标条件。", "异议已答复，提出人可在本页查看答复。"),
        (
            "en",
            "The No. 1 candidate has been found not to qualify for the award.",
            "Objection answered. Whoever raised it can read the answer on this page.",
        ),
    ],
)
def test_disqualifying_a_candidate_and_answering_an_objection_say_they_were_done(
    publicized, make_user, language, disqualified, answered
):
    url = f"/sections/{publicized.public_id}/candidates/"
    bidder = make_user(Role.BIDDER, organization=publicized.registrations.order_by("pk")[0].organization)
    objection = objection_raise(user=bidder, section=publicized, text="第一名项目经理有在建工程")
    tenderer = as_user(make_user(Role.TENDERER, organization=publicized.project.tenderer))
    tenderer.cookies["django_language"] = language
    candidate = EvaluationReport.objects.get(section=publicized).candidates.get(rank=1)

    page = tenderer.post(url, {"op": "answer", "objection": objection.pk, "answer": "已核实，无在建工程"}, follow=True)
    assert answered in page.content.decode()
    page = tenderer.post(url, {"op": "disqualify", "candidate": candidate.pk, "reason": "业绩造假"}, follow=True)
    assert disqualified in page.content.decode()
    candidate.refresh_from_db()
    objection.refresh_from_db()
    assert candidate.disqualified_at and objection.answered_at


FULL_WIDTH = "，：；（）。、！？「」《》【】"


def test_the_results_page_in_english_has_no_full_width_punctuation(publicized, make_user, supervisor):
    from trading.supervision.services.complaints import complaint_accept, complaint_decide, complaint_file

    url = f"/sections/{publicized.public_id}/candidates/"
    Publicity.objects.update(ends_at=timezone.now() - timedelta(seconds=1))
    tenderer = as_user(make_user(Role.TENDERER, organization=publicized.project.tenderer))
    tenderer.post(url, {"op": "award"})
    tenderer.post(url, {"op": "report", "body": "招标投标情况"})
    bidder = make_user(Role.BIDDER, organization=publicized.registrations.order_by("pk")[1].organization)
    complaint = complaint_file(actor=bidder, section=publicized, subject="other", body="x", known_on=timezone.localdate())
    complaint_accept(actor=supervisor, complaint=complaint)
    complaint_decide(actor=supervisor, complaint=complaint, decision="Dismissed.")

    chinese = Client().get("/results/").content.decode()
    winner = Award.objects.get().candidate.opening.bid.registration.organization.name
    assert f"{publicized.public_id} {publicized.name}：{winner}，" in chinese and "已处理决定：Dismissed." in chinese
    english = Client()
    english.cookies["django_language"] = "en"
    page = english.get("/results/").content.decode()
    assert f"{publicized.public_id} {publicized.name}: {winner}, " in page and " yuan</li>" in page
    assert "Decision issued: Dismissed." in page
    assert [c for c in page if c in FULL_WIDTH] == []
