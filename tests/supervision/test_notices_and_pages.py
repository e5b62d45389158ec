"""Notices (NOTICE-RESPONSE watched), the console pages and who may reach them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import signed_in
from tests.factories import SectionFactory
from tests.supervision.conftest import days, move
from trading.errors import NotAllowed, RuleViolation
from trading.models import Role, SectionState
from trading.services.sections import section_publish
from trading.supervision.models import Alert, Notice
from trading.supervision.services.monitor import scan_run
from trading.supervision.services.notices import notice_issue, notice_respond

pytestmark = pytest.mark.django_db


def test_NOTICE_RESPONSE_an_unanswered_notice_past_its_deadline_raises_an_alert(section, supervisor, staff):
    notice = notice_issue(actor=supervisor, section=section, subject="核查保证金", body="请核查", respond_by=days(1))
    scan_run()
    assert not Alert.objects.exists()
    Notice.objects.filter(pk=notice.pk).update(respond_by=timezone.now() - timedelta(minutes=1))
    scan_run()
    scan_run()
    alert = Alert.objects.get(rule="NOTICE-RESPONSE")
    assert alert.section_id == section.pk
    notice_respond(actor=staff, notice=notice, response="已核查")
    notice.refresh_from_db()
    assert notice.responded_by == staff


def test_notices_are_issued_by_supervisors_and_answered_by_staff(section, supervisor, staff):
    with pytest.raises(NotAllowed):
        notice_issue(actor=staff, subject="x", body="y", respond_by=days(1))
    notice = notice_issue(actor=supervisor, subject="x", body="y", respond_by=days(1))
    with pytest.raises(NotAllowed):
        notice_respond(actor=supervisor, notice=notice, response="z")


@pytest.mark.parametrize("role", [Role.PUBLIC, Role.STAFF, Role.BIDDER, Role.TENDERER, Role.EXPERT])
def test_the_console_is_for_supervisors_only(client, make_user, role):
    signed_in(client, make_user(role))
    for path in ("/supervision/", "/supervision/rules/", "/supervision/complaints/"):
        assert client.get(path).status_code == 403, path


def test_the_console_section_page_shows_status_timeline_and_a_verified_chain(client, supervisor, staff):
    short = SectionFactory(bid_deadline=days(19, 1), opening_at=days(19, 2), registration_end=days(10))
    with pytest.raises(RuleViolation):
        section_publish(actor=staff, section=short)
    signed_in(client, supervisor)
    console = client.get("/supervision/").content.decode()
    assert "DOC-MIN-20D" in console and 'openStream("supervision"' in console
    page = client.get(f"/supervision/sections/{short.public_id}/").content.decode()
    assert 'data-rule="DOC-MIN-20D" data-status="breached"' in page
    assert 'data-rule="DOC-SALE-5" data-status="passed"' not in page  # publish was never reached
    assert "验证通过" in page
    rules = client.get("/supervision/rules/").content.decode()
    assert "COMPLAINT-ACCEPT-3WD" in rules and "实施条例第61条" in rules
    assert f'<td data-rule="DOC-MIN-20D"><a href="/supervision/sections/{short.public_id}/">{short.public_id}</a> ×1' in rules


def test_the_rules_read_in_english_on_english_pages_and_stay_chinese_in_the_alerts_they_head(client, supervisor, staff):
    """The rules' titles and legal bases are the record's words (an alert written on an English screen is headed
    by the Chinese title, trading.i18n); the pages translate them."""
    from django.utils import translation

    from trading.supervision.models import Alert

    signed_in(client, supervisor)
    client.cookies["django_language"] = "en"
    rules = client.get("/supervision/rules/").content.decode()
    assert "At least 20 days from the issue of the tender documents to the bid deadline" in rules
    assert "Implementing Regulations, art. 61" in rules and "实施条例第61条" not in rules
    assert "招标文件发出至投标截止不少于20日" not in rules
    client.cookies["django_language"] = "zh-hans"
    assert "招标文件发出至投标截止不少于20日" in client.get("/supervision/rules/").content.decode()
    short = SectionFactory(bid_deadline=days(19, 1), opening_at=days(19, 2), registration_end=days(10))
    with translation.override("en"), pytest.raises(RuleViolation):
        section_publish(actor=staff, section=short)
    assert "Only" not in Alert.objects.get(rule="DOC-MIN-20D").message


def test_suspend_and_resume_from_the_console_with_a_reason(client, supervisor, section):
    signed_in(client, supervisor)
    url = f"/supervision/sections/{section.public_id}/stop/"
    client.post(url, {"reason": ""})
    section.refresh_from_db()
    assert section.state == SectionState.PUBLISHED
    client.post(url, {"reason": "接到举报，暂停核查"})
    section.refresh_from_db()
    assert section.state == SectionState.SUSPENDED
    client.post(url, {"reason": "核查完毕"})
    section.refresh_from_db()
    assert section.state == SectionState.PUBLISHED


def test_rule_status_passed_after_the_step(client, supervisor, section):
    move(section, SectionState.AWARDED, days_ago=1)
    signed_in(client, supervisor)
    page = client.get(f"/supervision/sections/{section.public_id}/").content.decode()
    assert 'data-rule="DOC-MIN-20D" data-status="passed"' in page
    assert 'data-rule="OPEN-MIN-3" data-status="not_checked"' not in page  # enforced by bidding.opening
    assert 'data-rule="PERF-BOND-10PCT" data-status="passed"' in page  # checked when the contract is recorded
