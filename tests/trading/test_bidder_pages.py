"""What a bidder and the public read on the pages: their own registrations, the way to the bid and deposit
pages, a receipt file that verifies, readable audit entries and statistics, in both languages."""

import json
from datetime import UTC

import pytest
from django.utils import timezone

from bidding import receipts
from tests.bidding.test_registration import register
from tests.bidding.test_submission import Bidder
from tests.conftest import signed_in
from tests.factories import SectionFactory
from trading.audit.events import AuditEvent
from trading.audit.log import checkpoint_create
from trading.models import Role, Section, SectionState
from trading.services.sections import section_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def section(staff):
    return section_publish(actor=staff, section=SectionFactory())


def english(client):
    client.cookies["django_language"] = "en"
    return client


def test_my_registrations_list_only_my_own_even_after_the_opening(client, make_user, section):
    mine, theirs = make_user(Role.BIDDER), make_user(Role.BIDDER)
    own, other = register(mine, section), register(theirs, section)
    Section.objects.filter(pk=section.pk).update(state=SectionState.OPENED, opened_at=timezone.now())
    signed_in(client, mine)
    page = client.get("/workspace/").content.decode()
    assert own.bidder_code in page and other.bidder_code not in page
    # each row leads to the section's bid page and deposit instructions
    assert f"/sections/{section.public_id}/bid/" in page and f"/sections/{section.public_id}/deposit/" in page


def test_the_section_page_leads_a_registered_bidder_to_its_bid_and_deposit_pages(client, make_user, section):
    bidder, outsider = make_user(Role.BIDDER), make_user(Role.BIDDER)
    registration = register(bidder, section)
    signed_in(client, bidder)
    page = client.get(f"/sections/{section.public_id}/").content.decode()
    assert f'href="/sections/{section.public_id}/bid/"' in page
    assert f'href="/sections/{section.public_id}/deposit/"' in page
    # another bidder sees neither the links nor the code (the firewall before opening)
    signed_in(client, outsider)
    page = client.get(f"/sections/{section.public_id}/").content.decode()
    assert "/bid/" not in page and "/deposit/" not in page and registration.bidder_code not in page


def test_registering_answers_in_the_page_language(client, make_user, section):
    bidder = make_user(Role.BIDDER)
    signed_in(english(client), bidder)
    url = f"/sections/{section.public_id}/register/"
    page = client.post(url, {"contact_name": "", "contact_phone": ""}, follow=True).content.decode()
    assert "Please fill in the contact name and phone." in page and "请填写" not in page
    page = client.post(url, {"contact_name": "Li", "contact_phone": "13600000000"}, follow=True).content.decode()
    code = section.registrations.get().bidder_code
    assert f"Registered. Your bidder code is {code}." in page and "报名成功" not in page


def test_the_bid_pages_receipt_download_is_the_file_the_cli_verifies(client, make_user, section):
    bidder = Bidder(make_user, section)
    bid = bidder.submit(bidder.seal())
    signed_in(client, bidder.user)
    page = client.get(f"/sections/{section.public_id}/bid/").content.decode()
    assert f'href="/sections/{section.public_id}/bid/receipt/"' in page
    response = client.get(f"/sections/{section.public_id}/bid/receipt/")
    assert response.status_code == 200
    assert f"receipt-{bidder.registration.bidder_code}.json" in response["Content-Disposition"]
    body = receipts.verify_receipt(json.loads(response.content), envelope_digest=bid.digest)
    assert body["bidder_code"] == bidder.registration.bidder_code
    # nobody else's receipt: another bidder has no registration here
    signed_in(client, make_user(Role.BIDDER))
    assert client.get(f"/sections/{section.public_id}/bid/receipt/").status_code in (403, 404)


def test_the_audit_page_names_events_and_roles_and_shows_beijing_time(client, section):
    checkpoint = checkpoint_create()
    page = client.get("/audit/").content.decode()
    assert "发布标段" in page and "交易中心工作人员" in page and f">{AuditEvent.SECTION_PUBLISHED.value}<" in page
    assert timezone.localtime(checkpoint.at).strftime("%Y-%m-%d %H:%M:%S") in page
    assert checkpoint.at.astimezone(UTC).isoformat(timespec="microseconds") not in page
    page = english(client).get("/audit/").content.decode()
    assert "Section published" in page and "发布标段" not in page and ">staff<" not in page


def test_statistics_name_the_transaction_type_in_the_page_language(client, section):
    page = client.get("/statistics/").content.decode()
    assert "<td>工程建设</td>" in page and "<td>construction</td>" not in page
    page = english(client).get("/statistics/").content.decode()
    assert "<td>Construction</td>" in page


def test_the_english_catalogue_is_complete(settings):
    """Every message the pages use has its English: a missing one shows Chinese in English mode."""
    text = (settings.BASE_DIR / "locale" / "en" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    missing = []
    for block in text.split("\n\n")[1:]:  # the first block is the header
        lines = [line for line in block.strip().splitlines() if not line.startswith("#~")]
        if not any(line.startswith("msgid ") for line in lines):
            continue
        msgid = next(line for line in lines if line.startswith("msgid "))
        strings = [line for line in lines if line.startswith(("msgstr", '"'))]
        translation = "".join(
            line.split('"', 1)[1].rsplit('"', 1)[0]
            for line in strings[strings.index(next(x for x in strings if x.startswith("msgstr"))) :]
        )
        if "fuzzy" in "".join(line for line in lines if line.startswith("#,")) or not translation:
            missing.append(msgid)
    assert missing == []
