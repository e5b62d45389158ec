"""In Chromium, through the real ASGI server and Redis: a sale from listing to result.

Three bidders in separate browser contexts offer in the listing, go to the limited-time countdown
and race in its last seconds (one offer accepted per race, the others refused with a reason); a
too-low offer is refused in the page before it is sent; a spectator who joins late sees every offer;
the countdown passes without an offer and every page shows the same winner, now by name.
"""

import os
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from bidding.auction.models import Offer, Sale, SaleState
from tests.auction.conftest import INCREMENT, STARTING, make_sale_case
from tests.livestream.conftest import ROOT, free_port
from trading.models import Section

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
COUNTDOWN = 10
UVICORN = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1"]


@pytest.fixture
def server(tmp_path):
    """uvicorn config.asgi:application and the sales' clock, against this test's database and the real Redis."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "STATIC_ROOT": str(tmp_path / "static"),
        "LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    processes = [
        subprocess.Popen(
            [*UVICORN, "--port", str(port), "--no-access-log", "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        ),
        subprocess.Popen([*manage, "auction_clock", "--interval", "0.1"], cwd=ROOT, env=env),
    ]
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def open_room(browser, url, case, username=None):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(20_000)
    if username:
        page.goto(url + "/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", "correct-horse-9")
        page.get_by_test_id("signin").click()
        page.wait_for_url("**/workspace/")
    page.goto(f"{url}/sales/{case.section.public_id}/")
    page.wait_for_selector("body[data-stream=live]")
    return page


def offers_shown(page) -> list[int]:
    return [int(a) for a in page.eval_on_selector_all("#offers li", "items => items.map(i => i.dataset.amount)")][::-1]


def send(page, fen: int) -> None:
    """Type an amount and submit, without waiting: the three pages race."""
    page.evaluate(
        """fen => { const m = document.getElementById('offer-message'); m.dataset.code = '';
                    document.getElementById('offer-amount').value = (fen / 100).toFixed(2);
                    document.getElementById('offer-form').requestSubmit(); }""",
        fen,
    )


def outcome(page) -> str:
    page.wait_for_function("document.getElementById('offer-message').dataset.code")
    return page.get_by_test_id("offer-message").get_attribute("data-code")


def test_three_bidders_race_in_the_last_seconds_and_a_late_spectator_sees_every_offer(
    browser, server, settings, staff, make_user
):
    settings.AUCTION_COUNTDOWN_SECONDS = COUNTDOWN
    case = make_sale_case(staff=staff, make_user=make_user, bidders=3)
    # The announced days have passed (AUCTION-7D): the listing began a moment ago and ends soon.
    now = timezone.now()
    Section.objects.filter(pk=case.section.pk).update(opening_at=now - timedelta(seconds=1))
    Sale.objects.filter(pk=case.sale.pk).update(listing_end=now + timedelta(seconds=40))

    pages = [open_room(browser, server, case, user.username) for user in case.bidders]
    names = [r.organization.name for r in case.registrations]
    for page in pages:
        page.wait_for_function("document.getElementById('state').textContent === '挂牌中'")

    # The offer box refuses a too-low offer before sending it.
    send(pages[2], STARTING - 100)
    assert outcome(pages[2]) == "OFFER-TOO-LOW"
    assert pages[2].get_by_test_id("offer-message").get_attribute("data-sent") == "no"
    assert Offer.objects.count() == 0

    # Listing: two bidders offer; each page shows it at once, under the code.
    send(pages[0], STARTING)
    assert outcome(pages[0]) == "OK"
    pages[1].wait_for_function(f"document.getElementById('next-min').textContent === '{STARTING // 100 + INCREMENT // 100:,}.00'")
    send(pages[1], STARTING + INCREMENT)
    assert outcome(pages[1]) == "OK"
    assert pages[0].get_by_test_id("position").get_attribute("data-position") == "outbid" or pages[0].wait_for_function(
        "document.getElementById('position').dataset.position === 'outbid'"
    )
    assert names[1] not in pages[0].get_by_test_id("offers").inner_text()

    # The listing ends with two competing: the countdown. (The listing was set long enough for the steps
    # above on a slow machine; it ends now that they are done, instead of the test waiting it out.)
    Sale.objects.filter(pk=case.sale.pk).update(listing_end=timezone.now() + timedelta(seconds=1))
    for page in pages:
        page.wait_for_function("document.getElementById('state').textContent === '限时竞价中'", timeout=60_000)

    spectator = None
    for race in range(2):
        # In the last seconds all three send the least valid offer at once: exactly one is accepted.
        pages[0].wait_for_function(f"Number(document.getElementById('clock').dataset.ms) < {(COUNTDOWN - 6) * 1000}")
        assert pages[0].get_by_test_id("warning").is_visible()  # the last minute (the whole countdown here)
        least = Sale.objects.get(pk=case.sale.pk).current_price_fen + INCREMENT
        for page in pages:
            send(page, least)
        results = [outcome(page) for page in pages]
        assert results.count("OK") == 1, results
        assert set(results) - {"OK"} <= {"OFFER-TOO-LOW", "OFFER-ALREADY-LEADING"}
        if race == 0:
            spectator = open_room(browser, server, case)  # joins late, read-only
            assert spectator.get_by_test_id("spectator").is_visible()
            assert spectator.query_selector("#offer-form") is None

    # Nobody offers again: the countdown passes and the sale ends.
    everyone = [*pages, spectator]
    for page in everyone:
        page.wait_for_selector("[data-testid=result]:not([hidden])", timeout=30_000)
    sale = Sale.objects.get(pk=case.sale.pk)
    offers = list(Offer.objects.filter(sale=sale).order_by("seq"))
    assert sale.state == SaleState.SOLD and len(offers) == 4
    top = offers[-1]
    assert (sale.winner_id, sale.final_price_fen) == (top.registration_id, top.amount_fen)
    winner_name = top.registration.organization.name
    for page in everyone:
        assert offers_shown(page) == [o.amount_fen for o in offers]  # every offer, in order, the late joiner too
        assert page.get_by_test_id("result").get_attribute("data-winner") == top.registration.bidder_code
        assert winner_name in page.get_by_test_id("result").inner_text()  # names revealed at the end
    for page in everyone:
        page.context.close()
