"""The demo's section ready to open really opens: staff start it, two demo custodians present their shares."""

import pytest
from django.core.management import call_command

from bidding.models import BidOpening, KeyShare, OpeningCeremony
from bidding.opening import opening_decrypt_begin, opening_share_present, opening_start
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
