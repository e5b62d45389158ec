"""Appending to the audit log, signing checkpoints, verifying the whole log.

Each entry is a leaf of an RFC 6962 Merkle tree. Every row also stores the root
of the tree that ends with it, signed with the platform key, so an administrator
who rewrites rows and recomputes hashes still cannot produce valid signatures;
checkpoints published outside the platform also catch a cut-off tail.

A bidder's private act before its section is opened waits in the section's sealed
chain instead (SealedAuditEntry): the public tree's size would count it. The
opening releases the chain into the tree, in order (audit_release).
"""

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from trading import signing
from trading.audit.events import BIDDER_PRIVATE_EVENTS, AuditEvent
from trading.audit.merkle import EMPTY_ROOT, leaf_hash, node_hash
from trading.audit.models import AuditEntry, Checkpoint, SealedAnchorKey, SealedAuditEntry

# Arbitrary constant: the PostgreSQL advisory lock that serializes appends.
_APPEND_LOCK = 0x5A_4C_41_55_44
Frontier = list[tuple[int, bytes]]


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def utc_text(at: datetime) -> str:
    """A time as the signed formats spell it: UTC, with microseconds."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def party_commitment(*, salt: str, actor_id, organization_id) -> str:
    """Who acted, as the leaf holds it (format 2): anyone can recompute a leaf from the published commitment, and
    only who holds the salt (the platform, or an auditor it is shown to) can tell whose it is."""
    return hashlib.sha256(f"sunlight-audit-party/v2|{salt}|{actor_id}|{organization_id}".encode()).hexdigest()


def _party(*, party_salt: str, actor_id, organization_id, party: str | None = None) -> dict:
    if party:  # the commitment as published (what anyone recomputing a leaf has)
        return {"p": party}
    if not party_salt:  # format 1: the ids themselves
        return {"a": actor_id, "o": organization_id}
    return {"p": party_commitment(salt=party_salt, actor_id=actor_id, organization_id=organization_id)}


def leaf_bytes(*, index, at, actor_id, role, organization_id, section, event, data, party_salt: str = "") -> bytes:
    return canonical_json(
        {
            "i": index,
            "t": utc_text(at),
            **_party(party_salt=party_salt, actor_id=actor_id, organization_id=organization_id),
            "r": role,
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
        party_salt=entry.party_salt,
    )


def entry_party(entry: AuditEntry) -> str | None:
    """The commitment an API answer shows in place of the ids (None for a format-1 entry)."""
    if not entry.party_salt:
        return None
    return party_commitment(salt=entry.party_salt, actor_id=entry.actor_id, organization_id=entry.actor_organization_id)


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


@dataclass(frozen=True)
class _Item:
    event: int
    actor_id: int | None
    role: str
    organization_id: int | None
    section: object
    data: dict
    at: datetime | None = None  # a released entry keeps the time of its act
    party_salt: str = ""


def _item(event, actor, section, data) -> _Item:
    actor_id = getattr(actor, "pk", None)
    return _Item(
        event=int(event),
        actor_id=actor_id,
        role=getattr(actor, "role", "") if actor_id else "",
        organization_id=getattr(actor, "organization_id", None) if actor_id else None,
        section=section,
        data=sealed_data(event, data),
        party_salt=secrets.token_hex(16),
    )


def audit_append_many(items: list[tuple]) -> list[AuditEntry | SealedAuditEntry]:
    """Append (event, actor, section, data) entries in order under one lock (acts done in bulk). A bidder's private
    act in a section not yet opened goes to the section's sealed chain instead of the public log."""
    if not items:
        return []
    with transaction.atomic():
        _lock_appends()
        normalized = [_item(*item) for item in items]
        opened = _opened_sections({i.section.pk for i in normalized if _may_seal(i)})
        sealed = {n for n, i in enumerate(normalized) if _may_seal(i) and i.section.pk not in opened}
        public = _append_public([i for n, i in enumerate(normalized) if n not in sealed])
        private = _append_sealed([i for n, i in enumerate(normalized) if n in sealed])
        return [private.pop(0) if n in sealed else public.pop(0) for n in range(len(normalized))]


def _may_seal(item: _Item) -> bool:
    return item.event in BIDDER_PRIVATE_EVENTS and item.section is not None


def _opened_sections(pks: set[int]) -> set[int]:
    """Read under the append lock, which the opening's release holds too: an act either precedes the release
    (sealed, then released) or follows it (public)."""
    from trading.models import Section

    return set(Section.objects.filter(pk__in=pks, opened_at__isnull=False).values_list("pk", flat=True)) if pks else set()


def _append_public(items: list[_Item]) -> list[AuditEntry]:
    if not items:
        return []
    last = AuditEntry.objects.order_by("-index").only("index", "frontier").first()
    index = 0 if last is None else last.index + 1
    frontier = [] if last is None else [(size, bytes.fromhex(h)) for size, h in last.frontier]
    now = timezone.now()
    entries = []
    for item in items:
        at = item.at or now
        section_public_id = item.section.public_id if item.section is not None else ""
        leaf = leaf_hash(
            leaf_bytes(
                index=index,
                at=at,
                actor_id=item.actor_id,
                role=item.role,
                organization_id=item.organization_id,
                section=section_public_id,
                event=item.event,
                data=item.data,
                party_salt=item.party_salt,
            )
        )
        frontier = frontier_push(frontier, leaf)
        root = frontier_root(frontier)
        entries.append(
            AuditEntry(
                index=index,
                at=at,
                actor_id=item.actor_id,
                actor_role=item.role,
                actor_organization_id=item.organization_id,
                party_salt=item.party_salt,
                section=item.section,
                section_public_id=section_public_id,
                event=item.event,
                data=item.data,
                leaf_hash=leaf.hex(),
                tree_root=root.hex(),
                frontier=[[size, h.hex()] for size, h in frontier],
                signature=signing.sign(tree_head_message(index + 1, root)),
            )
        )
        index += 1
    return AuditEntry.objects.bulk_create(entries)


# The sealed chains: one per section, each entry hashed onto the one before and signed.
SEALED_GENESIS = bytes(32)


def sealed_entry_bytes(
    *, section: str, seq: int, at, actor_id, role, organization_id, event, data, party_salt: str = "", party=None
) -> bytes:
    return canonical_json(
        {
            "s": section,
            "q": seq,
            "t": utc_text(at),
            **_party(party_salt=party_salt, actor_id=actor_id, organization_id=organization_id, party=party),
            "r": role,
            "e": int(event),
            "d": data,
        }
    )


def _sealed_content(entry: SealedAuditEntry, section_public_id: str) -> bytes:
    return sealed_entry_bytes(
        section=section_public_id,
        seq=entry.seq,
        at=entry.at,
        actor_id=entry.actor_id,
        role=entry.actor_role,
        organization_id=entry.actor_organization_id,
        event=entry.event,
        data=entry.data,
        party_salt=entry.party_salt,
    )


def sealed_chain_next(previous: bytes, entry: bytes) -> bytes:
    return hashlib.sha256(previous + hashlib.sha256(entry).digest()).digest()


def sealed_head_message(section: str, seq: int, chain: bytes) -> bytes:
    return b"sunlight-sealed-audit/v1|%s|%d|%s" % (section.encode(), seq, chain.hex().encode())


def _append_sealed(items: list[_Item]) -> list[SealedAuditEntry]:
    heads: dict[int, tuple[int, bytes]] = {}
    entries = []
    now = timezone.now()
    for item in items:
        section = item.section
        if section.pk not in heads:
            last = SealedAuditEntry.objects.filter(section_id=section.pk).order_by("-seq").only("seq", "chain_hash").first()
            heads[section.pk] = (-1, SEALED_GENESIS) if last is None else (last.seq, bytes.fromhex(last.chain_hash))
        seq, previous = heads[section.pk]
        entry = SealedAuditEntry(
            section=section,
            seq=seq + 1,
            at=now,
            actor_id=item.actor_id,
            actor_role=item.role,
            actor_organization_id=item.organization_id,
            party_salt=item.party_salt,
            event=item.event,
            data=item.data,
        )
        chain = sealed_chain_next(previous, _sealed_content(entry, section.public_id))
        entry.chain_hash = chain.hex()
        entry.signature = signing.sign(sealed_head_message(section.public_id, entry.seq, chain))
        heads[section.pk] = (entry.seq, chain)
        entries.append(entry)
    return SealedAuditEntry.objects.bulk_create(entries)


def sealed_chain_break(section, entries: list[SealedAuditEntry] | None = None) -> int | None:
    """The first sequence number where the section's sealed chain is broken (rewritten, removed, reordered,
    signature invalid), or None when it holds. `entries`: the chain as already read, in order."""
    previous, expected = SEALED_GENESIS, 0
    if entries is None:
        entries = SealedAuditEntry.objects.filter(section=section).order_by("seq").iterator(chunk_size=2000)
    for entry in entries:
        chain = sealed_chain_next(previous, _sealed_content(entry, section.public_id))
        if entry.seq != expected or chain.hex() != entry.chain_hash:
            return expected
        if not signing.verify(sealed_head_message(section.public_id, entry.seq, chain), entry.signature):
            return expected
        previous, expected = chain, expected + 1
    return None


def anchor_commitment(*, section: str, seq: int, head: str, salt: str) -> str:
    return hashlib.sha256(f"sunlight-sealed-anchor/v1|{section}|{seq}|{head}|{salt}".encode()).hexdigest()


def anchor_salt(key: str, anchor_index: int) -> str:
    return hmac.new(bytes.fromhex(key), f"sunlight-sealed-anchor-salt|{anchor_index}".encode(), hashlib.sha256).hexdigest()


def sealed_anchor(*, section=None) -> AuditEntry | None:
    """Anchor every sealed section's chain in the public log (with each checkpoint): one entry holding, per section
    not yet opened, a commitment to its chain's current head under a fresh salt. It reads the same whatever the
    bidders did; the key published at the opening shows that no entry an anchor covered went missing since.
    With `section`, that section's alone: the bid deadline anchors its chain, so that none of the bidders' acts
    before it can be cut off unseen (a checkpoint's anchor comes only every few minutes)."""
    from trading.models import Section, SectionState

    sealed_states = [SectionState.PUBLISHED, SectionState.BIDDING_CLOSED, SectionState.OPENING, SectionState.SUSPENDED]
    with transaction.atomic():
        _lock_appends()
        candidates = Section.objects.filter(opened_at__isnull=True, state__in=sealed_states)
        if section is not None:
            candidates = candidates.filter(pk=section.pk)
        sections = list(candidates.order_by("public_id"))
        if not sections:
            return None
        keys = dict(SealedAnchorKey.objects.filter(section__in=sections).values_list("section_id", "key"))
        fresh = [SealedAnchorKey(section=s, key=secrets.token_hex(32)) for s in sections if s.pk not in keys]
        SealedAnchorKey.objects.bulk_create(fresh)
        keys.update({k.section_id: k.key for k in fresh})
        last = AuditEntry.objects.order_by("-index").values_list("index", flat=True).first()
        index = 0 if last is None else last + 1  # the anchor's own, under the lock
        commitments = {}
        for sealed in sections:
            head = SealedAuditEntry.objects.filter(section=sealed).order_by("-seq").only("seq", "chain_hash").first()
            seq, chain = (-1, SEALED_GENESIS.hex()) if head is None else (head.seq, head.chain_hash)
            salt = anchor_salt(keys[sealed.pk], index)
            commitments[sealed.public_id] = anchor_commitment(section=sealed.public_id, seq=seq, head=chain, salt=salt)
        [entry] = _append_public([_item(AuditEvent.SEALED_CHAINS_ANCHORED, None, None, {"commitments": commitments})])
        return entry


def anchors_check(*, section: str, key: str | None, heads: list[str], anchors: list[tuple[int, str]]) -> int | None:
    """The first anchor (index) whose commitment matches no head the chain has had ("heads": the chain hash after
    each entry, in order), or None when all do. Anyone runs it after the opening, from the released rows."""
    candidates = [(-1, SEALED_GENESIS.hex()), *enumerate(heads)]
    for index, commitment in anchors:
        salt = anchor_salt(key, index) if key else ""
        if not key or not any(
            anchor_commitment(section=section, seq=seq, head=head, salt=salt) == commitment for seq, head in reversed(candidates)
        ):
            return index
    return None


def _anchors_broken(section, sealed: list[SealedAuditEntry]) -> tuple[str | None, int, int | None]:
    """(the anchor key, how many anchors, the first that does not match the chain as it is now)."""
    key = SealedAnchorKey.objects.filter(section=section).values_list("key", flat=True).first()
    anchors = [
        (a.index, a.data["commitments"][section.public_id])
        for a in AuditEntry.objects.filter(
            event=AuditEvent.SEALED_CHAINS_ANCHORED, data__commitments__has_key=section.public_id
        ).order_by("index")
    ]
    broken = anchors_check(section=section.public_id, key=key, heads=[e.chain_hash for e in sealed], anchors=anchors)
    return key, len(anchors), broken


def audit_release(section) -> list[AuditEntry]:
    """The section is opened (its opened_at saved in this transaction): its sealed entries join the public log in
    order, with the times of their acts, followed by one entry that records how many there were, the chain's head,
    how many anchors covered it and their key, and whether it all held (a broken chain is published as such)."""
    with transaction.atomic():
        _lock_appends()
        sealed = list(SealedAuditEntry.objects.filter(section=section).order_by("seq"))
        key, anchors, anchor_broken = _anchors_broken(section, sealed)
        if not sealed and not anchors:
            return []
        broken = sealed_chain_break(section, sealed)
        items = [
            _Item(
                event=e.event,
                actor_id=e.actor_id,
                role=e.actor_role,
                organization_id=e.actor_organization_id,
                section=section,
                data={**e.data, "sealed_seq": e.seq},
                at=e.at,
                party_salt=e.party_salt,  # the same commitment in both: the chain is recomputed from the public entry
            )
            for e in sealed
        ]
        summary = {
            "entries": len(sealed),
            "head": sealed[-1].chain_hash if sealed else SEALED_GENESIS.hex(),
            "anchors": anchors,
            "anchor_key": key or "",
            "intact": broken is None and anchor_broken is None,
        }
        if broken is not None:
            summary["broken_at"] = broken
        if anchor_broken is not None:
            summary["anchor_broken"] = anchor_broken
        items.append(_item(AuditEvent.SEALED_ENTRIES_RELEASED, None, section, summary))
        return _append_public(items)


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
            "timestamp": utc_text(at),
        }
    )


def checkpoint_document(checkpoint: Checkpoint) -> dict:
    """The form people outside the platform download and keep."""
    return {
        "log": "sunlight-audit/v1",
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "timestamp": utc_text(checkpoint.at),
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
    released = _ReleasedChains()
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
        released.note(entry)
    size = expected
    if not findings:
        findings.extend(released.findings())
    checkpoints = [checkpoint_document(c) for c in Checkpoint.objects.all()] + list(held_checkpoints or [])
    for doc in checkpoints:
        problem = _check_checkpoint(doc, roots, size, findings_stop=bool(findings), public_key=public_key)
        if problem:
            findings.append(problem)
    return VerificationReport(entries=count, checkpoints=len(checkpoints), findings=sorted(set(findings), key=lambda f: f.index))


def released_chain_heads(section: str, entries: list[AuditEntry]) -> list[str]:
    """The sealed chain's head after each of the section's released entries (in order), from the public rows alone."""
    heads, chain = [], SEALED_GENESIS
    for entry in entries:
        content = sealed_entry_bytes(
            section=section,
            seq=entry.data["sealed_seq"],
            at=entry.at,
            actor_id=entry.actor_id,
            role=entry.actor_role,
            organization_id=entry.actor_organization_id,
            event=entry.event,
            data={k: v for k, v in entry.data.items() if k != "sealed_seq"},
            party=entry_party(entry),
        )
        chain = sealed_chain_next(chain, content)
        heads.append(chain.hex())
    return heads


class _ReleasedChains:
    """The sealed chains as the public log holds them once released: each recomputed from its released entries and
    checked against its release summary and every anchor before it (what the platform checked at the opening,
    re-done by anyone from the public rows alone)."""

    def __init__(self):
        self.entries: dict[str, list[AuditEntry]] = {}
        self.anchors: dict[str, list[tuple[int, str]]] = {}
        self.summaries: dict[str, AuditEntry] = {}

    def note(self, entry: AuditEntry) -> None:
        if entry.event == AuditEvent.SEALED_CHAINS_ANCHORED:
            for section, commitment in entry.data.get("commitments", {}).items():
                self.anchors.setdefault(section, []).append((entry.index, commitment))
        elif entry.event == AuditEvent.SEALED_ENTRIES_RELEASED:
            self.summaries[entry.section_public_id] = entry
        elif "sealed_seq" in entry.data and entry.section_public_id:
            self.entries.setdefault(entry.section_public_id, []).append(entry)

    def findings(self) -> list[Finding]:
        return [f for section, summary in self.summaries.items() if (f := self._check(section, summary))]

    def _check(self, section: str, summary: AuditEntry) -> Finding | None:
        entries = self.entries.get(section, [])
        disordered = next((e for seq, e in enumerate(entries) if e.data["sealed_seq"] != seq), None)
        if disordered is not None:
            return Finding(disordered.index, f"section {section}: released entries out of their sealed order")
        heads = released_chain_heads(section, entries)
        facts = summary.data
        if facts.get("entries") != len(heads) or facts.get("head") != (heads[-1] if heads else SEALED_GENESIS.hex()):
            return Finding(summary.index, f"section {section}: the released entries do not give the sealed chain's head")
        if not facts.get("intact"):
            return Finding(summary.index, f"section {section}: its sealed chain was broken before the opening")
        anchors = [a for a in self.anchors.get(section, []) if a[0] < summary.index]
        broken = anchors_check(section=section, key=facts.get("anchor_key"), heads=heads, anchors=anchors)
        if broken is not None or len(anchors) != facts.get("anchors"):
            return Finding(summary.index, f"section {section}: anchor {broken} does not match its released chain")
        return None


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
