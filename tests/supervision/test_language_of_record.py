"""The language of the record (trading.i18n): announcements and alerts are written in the platform's official
language, whoever's screen is in English; the refusal itself is still worded for its reader."""

import pytest
from django.utils import timezone, translation

from escrow.gateways import simulated
from escrow.models import SimTransaction
from escrow.services.payments import notification_receive
from tests.factories import SectionFactory, days
from trading.errors import RuleViolation
from trading.models import Announcement, AnnouncementKind
from trading.services.sections import section_publish
from trading.supervision.models import Alert

pytestmark = pytest.mark.django_db


def chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_a_tender_announcement_published_from_an_english_screen_is_in_chinese(staff):
    with translation.override("en"):
        section = section_publish(actor=staff, section=SectionFactory())
    title = Announcement.objects.get(section=section, kind=AnnouncementKind.TENDER).title
    assert title.endswith("招标公告") and "announcement" not in title.lower()


def test_DOC_MIN_20D_refused_on_an_english_screen_the_refusal_in_english_the_alert_in_chinese(staff):
    short = SectionFactory(bid_deadline=days(19, 1), opening_at=days(19, 2), registration_end=days(10))
    with translation.override("en"), pytest.raises(RuleViolation) as refused:
        section_publish(actor=staff, section=short)
    assert refused.value.code == "DOC-MIN-20D" and not chinese(refused.value.message)
    alert = Alert.objects.get(rule="DOC-MIN-20D")
    assert alert.message.startswith(short.public_id + "：") and chinese(alert.message)
    assert alert.data["detail"] == refused.value.message  # what its reader was told, kept beside


def test_DEP_NOTIFICATION_a_forged_notice_refused_in_english_alerts_in_chinese(section, register):
    deposit = register(section).deposit
    txn = SimTransaction(
        txn_id="T-EN-1",
        kind=SimTransaction.Kind.PAYMENT,
        virtual_account=deposit.virtual_account,
        amount_fen=deposit.amount_due_fen,
        payer_name="某公司",
        payer_account="6222020200001111",
        at=timezone.now(),
    )
    body = simulated.notification_body(txn)
    with translation.override("en"), pytest.raises(RuleViolation) as refused:
        notification_receive(provider_name="sim", body=body, signature="forged")
    assert refused.value.code == "DEP-NOTIFICATION" and not chinese(refused.value.message)
    alert = Alert.objects.get(rule="DEP-NOTIFICATION")
    assert chinese(alert.message) and "签名" in alert.message
