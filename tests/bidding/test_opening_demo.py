"""The demo's section ready to open: its schedule holds, and it really opens."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from bidding.models import Bid, BidOpening, KeyShare, OpeningCeremony
from bidding.opening import opening_decrypt_begin, opening_share_present, opening_start
from trading import rules
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
