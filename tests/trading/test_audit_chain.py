"""The audit log: append-only, signed, verifiable; tampering behind the ORM's back is caught."""

import json
import random

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from trading.audit import merkle
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append, audit_verify, checkpoint_create, checkpoint_document
from trading.audit.models import AuditEntry, Checkpoint

pytestmark = pytest.mark.django_db(transaction=True)


def fill_log(n: int) -> None:
    for i in range(n):
        audit_append(event=AuditEvent.SECTION_TRANSITION, data={"n": i, "note": f"第{i}条"})


def held_checkpoint() -> dict:
    """A checkpoint as someone outside the platform downloaded and kept it."""
    return json.loads(json.dumps(checkpoint_document(checkpoint_create())))


def test_an_untouched_log_verifies():
    fill_log(20)
    assert audit_verify(held_checkpoints=[held_checkpoint()]).ok


def test_the_stored_roots_match_an_independent_merkle_computation():
    fill_log(13)
    leaves = [bytes.fromhex(h) for h in AuditEntry.objects.values_list("leaf_hash", flat=True)]
    for size in range(1, 14):
        assert AuditEntry.objects.get(index=size - 1).tree_root == merkle.root_from_leaf_hashes(leaves[:size]).hex()


def test_the_orm_refuses_to_edit_or_delete():
    fill_log(2)
    entry = AuditEntry.objects.first()
    entry.data = {"changed": True}
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().update(data={})
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()


@pytest.mark.postgres
def test_on_postgresql_a_trigger_refuses_update_and_delete():
    fill_log(2)
    table = AuditEntry._meta.db_table
    for sql in (f"UPDATE {table} SET data = '{{}}'::jsonb", f"DELETE FROM {table}"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert AuditEntry.objects.count() == 2


# --- the database administrator's tamperings, behind the ORM ------------------------


def raw(sql: str, params=()) -> None:
    """As a DBA would: straight SQL, with the append-only trigger switched off for the session."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")  # disables triggers, as a superuser can
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")


def rows():
    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT id, "index", data, leaf_hash, tree_root, frontier, signature FROM {table} ORDER BY "index"')
        return cursor.fetchall()


def tamper(kind: str, rng: random.Random) -> int:
    """Apply one tampering; return the first index it damages."""
    table = AuditEntry._meta.db_table
    all_rows = rows()
    n = len(all_rows)
    target = rng.randrange(n)
    row_id = all_rows[target][0]
    if kind == "edit":
        raw(f"UPDATE {table} SET data = %s WHERE id = %s", [json.dumps({"n": -1, "note": "篡改"}), row_id])
    elif kind == "edit_and_rehash":
        # Rewrite the content and recompute this leaf and every later root: only the signatures stop it.
        entry = AuditEntry.objects.get(id=row_id)
        entry.data = {"n": -1, "note": "重算哈希的篡改"}
        from trading.audit.log import entry_leaf_bytes, frontier_push, frontier_root

        previous = AuditEntry.objects.filter(index=target - 1).first()
        frontier = [(s, bytes.fromhex(h)) for s, h in previous.frontier] if previous else []
        for later in AuditEntry.objects.filter(index__gte=target).order_by("index"):
            if later.index == target:
                later.data = entry.data
            leaf = merkle.leaf_hash(entry_leaf_bytes(later))
            frontier = frontier_push(frontier, leaf)
            raw(
                f"UPDATE {table} SET data = %s, leaf_hash = %s, tree_root = %s, frontier = %s WHERE id = %s",
                [
                    json.dumps(later.data),
                    leaf.hex(),
                    frontier_root(frontier).hex(),
                    json.dumps([[s, h.hex()] for s, h in frontier]),
                    later.id,
                ],
            )
    elif kind == "delete":
        raw(f"DELETE FROM {table} WHERE id = %s", [row_id])
    elif kind == "delete_and_renumber":
        raw(f"DELETE FROM {table} WHERE id = %s", [row_id])
        for later in sorted((r for r in all_rows if r[1] > target), key=lambda r: r[1]):
            raw(f'UPDATE {table} SET "index" = %s WHERE id = %s', [later[1] - 1, later[0]])
    elif kind == "insert":
        # A forged row, with a correct leaf hash, signed with a key the DBA made up.
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from trading.audit.log import tree_head_message
        from trading.signing import b64url

        forged_key = Ed25519PrivateKey.generate()
        last = AuditEntry.objects.order_by("-index").first()
        raw(f'UPDATE {table} SET "index" = "index" + 1000000 WHERE "index" >= %s', [target])
        root = bytes.fromhex(last.tree_root)
        raw(
            f'INSERT INTO {table} ("index", at, actor_role, section_public_id, event, data, leaf_hash, tree_root, frontier, '
            "signature) "
            "VALUES (%s, %s, '', '', 103, %s, %s, %s, %s, %s)",
            [
                target,
                last.at,
                json.dumps({"n": "forged"}),
                last.leaf_hash,
                last.tree_root,
                json.dumps(last.frontier),
                b64url(forged_key.sign(tree_head_message(target + 1, root))),
            ],
        )
        for later in sorted((r for r in all_rows if r[1] >= target), key=lambda r: r[1]):
            raw(f'UPDATE {table} SET "index" = %s WHERE id = %s', [later[1] + 1, later[0]])
    elif kind == "reorder":
        if n < 2:
            return -1
        target = rng.randrange(n - 1)
        a, b = all_rows[target], all_rows[target + 1]
        if a[2] == b[2]:
            return -1
        raw(
            f"UPDATE {table} SET data = %s WHERE id = %s",
            [json.dumps(b[2] if isinstance(b[2], dict) else json.loads(b[2])), a[0]],
        )
        raw(
            f"UPDATE {table} SET data = %s WHERE id = %s",
            [json.dumps(a[2] if isinstance(a[2], dict) else json.loads(a[2])), b[0]],
        )
    elif kind == "truncate":
        for r in all_rows[target:]:
            raw(f"DELETE FROM {table} WHERE id = %s", [r[0]])
    return target


KINDS = ["edit", "edit_and_rehash", "delete", "delete_and_renumber", "insert", "reorder", "truncate"]


def test_100_random_tamperings_are_all_detected_and_located():
    """verify_audit catches every one of 100 random tamperings and names the first damaged entry."""
    rng = random.Random(20261122)
    detected = 0
    for trial in range(100):
        raw(f"DELETE FROM {AuditEntry._meta.db_table}")
        fill_log(rng.randrange(3, 12))
        held = held_checkpoint()
        raw(f"DELETE FROM {Checkpoint._meta.db_table}")  # only the copy held outside remains
        kind = KINDS[trial % len(KINDS)]
        first = tamper(kind, rng)
        if first < 0:
            first = tamper("edit", rng)
        report = audit_verify(held_checkpoints=[held])
        assert not report.ok, f"trial {trial}: {kind} at {first} went unnoticed"
        assert report.first.index == first, f"trial {trial}: {kind} at {first} reported at {report.first}"
        detected += 1
    assert detected == 100


def test_verify_audit_command_names_the_first_altered_entry(tmp_path, capsys):
    fill_log(8)
    path = tmp_path / "held.json"
    path.write_text(json.dumps([held_checkpoint()]))
    call_command("verify_audit", "--checkpoints", str(path))
    assert "OK: 8 entries" in capsys.readouterr().out
    raw(f'UPDATE {AuditEntry._meta.db_table} SET data = %s WHERE "index" = 5', [json.dumps({"n": 99})])
    with pytest.raises(SystemExit) as exit_code:
        call_command("verify_audit", "--checkpoints", str(path))
    assert exit_code.value.code == 1
    assert "entry 5" in capsys.readouterr().err


def test_proofs_served_by_the_api_verify_against_the_checkpoint(api):
    fill_log(11)
    held = held_checkpoint()
    assert api.get("/api/v1/audit/checkpoints/latest/").json()["root_hash"] == held["root_hash"]
    for index in (0, 5, 10):
        proof = api.get(f"/api/v1/audit/proofs/inclusion/?index={index}&tree_size=11").json()
        assert merkle.verify_inclusion(
            bytes.fromhex(proof["leaf_hash"]),
            index,
            11,
            [bytes.fromhex(h) for h in proof["proof"]],
            bytes.fromhex(held["root_hash"]),
        )
    fill_log(6)
    later = held_checkpoint()
    consistency = api.get("/api/v1/audit/proofs/consistency/?first=11&second=17").json()
    assert merkle.verify_consistency(
        11,
        17,
        bytes.fromhex(held["root_hash"]),
        bytes.fromhex(later["root_hash"]),
        [bytes.fromhex(h) for h in consistency["proof"]],
    )
    bad = api.get("/api/v1/audit/proofs/inclusion/?index=20&tree_size=11")
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID"


@pytest.mark.django_db
def test_SECRET_BIDDERS_a_hidden_entrys_leaf_hash_cannot_be_recomputed_by_guessing(client):
    """SECRET-BIDDERS: every leaf hash of the public log is public (entries, inclusion proofs), also of the entries it
    hides. A private act with no section to be sealed in (tests/trading/test_sealed_audit.py) is such an entry; its
    leaf holds little to guess (a public amount, a 4-character code, a time between its visible neighbours'), so
    it carries a random salt, and the guess fails; the log still verifies."""
    from trading.audit.log import leaf_bytes
    from trading.audit.merkle import leaf_hash

    entry = audit_append(event=AuditEvent.COMPLAINT_FILED, data={"bidder_code": "B-2345", "amount_fen": 100})
    guessed = leaf_bytes(
        index=entry.index,
        at=entry.at,
        actor_id=None,
        role="",
        organization_id=None,
        section="",
        event=AuditEvent.COMPLAINT_FILED,
        data={"bidder_code": "B-2345", "amount_fen": 100},
    )
    published = client.get("/api/v1/audit/proofs/inclusion/", {"index": entry.index, "tree_size": entry.index + 1}).json()
    assert published["leaf_hash"] == entry.leaf_hash
    assert leaf_hash(guessed).hex() != entry.leaf_hash
    assert len(entry.data["salt"]) >= 32
    public = audit_append(event=AuditEvent.SECTION_PUBLISHED, data={"x": 1})
    assert "salt" not in public.data  # entries open to all need none
    assert audit_verify().ok
