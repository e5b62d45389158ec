"""Sales: set-up, offers, the clock (listing -> countdown -> result), suspension.

Every write locks the section and then the sale row (in that order, everywhere), reads the
clock under those locks, brings the sale up to that moment (`_advance`), and only then judges
the offer. So simultaneous offers are ordered by the database: each sees the one before it,
is accepted or refused with a reason, and there is never more than one highest offer.

The clock is injectable: every service takes `clock`, a function returning now (the server's
clock by default), so tests can walk through a four-minute countdown without sleeping.

Sale states:  scheduled -> listing -> countdown -> sold | failed   (listing -> sold | failed too)
A suspension of the section freezes whichever clock runs (the listing's or the countdown's) and
a resumption restarts it with what was left, each with a notice on the stream.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bidding.auction import reserve as reserve_seal
from bidding.auction.models import Offer, Sale, SaleState
from bidding.models import Registration
from livestream.models import StreamKind
from livestream.services import stream_ensure, stream_publish
from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import DomainError, NotAllowed, RuleViolation, TransitionError
from trading.i18n import official_language
from trading.models import Announcement, AnnouncementKind, Procedure, Section, SectionState, SectionTransition
from trading.models.sections import SALE_TYPES
from trading.rules import yuan
from trading.services.lifecycle import opened_release, section_transition
from trading.services.locks import lock_section

Clock = Callable[[], datetime]
S = SaleState

SALE_TRANSITIONS: dict[str, set[str]] = {
    S.SCHEDULED: {S.LISTING},
    S.LISTING: {S.COUNTDOWN, S.SOLD, S.FAILED},
    S.COUNTDOWN: {S.SOLD, S.FAILED},
    S.SOLD: set(),
    S.FAILED: set(),
}
# The section around a sale: no opening or evaluation, the result of the auction is the award.
SECTION_TRANSITIONS: dict[str, set[str]] = {
    SectionState.PUBLISHED: {SectionState.BIDDING_CLOSED},
    SectionState.BIDDING_CLOSED: {SectionState.AWARDED, SectionState.FAILED},
}
# Registration and the deposit cut-off have passed once the lifecycle tick closes "bidding"; the sale runs on.
RUNNING_SECTION_STATES = {SectionState.PUBLISHED, SectionState.BIDDING_CLOSED}
REFUND_REASON = "AUCTION-RESULT"


def _clock(clock: Clock | None) -> datetime:
    return (clock or timezone.now)()


def countdown_seconds_default() -> int:
    return int(getattr(settings, "AUCTION_COUNTDOWN_SECONDS", 240))


def warning_seconds() -> int:
    return int(getattr(settings, "AUCTION_WARNING_SECONDS", 60))


def lock_sale(section_id: int) -> tuple[Section, Sale]:
    """The section's row, then the sale's: the one lock order of this app."""
    section = lock_section(section_id)
    sale = Sale.objects.select_for_update(of=("self",)).get(section_id=section_id)
    return section, sale


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds") if moment else None


# --- set-up --------------------------------------------------------------------------------------


def sale_set_up(*, actor, section: Section, listing_end: datetime, reserve_fen: int | None = None) -> Sale:
    """Attach the sale to a draft auction section: listing end, countdown, and the sealed reserve (optional)."""
    if not policy.can_edit_section(actor, section):
        raise NotAllowed("NOT-ALLOWED", _("只有草稿状态的出让标段可以由出让人、代理机构或交易中心设置。"))
    if section.procedure != Procedure.AUCTION or section.project.transaction_type not in SALE_TYPES:
        raise RuleViolation("SALE-TYPE", _("只有土地使用权或产权出让（网上竞价）的标段可以设置竞价。"))
    if not section.starting_price_fen or section.starting_price_fen <= 0:
        raise RuleViolation("SALE-STARTING-PRICE", _("须设置起始价。"), fields={"starting_price_fen": "> 0"})
    if not section.increment_fen or section.increment_fen <= 0:
        raise RuleViolation("SALE-INCREMENT", _("须设置加价幅度。"), fields={"increment_fen": "> 0"})
    if section.opening_at is None or listing_end <= section.opening_at:
        raise RuleViolation(
            "SALE-LISTING", _("挂牌截止时间须晚于挂牌开始时间（竞价日）。"), fields={"listing_end": "> opening_at"}
        )
    if reserve_fen is not None and (isinstance(reserve_fen, bool) or not isinstance(reserve_fen, int) or reserve_fen < 0):
        raise RuleViolation("SALE-RESERVE", _("保留价须为非负整数（分）。"), fields={"reserve_fen": ">= 0"})
    sealed, commitment = ("", "")
    if reserve_fen is not None:
        sealed, commitment = reserve_seal.reserve_seal(section_public_id=section.public_id, reserve_fen=reserve_fen)
    with transaction.atomic():
        locked = lock_section(section.pk)
        if locked.state != SectionState.DRAFT:
            raise TransitionError("SALE-FIXED", _("出让公告发布后竞价规则不得更改。"))
        sale, _created = Sale.objects.update_or_create(
            section=locked,
            defaults={
                "listing_end": listing_end,
                "countdown_seconds": countdown_seconds_default(),
                "reserve_sealed": sealed,
                "reserve_commitment": commitment,
            },
        )
        # The commitment is public from here on; the reserve itself never enters the log.
        audit_append(
            event=AuditEvent.SALE_SET_UP,
            actor=actor,
            section=locked,
            data={
                "listing_end": listing_end.isoformat(),
                "countdown_seconds": sale.countdown_seconds,
                "reserve_commitment": commitment,
            },
        )
        stream_ensure(kind=StreamKind.AUCTION, section=locked, actor=actor)
    return sale


# --- offers --------------------------------------------------------------------------------------


_streams: dict[int, object] = {}


def _stream(section: Section):
    """The sale's stream (made at set-up; streams are never deleted, so the row is looked up once per process)."""
    stream = _streams.get(section.pk)
    if stream is None:
        stream = _streams[section.pk] = stream_ensure(kind=StreamKind.AUCTION, section=section)
    return stream


def minimum_offer(sale: Sale, section: Section) -> int:
    if sale.current_price_fen is None:
        return section.starting_price_fen
    return sale.current_price_fen + section.increment_fen


def registration_qualified(registration: Registration) -> bool:
    """Qualified once the deposit arrived in full before the cut-off and is still held (DEP-BEFORE-DEADLINE)."""
    from escrow.services.deposits import deposit_counts

    return deposit_counts(registration)


def sale_offer(
    *, actor, section: Section, amount_fen, clock: Clock | None = None, via: str = "api", precheck: bool = True
) -> Offer:
    """One offer: accepted (numbered, published at once under the bidder code) or refused with a reason.

    precheck: first refuse, without the lock, what is too low against the committed price (the room's
    websocket has done that already from the stream, and passes False).
    """
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise RuleViolation("OFFER-INVALID", _("报价须为正整数（分）。"), fields={"amount_fen": "> 0"})
    registration = (
        Registration.objects.filter(section_id=section.pk, organization_id=getattr(actor, "organization_id", None))
        .select_related("organization", "section")
        .first()
        if policy.role_of(actor) == "bidder"
        else None
    )
    if registration is None:
        raise NotAllowed("OFFER-NOT-REGISTERED", _("只有已报名的竞买人可以报价。"))
    refusal = _refusal_unlocked(section.pk, registration, amount_fen, clock) if precheck else None
    if refusal is not None:
        raise refusal
    with transaction.atomic():
        locked, sale = lock_sale(section.pk)
        now = _clock(clock)  # read under the lock: the order of the clock is the order of the database
        _advance(sale, locked, now)
        refusal = _refusal(sale, locked, registration, amount_fen)
        if refusal is None:
            offer = _accept(sale, locked, registration, amount_fen, now, via=via, actor=actor)
    # Raised after the block: what the clock moved (a countdown begun, a sale ended) stays committed.
    if refusal is not None:
        raise refusal
    return offer


def _refusal_unlocked(section_id: int, registration: Registration, amount_fen: int, clock: Clock | None) -> DomainError | None:
    """Too low against the committed price, without the lock: prices only rise, so the locked check would say the same.

    Only when nothing else could be the answer (the sale runs, its deadline is ahead, the bidder is
    qualified and not leading); every other case, and every offer that may be valid, takes the lock.
    """
    sale = Sale.objects.select_related("section").filter(section_id=section_id).first()
    if sale is None or sale.frozen_at is not None or sale.section.state not in RUNNING_SECTION_STATES:
        return None
    deadline = _running_deadline(sale)
    if deadline is None or _clock(clock) >= deadline or sale.leader_id == registration.pk:
        return None
    least = minimum_offer(sale, sale.section)
    if amount_fen >= least or not registration_qualified(registration):
        return None
    return _too_low(least)


def _too_low(least: int) -> RuleViolation:
    return RuleViolation(
        "OFFER-TOO-LOW",
        _("报价须不低于%(least)s元（当前价加加价幅度）。") % {"least": yuan(least)},
        fields={"amount_fen": f">= {least}", "minimum_fen": least},
    )


def _refusal(sale: Sale, section: Section, registration: Registration, amount_fen: int) -> DomainError | None:
    if sale.frozen_at is not None or section.state == SectionState.SUSPENDED:
        return TransitionError("SALE-SUSPENDED", _("竞价已暂停，恢复后方可报价。"))
    if sale.ended:
        return TransitionError("SALE-ENDED", _("竞价已结束。"))
    if sale.state == S.SCHEDULED:
        return TransitionError("SALE-NOT-STARTED", _("挂牌尚未开始。"))
    if not registration_qualified(registration):
        return NotAllowed("OFFER-NOT-QUALIFIED", _("保证金未按时足额到账，不具备竞买资格。"))
    if sale.leader_id == registration.pk:
        return RuleViolation("OFFER-ALREADY-LEADING", _("您已是当前最高报价人。"))
    least = minimum_offer(sale, section)
    if amount_fen < least:
        return _too_low(least)
    return None


def _accept(sale: Sale, section: Section, registration: Registration, amount_fen: int, now: datetime, *, via, actor) -> Offer:
    phase = Offer.Phase.COUNTDOWN if sale.state == S.COUNTDOWN else Offer.Phase.LISTING
    if phase == Offer.Phase.COUNTDOWN:
        # Every valid offer restarts the countdown from its own moment.
        sale.countdown_round += 1
        sale.countdown_ends_at = now + timedelta(seconds=sale.countdown_seconds)
    sale.last_seq += 1
    offer = Offer.objects.create(
        sale=sale,
        registration=registration,
        seq=sale.last_seq,
        amount_fen=amount_fen,
        at=now,
        phase=phase,
        countdown_round=sale.countdown_round if phase == Offer.Phase.COUNTDOWN else 0,
        via=via,
    )
    sale.current_price_fen, sale.leader = amount_fen, registration
    sale.save(update_fields=["last_seq", "current_price_fen", "leader", "countdown_round", "countdown_ends_at"])
    code = registration.bidder_code
    # No actor: the entry is public at once, and its leaf hash would let anyone test guesses of the
    # offering account and company before the names are revealed; the code names the bidder.
    audit_append(
        event=AuditEvent.SALE_OFFER,
        section=section,
        data={"bidder_code": code, "seq": offer.seq, "amount_fen": amount_fen, "phase": phase, "at": iso(now)},
    )
    stream_publish(
        stream=_stream(section),
        kind="offer.accepted",
        payload={
            "offer": offer.seq,
            "code": code,
            "amount_fen": amount_fen,
            "at": iso(now),
            "phase": phase,
            "round": offer.countdown_round,
            "ends_at": iso(sale.countdown_ends_at) if phase == Offer.Phase.COUNTDOWN else iso(sale.listing_end),
            "next_min_fen": amount_fen + section.increment_fen,
        },
        sealed={code: {"name": registration.organization.name}},
        actor=actor,
    )
    return offer


# --- the clock -----------------------------------------------------------------------------------


def sale_tick(*, section: Section, clock: Clock | None = None) -> Sale:
    """Bring a sale up to now: start the listing, begin or end the countdown, warn, freeze, resume."""
    with transaction.atomic():
        locked, sale = lock_sale(section.pk)
        _advance(sale, locked, _clock(clock))
    return sale


def sales_tick(*, clock: Clock | None = None) -> int:
    """Every sale not yet ended (scheduled: the auction clock process and the beat call this)."""
    moved = 0
    now = _clock(clock)
    rows = Sale.objects.exclude(state__in=[S.SOLD, S.FAILED]).filter(section__published_at__isnull=False)
    rows = rows.exclude(state=S.SCHEDULED, section__opening_at__gt=now)  # days ahead: nothing to move yet
    for sale in rows.select_related("section").only("pk", "section_id", "state"):
        before = sale.state
        after = sale_tick(section=sale.section, clock=clock)
        moved += after.state != before
    return moved


def _move(sale: Sale, to_state: str) -> None:
    if to_state not in SALE_TRANSITIONS[sale.state]:
        raise TransitionError("SALE-TRANSITION", f"a sale cannot go from {sale.state} to {to_state}")
    sale.state = to_state


def _advance(sale: Sale, section: Section, now: datetime) -> None:
    """Under the locks: apply every step of the sale's clock due by `now`, each at its own moment."""
    if sale.ended:
        return
    _sync_suspension(sale, section, now)
    if sale.frozen_at is not None or section.state not in RUNNING_SECTION_STATES:
        return
    if sale.state == S.SCHEDULED and now >= section.opening_at:
        _move(sale, S.LISTING)
        sale.save(update_fields=["state"])
        audit_append(event=AuditEvent.SALE_LISTING_STARTED, section=section, data={"listing_end": iso(sale.listing_end)})
        stream_publish(
            stream=_stream(section),
            kind="sale.listing",
            payload={
                "listing_end": iso(sale.listing_end),
                "starting_price_fen": section.starting_price_fen,
                "increment_fen": section.increment_fen,
            },
        )
    if sale.state == S.LISTING and now >= sale.listing_end:
        competitors = sale.offers.values("registration_id").distinct().count()
        if competitors >= 2:
            _move(sale, S.COUNTDOWN)
            sale.countdown_round = 1
            sale.countdown_ends_at = sale.listing_end + timedelta(seconds=sale.countdown_seconds)
            sale.save(update_fields=["state", "countdown_round", "countdown_ends_at"])
            audit_append(event=AuditEvent.SALE_COUNTDOWN_STARTED, section=section, data={"ends_at": iso(sale.countdown_ends_at)})
            stream_publish(
                stream=_stream(section),
                kind="sale.countdown",
                payload={
                    "round": 1,
                    "ends_at": iso(sale.countdown_ends_at),
                    "seconds": sale.countdown_seconds,
                    "price_fen": sale.current_price_fen,
                },
            )
        else:
            _close(sale, section, at=sale.listing_end)
            return
    if sale.state == S.COUNTDOWN:
        if now >= sale.countdown_ends_at:
            _close(sale, section, at=sale.countdown_ends_at)
            return
        left = sale.countdown_ends_at - now
        if left <= timedelta(seconds=warning_seconds()) and sale.warned_round < sale.countdown_round:
            sale.warned_round = sale.countdown_round
            sale.save(update_fields=["warned_round"])
            stream_publish(
                stream=_stream(section),
                kind="sale.warning",
                payload={
                    "round": sale.countdown_round,
                    "ends_at": iso(sale.countdown_ends_at),
                    "seconds_left": int(left.total_seconds()),
                },
            )


def _running_deadline(sale: Sale) -> datetime | None:
    if sale.state == S.LISTING:
        return sale.listing_end
    if sale.state == S.COUNTDOWN:
        return sale.countdown_ends_at
    return None


def _suspended_at(section: Section, now: datetime) -> datetime:
    """When the section was suspended (a supervisor through the section's own page, perhaps): not after now."""
    at = (
        SectionTransition.objects.filter(section=section, to_state=SectionState.SUSPENDED)
        .order_by("-at", "-pk")
        .values_list("at", flat=True)
        .first()
    )
    return min(at, now) if at else now


def _sync_suspension(sale: Sale, section: Section, now: datetime, *, at: datetime | None = None) -> None:
    suspended = section.state == SectionState.SUSPENDED
    if suspended and sale.frozen_at is None:
        at = at or _suspended_at(section, now)
        deadline = _running_deadline(sale)
        if deadline is None:
            return
        sale.frozen_at = at
        # A deadline that passed unnoticed before the suspension: nothing left, it falls due on resumption.
        sale.frozen_remaining_ms = max(int((deadline - at).total_seconds() * 1000), 0)
        sale.save(update_fields=["frozen_at", "frozen_remaining_ms"])
        audit_append(event=AuditEvent.SALE_FROZEN, section=section, data={"remaining_ms": sale.frozen_remaining_ms})
        stream_publish(
            stream=_stream(section),
            kind="sale.suspended",
            payload={"state": sale.state, "remaining_ms": sale.frozen_remaining_ms, "at": iso(at)},
        )
    elif not suspended and sale.frozen_at is not None and section.state in RUNNING_SECTION_STATES:
        deadline = now + timedelta(milliseconds=sale.frozen_remaining_ms)
        fields = ["frozen_at", "frozen_remaining_ms"]
        if sale.state == S.LISTING:
            sale.listing_end = deadline
            fields.append("listing_end")
        else:
            sale.countdown_ends_at = deadline
            fields.append("countdown_ends_at")
            if sale.frozen_remaining_ms <= warning_seconds() * 1000:
                sale.warned_round = sale.countdown_round - 1  # warn again after the pause
                fields.append("warned_round")
        remaining = sale.frozen_remaining_ms
        sale.frozen_at, sale.frozen_remaining_ms = None, None
        sale.save(update_fields=fields)
        audit_append(event=AuditEvent.SALE_RESUMED, section=section, data={"deadline": iso(deadline)})
        stream_publish(
            stream=_stream(section),
            kind="sale.resumed",
            payload={"state": sale.state, "ends_at": iso(deadline), "remaining_ms": remaining, "at": iso(now)},
        )


def sale_suspend(*, actor, section: Section, reason: str, clock: Clock | None = None) -> Sale:
    """A supervisor's suspension (actor), or the platform's own when it fails (actor None): the clock freezes now."""
    from trading.services.sections import section_suspend

    with transaction.atomic():
        locked, sale = lock_sale(section.pk)
        now = _clock(clock)
        _advance(sale, locked, now)  # what fell due before the suspension happened before it
        if actor is None:
            section_transition(section=section, to_state=SectionState.SUSPENDED, reason=reason or "platform failure")
        else:
            section_suspend(actor=actor, section=section, reason=reason)
        locked, sale = lock_sale(section.pk)
        _sync_suspension(sale, locked, now, at=now)
    return sale


def sale_resume(*, actor, section: Section, reason: str, clock: Clock | None = None) -> Sale:
    """Back to the interrupted state; the frozen clock restarts with what was left, announced on the stream."""
    from trading.services.sections import section_resume

    with transaction.atomic():
        if actor is None:
            _system_resume(section, reason)
        else:
            section_resume(actor=actor, section=section, reason=reason)
        locked, sale = lock_sale(section.pk)
        _sync_suspension(sale, locked, _clock(clock))
    return sale


def _system_resume(section: Section, reason: str) -> None:
    locked = lock_section(section.pk)
    if locked.state != SectionState.SUSPENDED:
        raise TransitionError("TRANSITION", _("标段未处于暂停状态。"))
    back = locked.suspended_from
    locked.state, locked.suspended_from = back, ""
    locked.save(update_fields=["state", "suspended_from", "updated_at"])
    SectionTransition.objects.create(section=locked, from_state=SectionState.SUSPENDED, to_state=back, reason=reason)
    audit_append(event=AuditEvent.SECTION_RESUMED, section=locked, data={"to": back, "reason": reason})


# --- the result ----------------------------------------------------------------------------------


def premium_rate(*, price_fen: int, base_fen: int) -> Decimal | None:
    if not base_fen:
        return None
    return (Decimal(price_fen - base_fen) / Decimal(base_fen)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def _section_move(section: Section, to_state: str, *, at: datetime, reason: str) -> None:
    if to_state not in SECTION_TRANSITIONS.get(section.state, set()):
        raise TransitionError("TRANSITION", f"a sale's section cannot go from {section.state} to {to_state}")
    from_state = section.state
    section.state = to_state
    fields = ["state", "updated_at"]
    if section.opened_at is None and to_state in (SectionState.AWARDED, SectionState.FAILED):
        section.opened_at = at  # names are revealed at the end (the firewall's "opening" of a sale)
        fields.append("opened_at")
    section.save(update_fields=fields)
    if "opened_at" in fields:
        opened_release(section)
    SectionTransition.objects.create(section=section, from_state=from_state, to_state=to_state, reason=reason)
    audit_append(
        event=AuditEvent.SECTION_TRANSITION, section=section, data={"from": from_state, "to": to_state, "reason": reason}
    )


def _close(sale: Sale, section: Section, *, at: datetime) -> None:
    """The sale ends at `at` (the listing's end, or the last countdown's): the reserve is checked and revealed."""
    meets_reserve = True
    if sale.has_reserve:
        sale.reserve_fen, sale.reserve_salt = reserve_seal.reserve_unseal(
            section_public_id=section.public_id, sealed=sale.reserve_sealed, expected_commitment=sale.reserve_commitment
        )
        meets_reserve = sale.current_price_fen is not None and sale.current_price_fen >= sale.reserve_fen
    if sale.leader_id and meets_reserve:
        _move(sale, S.SOLD)
        sale.winner_id, sale.final_price_fen = sale.leader_id, sale.current_price_fen
        base = sale.reserve_fen if sale.has_reserve and sale.reserve_fen else section.starting_price_fen
        sale.premium_rate = premium_rate(price_fen=sale.final_price_fen, base_fen=base)
    else:
        _move(sale, S.FAILED)
        sale.failure_reason = "BELOW-RESERVE" if sale.leader_id else "NO-OFFER"
    sale.ended_at = at
    sale.save()
    if section.state == SectionState.PUBLISHED:
        _section_move(section, SectionState.BIDDING_CLOSED, at=at, reason="sale ended")
    sold = sale.state == S.SOLD
    _section_move(section, SectionState.AWARDED if sold else SectionState.FAILED, at=at, reason=f"sale {sale.state}")
    winner = Registration.objects.select_related("organization").get(pk=sale.winner_id) if sold else None
    audit_append(
        event=AuditEvent.SALE_ENDED,
        section=section,
        data={
            "state": sale.state,
            "price_fen": sale.final_price_fen,
            "winner": winner.bidder_code if winner else None,
            "reserve_fen": sale.reserve_fen,
            "reserve_salt": sale.reserve_salt,
            "premium_rate": str(sale.premium_rate) if sale.premium_rate is not None else None,
            "failure": sale.failure_reason,
        },
    )
    _announce(sale, section, winner)
    offerers = Registration.objects.filter(offers__sale=sale).select_related("organization").distinct()
    stream_publish(
        stream=_stream(section),
        kind="sale.result",
        payload={
            "state": sale.state,
            "ended_at": iso(at),
            "winner": winner.bidder_code if winner else None,
            "price_fen": sale.final_price_fen,
            "premium_rate": str(sale.premium_rate) if sale.premium_rate is not None else None,
            "failure": sale.failure_reason,
            "reserve": _reserve_payload(sale),
        },
        sealed={r.bidder_code: {"name": r.organization.name} for r in offerers},
    )
    from bidding.auction.tasks import sale_settle_task

    transaction.on_commit(lambda: sale_settle_task.delay(sale.pk), robust=True)


def _reserve_payload(sale: Sale) -> dict | None:
    if not sale.has_reserve:
        return None
    return {"commitment": sale.reserve_commitment, "fen": sale.reserve_fen, "salt": sale.reserve_salt}


def _announce(sale: Sale, section: Section, winner: Registration | None) -> Announcement:
    with official_language():  # the public notice, whoever's action ended the sale
        if winner is not None:
            kind = AnnouncementKind.RESULT
            body = _("竞得人：%(name)s（%(code)s）；成交价：%(price)s元；溢价率：%(rate)s%%。") % {
                "name": winner.organization.name,
                "code": winner.bidder_code,
                "price": yuan(sale.final_price_fen),
                "rate": f"{sale.premium_rate * 100:.2f}" if sale.premium_rate is not None else "-",
            }
        else:
            kind = AnnouncementKind.FAILURE
            body = _("本次出让未成交（%(reason)s）。") % {
                "reason": _("最高报价低于保留价") if sale.failure_reason == "BELOW-RESERVE" else _("无人报价")
            }
        if sale.has_reserve:
            body += " " + _("保留价：%(reserve)s元；承诺值 SHA-256：%(commitment)s；盐：%(salt)s。") % {
                "reserve": yuan(sale.reserve_fen),
                "commitment": sale.reserve_commitment,
                "salt": sale.reserve_salt,
            }
        title = f"{section.project.name} {section.name} {AnnouncementKind(kind).label}"
    return Announcement.objects.create(section=section, kind=kind, title=title, body=body, published_at=timezone.now())
