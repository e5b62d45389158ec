"""Open data: OCDS 1.1 releases and records validate against the vendored 1.1.4 release schema; nothing sealed shows."""

import json
from datetime import datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from jsonschema import Draft4Validator, FormatChecker

from tests.factories import RegistrationFactory, SectionFactory
from trading.models import SectionState
from trading.supervision import opendata

pytestmark = pytest.mark.django_db
SCHEMA = json.loads((Path(opendata.__file__).parent / "schema" / "release-schema-1.1.4.json").read_text(encoding="utf-8"))
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    # RFC 3339 as OCDS uses it; jsonschema checks date-time only with an optional package, so it is checked here.
    return not isinstance(value, str) or datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


VALIDATOR = Draft4Validator(SCHEMA, format_checker=FORMATS)


def errors_of(release: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in VALIDATOR.iter_errors(release)]


def test_the_schema_is_the_ocds_1_1_4_release_schema():
    assert SCHEMA["id"] == "https://standard.open-contracting.org/schema/1__1__4/release-schema.json"
    Draft4Validator.check_schema(SCHEMA)
    assert errors_of({"ocid": "x"})  # the validator can fail: a bare object is not a release


def test_the_demo_data_as_ocds_releases_and_records_validates(client):
    call_command("load_demo", quiet=True)
    releases = client.get("/opendata/releases.json")
    package = json.loads(b"".join(releases.streaming_content) if releases.streaming else releases.content)
    assert package["version"] == "1.1" and len(package["releases"]) >= 15
    for release in package["releases"]:
        assert errors_of(release) == [], release["id"]
    tags = {tag for release in package["releases"] for tag in release["tag"]}
    assert {"tender", "tenderUpdate", "award", "contract"} <= tags

    records = json.loads(client.get("/opendata/records.json").content)["records"]
    assert len({r["ocid"] for r in records}) == len(records) == 13  # every published section
    for record in records:
        assert errors_of(record["compiledRelease"]) == [], record["ocid"]
        assert record["compiledRelease"]["tag"] == ["compiled"]
        dates = [r["date"] for r in record["releases"]]
        assert dates == sorted(dates)
    contracted = next(r for r in records if r["ocid"].endswith("HZJS-2026-140-01"))["compiledRelease"]
    assert contracted["awards"][0]["value"] == {"amount": 1_840_000.0, "currency": "CNY"}
    assert contracted["contracts"][0]["awardID"] == contracted["awards"][0]["id"]
    assert contracted["tender"]["numberOfTenderers"] == 4
    supplier = contracted["awards"][0]["suppliers"][0]["id"]
    assert "supplier" in next(p for p in contracted["parties"] if p["id"] == supplier)["roles"]


@pytest.mark.parametrize(
    "state", [SectionState.PUBLISHED, SectionState.BIDDING_CLOSED, SectionState.OPENING, SectionState.SUSPENDED]
)
def test_nothing_sealed_before_opening(api, state):
    """SECRET-BIDDERS: a section not yet opened shows no tenderer, no count, no bid, in releases or records."""
    from django.utils import timezone

    section = SectionFactory(state=state, published_at=timezone.now(), suspended_from=SectionState.PUBLISHED)
    registrations = [RegistrationFactory(section=section) for _ in range(3)]
    for path in (
        f"/api/v1/opendata/sections/{section.public_id}/releases/",
        f"/api/v1/opendata/sections/{section.public_id}/record/",
        "/api/v1/opendata/releases/",
    ):
        body = api.get(path).content.decode()
        assert section.public_id in body
        for registration in registrations:
            for secret in (registration.organization.name, registration.organization.credit_code, registration.bidder_code):
                assert secret not in body, (secret, path)
        assert "numberOfTenderers" not in body and '"bids"' not in body


def test_after_opening_the_tenderers_and_their_count_are_published(api):
    from django.utils import timezone

    section = SectionFactory(state=SectionState.OPENED, published_at=timezone.now(), opened_at=timezone.now())
    names = {RegistrationFactory(section=section).organization.name for _ in range(3)}
    package = api.get(f"/api/v1/opendata/sections/{section.public_id}/releases/").json()
    opening = next(r for r in package["releases"] if r["tag"] == ["tenderUpdate"])
    assert opening["tender"]["numberOfTenderers"] == 3
    assert {t["name"] for t in opening["tender"]["tenderers"]} == names
    assert errors_of(opening) == []


def test_a_draft_is_not_open_data(api):
    section = SectionFactory()
    assert api.get(f"/api/v1/opendata/sections/{section.public_id}/releases/").status_code == 404
    assert section.public_id not in api.get("/api/v1/opendata/releases/").content.decode()
