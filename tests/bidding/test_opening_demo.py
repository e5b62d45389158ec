"""The demo's openings: the section ready to open really opens, and the sections shown as opened were opened."""

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from bidding.models import Bid, BidOpening, KeyShare, OpeningCeremony
from bidding.opening import opening_decrypt_begin, opening_record_verify, opening_share_present, opening_start
from trading import rules
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry
from trading.management.commands.load_demo import DEMO_CUSTODIAN_PASSPHRASE
from trading.models import Section, User
from trading.supervision.models import Alert

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_demo_section_past_its_deadline_opens_with_the_demo_custodians():
    call_command("load_demo", quiet=True)
    section = Section.objects.get(public_id="HZJS-2026-088-03")
    staff = User.objects.get(username="staff")
    opening_start(actor=staff, section=section)
    opening_decrypt_begin(actor=staff, section=section)
    for share in KeyShare.objects.filter(opening_key__section=section).order_by("index")[:2]:
        custodian = share.custodian
        custodian.is_verified = lambda: True
        opening_share_present(actor=custodian, section=section, passphrase=DEMO_CUSTODIAN_PASSPHRASE)
    assert OpeningCeremony.objects.get(section=section).state == "closed"
    assert sorted(BidOpening.objects.filter(section=section).values_list("price_fen", flat=True)) == [
        398_760_000,
        405_000_000,
        412_300_000,
    ]
    assert not Alert.objects.filter(section=section, rule="DEP-BEFORE-DEADLINE").exists()  # their deposits came in time


@pytest.mark.parametrize("local_time", [(10, 0), (23, 30)])
def test_the_section_ready_to_open_has_a_schedule_that_holds_and_its_tender_document(monkeypatch, local_time):
    """HZJS-2026-088-03: registration closes before the deadline, DOC-MIN-20D and DOC-SALE-5 hold on the dates it
    shows, whatever the hour the demo is loaded (between 23:00 and 24:00 Beijing time "now + hours" crossed midnight)."""
    real_now = timezone.now
    hour, minute = local_time
    offset = timezone.localtime(real_now()).replace(hour=hour, minute=minute, second=0, microsecond=0) - real_now()
    monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)
    call_command("load_demo", quiet=True)
    section = Section.objects.get(public_id="HZJS-2026-088-03")
    assert section.published_at == section.documents_issued_at
    assert rules.local_date(section.registration_start) == rules.local_date(section.documents_issued_at)
    assert section.registration_start < section.registration_end < section.bid_deadline == section.opening_at
    assert section.bid_deadline <= timezone.now()  # just passed: ready to open
    rules.check_doc_min_20d(section)
    rules.check_doc_sale_5(section)
    assert all(section.registration_start <= r.created_at <= section.registration_end for r in section.registrations.all())
    bids = Bid.objects.filter(registration__section=section)
    assert bids.count() == 3 and all(b.submitted_at < section.bid_deadline for b in bids)
    document = section.documents.get()
    assert document.name == "招标文件" and document.size > 0 and document.uploaded_at <= section.documents_issued_at
    assert section.announcements.get(kind="tender").published_at == section.published_at


def test_the_sections_the_demo_shows_opened_were_opened_each_bid_read_out_and_the_record_signed(client):
    call_command("load_demo", quiet=True)
    results = client.get(reverse("public-results")).content.decode()
    for public_id, state, bidders, first_price in (
        ("HZCG-2026-207-02", "opened", 5, "6,412,800.00"),
        ("HZJS-2026-101-03", "evaluating", 6, "9,516,000.00"),
    ):
        section = Section.objects.get(public_id=public_id)
        ceremony = OpeningCeremony.objects.get(section=section)
        assert (section.state, ceremony.state) == (state, "closed")
        assert section.bid_deadline <= ceremony.started_at <= ceremony.closed_at <= section.opened_at
        lines = list(BidOpening.objects.filter(section=section).order_by("readout_order"))
        assert [line.readout_order for line in lines] == list(range(1, bidders + 1))
        assert all(line.status == "opened" and line.read_out_at and line.price_fen for line in lines)
        assert AuditEntry.objects.filter(section=section, event=AuditEvent.OPENING_READOUT).count() == bidders
        assert opening_record_verify(record=ceremony.record, signature=ceremony.record_signature)
        assert sorted(b["price_fen"] for b in ceremony.record["bids"]) == sorted(line.price_fen for line in lines)
        assert len(ceremony.record["checkins"]) == bidders
        assert section.registration_end < section.bid_deadline
        rules.check_doc_min_20d(section)
        assert first_price in results and lines[0].bid.registration.organization.name in results
    assert not Alert.objects.exclude(rule="DOC-MIN-20D").exists()  # the openings raised nothing
