"""The REST API: one error body, pagination, search, the schema."""

import pytest

from tests.conftest import signed_in
from tests.factories import ProjectFactory, SectionFactory
from trading.models import Role, SectionState
from trading.services.sections import section_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(staff):
    sections = []
    for n, region in enumerate(["滨江区", "西湖区", "滨江区"]):
        section = SectionFactory(project=ProjectFactory(region=region, name=f"道路工程{n}" if n != 1 else "智慧教室采购"))
        sections.append(section_publish(actor=staff, section=section))
    return sections


def test_announcements_filter_by_region_and_search(api, published):
    everything = api.get("/api/v1/announcements/").json()
    assert everything["count"] == 3
    by_region = api.get("/api/v1/announcements/", {"region": "滨江区"}).json()
    assert by_region["count"] == 2
    searched = api.get("/api/v1/announcements/", {"q": "智慧教室"}).json()
    assert [a["section"] for a in searched["results"]] == [published[1].public_id]


def test_drafts_are_not_public(api, published):
    draft = SectionFactory()
    assert api.get(f"/api/v1/sections/{draft.public_id}/").status_code == 404
    assert api.get("/api/v1/sections/").json()["count"] == 3


def test_every_4xx_has_the_same_body(api, make_user, published):
    not_found = api.get("/api/v1/sections/NOPE-000/")
    assert not_found.status_code == 404 and set(not_found.json()) == {"code", "message", "fields"}
    unauthenticated = api.post("/api/v1/sections/new/", {}, format="json")
    assert unauthenticated.status_code in (401, 403) and set(unauthenticated.json()) == {"code", "message", "fields"}
    tenderer = make_user(Role.TENDERER)
    signed_in(api, tenderer)
    invalid = api.post("/api/v1/sections/new/", {"name": ""}, format="json")
    assert invalid.status_code == 400, invalid.json()
    assert invalid.json()["code"] == "INVALID" and "public_id" in invalid.json()["fields"]


def test_a_rule_refusal_carries_its_code(api, make_user):
    staff = make_user(Role.STAFF)
    section = SectionFactory(estimated_price_fen=100_000_000, deposit_fen=2_100_000)
    signed_in(api, staff)
    refused = api.post(f"/api/v1/sections/{section.public_id}/publish/", {}, format="json")
    assert refused.status_code == 422
    assert refused.json()["code"] == "DEP-CAP-2PCT"
    section.refresh_from_db()
    assert section.state == SectionState.DRAFT


def test_supervisors_suspend_but_cannot_edit(api, make_user, published):
    supervisor = make_user(Role.SUPERVISOR)
    signed_in(api, supervisor)
    section = published[0]
    assert api.patch(f"/api/v1/sections/{section.public_id}/edit/", {"name": "改名"}, format="json").status_code == 403
    assert api.post(f"/api/v1/sections/{section.public_id}/suspend/", {"reason": "收到投诉"}, format="json").status_code == 200
    section.refresh_from_db()
    assert section.state == SectionState.SUSPENDED and section.suspended_from == SectionState.PUBLISHED
    api.post(f"/api/v1/sections/{section.public_id}/resume/", {"reason": "投诉不成立"}, format="json")
    section.refresh_from_db()
    assert section.state == SectionState.PUBLISHED


def test_the_openapi_schema_is_generated(api):
    schema = api.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/v1/announcements/" in schema.json()["paths"]
    assert api.get("/api/v1/docs/").status_code == 200


def test_pages_are_paginated(api, staff):
    for _ in range(25):
        section_publish(actor=staff, section=SectionFactory())
    first = api.get("/api/v1/announcements/").json()
    assert first["count"] == 25 and len(first["results"]) == 20 and first["next"]


def test_staff_extend_the_calendar_and_others_cannot(api, make_user):
    signed_in(api, make_user(Role.TENDERER))
    refused = api.post("/api/v1/calendar/set/", {"date": "2027-10-01", "kind": "holiday", "name": "国庆节"}, format="json")
    assert refused.status_code == 403
    signed_in(api, make_user(Role.STAFF))
    added = api.post("/api/v1/calendar/set/", {"date": "2027-10-01", "kind": "holiday", "name": "国庆节"}, format="json")
    assert added.status_code == 201
    assert api.get("/api/v1/calendar/?year=2027").json() == [{"date": "2027-10-01", "kind": "holiday", "name": "国庆节"}]
