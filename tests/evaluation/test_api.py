"""The evaluation API: the published draw record, score submission with the error body, flags, seats."""

import pytest

from bidding.evaluation.services.scoring import valid_openings
from tests.conftest import signed_in
from tests.evaluation.conftest import seat_all

pytestmark = pytest.mark.django_db


def test_the_draw_record_shows_the_seed_only_once_revealed(api, staff, committed):
    url = f"/api/v1/sections/{committed.section.public_id}/draw/"
    before = api.get(url).json()
    assert before["commitment"] == committed.commitment and before["seed"] == "" and before["seats"] == []
    draw = seat_all(staff, committed)
    after = api.get(url).json()
    assert after["seed"] == draw.seed and {s["code"] for s in after["seats"]} == set(
        draw.members.values_list("expert__code", flat=True)
    )
    assert all(s["name"] == "" for s in after["seats"])  # the public learns names with the results


def test_an_expert_submits_scores_once_through_the_api(api, staff, committed):
    draw = seat_all(staff, committed)
    user = draw.members.filter(status="accepted").select_related("expert__user").first().expert.user
    signed_in(api, user)
    assert api.get("/api/v1/expert/seats/").json()[0]["session_started"] is True
    url = f"/api/v1/sections/{draw.section.public_id}/scores/"
    scores = {str(o.pk): {"technical": 30, "schedule": 8, "commercial": 8} for o in valid_openings(draw.section)}
    bad = api.post(
        url, {"scores": scores, "rejections": {next(iter(scores)): {"code": "not-qualified", "reason": ""}}}, format="json"
    )
    assert bad.status_code == 422 and bad.json()["code"] == "EVAL-REJECT"
    first = api.post(url, {"scores": scores}, format="json")
    assert first.status_code == 201 and len(first.json()["signature"]) > 40
    again = api.post(url, {"scores": scores}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "EVAL-SUBMITTED"


def test_collusion_flags_are_refused_to_the_public(api, committed):
    response = api.get(f"/api/v1/sections/{committed.section.public_id}/collusion-flags/")
    assert response.status_code in (401, 403)
