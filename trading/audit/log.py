"""Appending to the audit log, signing checkpoints, verifying the whole log.

Each entry is a leaf of an RFC 6962 Merkle tree. Every row also stores the root
of the tree that ends with it, signed with the platform key, so an administrator
who rewrites rows and recomputes hashes still cannot produce valid signatures;
checkpoints published outside the platform also catch a cut-off tail.
"""

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from trading import signing
from trading.audit.events import BIDDER_PRIVATE_EVENTS, AuditEvent
from trading.audit.merkle import EMPTY_ROOT, leaf_hash, node_hash
from trading.audit.models import AuditEntry, Checkpoint

# Arbitrary constant: the PostgreSQL advisory lock that serializes appends.
_APPEND_LOCK = 0x5A_4C_41_55_44
Frontier = list[tuple[int, bytes]]


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_bytes(*, index, at, actor_id, role, organization_id, section, event, data) -> bytes:
    return canonical_json(
        {
            "i": index,
            "t": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "a": actor_id,
            "r": role,
            "o": organization_id,
            "s": section,
            "e": int(event),
            "d": data,
        }
    )


def entry_leaf_bytes(entry: AuditEntry) -> bytes:
    return leaf_bytes(
        index=entry.index,
        at=entry.at,
        actor_id=entry.actor_id,
        role=entry.actor_role,
        organization_id=entry.actor_organization_id,
        section=entry.section_public_id,
        event=entry.event,
        data=entry.data,
    )


def frontier_push(frontier: Frontier, leaf: bytes) -> Frontier:
    """Add a leaf to the list of perfect subtrees (sizes strictly decreasing), like a binary counter."""
    result = list(frontier)
    size, digest = 1, leaf
    while result and result[-1][0] == size:
        left_size, left = result.pop()
        size, digest = left_size + size, node_hash(left, digest)
    result.append((size, digest))
    return result


def frontier_root(frontier: Frontier) -> bytes:
    if not frontier:
        return EMPTY_ROOT
    digest = frontier[-1][1]
    for _size, left in reversed(frontier[:-1]):
        digest = node_hash(left, digest)
    return digest


def tree_head_message(size: int, root: bytes) -> bytes:
    return b"sunlight-audit/v1|%d|%s" % (size, root.hex().encode())


def _lock_appends() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_APPEND_LOCK])


def sealed_data(event, data: dict | None) -> dict:
    """An entry hidden until opening gets a random salt: every leaf hash is public (entries, proofs), and the rest
    of such a leaf (a section, a public amount, a short bidder code, a time between its neighbours') could be
    guessed until it matched, telling whose section each hidden entry is (SECRET-BIDDERS)."""
    data = data or {}
    if event in BIDDER_PRIVATE_EVENTS:
        return {**data, "salt": secrets.token_hex(16)}
    return data


def audit_append(*, event: AuditEvent, actor=None, section=None, data: dict | None = None) -> AuditEntry:
    """Append one entry; call inside the transaction of the act it records."""
    return audit_append_many([(event, actor, section, data)])[0]


def audit_append_many(items: list[tuple]) -> list[AuditEntry]:
    """Append (event, actor, section, data) entries in order under one lock and one insert (acts done in bulk)."""
    if not items:
        return []
    with transaction.atomic():
        _lock_appends()
        last = AuditEntry.objects.order_by("-index").only("index", "frontier").first()
        index = 0 if last is None else last.index + 1
        frontier = [] if last is None else [(size, bytes.fromhex(h)) for size, h in last.frontier]
        at = timezone.now()
        entries = []
        for event, actor, section, data in items:
            data = sealed_data(event, data)
            actor_id = getattr(actor, "pk", None)
            role = getattr(actor, "role", "") if actor_id else ""
            organization_id = getattr(actor, "organization_id", None) if actor_id else None
            section_public_id = section.public_id if section is not None else ""
            leaf = leaf_hash(
                leaf_bytes(
                    index=index,
                    at=at,
                    actor_id=actor_id,
                    role=role,
                    organization_id=organization_id,
                    section=section_public_id,
                    event=event,
                    data=data or {},
                )
            )
            frontier = frontier_push(frontier, leaf)
            root = frontier_root(frontier)
            entries.append(
                AuditEntry(
                    index=index,
                    at=at,
                    actor_id=actor_id,
                    actor_role=role,
                    actor_organization_id=organization_id,
                    section=section,
                    section_public_id=section_public_id,
                    event=int(event),
                    data=data or {},
                    leaf_hash=leaf.hex(),
                    tree_root=root.hex(),
                    frontier=[[size, h.hex()] for size, h in frontier],
                    signature=signing.sign(tree_head_message(index + 1, root)),
                )
            )
            index += 1
        return AuditEntry.objects.bulk_create(entries)


def checkpoint_create() -> Checkpoint | None:
    """Sign the current tree head; None when nothing was appended since the last one."""
    last = AuditEntry.objects.order_by("-index").only("index", "tree_root").first()
    if last is None:
        return None
    size = last.index + 1
    existing = Checkpoint.objects.filter(tree_size=size).first()
    if existing:
        return existing
    root = bytes.fromhex(last.tree_root)
    at = timezone.now()
    message = checkpoint_message(size=size, root=root, at=at)
    from trading.audit.timestamp import timestamp_token

    checkpoint = Checkpoint.objects.create(
        tree_size=size,
        root_hash=root.hex(),
        at=at,
        signature=signing.sign(message),
        key_id=signing.key_id(),
        timestamp_token=timestamp_token(message),
    )
    return checkpoint


def checkpoint_message(*, size: int, root: bytes, at: datetime) -> bytes:
    return canonical_json(
        {
            "log": "sunlight-audit/v1",
            "tree_size": size,
            "root_hash": root.hex(),
            "timestamp": at.astimezone(UTC).isoformat(timespec="microseconds"),
        }
    )


def checkpoint_document(checkpoint: Checkpoint) -> dict:
    """The form people outside the platform download and keep."""
    return {
        "log": "sunlight-audit/v1",
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "timestamp": checkpoint.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "signature": checkpoint.signature,
        "key_id": checkpoint.key_id,
        "public_key": signing.b64url(signing.public_key_raw()),
        "timestamp_token": checkpoint.timestamp_token,
    }


@dataclass(frozen=True)
class Finding:
    index: int
    problem: str

    def __str__(self):
        return f"entry {self.index}: {self.problem}"


@dataclass
class VerificationReport:
    entries: int
    checkpoints: int
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return min(self.findings, key=lambda f: f.index) if self.findings else None


def audit_verify(*, held_checkpoints: list[dict] | None = None, public_key: bytes | None = None) -> VerificationReport:
    """Recompute the whole tree from the rows; check every signed root and every checkpoint."""
    findings: list[Finding] = []
    roots: dict[int, bytes] = {}
    frontier: Frontier = []
    expected = 0
    count = 0
    rows = AuditEntry.objects.order_by("index").iterator(chunk_size=2000)
    for entry in rows:
        count += 1
        if entry.index != expected:
            if entry.index > expected:
                findings.append(Finding(expected, "missing (removed)"))
            else:
                findings.append(Finding(entry.index, "duplicate or out of order"))
            break
        leaf = leaf_hash(entry_leaf_bytes(entry))
        if leaf.hex() != entry.leaf_hash:
            findings.append(Finding(entry.index, "content altered (leaf hash mismatch)"))
            break
        frontier = frontier_push(frontier, leaf)
        root = frontier_root(frontier)
        if root.hex() != entry.tree_root:
            findings.append(Finding(entry.index, "altered, inserted or reordered (tree root mismatch)"))
            break
        if not signing.verify(tree_head_message(entry.index + 1, root), entry.signature, public_key):
            findings.append(Finding(entry.index, "altered, inserted or reordered (signature invalid)"))
            break
        roots[entry.index + 1] = root
        expected += 1
    size = expected
    checkpoints = [checkpoint_document(c) for c in Checkpoint.objects.all()] + list(held_checkpoints or [])
    for doc in checkpoints:
        problem = _check_checkpoint(doc, roots, size, findings_stop=bool(findings), public_key=public_key)
        if problem:
            findings.append(problem)
    return VerificationReport(entries=count, checkpoints=len(checkpoints), findings=sorted(set(findings), key=lambda f: f.index))


def _check_checkpoint(doc: dict, roots: dict[int, bytes], size: int, *, findings_stop: bool, public_key) -> Finding | None:
    tree_size = int(doc["tree_size"])
    message = checkpoint_message(
        size=tree_size, root=bytes.fromhex(doc["root_hash"]), at=datetime.fromisoformat(doc["timestamp"])
    )
    key = public_key or (signing.b64url_decode(doc["public_key"]) if doc.get("public_key") else None)
    if not signing.verify(message, doc["signature"], key):
        return Finding(max(tree_size - 1, 0), f"checkpoint of size {tree_size} has an invalid signature")
    if tree_size > size:
        if findings_stop:
            return None  # already reported where the verification stopped
        return Finding(size, f"missing: a checkpoint holds {tree_size} entries, the log has {size}")
    if roots.get(tree_size, b"").hex() != doc["root_hash"]:
        return Finding(tree_size - 1, f"does not match the checkpoint of size {tree_size}")
    return None


def empty_root_hex() -> str:
    return EMPTY_ROOT.hex()
