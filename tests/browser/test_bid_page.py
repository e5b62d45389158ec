"""In Chromium: a bidder seals its bid in the browser, uploads it with progress, gets a receipt.

Afterwards a marker written inside the bid appears nowhere in the database or storage.
"""

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from bidding.models import Bid
from bidding.services import registration_create
from tests.factories import SectionFactory
from trading.models import Role
from trading.services.sections import section_publish

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MARKER = "BROWSER-MARKER-投标-77c1"


def sign_in(page, live_server, username):
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-9")
    page.get_by_test_id("signin").click()
    page.wait_for_url("**/workspace/")


def test_a_bidder_seals_uploads_and_gets_a_receipt(live_server, page, staff, make_user, tmp_path):
    section = section_publish(actor=staff, section=SectionFactory())
    bidder = make_user(Role.BIDDER)
    registration_create(actor=bidder, section=section, contact_name="王五", contact_phone="13700000000")
    commercial, technical = tmp_path / "商务标.txt", tmp_path / "technical.bin"
    commercial.write_text(MARKER * 5000)
    technical.write_bytes((MARKER.encode() + bytes(range(256))) * 66_000)  # about 18 MB: more than one PUT

    sign_in(page, live_server, bidder.username)
    logs = []
    page.on("console", lambda m: logs.append(m.text))
    page.on("pageerror", lambda e: logs.append(str(e)))
    puts = []
    page.on("request", lambda r: puts.append(r.headers.get("upload-offset")) if r.method == "PUT" else None)
    page.goto(f"{live_server.url}/sections/{section.public_id}/bid/")
    try:
        page.wait_for_function("document.querySelector('[data-testid=key-status]').textContent.includes('密钥')")
    except Exception:
        raise AssertionError(f"{logs} {page.get_by_test_id('error').text_content()}") from None
    page.fill("#price", "1234567.89")
    page.fill("#duration", "180")
    page.set_input_files("#commercial", str(commercial))
    page.set_input_files("#technical", str(technical))
    page.get_by_test_id("seal-upload").click()
    page.get_by_test_id("receipt-ok").wait_for(timeout=60_000)
    assert page.get_by_test_id("error").text_content() == ""
    assert "上传 100%" in page.get_by_test_id("progress-text").text_content()
    # The first PUT carries 8 MB; the next ones about a second's worth each (up to 64 MB), from where the last ended.
    assert len(puts) >= 2 and puts[:2] == ["0", str(8 << 20)], puts
    # Without a reload the page shows the bid as active and offers to withdraw it.
    assert "状态: 有效" in page.get_by_test_id("receipt-ok").text_content()
    assert page.get_by_test_id("withdraw").is_visible()

    bid = Bid.objects.get(registration__organization=bidder.organization)
    assert bid.status == "active" and bid.receipt["receipt"]["bidder_code"] == bid.registration.bidder_code
    with default_storage.open(bid.envelope.name, "rb") as fh:
        assert MARKER.encode() not in fh.read()
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            assert MARKER not in repr(cursor.fetchall()), table

    # The button shown after the upload withdraws that bid.
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("withdraw").click()
    page.wait_for_function("document.querySelector('[data-testid=receipt]').textContent.includes('已撤回')")
    bid.refresh_from_db()
    assert bid.status == "withdrawn" and page.get_by_test_id("withdraw").is_hidden()


def test_keys_made_elsewhere_are_restored_from_backup_on_a_phone(live_server, page, staff, make_user, tmp_path):
    """A registration whose keys this browser does not hold (made by the CLI, or another browser) is told so,
    restores them from the backup file here (a wrong passphrase is refused in words), then seals."""
    from bidding import envelope as E

    section = section_publish(actor=staff, section=SectionFactory())
    bidder = make_user(Role.BIDDER)
    signing, encryption = E.generate_key(), E.generate_key()
    registration_create(
        actor=bidder,
        section=section,
        contact_name="王五",
        contact_phone="13700000000",
        signing_public_key=E.public_key_text(signing.public_key()),
        encryption_public_key=E.public_key_text(encryption.public_key()),
    )
    backup = tmp_path / "keys.json"
    backup.write_bytes(
        E.export_key_file(
            signing_private_key=signing,
            encryption_private_key=encryption,
            passphrase="backup-passphrase-2026",
            iterations=100_000,
        )
    )
    commercial = tmp_path / "c.txt"
    commercial.write_text(MARKER)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, bidder.username)
    page.goto(f"{live_server.url}/sections/{section.public_id}/bid/")
    page.get_by_test_id("key-restore").wait_for()
    page.fill("#price", "1000")
    page.fill("#duration", "90")
    page.set_input_files("#commercial", str(commercial))
    page.set_input_files("#technical", str(commercial))
    page.get_by_test_id("seal-upload").click()
    assert "备份" in page.get_by_test_id("error").text_content()  # not silence: it says what is missing
    page.set_input_files("#key-file", str(backup))
    page.fill("#key-passphrase", "not-the-passphrase")
    page.get_by_test_id("key-restore-button").click()
    page.wait_for_function("document.querySelector('[data-testid=error]').textContent.includes('口令错误')")
    page.fill("#key-passphrase", "backup-passphrase-2026")
    page.get_by_test_id("key-restore-button").click()
    page.wait_for_function("document.querySelector('[data-testid=key-status]').textContent.includes('已保存在本浏览器')")
    assert page.get_by_test_id("key-restore").is_hidden()
    page.get_by_test_id("seal-upload").click()
    page.get_by_test_id("receipt-ok").wait_for(timeout=60_000)
    assert Bid.objects.get(registration__organization=bidder.organization).status == "active"
    # the long digest wraps: nothing makes the page wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
