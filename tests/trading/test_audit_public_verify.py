"""An audit chain anyone can verify: from the public API alone, with nothing but hashlib and an Ed25519 check, an
outsider recomputes every entry's leaf from what the entry shows (docs/audit.md), proves it into the latest signed
checkpoint, and recomputes each released sealed chain, without ever seeing who acted (EVAL-SECRET, SECRET-BIDDERS:
the API shows a salted commitment, never the ids)."""

import hashlib
import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import connection
from django.test import Client

from tests.factories import SectionFactory
from trading import signing
from trading.audit import merkle
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append, checkpoint_create
from trading.audit.models import AuditEntry
from trading.models import Role, SectionState
from trading.services.lifecycle import section_transition

pytestmark = pytest.mark.django_db


# --- what an outsider writes from docs/audit.md (none of it imports the platform's audit code) ---------------------
def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def utc(at: str) -> str:
    return datetime.fromisoformat(at).astimezone(UTC).isoformat(timespec="microseconds")


def leaf_of(entry: dict) -> str:
    content = {
        "i": entry["index"],
        "t": utc(entry["at"]),
        "p": entry["party"],
        "r": entry["role"],
        "s": entry["section"],
        "e": entry["event"],
        "d": entry["data"],
    }
    return hashlib.sha256(b"\x00" + canonical(content)).hexdigest()


def sealed_heads(entries: list[dict]) -> list[str]:
    chain, heads = bytes(32), []
    for entry in entries:
        data = {k: v for k, v in entry["data"].items() if k != "sealed_seq"}
        content = {
            "s": entry["section"],
            "q": entry["data"]["sealed_seq"],
            "t": utc(entry["at"]),
            "p": entry["party"],
            "r": entry["role"],
            "e": entry["event"],
            "d": data,
        }
        chain = hashlib.sha256(chain + hashlib.sha256(canonical(content)).digest()).digest()
        heads.append(chain.hex())
    return heads


def every_entry(http) -> list[dict]:
    entries, page = [], 1
    while True:
        answer = http.get("/api/v1/audit/entries/", {"page": page, "page_size": 100}).json()
        entries += answer["results"]
        if not answer.get("next"):
            return sorted(entries, key=lambda e: e["index"])
        page += 1


def latest_checkpoint(http) -> dict:
    checkpoint = http.get("/api/v1/audit/checkpoints/latest/").json()
    message = canonical({k: checkpoint[k] for k in ("log", "tree_size", "root_hash", "timestamp")})
    Ed25519PublicKey.from_public_bytes(signing.b64url_decode(checkpoint["public_key"])).verify(
        signing.b64url_decode(checkpoint["signature"]), message
    )  # raises if forged
    return checkpoint


def outsider_check(http) -> list[int]:
    """The indexes of the entries whose shown content does not make their leaf, or whose leaf is not in the tree."""
    checkpoint = latest_checkpoint(http)
    bad = []
    for entry in every_entry(http):
        if entry["index"] >= checkpoint["tree_size"]:
            continue
        proof = http.get("/api/v1/audit/proofs/inclusion/", {"index": entry["index"], "tree_size": checkpoint["tree_size"]})
        proof = proof.json()
        included = merkle.verify_inclusion(
            bytes.fromhex(entry["leaf_hash"]),
            entry["index"],
            checkpoint["tree_size"],
            [bytes.fromhex(h) for h in proof["proof"]],
            bytes.fromhex(checkpoint["root_hash"]),
        )
        if leaf_of(entry) != entry["leaf_hash"] or not included:
            bad.append(entry["index"])
    return bad


# --- the platform at work ---------------------------------------------------------------------------------------------
@pytest.fixture
def history(make_user):
    staff, bidder = make_user(Role.STAFF), make_user(Role.BIDDER)
    section = SectionFactory(state=SectionState.OPENING)
    audit_append(event=AuditEvent.SECTION_PUBLISHED, actor=staff, section=section, data={"deposit_fen": 100})
    for code in ("B-0001", "B-0002"):  # private acts: sealed, then released at the opening
        audit_append(event=AuditEvent.DEPOSIT_PAID, actor=bidder, section=section, data={"bidder_code": code})
    section_transition(section=section, to_state=SectionState.OPENED, actor=staff, reason="opening")
    checkpoint_create()
    return section


def test_anyone_recomputes_every_leaf_and_proves_it_into_the_signed_checkpoint_from_the_api_alone(history):
    section = history
    http = Client()  # anonymous
    entries = every_entry(http)
    assert len(entries) >= 5 and all(e["party"] and len(e["party"]) == 64 for e in entries)
    assert outsider_check(http) == []
    # Who acted is not in the answer: no ids, and one actor's entries do not look alike (a fresh salt each).
    answer = json.dumps(entries)
    assert '"actor' not in answer and '"a":' not in answer and '"o":' not in answer
    staff_parties = [e["party"] for e in entries if e["role"] == Role.STAFF]
    assert len(staff_parties) >= 2 and len(set(staff_parties)) == len(staff_parties)
    # The released chain, recomputed from the released entries, ends at the head its release summary published.
    released = [e for e in entries if e["section"] == section.public_id and "sealed_seq" in e["data"]]
    (summary,) = [e for e in entries if e["event"] == AuditEvent.SEALED_ENTRIES_RELEASED]
    assert [e["data"]["bidder_code"] for e in released] == ["B-0001", "B-0002"]
    assert summary["data"]["head"] == sealed_heads(released)[-1] and summary["data"]["intact"]


def test_a_row_a_database_administrator_rewrites_is_caught_by_anyone_from_the_api(history):
    """The tree's hashes and signatures are left as they were; only the content shown changes. Before the party
    commitment, an outsider could not recompute a leaf (it held the ids the API withholds), so this went unseen."""
    target = AuditEntry.objects.get(event=AuditEvent.SECTION_PUBLISHED)
    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # the superuser's way past the append-only trigger
        cursor.execute(f"UPDATE {table} SET data = %s WHERE id = %s", [json.dumps({"deposit_fen": 1}), target.pk])
        cursor.execute("SET session_replication_role = DEFAULT")
    assert outsider_check(Client()) == [target.index]
