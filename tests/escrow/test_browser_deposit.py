"""In Chromium: a bidder pays its deposit through the simulated provider's page and sees it confirmed.

The provider posts its signed notification over HTTP to the platform's callback (every one twice).
Chromium runs in its own process (browser_deposit_steps.py): tests/browser holds this process's
Playwright instance for the whole session, and the sync API allows one per thread.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bidding.services import registration_create
from escrow.models import Deposit, Payment, SimNotice
from tests.factories import SectionFactory
from trading.models import Role
from trading.services.sections import section_publish

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PAYER = "浏览器付款人有限公司"
ACCOUNT = "6222 0202 0011 2233 445"


def test_a_bidder_pays_its_deposit_through_the_provider_and_sees_it_confirmed(live_server, staff, make_user, settings):
    settings.ESCROW_SIM_CALLBACK_URL = live_server.url + "/api/v1/escrow/notifications/sim/"
    settings.ESCROW_SIM_DUPLICATE_RATE = 1.0
    section = section_publish(actor=staff, section=SectionFactory())
    bidder = make_user(Role.BIDDER)
    registration = registration_create(actor=bidder, section=section, contact_name="王五", contact_phone="13700000000")
    deposit = Deposit.objects.get(registration=registration)

    steps = Path(__file__).with_name("browser_deposit_steps.py")
    args = [live_server.url, bidder.username, "correct-horse-9", section.public_id, PAYER, ACCOUNT]
    done = subprocess.run([sys.executable, str(steps), *args], capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["virtual_account"] == deposit.virtual_account
    assert seen["status_before"] == "未缴纳"
    assert "/sim-gateway/pay/" in seen["provider_page"] and seen["provider_shows_account"]
    assert seen["status_after"] == "已缴纳"
    assert seen["payer_shown"] is False

    payment = Payment.objects.get()
    assert (payment.deposit_id, payment.payer_name, payment.on_time) == (deposit.pk, PAYER, True)
    notice = SimNotice.objects.get()
    assert notice.acknowledged_at is not None and notice.last_status == 200
