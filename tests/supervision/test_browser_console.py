"""Done-when, in Chromium: a 19-day window, one account paying two bidders' deposits and a refund left 6 days after
the contract each raise their alert live on the supervisors' console, and in the audit chain.

The server is a real `uvicorn config.asgi:application` against this test's PostgreSQL and Redis; the acts
happen in this process, so what the page shows travelled through the channel layer (heartbeats far apart).
"""

import json
import os
import select
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from tests.conftest import signed_in
from tests.escrow.conftest import pay
from tests.factories import SectionFactory
from tests.livestream.conftest import free_port
from tests.supervision.conftest import days, move, opened
from trading.audit.events import AuditEvent
from trading.audit.log import audit_verify
from trading.audit.models import AuditEntry
from trading.errors import RuleViolation
from trading.models import SectionState
from trading.services.sections import section_publish
from trading.supervision.models import Alert
from trading.supervision.services.feed import feed_stream
from trading.supervision.services.monitor import scan_run

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
RULES = ["DOC-MIN-20D", "DEP-SAME-PAYER", "DEP-REFUND-5D"]


@pytest.fixture
def server(tmp_path):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "LIVESTREAM_HEARTBEAT_SECONDS": "600",  # what arrives, arrived live through Redis
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": str(tmp_path / "static"),  # whitenoise serves what collectstatic gathered
    }
    manage = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
    subprocess.run(manage, cwd=ROOT, env=env, check=True, timeout=120)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen([*command, "--no-access-log", "--log-level", "warning"], cwd=ROOT, env=env)
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
        process.terminate()
        process.wait(timeout=10)


def wait_line(process, timeout: float) -> str:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "the browser did not get the console live in time"
    return process.stdout.readline().strip()


def test_the_three_breaches_reach_the_supervisors_console_live_and_the_audit_chain(
    server, supervisor, staff, make_user, settings
):
    from bidding.services import registration_create
    from trading.models import Role

    feed_stream()
    client = signed_in(Client(), supervisor)
    steps = Path(__file__).with_name("browser_console_steps.py")
    browser = subprocess.Popen(
        [sys.executable, str(steps), server, client.cookies["sessionid"].value, *RULES],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_line(browser, 90) == "ready"

        # 1. A 19-day window: DOC-MIN-20D refuses the publication, and the refusal is an alert.
        short = SectionFactory(bid_deadline=days(19, 1), opening_at=days(19, 2), registration_end=days(10))
        with pytest.raises(RuleViolation):
            section_publish(actor=staff, section=short)

        # 2. Two bidders' deposits paid from one account.
        def register(section):
            bidder = make_user(Role.BIDDER)
            return registration_create(actor=bidder, section=section, contact_name="李四", contact_phone="13900000000")

        shared = section_publish(actor=staff, section=SectionFactory())
        pay(register(shared).deposit, payer_account="6222 0202 7777 8888")
        pay(register(shared).deposit, payer_account="6222020277778888")
        opened(shared)  # held until the opening: its being there would say that two bidders registered (SECRET-BIDDERS)

        # 3. A refund still not made 6 days after the contract.
        late = section_publish(actor=staff, section=SectionFactory())
        pay(register(late).deposit, payer_account="6222020211110000")
        move(late, SectionState.CONTRACTED, days_ago=6)
        scan_run()

        out, err = browser.communicate(timeout=120)
    finally:
        if browser.poll() is None:
            browser.kill()
    assert browser.returncode == 0, err[-3000:]
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["rows_before"] == 0
    assert short.public_id in seen["DOC-MIN-20D"] and "19" in seen["DOC-MIN-20D"]
    assert shared.public_id in seen["DEP-SAME-PAYER"]
    assert late.public_id in seen["DEP-REFUND-5D"]
    assert seen["replayed"] == sorted(RULES)
    for rule in RULES:
        assert rule in seen["table"]

    events = {
        "DOC-MIN-20D": AuditEvent.RULE_REFUSED,
        "DEP-SAME-PAYER": AuditEvent.DEPOSIT_SAME_PAYER,
        "DEP-REFUND-5D": AuditEvent.DEPOSIT_REFUND_OVERDUE,
    }
    for rule, event in events.items():
        alert = Alert.objects.get(rule=rule)
        entry = AuditEntry.objects.get(index=alert.audit_index)  # DEP-SAME-PAYER's: released from the sealed chain
        assert entry.event == event and entry.data["rule"] == rule and entry.section_id == alert.section_id
    assert audit_verify().ok
    assert "7777" not in seen["DEP-SAME-PAYER"] + seen["table"]  # no payer data on the page
