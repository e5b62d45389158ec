"""SECRET-BIDDERS and the audit log: a bidder's private acts before opening wait in the section's sealed chain, so
the public log's size, gaps and proofs count none of them; the opening releases them, in order, and a chain a
database administrator rewrote is published as broken."""

import threading

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.test import Client

from tests.conftest import signed_in
from tests.factories import SectionFactory
from trading import selectors
from trading.audit.events import AuditEvent
from trading.audit.log import (
    anchors_check,
    audit_append,
    audit_verify,
    released_chain_heads,
    sealed_anchor,
    sealed_chain_break,
)
from trading.audit.models import AuditEntry, SealedAnchorKey, SealedAuditEntry
from trading.models import SectionState
from trading.services.lifecycle import section_transition
from trading.tasks import audit_checkpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def sealed_section(db):
    return SectionFactory(state=SectionState.OPENING)


def private_acts(section, n: int = 3) -> None:
    for k in range(n):
        audit_append(event=AuditEvent.DEPOSIT_PAID, section=section, data={"bidder_code": f"B-00{k}", "amount_fen": 100})


def test_SECRET_BIDDERS_private_acts_before_opening_leave_the_public_log_as_it_was(client, sealed_section):
    audit_append(event=AuditEvent.SECTION_PUBLISHED, section=sealed_section, data={})
    size, tip = AuditEntry.objects.count(), client.get("/api/v1/audit/entries/").json()
    private_acts(sealed_section, 4)
    assert AuditEntry.objects.count() == size  # no entry, no gap, no bigger tree to count
    assert client.get("/api/v1/audit/entries/").json() == tip
    chain = list(SealedAuditEntry.objects.filter(section=sealed_section))
    assert [e.seq for e in chain] == [0, 1, 2, 3] and all(e.index is None for e in chain)
    assert sealed_chain_break(sealed_section) is None


def test_the_opening_releases_the_sealed_entries_in_order_with_the_times_of_their_acts(sealed_section):
    private_acts(sealed_section, 3)
    acted = list(SealedAuditEntry.objects.filter(section=sealed_section).values_list("at", flat=True))
    section_transition(section=sealed_section, to_state=SectionState.OPENED, reason="opening")
    released = list(AuditEntry.objects.filter(section=sealed_section, event=AuditEvent.DEPOSIT_PAID).order_by("index"))
    assert [e.data["sealed_seq"] for e in released] == [0, 1, 2]
    assert [e.data["bidder_code"] for e in released] == ["B-000", "B-001", "B-002"]
    assert [e.at for e in released] == acted
    summary = AuditEntry.objects.get(event=AuditEvent.SEALED_ENTRIES_RELEASED).data
    head = SealedAuditEntry.objects.filter(section=sealed_section).order_by("-seq").first().chain_hash
    assert summary == {"entries": 3, "head": head, "anchors": 0, "anchor_key": "", "intact": True}
    assert audit_verify().ok
    # Once opened, a private act is public at once: nothing is sealed any more.
    audit_append(event=AuditEvent.DEPOSIT_REFUNDED, section=sealed_section, data={"bidder_code": "B-000"})
    assert SealedAuditEntry.objects.filter(section=sealed_section).count() == 3
    assert AuditEntry.objects.filter(section=sealed_section, event=AuditEvent.DEPOSIT_REFUNDED).exists()


def test_a_section_opened_with_no_private_act_releases_nothing(sealed_section):
    section_transition(section=sealed_section, to_state=SectionState.OPENED, reason="opening")
    assert not AuditEntry.objects.filter(event=AuditEvent.SEALED_ENTRIES_RELEASED).exists()


def raw(sql: str, params=()) -> None:
    """As a DBA would: straight SQL, with the append-only trigger switched off for the session."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")


@pytest.mark.parametrize("tampering", ["rewrite", "remove"])
def test_a_sealed_chain_rewritten_before_opening_is_published_as_broken(sealed_section, tampering):
    private_acts(sealed_section, 4)
    table = SealedAuditEntry._meta.db_table
    target = SealedAuditEntry.objects.get(section=sealed_section, seq=1).pk
    if tampering == "rewrite":
        raw(f"UPDATE {table} SET data = %s WHERE id = %s", ['{"bidder_code": "B-999", "amount_fen": 1}', target])
    else:
        raw(f"DELETE FROM {table} WHERE id = %s", [target])
    assert sealed_chain_break(sealed_section) == 1
    section_transition(section=sealed_section, to_state=SectionState.OPENED, reason="opening")
    summary = AuditEntry.objects.get(event=AuditEvent.SEALED_ENTRIES_RELEASED).data
    assert summary["intact"] is False and summary["broken_at"] == 1


@pytest.mark.postgres
def test_on_postgresql_a_trigger_refuses_to_edit_the_sealed_chain(sealed_section):
    private_acts(sealed_section, 2)
    table = SealedAuditEntry._meta.db_table
    for sql in (f"UPDATE {table} SET data = '{{}}'::jsonb", f"DELETE FROM {table}"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert SealedAuditEntry.objects.count() == 2
    with pytest.raises(PermissionError):
        SealedAuditEntry.objects.all().delete()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_act_at_the_moment_of_opening_is_released_or_public_never_left_sealed():
    """The release and the appends share the log's lock: an act is either in the chain the opening releases, or
    after it and public; none is sealed after the release, where no opening would ever publish it."""
    for _attempt in range(10):
        section = SectionFactory(state=SectionState.OPENING)
        private_acts(section, 1)
        barrier = threading.Barrier(2)

        def act(section=section, barrier=barrier):
            barrier.wait()
            try:
                audit_append(event=AuditEvent.DEPOSIT_PAID, section=section, data={"bidder_code": "B-LATE", "amount_fen": 1})
            finally:
                connections.close_all()

        def open_(section=section, barrier=barrier):
            barrier.wait()
            try:
                section_transition(section=section, to_state=SectionState.OPENED, reason="opening")
            finally:
                connections.close_all()

        threads = [threading.Thread(target=act), threading.Thread(target=open_)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        public = AuditEntry.objects.filter(section=section, event=AuditEvent.DEPOSIT_PAID)
        assert public.count() == 2, "an act was lost in the sealed chain"
        released = AuditEntry.objects.get(section=section, event=AuditEvent.SEALED_ENTRIES_RELEASED).data["entries"]
        assert SealedAuditEntry.objects.filter(section=section).count() == released


def test_a_bidder_sees_its_own_sealed_entries_and_nobody_elses(client, section, register, staff, supervisor):
    """The sealed chain keeps the bidders' acts from the public log, not from the bidder who did them."""
    mine, theirs = register(section), register(section)
    page = signed_in(Client(), mine.registered_by).get(f"/sections/{section.public_id}/bid/").content.decode()
    assert 'data-testid="own-entries"' in page and page.count("<tr><td>") == 1  # its registration, not the other's
    assert [e.actor_organization_id for e in selectors.own_sealed_entries(user=mine.registered_by, section=section)] == [
        mine.organization_id
    ]
    for official in (staff, supervisor):
        assert not selectors.own_sealed_entries(user=official, section=section).exists()
    assert theirs.organization_id != mine.organization_id


def anchored(section) -> dict:
    entry = sealed_anchor()
    return entry.data["commitments"]


def test_an_anchor_reads_the_same_whatever_the_bidders_did(sealed_section):
    """Each checkpoint anchors every sealed section's chain; the anchor holds one fresh commitment per section,
    so a busy section and a quiet one look alike, and one anchor from the next."""
    quiet = SectionFactory(state=SectionState.PUBLISHED)
    private_acts(sealed_section, 5)
    first, second = anchored(sealed_section), anchored(sealed_section)
    assert set(first) == {sealed_section.public_id, quiet.public_id}
    assert all(len(c) == 64 for c in first.values()) and first[sealed_section.public_id] != second[sealed_section.public_id]
    assert SealedAnchorKey.objects.filter(section=sealed_section).count() == 1  # one key per section, not per anchor
    audit_checkpoint()  # the periodic task anchors, then signs the checkpoint over it
    assert AuditEntry.objects.filter(event=AuditEvent.SEALED_CHAINS_ANCHORED).count() == 3


def test_anyone_checks_the_released_chain_against_its_anchors_from_public_rows_alone(sealed_section):
    private_acts(sealed_section, 2)
    anchored(sealed_section)
    private_acts(sealed_section, 1)
    anchored(sealed_section)
    section_transition(section=sealed_section, to_state=SectionState.OPENED, reason="opening")
    # What anyone can read: the released entries, the summary with the anchor key, the anchors.
    public = AuditEntry.objects.filter(section=sealed_section, event=AuditEvent.DEPOSIT_PAID).order_by("index")
    heads = released_chain_heads(sealed_section.public_id, list(public))
    summary = AuditEntry.objects.get(event=AuditEvent.SEALED_ENTRIES_RELEASED).data
    assert summary["intact"] and summary["head"] == heads[-1] and summary["anchors"] == 2
    anchors = [
        (a.index, a.data["commitments"][sealed_section.public_id])
        for a in AuditEntry.objects.filter(event=AuditEvent.SEALED_CHAINS_ANCHORED).order_by("index")
    ]
    assert len(anchors) == 2
    key = summary["anchor_key"]
    assert anchors_check(section=sealed_section.public_id, key=key, heads=heads, anchors=anchors) is None
    # Had the chain's last entry been dropped, the second anchor would not match: the check says which.
    assert anchors_check(section=sealed_section.public_id, key=key, heads=heads[:2], anchors=anchors) == anchors[1][0]
    assert audit_verify().ok  # verify_audit re-does all of this from the public rows


def test_verify_audit_catches_a_released_entry_that_does_not_fit_its_sealed_chain(sealed_section):
    """Rows released at the opening are public rows like any: one rewritten later is caught by the tree; here the
    chain check itself is exercised by a summary whose head does not match the released entries."""
    private_acts(sealed_section, 2)
    sealed_anchor()
    section_transition(section=sealed_section, to_state=SectionState.OPENED, reason="opening")
    assert audit_verify().ok
    audit_append(
        event=AuditEvent.SEALED_ENTRIES_RELEASED,
        section=sealed_section,
        data={"entries": 1, "head": "00" * 32, "anchors": 0, "anchor_key": "", "intact": True},
    )
    report = audit_verify()
    assert not report.ok and "sealed chain's head" in str(report.first)


@pytest.mark.parametrize("removed", ["the tail", "every entry", "the anchor key"])
def test_entries_removed_after_an_anchor_are_caught_at_the_opening(sealed_section, removed):
    """The chain alone cannot show its last entries cut off; the anchor committed to the head before can."""
    private_acts(sealed_section, 3)
    anchored(sealed_section)
    table = SealedAuditEntry._meta.db_table
    if removed == "the tail":
        raw(f"DELETE FROM {table} WHERE section_id = %s AND seq = 2", [sealed_section.pk])
        assert sealed_chain_break(sealed_section) is None  # what the chain by itself cannot see
    elif removed == "every entry":
        raw(f"DELETE FROM {table} WHERE section_id = %s", [sealed_section.pk])
    else:
        raw(f"DELETE FROM {SealedAnchorKey._meta.db_table} WHERE section_id = %s", [sealed_section.pk])
    section_transition(section=sealed_section, to_state=SectionState.OPENED, reason="opening")
    summary = AuditEntry.objects.get(event=AuditEvent.SEALED_ENTRIES_RELEASED).data
    assert summary["intact"] is False and "anchor_broken" in summary
    report = audit_verify()  # and anyone verifying the public log is told, for good
    assert not report.ok and sealed_section.public_id in str(report.first)


def test_the_bid_deadline_anchors_the_chain_so_no_act_before_it_is_cut_off_unseen(db):
    """SECRET-BIDDERS with BID-DEADLINE: the checkpoint's anchors come every few minutes, so the last acts before the
    deadline would have none; closing bidding anchors the section's chain with its sealed-bids root."""
    from datetime import timedelta

    from django.utils import timezone

    from trading.services.lifecycle import close_due_sections

    section = SectionFactory(state=SectionState.PUBLISHED, bid_deadline=timezone.now() + timedelta(days=1))
    other = SectionFactory(state=SectionState.PUBLISHED, bid_deadline=timezone.now() + timedelta(days=1))
    private_acts(section, 3)  # the last seconds before the deadline: no checkpoint has anchored them
    type(section).objects.filter(pk=section.pk).update(bid_deadline=timezone.now() - timedelta(seconds=1))
    assert close_due_sections() == 1
    [anchor] = AuditEntry.objects.filter(event=AuditEvent.SEALED_CHAINS_ANCHORED)
    assert set(anchor.data["commitments"]) == {section.public_id}  # this section's alone, not every sealed one
    assert other.public_id not in anchor.data["commitments"]
    raw(f"DELETE FROM {SealedAuditEntry._meta.db_table} WHERE section_id = %s AND seq = 2", [section.pk])
    section.refresh_from_db()
    section_transition(section=section, to_state=SectionState.OPENING, reason="opening")
    section_transition(section=section, to_state=SectionState.OPENED, reason="opening")
    summary = AuditEntry.objects.get(event=AuditEvent.SEALED_ENTRIES_RELEASED).data
    assert summary["anchors"] == 1 and summary["intact"] is False and "anchor_broken" in summary
