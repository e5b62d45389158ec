"""In Chromium: the public portal lists and searches; every role signs in and sees its workspace."""

import pytest
from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from trading.management.commands.load_demo import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(transactional_db):
    call_command("load_demo", quiet=True)


def current_code(username: str) -> str:
    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_the_portal_lists_and_searches_announcements(live_server, page, demo):
    page.goto(live_server.url + "/")
    cards = page.get_by_test_id("announcements").locator("li.card")
    assert cards.count() >= 5
    page.fill("#id_q", "智慧教室")
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=announcements] li.card')].every(li => li.innerText.includes('智慧教室'))"
    )
    assert "q=" in page.url  # the search is in the address, so it can be shared
    titles = page.get_by_test_id("announcements").inner_text()
    assert "智慧教室" in titles and "滨江大道" not in titles
    with page.expect_navigation():  # content() read mid-navigation is empty
        page.get_by_test_id("announcements").locator("a").first.click()
    assert "日程" in page.content() and "投标截止" in page.content()


def test_the_portal_switches_to_english(live_server, page, demo):
    page.goto(live_server.url + "/")
    with page.expect_navigation():
        page.get_by_role("button", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Announcements" in page.content()


@pytest.mark.parametrize(
    ("username", "marker", "second_factor"),
    [
        ("tenderer", "ws-tenderer", False),
        ("agency", "ws-tenderer", False),
        ("bidder1", "ws-bidder", False),
        ("staff", "ws-staff", True),
        ("supervisor", "ws-supervisor", True),
        ("expert1", "ws-expert", True),
        ("custodian3", "ws-custodian", True),
    ],
)
def test_each_role_signs_in_and_sees_its_workspace(live_server, page, demo, username, marker, second_factor):
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.get_by_test_id("signin").click()
    if second_factor:
        page.wait_for_url("**/accounts/otp/")
        page.fill("#id_token", current_code(username))
        page.get_by_test_id("verify").click()
    page.wait_for_url("**/workspace/")
    assert page.get_by_test_id(marker).is_visible()
