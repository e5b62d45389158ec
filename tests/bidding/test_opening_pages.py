"""The opening pages and endpoints through the test client: each act goes through its service and the policy."""

import json

import pytest
from django.test import Client

from bidding.models import BidOpening, CheckIn, OpeningCeremony, OpeningObjection
from tests.bidding.openings import PASSPHRASE, custodians, section_with_bids
from tests.conftest import signed_in
from trading.models import Role

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PRICES = [123_456_789, 98_765_400, 110_000_000]


def client_of(user) -> Client:
    client = Client()
    if user is not None:
        signed_in(client, user)
    return client


def test_the_pages_run_an_opening_from_start_to_the_signed_record(staff):
    section, bidders = section_with_bids(staff, PRICES, names=["甲建设有限公司", "乙工程有限公司", "丙集团有限公司"])
    public = client_of(None)
    page = public.get(f"/openings/{section.public_id}/")
    assert page.status_code == 200 and section.public_id in page.content.decode()
    assert f"/openings/{section.public_id}/" in public.get(f"/sections/{section.public_id}/").content.decode()
    assert public.get(f"/openings/{section.public_id}/record/").json()["code"] == "OPEN-NO-RECORD"

    desk = client_of(staff)
    assert desk.get(f"/openings/{section.public_id}/console/").status_code == 200
    assert desk.post(f"/openings/{section.public_id}/start/").status_code == 302
    assert OpeningCeremony.objects.get(section=section).state == "checkin"

    bidder = client_of(bidders[0].user)
    live = bidder.get(f"/openings/{section.public_id}/").content.decode()
    assert 'data-testid="checkin"' in live
    bidder.post(f"/openings/{section.public_id}/checkin/")
    assert CheckIn.objects.filter(registration=bidders[0].registration).exists()
    bidder.post(f"/openings/{section.public_id}/objection/", {"text": "请核对投标文件数量"})
    objection = OpeningObjection.objects.get()
    console = desk.get(f"/openings/{section.public_id}/console/").content.decode()
    assert "请核对投标文件数量" in console and bidders[0].code in console

    desk.post(f"/openings/{section.public_id}/decrypt/")
    own = bidder.get(f"/openings/{section.public_id}/my-bid/").json()
    assert own["manifest"]["bidder_code"] == bidders[0].code
    answer = bidder.post(
        f"/openings/{section.public_id}/unlock/",
        data=json.dumps({"keys": bidders[0].data_keys()}),
        content_type="application/json",
    )
    assert answer.status_code == 200 and answer.json()["keys_from"] == "bidder"
    assert BidOpening.objects.get(bid__registration=bidders[0].registration).status == "opened"  # its task ran on commit

    for custodian in custodians(section)[:2]:
        keeper = client_of(custodian)
        assert f"/openings/{section.public_id}/share/" in keeper.get("/custodian/").content.decode()
        assert "passphrase" in keeper.get(f"/openings/{section.public_id}/share/").content.decode()
        keeper.post(f"/openings/{section.public_id}/share/", {"passphrase": PASSPHRASE})
    assert BidOpening.objects.filter(status="opened").count() == 3
    assert OpeningCeremony.objects.get(section=section).state == "readout"  # the objection waits for its answer

    desk.post(f"/openings/{section.public_id}/answer/", {"objection": objection.pk, "answer": "数量为3份，无误"})
    assert OpeningCeremony.objects.get(section=section).state == "closed"
    record = public.get(f"/openings/{section.public_id}/record/").json()
    assert sorted(b["price_fen"] for b in record["record"]["bids"]) == sorted(PRICES)
    assert record["record"]["objections"][0]["answer"] == "数量为3份，无误"


def test_OPEN_MIN_3_the_console_says_the_section_failed_not_that_the_opening_started(staff):
    """Starting with two bids fails the section: staff are told so, not "the opening has started"."""
    section, _bidders = section_with_bids(staff, PRICES[:2])
    answer = client_of(staff).post(f"/openings/{section.public_id}/start/", follow=True)
    page = answer.content.decode()
    assert OpeningCeremony.objects.get(section=section).state == "failed"
    assert "OPEN-MIN-3" in page and "本标段流标" in page
    assert "开标已开始" not in page


def test_who_may_act_where(staff, make_user):
    section, _bidders = section_with_bids(staff, PRICES)
    outsider = client_of(make_user(Role.BIDDER))
    assert outsider.get(f"/openings/{section.public_id}/console/").status_code == 403
    assert outsider.get(f"/openings/{section.public_id}/share/").status_code == 403
    outsider.post(f"/openings/{section.public_id}/start/")
    assert OpeningCeremony.objects.filter(state="checkin").count() == 0
    client_of(staff).post(f"/openings/{section.public_id}/start/")
    outsider.post(f"/openings/{section.public_id}/checkin/")
    outsider.post(f"/openings/{section.public_id}/objection/", {"text": "外人"})
    assert not CheckIn.objects.exists() and not OpeningObjection.objects.exists()
    answer = outsider.post(f"/openings/{section.public_id}/unlock/", data="{}", content_type="application/json")
    assert answer.status_code == 400
    answer = outsider.post(
        f"/openings/{section.public_id}/unlock/", data=json.dumps({"keys": {}}), content_type="application/json"
    )
    assert answer.status_code == 403 and answer.json()["code"] == "NOT-ALLOWED"
