"""The opening ceremony on PostgreSQL: start at the deadline, check-in, quorum or the bidder's own key, read-out, record.

Tasks run eagerly here, after each commit (transactional tests, so on_commit fires as in production).
"""

import base64
import hashlib
import io
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from bidding import keys
from bidding.ceremony import custodian_private_key
from bidding.models import BidOpening, CeremonyTransition, KeyShare, OpenedPart, OpeningCeremony, PresentedShare
from bidding.opening import (
    bid_opening_decrypt,
    opening_bidder_unlock,
    opening_checkin,
    opening_decrypt_begin,
    opening_decrypt_end,
    opening_objection_answer,
    opening_objection_raise,
    opening_record_verify,
    opening_share_present,
    opening_start,
    opening_watchdog,
)
from bidding.parts import opened_part_digest, opened_part_open
from livestream.models import Stream, StreamEvent
from tests.bidding.openings import PASSPHRASE, SealedBidder, custodians, published_section, section_with_bids
from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.models import AuditEntry
from trading.errors import NotAllowed, RuleViolation, TransitionError
from trading.models import Role, SectionState

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PRICES = [123_456_789, 98_765_400, 110_000_000]


def events(section) -> list[StreamEvent]:
    return list(StreamEvent.objects.filter(stream__section=section, stream__kind="opening").order_by("seq"))


def kinds(section) -> list[str]:
    return [e.kind for e in events(section)]


def to_decryption(staff, section, bidders, checkins=2):
    opening_start(actor=staff, section=section)
    for bidder in bidders[:checkins]:
        opening_checkin(actor=bidder.user, section=section)
    opening_decrypt_begin(actor=staff, section=section)


def quorum(section):
    first, second, _third = custodians(section)
    opening_share_present(actor=first, section=section, passphrase=PASSPHRASE)
    opening_share_present(actor=second, section=section, passphrase=PASSPHRASE)


def test_OPEN_AT_DEADLINE_staff_cannot_start_before_the_deadline_and_nothing_moves(staff):
    section = published_section(staff)
    bidder = SealedBidder(section)
    bidder.submit(bidder.seal(price=1))
    with pytest.raises(RuleViolation) as refused:
        opening_start(actor=staff, section=section)
    assert refused.value.code == "OPEN-AT-DEADLINE"
    section.refresh_from_db()
    assert section.state == SectionState.PUBLISHED
    assert not OpeningCeremony.objects.exclude(state="scheduled").exists() and not BidOpening.objects.exists()
    assert not Stream.objects.filter(kind="opening").exists()
    # The refusal reaches the supervisors (electronic supervision), stored and in the audit chain.
    from trading.supervision.models import Alert

    alert = Alert.objects.get(rule="OPEN-AT-DEADLINE")
    assert alert.section_id == section.pk
    assert AuditEntry.objects.filter(event=AuditEvent.RULE_REFUSED, section=section).exists()


def test_only_staff_start_an_opening(staff):
    section, bidders = section_with_bids(staff, PRICES)
    with pytest.raises(NotAllowed):
        opening_start(actor=bidders[0].user, section=section)
    assert not BidOpening.objects.exists()


def test_OPEN_MIN_3_two_bids_fail_the_section_without_opening(staff):
    section, _bidders = section_with_bids(staff, PRICES[:2])
    ceremony = opening_start(actor=staff, section=section)
    section.refresh_from_db()
    assert ceremony.state == "failed" and ceremony.failure_code == "OPEN-MIN-3"
    assert section.state == SectionState.FAILED and section.opened_at is None
    assert not BidOpening.objects.exists()
    assert kinds(section) == ["opening.failed", "stream.closed"]
    assert AuditEntry.objects.filter(event=AuditEvent.OPENING_FAILED, data__rule="OPEN-MIN-3").count() == 1
    assert section.announcements.filter(kind="failure").count() == 1  # 流标公告 on the portal


def test_DEP_BEFORE_DEADLINE_a_bid_without_its_deposit_is_opened_and_the_supervisors_are_alerted(staff):
    from escrow.demo import demo_deposits_paid
    from trading.supervision.models import Alert

    section, bidders = section_with_bids(staff, PRICES)
    assert section.deposit_fen > 0
    demo_deposits_paid(registrations=[b.registration for b in bidders[:2]], received_at=section.bid_deadline - timedelta(days=1))
    ceremony = opening_start(actor=staff, section=section)
    assert ceremony.state == "checkin"  # not blocking: the bid is opened like the others
    alert = Alert.objects.get(rule="DEP-BEFORE-DEADLINE", section=section)
    assert alert.bidder_codes == [bidders[2].code]
    assert bidders[2].registration.organization.name not in alert.message


def test_OPEN_READOUT_the_quorum_opens_every_bid_and_each_is_read_out_once_with_name_price_and_fields(staff):
    names = ["甲建设有限公司", "乙工程有限公司", "丙集团有限公司"]
    section, bidders = section_with_bids(staff, PRICES, names=names)
    to_decryption(staff, section, bidders)
    first, second, _third = custodians(section)
    opening_share_present(actor=first, section=section, passphrase=PASSPHRASE)
    assert BidOpening.objects.filter(status="pending").count() == 3  # one share is no quorum
    opening_share_present(actor=second, section=section, passphrase=PASSPHRASE)

    ceremony = OpeningCeremony.objects.get(section=section)
    section.refresh_from_db()
    assert ceremony.state == "closed" and section.state == SectionState.OPENED and section.opened_at is not None
    rows = list(BidOpening.objects.filter(section=section).select_related("bid__registration").order_by("readout_order"))
    assert [r.readout_order for r in rows] == [1, 2, 3]
    by_code = {b.code: b for b in bidders}
    for row in rows:
        bidder = by_code[row.bid.registration.bidder_code]
        assert row.status == "opened" and row.opened_by == "quorum" and row.sealed_keys is None
        assert row.price_fen == PRICES[bidders.index(bidder)] and row.form["fields"]["项目经理"] == f"经理{bidder.code}"
        part = OpenedPart.objects.get(opening=row, name="technical")
        content = bidder.files["technical"][2]
        assert part.filename == "技术标.txt" and part.size == len(content)
        assert part.sha256 is None  # not hashed during the opening: filled when first needed
        assert opened_part_digest(part=part) == hashlib.sha256(content).hexdigest()
        assert OpenedPart.objects.get(pk=part.pk).sha256 == hashlib.sha256(content).hexdigest()
        with opened_part_open(part) as fh:  # decrypted from the envelope as it is read
            assert fh.read() == content
            fh.seek(-10, io.SEEK_END)
            assert fh.read() == content[-10:]
            fh.seek(5)
            assert fh.read(7) == content[5:12]
    # The parts stay sealed at rest after the opening too: storage holds the envelopes and no plaintext copy.
    marker = bidders[0].files["technical"][2][:40]
    stored = [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
    assert stored and not any(marker in p.read_bytes() for p in stored)
    readouts = [e for e in events(section) if e.kind == "opening.readout"]
    assert [e.payload["code"] for e in readouts] == [r.bid.registration.bidder_code for r in rows]
    for event in readouts:
        assert event.sealed[event.payload["code"]]["name"] in names and event.payload["price_fen"] in PRICES
    seqs = [e.seq for e in events(section)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert Stream.objects.get(section=section, kind="opening").closed_at is not None
    states = list(CeremonyTransition.objects.filter(ceremony=ceremony).values_list("to_state", flat=True))
    assert states == ["checkin", "decrypting", "readout", "closed"]


def test_the_opening_record_is_signed_published_in_the_audit_chain_and_names_every_bid(staff):
    section, bidders = section_with_bids(staff, PRICES)
    to_decryption(staff, section, bidders)
    quorum(section)
    ceremony = OpeningCeremony.objects.get(section=section)
    record = ceremony.record
    assert opening_record_verify(record=record, signature=ceremony.record_signature)
    assert not opening_record_verify(record={**record, "section_name": "改过"}, signature=ceremony.record_signature)
    assert sorted(b["price_fen"] for b in record["bids"]) == sorted(PRICES)
    assert {b["code"] for b in record["bids"]} == {b.code for b in bidders}
    assert record["checkins"] == [bidders[0].code, bidders[1].code]
    entry = AuditEntry.objects.get(event=AuditEvent.OPENING_RECORD, section=section)
    assert entry.data["signature"] == ceremony.record_signature
    assert policy.can_read_opening_record(None, section)


def test_the_whole_opening_key_is_never_stored_and_waiting_shares_are_erased_at_the_quorum(staff):
    section, bidders = section_with_bids(staff, PRICES)
    to_decryption(staff, section, bidders)
    first, second, _third = custodians(section)
    # What a thief would look for: the rebuilt scalar and the unsealed shares, in any encoding.
    shares = []
    for user in (first, second):
        row = KeyShare.objects.get(custodian=user, opening_key__section=section)
        shares.append(
            keys.unseal_share(
                section=section.public_id,
                index=row.index,
                sealed=row.sealed,
                custodian_key=custodian_private_key(user=user, passphrase=PASSPHRASE),
            )
        )
    scalar = keys._combine(shares).private_numbers().private_value.to_bytes(32, "big")
    secrets = [scalar] + [s for _i, s in shares]
    opening_share_present(actor=first, section=section, passphrase=PASSPHRASE)
    opening_share_present(actor=second, section=section, passphrase=PASSPHRASE)
    assert not PresentedShare.objects.exclude(wrapped="").exists()
    spellings = set()
    for secret in secrets:
        spellings |= {secret.hex(), base64.b64encode(secret).decode(), base64.urlsafe_b64encode(secret).decode().rstrip("=")}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            dump = repr(cursor.fetchall())
            for spelling in spellings:
                assert spelling not in dump, table


def test_KEY_SHARE_INVALID_a_forged_share_is_refused_against_its_published_commitment(staff):
    from bidding import envelope as E

    section, bidders = section_with_bids(staff, PRICES)
    to_decryption(staff, section, bidders)
    first = custodians(section)[0]
    row = KeyShare.objects.get(custodian=first, opening_key__section=section)
    # Someone with the database writes a share of its own, sealed to the custodian's public key.
    custodian_public = custodian_private_key(user=first, passphrase=PASSPHRASE).public_key()
    forged = E.SUITE.encrypt(bytes(32), custodian_public, info=keys._share_info(section.public_id, row.index))
    KeyShare.objects.filter(pk=row.pk).update(sealed=E.b64url(forged))
    first.refresh_from_db()
    first.is_verified = lambda: True
    with pytest.raises(RuleViolation) as refused:
        opening_share_present(actor=first, section=section, passphrase=PASSPHRASE)
    assert refused.value.code == "KEY-SHARE-INVALID"
    assert not PresentedShare.objects.exists()


def test_a_wrong_passphrase_no_second_factor_or_a_stranger_present_nothing(staff, make_user):
    section, bidders = section_with_bids(staff, PRICES)
    to_decryption(staff, section, bidders)
    first = custodians(section)[0]
    with pytest.raises(RuleViolation):
        opening_share_present(actor=first, section=section, passphrase="not-the-passphrase")
    first.is_verified = lambda: False
    with pytest.raises(NotAllowed) as no_otp:
        opening_share_present(actor=first, section=section, passphrase=PASSPHRASE)
    assert no_otp.value.code == "OTP-REQUIRED"
    with pytest.raises(NotAllowed):
        opening_share_present(actor=make_user(Role.SUPERVISOR), section=section, passphrase=PASSPHRASE)
    assert not PresentedShare.objects.exists()


def test_shares_are_taken_only_while_decrypting(staff):
    section, _bidders = section_with_bids(staff, PRICES)
    opening_start(actor=staff, section=section)
    with pytest.raises(TransitionError):
        opening_share_present(actor=custodians(section)[0], section=section, passphrase=PASSPHRASE)
    assert not PresentedShare.objects.exists()


def test_a_bidder_unlocks_its_own_bid_online_before_any_quorum(staff):
    section, bidders = section_with_bids(staff, PRICES)
    to_decryption(staff, section, bidders)
    opening_bidder_unlock(actor=bidders[0].user, section=section, data_keys=bidders[0].data_keys())
    mine = BidOpening.objects.get(bid__registration=bidders[0].registration)
    assert mine.status == "opened" and mine.opened_by == "bidder" and mine.price_fen == PRICES[0]
    assert BidOpening.objects.filter(status="pending").count() == 2
    assert "opening.unlocked" in kinds(section)
    assert not [e for e in events(section) if e.kind == "opening.readout"]  # read out only once all are settled


def test_OPEN_DECRYPT_FAIL_wrong_data_keys_from_a_bidder_are_refused_and_nothing_is_kept(staff, make_user):
    section, bidders = section_with_bids(staff, PRICES)
    to_decryption(staff, section, bidders)
    wrong = {name: base64.urlsafe_b64encode(bytes(32)).decode().rstrip("=") for name in bidders[0].data_keys()}
    with pytest.raises(RuleViolation) as refused:
        opening_bidder_unlock(actor=bidders[0].user, section=section, data_keys=wrong)
    assert refused.value.code == "OPEN-DECRYPT-FAIL"
    assert BidOpening.objects.get(bid__registration=bidders[0].registration).sealed_keys is None
    with pytest.raises(RuleViolation):  # another bid's keys do not open this one
        opening_bidder_unlock(actor=bidders[1].user, section=section, data_keys=bidders[0].data_keys())
    with pytest.raises(NotAllowed):
        opening_bidder_unlock(actor=make_user(Role.BIDDER), section=section, data_keys=bidders[0].data_keys())
    assert not BidOpening.objects.exclude(sealed_keys=None).exists()


def test_OPEN_DECRYPT_FAIL_a_bid_sealed_to_the_wrong_key_fails_as_the_bidders_fault_and_the_others_go_on(staff):
    section, bidders = section_with_bids(staff, PRICES)
    careless = SealedBidder(section, name="粗心公司")
    section.bid_deadline = section.opening_at = timezone.now() + timedelta(hours=1)
    section.save(update_fields=["bid_deadline", "opening_at"])
    careless.submit(careless.seal_to_the_wrong_key(price=5))
    section.bid_deadline = section.opening_at = timezone.now()
    section.save(update_fields=["bid_deadline", "opening_at"])
    to_decryption(staff, section, bidders)
    quorum(section)
    row = BidOpening.objects.get(bid__registration=careless.registration)
    assert row.status == "pending" and "does not open" in row.quorum_failure  # its own key may still open it
    opening_decrypt_end(actor=staff, section=section)
    row.refresh_from_db()
    assert row.status == "failed" and row.failure_code == "OPEN-DECRYPT-FAIL" and row.failure_fault == "bidder"
    assert BidOpening.objects.filter(status="opened").count() == 3
    line = next(e for e in events(section) if e.kind == "opening.readout" and e.payload["code"] == careless.code)
    assert line.payload["status"] == "failed" and line.payload["fault"] == "bidder" and line.payload["reason"]
    assert OpeningCeremony.objects.get(section=section).state == "closed"


def test_OPEN_DECRYPT_FAIL_bytes_damaged_in_storage_are_the_platforms_fault(staff):
    section, bidders = section_with_bids(staff, [*PRICES, 77_000_000])
    victim = bidders[3]
    bid = victim.registration.bids.get(status="active")
    path = default_storage.path(bid.envelope.name)
    with open(path, "r+b") as fh:
        fh.seek(-100, 2)
        byte = fh.read(1)
        fh.seek(-100, 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    to_decryption(staff, section, bidders)
    quorum(section)
    row = BidOpening.objects.get(bid=bid)
    assert row.status == "failed" and row.failure_fault == "platform" and "chunk" in row.failure_reason
    assert not OpenedPart.objects.filter(opening=row).exists()
    assert BidOpening.objects.filter(status="opened").count() == 3


def test_OPEN_OBJECTION_raised_by_a_bidder_answered_by_staff_and_both_in_the_record(staff, make_user):
    section, bidders = section_with_bids(staff, PRICES)
    opening_start(actor=staff, section=section)
    objection = opening_objection_raise(actor=bidders[2].user, section=section, text="第三家的签到时间有误")
    with pytest.raises(NotAllowed):
        opening_objection_raise(actor=make_user(Role.BIDDER), section=section, text="我不是投标人")
    with pytest.raises(NotAllowed):
        opening_objection_answer(actor=bidders[0].user, section=section, objection_id=objection.pk, answer="x")
    opening_decrypt_begin(actor=staff, section=section)
    quorum(section)
    ceremony = OpeningCeremony.objects.get(section=section)
    assert ceremony.state == "readout" and ceremony.readout_count == 3  # every line read, the record waits
    opening_objection_answer(actor=staff, section=section, objection_id=objection.pk, answer="已核实，签到时间以服务器时间为准")
    ceremony.refresh_from_db()
    assert ceremony.state == "closed"
    (entry,) = ceremony.record["objections"]
    assert entry["text"] == "第三家的签到时间有误" and entry["answer"].startswith("已核实") and entry["code"] == bidders[2].code
    assert "opening.objection" in kinds(section) and "opening.answer" in kinds(section)
    with pytest.raises(TransitionError):
        opening_objection_raise(actor=bidders[2].user, section=section, text="太晚了")


def test_viewers_see_bidder_codes_before_the_readout_and_names_after(staff):
    names = ["甲建设有限公司", "乙工程有限公司", "丙集团有限公司"]
    section, bidders = section_with_bids(staff, PRICES, names=names)
    to_decryption(staff, section, bidders)
    checkin = next(e for e in events(section) if e.kind == "opening.checkin")
    public_view = policy.stream_event_view(checkin.as_message())
    assert public_view["payload"]["code"] == bidders[0].code and "bidders" not in public_view
    own_view = policy.stream_event_view(checkin.as_message(), own_codes=frozenset({bidders[0].code}))
    assert own_view["bidders"][bidders[0].code]["name"] == names[0]
    quorum(section)
    for event in events(section):
        if event.kind == "opening.readout":
            view = policy.stream_event_view(event.as_message())
            assert view["bidders"][event.payload["code"]]["name"] in names


def test_the_watchdog_finishes_an_opening_whose_tasks_the_broker_lost(staff, monkeypatch, settings):
    from bidding import tasks

    section, bidders = section_with_bids(staff, PRICES)
    to_decryption(staff, section, bidders)
    monkeypatch.setattr(tasks.bid_open_task, "delay", lambda *a, **k: None)  # the broker drops them
    monkeypatch.setattr(tasks.opening_advance_task, "apply_async", lambda *a, **k: None)
    quorum(section)
    assert BidOpening.objects.filter(status="pending").count() == 3
    opening_watchdog()  # enqueued a moment ago: not yet counted as lost
    assert BidOpening.objects.filter(status="pending").count() == 3
    monkeypatch.undo()
    opening_watchdog(now=timezone.now() + timedelta(seconds=settings.OPENING_TASK_STALL_SECONDS + 1))
    ceremony = OpeningCeremony.objects.get(section=section)
    assert ceremony.state == "closed" and ceremony.readout_count == 3
    assert len([e for e in events(section) if e.kind == "opening.readout"]) == 3


def test_decrypting_a_bid_twice_or_at_once_opens_it_once(staff, monkeypatch):
    from bidding import tasks

    section, bidders = section_with_bids(staff, PRICES)
    to_decryption(staff, section, bidders)
    monkeypatch.setattr(tasks.bid_open_task, "delay", lambda *a, **k: None)
    quorum(section)
    row = BidOpening.objects.filter(status="pending").first()
    results = []

    def run():
        try:
            results.append(bid_opening_decrypt(bid_opening_id=row.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.append(bid_opening_decrypt(bid_opening_id=row.pk))
    assert results.count("opened") == 1 and set(results) <= {"opened", "busy", "nothing"}
    assert OpenedPart.objects.filter(opening=row).count() == 1
    code = row.bid.registration.bidder_code
    progress = [e for e in events(section) if e.kind == "opening.progress" and e.payload["code"] == code]
    assert len(progress) == 1


def test_checkin_is_for_the_sections_bidders_once_each(staff, make_user):
    section, bidders = section_with_bids(staff, PRICES)
    with pytest.raises(TransitionError):
        opening_checkin(actor=bidders[0].user, section=section)  # not started
    opening_start(actor=staff, section=section)
    first = opening_checkin(actor=bidders[0].user, section=section)
    assert opening_checkin(actor=bidders[0].user, section=section).pk == first.pk
    with pytest.raises(NotAllowed):
        opening_checkin(actor=make_user(Role.BIDDER), section=section)
    assert kinds(section).count("opening.checkin") == 1


def test_a_suspended_section_holds_its_opening_until_resumed(staff, supervisor):
    from trading.services.sections import section_resume, section_suspend

    section, bidders = section_with_bids(staff, PRICES)
    to_decryption(staff, section, bidders)
    section_suspend(actor=supervisor, section=section, reason="现场网络故障")
    quorum(section)
    assert BidOpening.objects.filter(status="pending").count() == 3
    assert OpeningCeremony.objects.get(section=section).state == "decrypting"
    section_resume(actor=supervisor, section=section, reason="故障排除")
    opening_watchdog()
    assert OpeningCeremony.objects.get(section=section).state == "closed"
