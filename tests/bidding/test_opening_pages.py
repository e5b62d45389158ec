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
    live = bidder.get(f"/openings/{section.public_id}/").content.decode()
    assert 'data-testid="checked-in"' in live and 'data-testid="checkin"' not in live
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
    # OPEN-CHECKIN-CLOSED: once the read-out begins the late bidder is offered no check-in the server would refuse.
    late = client_of(bidders[1].user)
    assert 'data-testid="checkin"' not in late.get(f"/openings/{section.public_id}/").content.decode()
    assert late.post(f"/openings/{section.public_id}/checkin/").status_code == 302
    assert not CheckIn.objects.filter(registration=bidders[1].registration).exists()

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


BUTTONS = {"start": "start", "decrypt": "decrypt", "decrypt_end": "decrypt-end", "answer": "answer-form"}


def console_acts(desk, section) -> tuple[set[str], str]:
    """The acts the console shows (by their buttons) and its line on what happens next."""
    page = desk.get(f"/openings/{section.public_id}/console/").content.decode()
    shown = {act for act, testid in BUTTONS.items() if f'data-testid="{testid}"' in page}
    _before, found, after = page.partition('data-testid="next-step">')
    return shown, after.split("</p>", 1)[0] if found else ""


def refused_by_the_server(staff, section) -> set[str]:
    from bidding.models import OpeningCeremony as Ceremony
    from bidding.opening import STAFF_ACTS, opening_refusal

    ceremony = Ceremony.objects.filter(section=section).first()
    return {a for a in STAFF_ACTS if opening_refusal(act=a, actor=staff, section=section, ceremony=ceremony)}


def test_the_console_shows_only_the_acts_the_server_would_take_now_and_says_what_comes_next(staff, make_user):
    from bidding.opening import opening_decrypt_begin, opening_objection_raise, opening_start
    from tests.bidding.openings import published_section

    early = published_section(staff)
    desk = client_of(staff)
    assert console_acts(desk, early)[0] == set()
    assert "到达后，可以开始开标" in console_acts(desk, early)[1]  # before the deadline: nothing to press, the time said
    desk.post(f"/openings/{early.public_id}/decrypt/")  # a hidden act, posted anyway: still refused
    assert not OpeningCeremony.objects.filter(section=early).exclude(state="scheduled").exists()

    section, bidders = section_with_bids(staff, PRICES)
    assert console_acts(desk, section) == ({"start"}, "")
    assert refused_by_the_server(staff, section) == {"decrypt", "decrypt_end", "answer"}
    desk.post(f"/openings/{section.public_id}/decrypt/end/")
    assert not OpeningCeremony.objects.filter(section=section).exists()

    opening_start(actor=staff, section=section)
    assert console_acts(desk, section) == ({"decrypt"}, "")  # no open objection: nothing to answer
    opening_objection_raise(actor=bidders[0].user, section=section, text="请核对投标文件数量")
    assert console_acts(desk, section) == ({"decrypt", "answer"}, "")
    desk.post(f"/openings/{section.public_id}/start/")
    assert OpeningCeremony.objects.get(section=section).transitions.count() == 1  # the start stays the only step

    opening_decrypt_begin(actor=staff, section=section)
    assert console_acts(desk, section) == ({"decrypt_end", "answer"}, "")
    for custodian in custodians(section)[:2]:
        client_of(custodian).post(f"/openings/{section.public_id}/share/", {"passphrase": PASSPHRASE})
    assert OpeningCeremony.objects.get(section=section).state == "readout"  # waits for the answer
    assert console_acts(desk, section) == ({"answer"}, "")
    assert refused_by_the_server(staff, section) == {"start", "decrypt", "decrypt_end"}

    objection = OpeningObjection.objects.get()
    desk.post(f"/openings/{section.public_id}/answer/", {"objection": objection.pk, "answer": "数量为3份，无误"})
    assert OpeningCeremony.objects.get(section=section).state == "closed"
    assert console_acts(desk, section) == (set(), "开标已结束，开标记录已签名发布。")

    failed, _bidders = section_with_bids(staff, PRICES[:2])
    opening_start(actor=staff, section=failed)
    shown, next_step = console_acts(desk, failed)
    assert shown == set() and "流标" in next_step and "OPEN-MIN-3" in next_step
