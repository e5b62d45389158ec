"""The opening ceremony (开标): start at the deadline, check-in, decryption, read-out (唱标), the signed record.

The database drives it, never the broker: every step is a transaction on rows (the
ceremony's state, each bid's BidOpening), safe to run twice; tasks only say "look again",
and the watchdog (bidding.tasks.opening_watchdog, on beat) looks again at any opening
that stalled. Where the keys live: see bidding/decrypt.py.

Lock order: ceremony row, then section, then bid rows, then the audit log, then the stream.
"""

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from bidding import decrypt, keys
from bidding import envelope as E
from bidding.ceremony import custodian_private_key
from bidding.models import (
    BidOpening,
    CeremonyTransition,
    CheckIn,
    CustodianKey,
    KeyShare,
    OpenedPart,
    OpeningCeremony,
    OpeningObjection,
    PresentedShare,
    Registration,
)
from bidding.parts import seal_data_key
from bidding.submission import bids_for_opening, seal_bids_at_deadline
from livestream.models import Stream, StreamKind
from livestream.services import stream_close, stream_ensure, stream_publish, stream_publish_many
from trading import policy, signing
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append, audit_append_many, canonical_json
from trading.audit.models import AuditEntry
from trading.errors import DomainError, NotAllowed, RuleViolation, TransitionError
from trading.i18n import official_language
from trading.models import Announcement, AnnouncementKind, Section, SectionState
from trading.schedule import send_later
from trading.services.lifecycle import section_transition

C = OpeningCeremony.State
TRANSITIONS: dict[str, set[str]] = {
    C.SCHEDULED: {C.CHECKIN, C.FAILED},
    C.CHECKIN: {C.DECRYPTING},
    C.DECRYPTING: {C.READOUT},
    C.READOUT: {C.CLOSED},
    C.CLOSED: set(),
    C.FAILED: set(),
}
MIN_BIDS = 3  # OPEN-MIN-3
READOUT_BATCH = 50  # lines per commit when no pause is set between them (each line is still its own event)
MAX_OBJECTION = 2000
NO_KEY = "no key reached this bid in the decryption window"


# --- helpers ------------------------------------------------------------------------------


def ceremony_ensure(*, section: Section) -> OpeningCeremony:
    ceremony, _created = OpeningCeremony.objects.get_or_create(section=section)
    return ceremony


def ceremony_of(section: Section) -> OpeningCeremony:
    ceremony = OpeningCeremony.objects.filter(section=section).first()
    if ceremony is None or ceremony.state == C.SCHEDULED:
        raise TransitionError("OPEN-NOT-STARTED", _("开标尚未开始。"))
    return ceremony


def _lock(pk: int) -> OpeningCeremony:
    return OpeningCeremony.objects.select_for_update(of=("self",)).select_related("section").get(pk=pk)


def _move(ceremony: OpeningCeremony, to_state: str, *, actor=None, reason: str = "") -> None:
    """Inside the caller's transaction, on a locked row: check the table, save, history, audit."""
    if to_state not in TRANSITIONS[ceremony.state]:
        raise TransitionError(
            "OPEN-TRANSITION", f"an opening cannot go from {ceremony.state} to {to_state}", fields={"state": ceremony.state}
        )
    from_state, ceremony.state, ceremony.last_step_at = ceremony.state, to_state, timezone.now()
    ceremony.save(update_fields=["state", "last_step_at"])
    CeremonyTransition.objects.create(
        ceremony=ceremony, from_state=from_state, to_state=to_state, actor=_real(actor), reason=reason
    )
    audit_append(
        event=AuditEvent.OPENING_TRANSITION,
        actor=_real(actor),
        section=ceremony.section,
        data={"from": from_state, "to": to_state, "reason": reason},
    )


def _real(actor):
    return actor if getattr(actor, "pk", None) else None


def _stream(section: Section) -> Stream:
    return stream_ensure(kind=StreamKind.OPENING, section=section)


def _publish(section: Section, kind: str, payload: dict, *, actor=None, sealed=None, reveal=(), stream=None):
    stream = stream or _stream(section)
    return stream_publish(stream=stream, kind=kind, payload=payload, sealed=sealed, reveal=reveal, actor=_real(actor))


def _name_of(registration) -> dict:
    return {registration.bidder_code: {"name": registration.organization.name}}


def _schedule_advance(ceremony_id: int, countdown: float = 0) -> None:
    from bidding.tasks import opening_advance_task

    transaction.on_commit(lambda: send_later(opening_advance_task, (ceremony_id,), countdown=countdown), robust=True)


def _schedule_open(bid_opening_ids: list[int]) -> None:
    """Send the bids to the workers a batch per task (OPENING_BATCH): each batch's rows, audit entries and
    events are written in one go, and batches spread over the workers."""
    from bidding.tasks import bid_open_task

    size = max(1, int(settings.OPENING_BATCH))
    for start in range(0, len(bid_opening_ids), size):
        batch = list(bid_opening_ids[start : start + size])
        transaction.on_commit(lambda batch=batch: bid_open_task.delay(batch), robust=True)


def _second_factor_passed(user) -> bool:
    if not getattr(user, "needs_second_factor", False):
        return True
    verified = getattr(user, "is_verified", None)
    return bool(callable(verified) and verified())


def _iso(value) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


# --- what staff may do now: the console offers these, the services enforce them ----------------------

START, DECRYPT, DECRYPT_END, ANSWER = "start", "decrypt", "decrypt_end", "answer"
CHECKIN_OPEN = (C.CHECKIN, C.DECRYPTING)  # bidders check in until the read-out begins
STAFF_ACTS = (START, DECRYPT, DECRYPT_END, ANSWER)


def _due(section: Section):
    """When the opening may start (OPEN-AT-DEADLINE): the deadline, or the announced opening time if later."""
    return max(t for t in (section.bid_deadline, section.opening_at) if t) if section.bid_deadline else None


def opening_refusal(*, act: str, actor, section: Section, ceremony: OpeningCeremony | None, now=None) -> DomainError | None:
    """Why staff cannot take `act` on this opening now, or None: the one place both the services and the console ask."""
    if not policy.can_run_opening(actor, section):
        if act == ANSWER:
            return NotAllowed("NOT-ALLOWED", _("只有交易中心工作人员可以答复开标异议。"))
        return NotAllowed("NOT-ALLOWED", _("只有交易中心工作人员可以主持开标。"))
    state = ceremony.state if ceremony is not None else C.SCHEDULED
    if act == START:
        due = _due(section)
        if due is None or (now or timezone.now()) < due:
            return RuleViolation("OPEN-AT-DEADLINE", _("开标时间未到，不能开标。"), fields={"opening_at": _iso(due) or ""})
        if C.CHECKIN not in TRANSITIONS[state]:
            message = _("开标已经开始。") if state in OpeningCeremony.ACTIVE_STATES else _("开标已结束。")
            return TransitionError("OPEN-TRANSITION", message, fields={"state": state})
        if section.state not in (SectionState.PUBLISHED, SectionState.BIDDING_CLOSED):
            return TransitionError("OPEN-TRANSITION", _("该标段不在可开标的状态。"), fields={"state": state})
        return None
    if state == C.SCHEDULED:
        return TransitionError("OPEN-NOT-STARTED", _("开标尚未开始。"))
    if act == DECRYPT and C.DECRYPTING not in TRANSITIONS[state]:
        return TransitionError("OPEN-TRANSITION", _("只有签到阶段可以开始解密。"), fields={"state": state})
    if act == DECRYPT_END and state != C.DECRYPTING:
        return TransitionError("OPEN-NOT-DECRYPTING", _("当前不在解密阶段。"), fields={"state": state})
    if act == ANSWER and state not in OpeningCeremony.ACTIVE_STATES:
        return TransitionError("OPEN-OBJECTION", _("开标已结束，不能再答复异议。"), fields={"state": state})
    return None


def _refuse(act: str, *, actor, section: Section, ceremony: OpeningCeremony | None, now=None) -> None:
    refusal = opening_refusal(act=act, actor=actor, section=section, ceremony=ceremony, now=now)
    if refusal is not None:
        raise refusal


@dataclass(frozen=True)
class OpeningActs:
    acts: tuple[str, ...]  # what this user may do now, in STAFF_ACTS order
    next_step: str  # when there is nothing to do: what happens next, in a line


def opening_acts(*, actor, section: Section, now=None) -> OpeningActs:
    """The acts the console offers now: exactly those opening_refusal lets through (answer: while one is open)."""
    now = now or timezone.now()
    ceremony = OpeningCeremony.objects.filter(section=section).first()
    refusals = {act: opening_refusal(act=act, actor=actor, section=section, ceremony=ceremony, now=now) for act in STAFF_ACTS}
    if refusals[ANSWER] is None and not OpeningObjection.objects.filter(ceremony=ceremony, answered_at__isnull=True).exists():
        refusals[ANSWER] = TransitionError("OPEN-OBJECTION", _("没有待答复的异议。"))
    acts = tuple(act for act in STAFF_ACTS if refusals[act] is None)
    return OpeningActs(acts=acts, next_step="" if acts else _next_step(section, ceremony, refusals[START]))


def _next_step(section: Section, ceremony: OpeningCeremony | None, start_refused: DomainError) -> str:
    state = ceremony.state if ceremony is not None else C.SCHEDULED
    if state == C.SCHEDULED and start_refused.code == "OPEN-AT-DEADLINE" and _due(section):
        due = date_format(timezone.localtime(_due(section)), "Y-m-d H:i")
        return _("开标时间 %(due)s 到达后，可以开始开标。") % {"due": due}
    if state == C.READOUT:
        return _("正在逐家唱标：全部唱完、异议都已答复后，开标记录自动签名发布。")
    if state == C.CLOSED:
        return _("开标已结束，开标记录已签名发布。")
    if state == C.FAILED:
        return _("本标段已流标（%(code)s），不再开标。") % {"code": ceremony.failure_code or "OPEN-MIN-3"}
    return start_refused.message


# --- start, check-in, decryption window ---------------------------------------------------------


def opening_start(*, actor, section: Section, now=None) -> OpeningCeremony:
    """Staff start the opening at the deadline, never before (OPEN-AT-DEADLINE); fewer than 3 bids fail it (OPEN-MIN-3).

    Supervised: a start refused by a rule raises its alert on the supervisors' feed.
    """
    from trading.supervision.services.monitor import supervised

    with supervised(section=section, step="opening", actor=actor):
        return _opening_start(actor=actor, section=section, now=now)


def _opening_start(*, actor, section: Section, now=None) -> OpeningCeremony:
    now = now or timezone.now()
    _refuse(START, actor=actor, section=section, ceremony=OpeningCeremony.objects.filter(section=section).first(), now=now)
    if section.state == SectionState.PUBLISHED:
        # The scheduled tick may not have run yet: the server clock decides, the tick only catches up.
        section_transition(section=section, to_state=SectionState.BIDDING_CLOSED, reason="bid deadline reached")
    if section.state == SectionState.BIDDING_CLOSED:
        seal_bids_at_deadline(section=section)
    ceremony = ceremony_ensure(section=section)
    accepted, flagged = bids_for_opening(section=section)
    with transaction.atomic():
        locked = _lock(ceremony.pk)
        _refuse(START, actor=actor, section=section, ceremony=locked, now=now)
        locked.started_by, locked.started_at = _real(actor), now
        locked.save(update_fields=["started_by", "started_at"])
        if len(accepted) < MIN_BIDS:
            _move(locked, C.FAILED, actor=actor, reason="OPEN-MIN-3")
            locked.failure_code, locked.closed_at = "OPEN-MIN-3", now
            locked.save(update_fields=["failure_code", "closed_at"])
            section_transition(section=section, to_state=SectionState.FAILED, actor=_real(actor), reason="OPEN-MIN-3")
            audit_append(event=AuditEvent.OPENING_FAILED, actor=_real(actor), section=section, data={"rule": "OPEN-MIN-3"})
            Announcement.objects.create(
                section=section,
                kind=AnnouncementKind.FAILURE,
                title=f"{section.project.name}{section.name}流标公告",
                body="有效投标人少于3个，依法不予开标，本标段流标，将重新组织招标。",
                published_at=now,
            )
            _publish(
                section,
                "opening.failed",
                {"rule": "OPEN-MIN-3", "message": "有效投标不足3家，不予开标，本标段流标。"},
                actor=actor,
            )
        else:
            _move(locked, C.CHECKIN, actor=actor, reason="started at the deadline")
            section_transition(section=section, to_state=SectionState.OPENING, actor=_real(actor), reason="opening started")
            rows = [BidOpening(bid=bid, section=section) for bid in accepted]
            rows += [
                BidOpening(
                    bid=bid,
                    section=section,
                    status=BidOpening.Status.FAILED,
                    failure_code="OPEN-NOT-SEALED",
                    failure_reason=reason,
                    failure_fault="platform",
                )
                for bid, reason in flagged
            ]
            BidOpening.objects.bulk_create(rows)
            _deposits_check(section, accepted)
            key = section.opening_key
            audit_append(
                event=AuditEvent.OPENING_STARTED,
                actor=_real(actor),
                section=section,
                data={"bids": len(accepted), "flagged": len(flagged)},
            )
            _publish(
                section,
                "opening.started",
                {
                    "codes": sorted(r.bid.registration.bidder_code for r in rows),
                    "threshold": key.threshold,
                    "custodians": key.shares.count(),
                },
                actor=actor,
            )
    if locked.state == C.FAILED:
        stream_close(stream=_stream(section), actor=_real(actor))
    return locked


def _deposits_check(section: Section, bids: list) -> None:
    """DEP-BEFORE-DEADLINE (not blocking): a bid whose deposit did not arrive in full before the cut-off is opened
    like the others, and the supervisors are alerted with its code (public from the start of the opening on)."""
    from escrow.services.deposits import deposit_counts
    from trading.supervision.services.alerts import alert_raise

    missing = sorted(bid.registration.bidder_code for bid in bids if not deposit_counts(bid.registration))
    if missing:
        with official_language():
            message = _("%(section)s：有投标人的保证金未在截止时间前足额到账。") % {"section": section.public_id}
        alert_raise(
            rule="DEP-BEFORE-DEADLINE",
            message=message,
            section=section,
            bidder_codes=missing,
            dedupe_key=f"deposit-not-in:{section.pk}",
        )


def opening_checked_in(*, ceremony: OpeningCeremony | None, registration: Registration | None) -> bool:
    return ceremony is not None and registration is not None and ceremony.checkins.filter(registration=registration).exists()


def opening_checkin(*, actor, section: Section) -> CheckIn:
    """A bidder checks in (签到) at its opening; the list shows codes until each is read out."""
    registration = policy.opening_registration(actor, section)
    if registration is None:
        raise NotAllowed("NOT-ALLOWED", _("只有本标段的投标人可以签到。"))
    ceremony = ceremony_of(section)
    with transaction.atomic():
        locked = _lock(ceremony.pk)
        if locked.state not in CHECKIN_OPEN:
            raise TransitionError("OPEN-CHECKIN-CLOSED", _("签到已结束。"), fields={"state": locked.state})
        if not BidOpening.objects.filter(section=section, bid__registration=registration).exists():
            raise NotAllowed("OPEN-NOT-A-BIDDER", _("您在本标段没有有效投标。"))
        existing = CheckIn.objects.filter(ceremony=locked, registration=registration).first()
        if existing is not None:
            return existing
        checkin = CheckIn.objects.create(ceremony=locked, registration=registration, user=actor)
        audit_append(
            event=AuditEvent.OPENING_CHECKIN, actor=actor, section=section, data={"bidder_code": registration.bidder_code}
        )
        _publish(section, "opening.checkin", {"code": registration.bidder_code}, actor=actor, sealed=_name_of(registration))
    return checkin


def opening_decrypt_begin(*, actor, section: Section) -> OpeningCeremony:
    """Staff open the decryption: custodians present shares, bidders may unlock their own bids."""
    ceremony = OpeningCeremony.objects.filter(section=section).first()
    _refuse(DECRYPT, actor=actor, section=section, ceremony=ceremony)
    with transaction.atomic():
        locked = _lock(ceremony.pk)
        _refuse(DECRYPT, actor=actor, section=section, ceremony=locked)
        _move(locked, C.DECRYPTING, actor=actor, reason="decryption begun")
        locked.decrypt_until = timezone.now() + timedelta(minutes=settings.OPENING_DECRYPT_MINUTES)
        locked.save(update_fields=["decrypt_until"])
        audit_append(
            event=AuditEvent.OPENING_DECRYPTION_BEGUN,
            actor=actor,
            section=section,
            data={"until": _iso(locked.decrypt_until)},
        )
        key = section.opening_key
        _publish(
            section,
            "opening.decrypting",
            {"until": _iso(locked.decrypt_until), "threshold": key.threshold, "presented": 0},
            actor=actor,
        )
    return locked


def opening_decrypt_end(*, actor, section: Section) -> OpeningCeremony:
    """Staff close the decryption window early: bids nobody could unlock fail (OPEN-DECRYPT-FAIL)."""
    ceremony = OpeningCeremony.objects.filter(section=section).first()
    _refuse(DECRYPT_END, actor=actor, section=section, ceremony=ceremony)
    with transaction.atomic():
        locked = _lock(ceremony.pk)
        _refuse(DECRYPT_END, actor=actor, section=section, ceremony=locked)
        locked.decrypt_until = timezone.now()
        locked.save(update_fields=["decrypt_until"])
        audit_append(event=AuditEvent.OPENING_TRANSITION, actor=actor, section=section, data={"window": "closed"})
        _publish(section, "opening.window_closed", {"at": _iso(locked.decrypt_until)}, actor=actor)
        _schedule_advance(locked.pk)
    return locked


# --- the custodians' quorum and the bidders' own keys -------------------------------------------


def _published_commitments(section: Section) -> dict[int, str]:
    """The share commitments as the audit chain published them at key generation, not as a row says now."""
    data = (
        AuditEntry.objects.filter(section=section, event=AuditEvent.OPENING_KEY_GENERATED)
        .order_by("index")
        .values_list("data", flat=True)
        .first()
    )
    if not data:
        raise RuleViolation("KEY-SHARE-INVALID", _("找不到开标密钥分片的公开承诺值。"))
    return {int(k): v for k, v in data["commitments"].items()}


def opening_share_present(*, actor, section: Section, passphrase: str) -> OpeningCeremony:
    """A custodian (signed in with the second factor) unseals its share with its passphrase, in memory.

    A share that does not match its published commitment is refused (KEY-SHARE-INVALID). The share
    that completes the quorum rebuilds the opening key here, in this request's memory only: it
    unwraps the bids' data keys (kept wrapped at rest, see bidding/decrypt.py) and is dropped.
    """
    if not policy.can_present_share(actor, section):
        raise NotAllowed("NOT-ALLOWED", _("您不是本标段的密钥保管人。"))
    if not _second_factor_passed(actor):
        raise NotAllowed("OTP-REQUIRED", _("请先完成动态口令验证。"))
    ceremony = ceremony_of(section)
    if ceremony.state != C.DECRYPTING:
        raise TransitionError("OPEN-NOT-DECRYPTING", _("当前不在解密阶段。"), fields={"state": ceremony.state})
    row = KeyShare.objects.select_related("opening_key").get(opening_key__section=section, custodian=actor)
    opening_key = row.opening_key
    commitments = _published_commitments(section)
    try:
        custodian_key = custodian_private_key(user=actor, passphrase=passphrase)
        share = keys.unseal_share(section=section.public_id, index=row.index, sealed=row.sealed, custodian_key=custodian_key)
        keys.verify_share(section=section.public_id, share=share, commitments=commitments)
    except CustodianKey.DoesNotExist:
        raise NotAllowed("KEY-SHARE-INVALID", _("您尚未设置保管口令。")) from None
    except keys.KeyCeremonyError as error:
        message = _("保管口令不正确，或分片已损坏。") if "does not open" in error.message else _("分片与公开承诺值不符，已拒绝。")
        raise RuleViolation(error.code, message) from None
    del custodian_key
    with transaction.atomic():
        locked = _lock(ceremony.pk)
        if locked.state != C.DECRYPTING:
            raise TransitionError("OPEN-NOT-DECRYPTING", _("当前不在解密阶段。"), fields={"state": locked.state})
        if locked.quorum_at is not None or PresentedShare.objects.filter(ceremony=locked, key_share=row).exists():
            return locked  # presented already, or the quorum is met: nothing more to do
        waiting = list(PresentedShare.objects.filter(ceremony=locked).select_related("key_share"))
        presented = len(waiting) + 1
        if presented < opening_key.threshold:
            PresentedShare.objects.create(
                ceremony=locked,
                key_share=row,
                custodian=actor,
                wrapped=decrypt.wrap_at_rest(ceremony_id=locked.pk, label=f"share|{row.index}", value=share[1]),
            )
            audit_append(event=AuditEvent.OPENING_SHARE_PRESENTED, actor=actor, section=section, data={"index": row.index})
            _publish(section, "opening.share", {"presented": presented, "threshold": opening_key.threshold}, actor=actor)
            return locked
        shares = [share] + [
            (w.key_share.index, decrypt.unwrap_at_rest(ceremony_id=locked.pk, label=f"share|{w.key_share.index}", text=w.wrapped))
            for w in waiting
            if w.wrapped
        ]
        try:
            private = keys.rebuild_private_key(
                section=section.public_id,
                shares=shares,
                commitments=commitments,
                fingerprint=opening_key.fingerprint,
                threshold=opening_key.threshold,
            )
        except keys.KeyCeremonyError as error:
            raise RuleViolation(error.code, _("分片无法重建开标密钥。")) from None
        del shares, share
        PresentedShare.objects.create(ceremony=locked, key_share=row, custodian=actor, wrapped="")
        PresentedShare.objects.filter(ceremony=locked).update(wrapped="")  # the waiting shares are erased
        pending = list(
            BidOpening.objects.select_for_update(of=("self",))
            .filter(section=section, status=BidOpening.Status.PENDING, sealed_keys__isnull=True)
            .select_related("bid")
        )
        for opening in pending:
            try:
                data_keys = decrypt.unwrap_data_keys(manifest=opening.bid.manifest, private_key=private)
            except E.EnvelopeError as error:
                opening.quorum_failure = error.message  # the bidder's own key may still open it
                continue
            opening.sealed_keys = {
                name: decrypt.wrap_at_rest(ceremony_id=locked.pk, label=decrypt.data_key_label(opening.bid_id, name), value=value)
                for name, value in data_keys.items()
            }
            opening.keys_from = BidOpening.OpenedBy.QUORUM
        del private
        BidOpening.objects.bulk_update(pending, ["sealed_keys", "keys_from", "quorum_failure"])
        locked.quorum_at = locked.last_step_at = timezone.now()
        locked.save(update_fields=["quorum_at", "last_step_at"])
        audit_append(event=AuditEvent.OPENING_SHARE_PRESENTED, actor=actor, section=section, data={"index": row.index})
        audit_append(
            event=AuditEvent.OPENING_QUORUM,
            actor=actor,
            section=section,
            data={"fingerprint": opening_key.fingerprint, "presented": presented},
        )
        _publish(section, "opening.quorum", {"presented": presented, "threshold": opening_key.threshold}, actor=actor)
        _schedule_advance(locked.pk)
    return locked


def opening_bidder_unlock(*, actor, section: Section, data_keys: dict) -> BidOpening:
    """在线解密: the bidder unwrapped its parts' data keys with its own key, on its machine, and sends them.

    Each key must open the first chunk of its part, or nothing is kept (OPEN-DECRYPT-FAIL).
    """
    registration = policy.opening_registration(actor, section)
    if registration is None:
        raise NotAllowed("NOT-ALLOWED", _("只有本标段的投标人可以解密自己的投标文件。"))
    ceremony = ceremony_of(section)
    if ceremony.state != C.DECRYPTING:
        raise TransitionError("OPEN-NOT-DECRYPTING", _("当前不在解密阶段。"), fields={"state": ceremony.state})
    opening = BidOpening.objects.select_related("bid").filter(section=section, bid__registration=registration).first()
    if opening is None:
        raise NotAllowed("OPEN-NOT-A-BIDDER", _("您在本标段没有有效投标。"))
    if opening.status != BidOpening.Status.PENDING or opening.sealed_keys:
        return opening
    parts = [p["name"] for p in opening.bid.manifest["parts"]]
    decoded = {}
    for name in parts:
        try:
            decoded[name] = E.b64url_decode(str((data_keys or {}).get(name, "")))
        except ValueError:
            decoded[name] = b""
    with default_storage.open(opening.bid.envelope.name, "rb") as stream:
        header = E.inspect(stream)
        bad = [n for n in parts if not decrypt.check_data_key(stream=stream, header=header, name=n, key=decoded[n])]
    if bad:
        raise RuleViolation(
            "OPEN-DECRYPT-FAIL", _("数据密钥无法解开投标文件的 %(part)s 部分。") % {"part": bad[0]}, fields={"part": bad[0]}
        )
    with transaction.atomic():
        locked = BidOpening.objects.select_for_update(of=("self",)).get(pk=opening.pk)
        if locked.status != BidOpening.Status.PENDING or locked.sealed_keys:
            return locked
        locked.sealed_keys = {
            name: decrypt.wrap_at_rest(ceremony_id=ceremony.pk, label=decrypt.data_key_label(locked.bid_id, name), value=value)
            for name, value in decoded.items()
        }
        locked.keys_from = BidOpening.OpenedBy.BIDDER
        locked.save(update_fields=["sealed_keys", "keys_from"])
        audit_append(
            event=AuditEvent.OPENING_BIDDER_UNLOCKED, actor=actor, section=section, data={"bidder_code": registration.bidder_code}
        )
        _publish(section, "opening.unlocked", {"code": registration.bidder_code}, actor=actor)
        _schedule_open([locked.pk])
    return locked


# --- decrypting one bid (a task) -----------------------------------------------------------------


def _settled_counts(section: Section) -> tuple[int, int]:
    counts = BidOpening.objects.filter(section=section).aggregate(
        total=Count("pk"), settled=Count("pk", filter=~Q(status=BidOpening.Status.PENDING))
    )
    return counts["settled"], counts["total"]


def _mark_failed(opening: BidOpening, *, code: str, reason: str, fault: str) -> tuple:
    """Set the row's failure (OPEN-DECRYPT-FAIL and whose fault); returns its audit entry, to append."""
    opening.status, opening.failure_code, opening.failure_reason = BidOpening.Status.FAILED, code, reason[:2000]
    opening.failure_fault, opening.sealed_keys = fault, None
    facts = {"bidder_code": opening.bid.registration.bidder_code, "rule": code, "fault": fault}
    return (AuditEvent.BID_OPEN_FAILED, None, opening.section, facts)


def _fail(opening: BidOpening, *, code: str, reason: str, fault: str) -> None:
    audit = _mark_failed(opening, code=code, reason=reason, fault=fault)
    opening.save(update_fields=["status", "failure_code", "failure_reason", "failure_fault", "sealed_keys"])
    audit_append_many([audit])
    done, total = _settled_counts(opening.section)
    code_ = opening.bid.registration.bidder_code
    _publish(opening.section, "opening.progress", {"code": code_, "status": "failed", "done": done, "total": total})


def bid_opening_decrypt(*, bid_opening_id: int) -> str:
    """Decrypt one bid whose data keys are at hand; safe to run twice (and concurrently: one wins the row)."""
    return bid_openings_decrypt(bid_opening_ids=[bid_opening_id])[bid_opening_id]


def _open_one(opening: BidOpening, ceremony_id: int) -> "decrypt.OpenedBid | decrypt.OpenFailure":
    """Verify and decrypt one locked row's bid (no database access: it runs on the opening's threads)."""
    try:
        data_keys = {
            name: decrypt.unwrap_at_rest(ceremony_id=ceremony_id, label=decrypt.data_key_label(opening.bid_id, name), text=text)
            for name, text in opening.sealed_keys.items()
        }
    except Exception:
        return decrypt.OpenFailure("the data keys kept for the opening do not open", fault="platform")
    try:
        with default_storage.open(opening.bid.envelope.name, "rb") as stream:
            opened = decrypt.open_bid(stream=stream, bid=opening.bid, data_keys=data_keys)
    except decrypt.OpenFailure as failure:
        return failure
    except OSError:
        return decrypt.OpenFailure("the envelope cannot be read from storage", fault="platform")
    opened.data_keys = data_keys
    return opened


def bid_openings_decrypt(*, bid_opening_ids: list[int]) -> dict[int, str]:
    """Decrypt a batch of bids of one section, on OPENING_THREADS threads, and record them in one transaction.

    Safe to run twice and concurrently: rows are taken with SKIP LOCKED ("busy"), rows already settled are
    left ("nothing"); a crash before the commit leaves every row of the batch pending for the next attempt.
    """
    results = dict.fromkeys(bid_opening_ids, "busy")
    with transaction.atomic():
        rows = list(
            BidOpening.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("bid__registration__organization", "section__opening_ceremony")
            .filter(pk__in=bid_opening_ids)
            .order_by("pk")
        )
        work = []
        for row in rows:
            if row.status != BidOpening.Status.PENDING or not row.sealed_keys:
                results[row.pk] = "nothing"
            else:
                work.append(row)
        if not work:
            return results
        section, ceremony = work[0].section, work[0].section.opening_ceremony
        if any(row.section_id != section.pk for row in work):
            raise ValueError("a batch of bid openings belongs to one section")
        threads = min(len(work), max(1, int(settings.OPENING_THREADS)))
        if threads == 1:
            outcomes = [_open_one(row, ceremony.pk) for row in work]
        else:
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="opening") as pool:
                outcomes = list(pool.map(lambda row: _open_one(row, ceremony.pk), work))
        now, parts, audits, progress = timezone.now(), [], [], []
        for row, outcome in zip(work, outcomes, strict=True):
            code = row.bid.registration.bidder_code
            if isinstance(outcome, decrypt.OpenFailure):
                audits.append(_mark_failed(row, code=outcome.code, reason=outcome.reason, fault=outcome.fault))
                progress.append((code, "failed"))
                results[row.pk] = "failed"
                continue
            # The parts stay sealed in the envelope; their keys are kept for the committee (bidding.parts).
            for item in outcome.files:
                key = seal_data_key(bid_digest=row.bid.digest, name=item.name, key=outcome.data_keys[item.name])
                parts.append(
                    OpenedPart(
                        opening=row,
                        name=item.name,
                        filename=item.filename,
                        content_type=item.content_type,
                        size=item.size,
                        sealed_key=key,
                    )
                )
            form = outcome.form
            row.status, row.opened_by, row.form = BidOpening.Status.OPENED, row.keys_from, form
            row.price_fen, row.opened_at, row.sealed_keys = form.get("price_fen"), now, None
            sizes = {item.name: item.size for item in outcome.files}
            audits.append(
                (
                    AuditEvent.BID_OPENED,
                    None,
                    section,
                    {"bidder_code": code, "digest": row.bid.digest, "parts": sizes, "by": row.opened_by},
                )
            )
            progress.append((code, "opened"))
            results[row.pk] = "opened"
        fields = ["status", "opened_by", "form", "price_fen", "opened_at", "sealed_keys"]
        BidOpening.objects.bulk_update(work, [*fields, "failure_code", "failure_reason", "failure_fault"])
        OpenedPart.objects.bulk_create(parts)
        audit_append_many(audits)
        done, total = _settled_counts(section)
        first = done - len(progress)
        events = [
            {"kind": "opening.progress", "payload": {"code": code, "status": status, "done": first + n, "total": total}}
            for n, (code, status) in enumerate(progress, start=1)
        ]
        stream_publish_many(stream=_stream(section), events=events)
        if done == total:
            _schedule_advance(ceremony.pk)
    return results


# --- the driver: decryption done -> read-out -> record -------------------------------------------


def opening_advance(*, ceremony_id: int, now=None, pace: float | None = None) -> str:
    """Look at the rows and take the next step; every caller (task, watchdog, a service) may call it any time.

    pace: seconds between read-out lines, OPENING_READOUT_SECONDS by default; 0 reads every line at once
    (the demo, whose openings nobody watches).
    """
    now = now or timezone.now()
    ceremony = OpeningCeremony.objects.select_related("section").get(pk=ceremony_id)
    if ceremony.section.state == SectionState.SUSPENDED:
        return "suspended"  # a supervisor stopped the section: nothing moves until it is resumed
    if ceremony.state == C.DECRYPTING:
        return _advance_decryption(ceremony, now, pace)
    if ceremony.state == C.READOUT:
        return _advance_readout(ceremony, pace)
    if ceremony.state in (C.CLOSED, C.FAILED):
        stream = Stream.objects.filter(kind=StreamKind.OPENING, section=ceremony.section, closed_at__isnull=True).first()
        if stream is not None:
            try:
                stream_close(stream=stream)  # the step after the record's commit, if a crash came between
            except TransitionError as error:
                if error.code != "STREAM-CLOSED":
                    raise
                return "nothing"  # another step closed it a moment ago
            return "stream closed"
    return "nothing"


def _advance_decryption(ceremony: OpeningCeremony, now, pace: float | None = None) -> str:
    section = ceremony.section
    pending = BidOpening.objects.filter(section=section, status=BidOpening.Status.PENDING)
    stale = now - timedelta(seconds=settings.OPENING_TASK_STALL_SECONDS)
    with transaction.atomic():
        # Rows being decrypted right now are locked: skipped. Rows sent a moment ago wait until they look lost.
        due = list(
            pending.filter(sealed_keys__isnull=False)
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=stale))
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)
        )
        BidOpening.objects.filter(pk__in=due).update(enqueued_at=now)
        _schedule_open(due)
    sent = len(due)
    if ceremony.decrypt_until is not None and now >= ceremony.decrypt_until:
        with transaction.atomic():
            locked = _lock(ceremony.pk)
            if locked.state != C.DECRYPTING:
                return "moved on"
            nobody = list(
                BidOpening.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(section=section, status=BidOpening.Status.PENDING, sealed_keys__isnull=True)
                .select_related("bid__registration", "section")
            )
            for row in nobody:
                if row.quorum_failure:
                    # The quorum's key could not unwrap it and the bidder did not unlock: its sealing is at fault.
                    _fail(row, code="OPEN-DECRYPT-FAIL", reason=row.quorum_failure, fault="bidder")
                else:
                    _fail(row, code="OPEN-DECRYPT-FAIL", reason=NO_KEY, fault="platform")
    if not pending.exists():
        with transaction.atomic():
            locked = _lock(ceremony.pk)
            if locked.state == C.DECRYPTING and not pending.exists():
                _move(locked, C.READOUT, reason="every bid opened or failed")
                _publish(section, "opening.readout_started", {"total": BidOpening.objects.filter(section=section).count()})
        return _advance_readout(OpeningCeremony.objects.select_related("section").get(pk=ceremony.pk), pace)
    return f"sent {sent}"


def readout_line(opening: BidOpening) -> dict:
    """What is read out for one bid (OPEN-READOUT): price and main fields, or why it failed (OPEN-DECRYPT-FAIL)."""
    line = {"order": opening.readout_order, "code": opening.bid.registration.bidder_code, "status": opening.status}
    if opening.status == BidOpening.Status.OPENED:
        form = opening.form or {}
        fields = form.get("fields") if isinstance(form.get("fields"), dict) else {}
        line.update(
            {
                "price_fen": opening.price_fen,
                "currency": form.get("currency", "CNY"),
                "duration_days": form.get("duration_days"),
                "fields": {str(k)[:40]: str(v)[:200] for k, v in list(fields.items())[:20]},
                "opened_by": opening.opened_by,
            }
        )
    else:
        reason = opening.failure_reason[:500]
        line.update({"failure_code": opening.failure_code, "reason": reason, "fault": opening.failure_fault})
    return line


def _advance_readout(ceremony: OpeningCeremony, pace: float | None = None) -> str:
    """Read out the next line (with a pause between lines), or, without a pause, the next lines a batch per commit."""
    pace = float(settings.OPENING_READOUT_SECONDS if pace is None else pace)
    batch = 1 if pace else READOUT_BATCH
    section = ceremony.section
    read = 0
    while True:
        with transaction.atomic():
            locked = _lock(ceremony.pk)
            if locked.state != C.READOUT:
                return f"read {read}"
            now = timezone.now()
            if pace and read == 0 and locked.last_step_at and (now - locked.last_step_at).total_seconds() < pace:
                wait = pace - (now - locked.last_step_at).total_seconds()
                _schedule_advance(locked.pk, countdown=wait)
                return "waiting"
            nexts = list(
                BidOpening.objects.select_for_update(of=("self",))
                .filter(section=section, readout_order__isnull=True)
                .select_related("bid__registration__organization")
                .order_by("bid__registration__bidder_code")[:batch]
            )
            if not nexts:
                return _close(locked)
            audits, events = [], []
            for opening in nexts:
                locked.readout_count += 1
                opening.readout_order, opening.read_out_at = locked.readout_count, now
                line = readout_line(opening)
                facts = {k: line.get(k) for k in ("order", "code", "status", "price_fen", "failure_code")}
                audits.append((AuditEvent.OPENING_READOUT, None, section, facts))
                registration = opening.bid.registration
                sealed, reveal = _name_of(registration), [registration.bidder_code]
                events.append({"kind": "opening.readout", "payload": line, "sealed": sealed, "reveal": reveal})
                read += 1
            # Each line is its own audit entry and event, written together (one per commit with a pause set).
            BidOpening.objects.bulk_update(nexts, ["readout_order", "read_out_at"])
            audit_append_many(audits)
            stream_publish_many(stream=_stream(section), events=events)
            locked.last_step_at = now
            locked.save(update_fields=["readout_count", "last_step_at"])
            if pace:
                _schedule_advance(locked.pk, countdown=pace)
                return f"read {read}"


def _close(locked: OpeningCeremony) -> str:
    """Inside the read-out's transaction: every bid read out; close once every objection is answered."""
    if OpeningObjection.objects.filter(ceremony=locked, answered_at__isnull=True).exists():
        return "objections open"  # OPEN-OBJECTION: answered on the spot, before the record closes
    section = locked.section
    _move(locked, C.CLOSED, reason="every bid read out")
    locked.closed_at = timezone.now()
    section_transition(section=section, to_state=SectionState.OPENED, reason="bids opened")
    section.refresh_from_db()
    record = opening_record(ceremony=locked, section=section)
    body = canonical_json(record)
    locked.record, locked.record_signature, locked.record_key_id = record, signing.sign(body), signing.key_id()
    locked.save(update_fields=["closed_at", "record", "record_signature", "record_key_id"])
    digest = hashlib.sha256(body).hexdigest()
    audit_append(
        event=AuditEvent.OPENING_RECORD,
        section=section,
        data={"sha256": digest, "signature": locked.record_signature, "key_id": locked.record_key_id},
    )
    _publish(section, "opening.closed", {"record_sha256": digest, "signature": locked.record_signature})
    pk = locked.pk
    transaction.on_commit(lambda: opening_advance(ceremony_id=pk), robust=True)  # closes the stream
    return "closed"


def opening_record(*, ceremony: OpeningCeremony, section: Section) -> dict:
    """The opening record (开标记录): what was read out, every failure and objection, the stream's head."""
    rows = BidOpening.objects.filter(section=section).select_related("bid__registration__organization").order_by("readout_order")
    stream = Stream.objects.get(kind=StreamKind.OPENING, section=section)
    bids = []
    for row in rows:
        line = readout_line(row)
        line["name"] = row.bid.registration.organization.name
        line["digest"] = row.bid.digest
        if row.status == BidOpening.Status.OPENED:
            line["form"] = row.form
        bids.append(line)
    objections = [
        {
            "code": o.registration.bidder_code,
            "name": o.registration.organization.name,
            "text": o.text,
            "raised_at": _iso(o.raised_at),
            "answer": o.answer,
            "answered_at": _iso(o.answered_at),
        }
        for o in ceremony.objections.select_related("registration__organization")
    ]
    sealed_root = getattr(section, "sealed_root", None)
    return {
        "format": "sunlight-opening-record",
        "version": 1,
        "section": section.public_id,
        "section_name": section.name,
        "opening_key": section.opening_key.fingerprint,
        "sealed_root": sealed_root.root_hash if sealed_root else None,
        "started_at": _iso(ceremony.started_at),
        "quorum_at": _iso(ceremony.quorum_at),
        "closed_at": _iso(ceremony.closed_at),
        "checkins": [c.registration.bidder_code for c in ceremony.checkins.select_related("registration")],
        "bids": bids,
        "objections": objections,
        "stream": {"key": stream.key, "last_seq": stream.last_seq, "head": stream.head_digest},
    }


def opening_record_verify(*, record: dict, signature: str, public_key: bytes | None = None) -> bool:
    return signing.verify(canonical_json(record), signature, public_key)


# --- objections (OPEN-OBJECTION) --------------------------------------------------------------------


def opening_objection_raise(*, actor, section: Section, text: str) -> OpeningObjection:
    registration = policy.opening_registration(actor, section)
    if registration is None:
        raise NotAllowed("NOT-ALLOWED", _("只有本标段的投标人可以提出开标异议。"))
    text = (text or "").strip()
    if not text or len(text) > MAX_OBJECTION:
        raise RuleViolation("OPEN-OBJECTION", _("异议内容不能为空，且不超过2000字。"), fields={"text": "1..2000"})
    ceremony = ceremony_of(section)
    with transaction.atomic():
        locked = _lock(ceremony.pk)
        if not locked.active:
            raise TransitionError("OPEN-OBJECTION", _("开标已结束，不能再提出开标异议。"), fields={"state": locked.state})
        if not BidOpening.objects.filter(section=section, bid__registration=registration).exists():
            raise NotAllowed("OPEN-NOT-A-BIDDER", _("您在本标段没有有效投标。"))
        objection = OpeningObjection.objects.create(ceremony=locked, registration=registration, raised_by=actor, text=text)
        audit_append(
            event=AuditEvent.OPENING_OBJECTION,
            actor=actor,
            section=section,
            data={"objection": objection.pk, "bidder_code": registration.bidder_code, "text": text},
        )
        _publish(
            section,
            "opening.objection",
            {"id": objection.pk, "code": registration.bidder_code, "text": text},
            actor=actor,
            sealed=_name_of(registration),
        )
    return objection


def opening_objection_answer(*, actor, section: Section, objection_id: int, answer: str) -> OpeningObjection:
    ceremony = OpeningCeremony.objects.filter(section=section).first()
    _refuse(ANSWER, actor=actor, section=section, ceremony=ceremony)
    answer = (answer or "").strip()
    if not answer or len(answer) > MAX_OBJECTION:
        raise RuleViolation("OPEN-OBJECTION", _("答复内容不能为空，且不超过2000字。"), fields={"answer": "1..2000"})
    with transaction.atomic():
        locked = _lock(ceremony.pk)
        _refuse(ANSWER, actor=actor, section=section, ceremony=locked)
        objection = (
            OpeningObjection.objects.select_for_update(of=("self",))
            .select_related("registration")
            .filter(pk=objection_id, ceremony=locked)
            .first()
        )
        if objection is None:
            raise NotAllowed("NOT-FOUND", _("没有这条异议。"))
        if objection.answered_at is not None:
            raise TransitionError("OPEN-OBJECTION", _("这条异议已经答复。"))
        objection.answer, objection.answered_by, objection.answered_at = answer, actor, timezone.now()
        objection.save(update_fields=["answer", "answered_by", "answered_at"])
        audit_append(
            event=AuditEvent.OPENING_OBJECTION_ANSWERED,
            actor=actor,
            section=section,
            data={"objection": objection.pk, "answer": answer},
        )
        _publish(
            section,
            "opening.answer",
            {"id": objection.pk, "code": objection.registration.bidder_code, "answer": answer},
            actor=actor,
        )
        if locked.state == C.READOUT:
            _schedule_advance(locked.pk)
    return objection


def opening_watchdog(*, now=None) -> int:
    """Beat: take the next step of every opening that is under way (a lost task, a dead worker, a Redis restart)."""
    ids = list(OpeningCeremony.objects.filter(state__in=[C.DECRYPTING, C.READOUT]).values_list("pk", flat=True)) + list(
        OpeningCeremony.objects.filter(
            state__in=[C.CLOSED, C.FAILED],
            section__streams__kind=StreamKind.OPENING,
            section__streams__closed_at__isnull=True,
        ).values_list("pk", flat=True)
    )
    for pk in ids:
        opening_advance(ceremony_id=pk, now=now)
    return len(ids)
