"""In Chromium, several people at one online opening at once, through the real ASGI server (websockets) and Redis.

Staff run it from the console, two bidders check in (each sees its own name, the others' codes),
one raises an objection that staff answer, two custodians present their shares, the read-out
fills every page live, and a public viewer who arrives after the end still sees every line.
"""

import os
import subprocess
import sys
import time
import urllib.request

import pytest
from django.db import connection
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from bidding.models import OpeningCeremony
from tests.bidding.openings import PASSPHRASE, custodians, section_with_bids
from tests.livestream.conftest import ROOT, free_port

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
NAMES = ["甲建设有限公司", "乙工程有限公司", "丙集团有限公司"]
PRICES = [123_456_789, 98_765_400, 110_000_000]
QUIET = ["--no-access-log", "--log-level", "warning"]


@pytest.fixture
def asgi_server(tmp_path, settings):
    """One `uvicorn config.asgi:application` on this test's database and Redis, static files collected for it."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "LIVESTREAM_HEARTBEAT_SECONDS": "2",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port), *QUIET],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def code_for(user) -> str:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, confirmed=True, name="test"
    )
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def person(browser, url, user=None):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    if user is not None:
        page.goto(url + "/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "correct-horse-9")
        page.get_by_test_id("signin").click()
        if user.needs_second_factor:
            page.wait_for_url("**/accounts/otp/")
            page.fill("#id_token", code_for(user))
            page.get_by_test_id("verify").click()
        page.wait_for_url("**/workspace/")
    return page


def rows(page) -> int:
    return page.locator("[data-testid=readout-row]").count()


def test_an_online_opening_seen_live_by_staff_bidders_a_custodian_and_a_late_public_viewer(asgi_server, browser, staff):
    section, bidders = section_with_bids(staff, PRICES, names=NAMES)
    section.camera_url = "http://127.0.0.1:9/camera/index.m3u8"
    section.save(update_fields=["camera_url"])
    keepers = custodians(section)[:2]
    live = f"{asgi_server}/openings/{section.public_id}/"
    for user in (staff, *keepers):
        code_for(user)  # enrols the authenticator before signing in

    desk = person(browser, asgi_server, staff)
    desk.goto(live + "console/")
    desk.get_by_test_id("start").click()
    desk.wait_for_url("**/console/")
    desk.wait_for_function("document.querySelector('[data-testid=state]').textContent.includes('签到')")

    a, b = (person(browser, asgi_server, bidder.user) for bidder in bidders[:2])
    for page in (a, b):
        page.goto(live)
        page.get_by_test_id("checkin").click()
        page.wait_for_url(live)
    for page in (desk, a, b):
        page.wait_for_function("document.querySelectorAll('[data-testid=checkins] li').length === 2")
    # Before the read-out: a bidder sees its own name, another's code only; staff see codes.
    b_list = b.get_by_test_id("checkins").inner_text()
    assert NAMES[1] in b_list and NAMES[0] not in b_list and bidders[0].code in b_list
    assert NAMES[0] not in desk.get_by_test_id("checkins").inner_text()

    a.get_by_test_id("objection-text").fill("请公布投标文件递交时间")
    a.get_by_test_id("objection-send").click()
    desk.wait_for_function("document.querySelectorAll('[data-testid=objection]').length === 1")
    desk.reload()
    desk.get_by_test_id("answer-text").fill("递交时间均在截止时间之前，详见回执")
    desk.get_by_test_id("answer-send").click()
    a.wait_for_function("document.querySelector('[data-testid=answer]') !== null")

    b.get_by_test_id("objection-text").fill("尚未写完")  # being typed when the decryption begins
    desk.get_by_test_id("decrypt").click()
    desk.wait_for_function("document.querySelector('[data-testid=quorum]').textContent.startsWith('0 / 2')")
    # The bidders' pages, loaded during check-in, offer the online decryption as it begins, without a reload.
    for page in (a, b):
        page.wait_for_selector("[data-testid=unlock-form]")
        assert page.get_by_test_id("checked-in").is_visible()
    assert b.get_by_test_id("objection-text").input_value() == "尚未写完"
    for keeper in keepers:
        custodian = person(browser, asgi_server, keeper)
        custodian.goto(live + "share/")
        custodian.get_by_test_id("passphrase").fill(PASSPHRASE)
        custodian.get_by_test_id("present").click()
        custodian.wait_for_url("**/share/")
        assert "已提交" in custodian.content()
        if keeper is keepers[0]:
            desk.wait_for_function("document.querySelector('[data-testid=quorum]').textContent.startsWith('1 / 2')")
    for page in (desk, a, b, custodian):
        page.wait_for_function("document.querySelectorAll('[data-testid=readout-row]').length === 3")
        page.wait_for_function("document.querySelector('[data-testid=state]').textContent.includes('开标结束')")
    assert OpeningCeremony.objects.get(section=section).state == "closed"
    a.wait_for_function("document.querySelector('[data-testid=unlock-form]') === null")  # nothing left to unlock
    # The console, loaded while decrypting, followed the opening to its end without a reload: no stale button.
    desk.wait_for_function("(document.querySelector('[data-testid=next-step]')?.textContent || '').includes('开标已结束')")
    assert desk.locator("[data-testid=acts] button").count() == 0

    late = person(browser, asgi_server)
    late.goto(live)
    late.wait_for_function("document.querySelectorAll('[data-testid=readout-row]').length === 3")
    table = late.get_by_test_id("readout").inner_text()
    for name in NAMES:
        assert name in table
    assert "1,234,567.89" in table and "987,654.00" in table and "1,100,000.00" in table
    assert all(name in late.get_by_test_id("checkins").inner_text() for name in NAMES[:2])
    objections = late.get_by_test_id("objections").inner_text()
    assert "请公布投标文件递交时间" in objections and "递交时间均在截止时间之前" in objections
    assert late.get_by_test_id("camera").get_attribute("data-player") == "hls.js"
    assert late.get_by_test_id("record-link").is_visible()
    for page in (desk, a, b, late):
        assert page.errors == [], page.errors


def test_a_bidder_unlocks_its_own_bid_in_the_browser_with_its_key_file(live_server, browser, staff, tmp_path):
    """在线解密: the key file opens in the page, the data keys are unwrapped there, only they reach the server."""
    from bidding import envelope as E
    from bidding.models import BidOpening
    from bidding.opening import opening_decrypt_begin, opening_start

    section, bidders = section_with_bids(staff, PRICES, names=NAMES)
    opening_start(actor=staff, section=section)
    opening_decrypt_begin(actor=staff, section=section)
    bidder = bidders[0]
    key_file = tmp_path / "my-keys.json"
    key_file.write_bytes(
        E.export_key_file(
            signing_private_key=bidder.signing,
            encryption_private_key=bidder.encryption,
            passphrase="备份口令-backup-1",
            iterations=100_000,
        )
    )
    page = person(browser, live_server.url, bidder.user)
    page.goto(f"{live_server.url}/openings/{section.public_id}/")
    page.set_input_files("[data-testid=unlock-file]", str(key_file))
    page.fill("[data-testid=unlock-passphrase]", "备份口令-backup-1")
    page.get_by_test_id("unlock").click()
    try:
        page.wait_for_function("document.querySelector('[data-testid=unlock-status]').textContent.includes('已提交')")
    except Exception:
        raise AssertionError(f"{page.get_by_test_id('unlock-status').text_content()} {page.errors}") from None
    mine = BidOpening.objects.get(bid__registration=bidder.registration)
    assert mine.status == "opened" and mine.opened_by == "bidder" and mine.price_fen == PRICES[0]
    assert BidOpening.objects.filter(status="pending").count() == 2
    assert page.errors == [], page.errors


def test_before_the_opening_starts_a_viewer_is_told_to_wait_not_that_it_is_over(asgi_server, browser, staff):
    from tests.factories import SectionFactory
    from trading.services.sections import section_publish

    section = section_publish(actor=staff, section=SectionFactory())
    viewer = person(browser, asgi_server)
    viewer.goto(f"{asgi_server}/openings/{section.public_id}/")
    viewer.wait_for_function("document.querySelector('[data-testid=connection]').textContent.includes('等待开标开始')")
    assert "已结束" not in viewer.get_by_test_id("connection").text_content()
    viewer.context.close()
