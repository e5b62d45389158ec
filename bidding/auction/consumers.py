"""The auction room's websocket: the sale's stream (as livestream serves it) plus offers from bidders.

A frame {"t": "offer", "amount_fen": N, "id": ...} is judged by the same service as the API (under the
sale's row lock) and answered {"t": "offer", "id", "ok", ...} on this socket; an accepted offer
reaches every viewer as a stream event like any other.
"""

import asyncio
import json
import time
from datetime import datetime

from django.conf import settings
from django.http import Http404
from django.utils.translation import gettext as _

from bidding.auction import selectors
from bidding.auction.services import iso, sale_offer
from livestream.consumers import StreamConsumer, signed_in_user
from livestream.db import db_call_parallel
from livestream.hub import CLOSE_POLICY, CLOSE_TOO_BIG, text_message
from trading.errors import DomainError
from trading.models import Section
from trading.rules import yuan

_sections: dict[tuple[int, str], Section] = {}  # (user, public id) -> the section that user may see (a one-way door)


@db_call_parallel
def offer_from_stream(user, public_id: str, amount_fen) -> dict:
    try:
        section = _sections.get((user.pk, public_id))
        if section is None:
            section = selectors.sale_for(user=user, public_id=public_id).section
            if len(_sections) > 10_000:
                _sections.clear()
            _sections[(user.pk, public_id)] = section
        offer = sale_offer(actor=user, section=section, amount_fen=amount_fen, via="stream", precheck=False)
    except DomainError as error:
        return {"ok": False, "code": error.code, "message": error.message, "fields": error.fields}
    except Http404:
        return {"ok": False, "code": "NOT-FOUND", "message": _("竞价不存在。"), "fields": {}}
    # The bidder's own code: it knows it (the room shows it), and it tells when it leads.
    return {
        "ok": True,
        "seq": offer.seq,
        "amount_fen": offer.amount_fen,
        "at": iso(offer.at),
        "code": offer.registration.bidder_code,
        "next_min_fen": offer.amount_fen + section.increment_fen,
    }


# The sale runs after these (a suspension, a result or the stream's end does not).
RUNNING_KINDS = frozenset({"offer.accepted", "sale.listing", "sale.countdown", "sale.warning", "sale.resumed"})
SCAN = 50


def committed_minimum(events: list[dict]) -> tuple[int, float, str | None] | None:
    """(least valid offer, deadline as a timestamp, leader's code) from the stream's committed tail, if it tells.

    Events reach the stream only after their transaction commits and prices only rise, so an offer
    below this minimum is too low whatever the database holds now: it is refused here, without a
    query, and the database's lock is left to the offers that may be valid.
    """
    if not events or events[-1]["kind"] not in RUNNING_KINDS:
        return None
    minimum = leader = deadline = None
    for event in reversed(events[-SCAN:]):
        payload = event["payload"]
        if deadline is None:
            deadline = payload.get("ends_at") or payload.get("listing_end")
        if event["kind"] == "offer.accepted":
            minimum, leader = payload["next_min_fen"], payload["code"]
            break
        if event["kind"] == "sale.listing":
            minimum = payload["starting_price_fen"]
            break
    if minimum is None or deadline is None:
        return None
    return minimum, datetime.fromisoformat(deadline).timestamp(), leader


class SaleGate:
    """One per sale per process: this process's offers go to the database one at a time, each first checked
    against the highest minimum this process knows to be committed (from the stream, or from the answer
    to the offer before it). A burst of equal offers costs one locked transaction, not one each."""

    def __init__(self):
        self.lock = asyncio.Lock()
        self.minimum = 0


_gates: dict[tuple[int, str], SaleGate] = {}


def sale_gate(public_id: str) -> SaleGate:
    key = (id(asyncio.get_running_loop()), public_id)
    gate = _gates.get(key)
    if gate is None:
        gate = _gates[key] = SaleGate()
    return gate


class AuctionConsumer(StreamConsumer):
    async def websocket_connect(self, message):
        kwargs = self.scope["url_route"]["kwargs"]
        self.public_id = kwargs["public_id"]
        kwargs["key"] = f"auction.{self.public_id}"
        self.user = None
        self.offer_window_start, self.offers_in_window = time.monotonic(), 0
        await super().websocket_connect(message)

    async def websocket_receive(self, message):
        text = message.get("text")
        frame = None
        if text is not None and '"offer"' in text and len(text) <= settings.LIVESTREAM_CLIENT_FRAME_BYTES:
            try:
                frame = json.loads(text)
            except ValueError:
                frame = None
        if not isinstance(frame, dict) or frame.get("t") != "offer":
            return await super().websocket_receive(message)
        await self.offer(frame)

    async def offer(self, frame: dict) -> None:
        viewer = self.viewer
        if viewer is None or viewer.closed or self.local is None:
            return
        now = time.monotonic()
        if now - self.offer_window_start >= 60:
            self.offer_window_start, self.offers_in_window = now, 0
        self.offers_in_window += 1
        if self.offers_in_window > settings.AUCTION_OFFER_FRAMES_PER_MINUTE:
            return viewer.close(CLOSE_POLICY, "WS-RATE", _("报价过于频繁。"))
        reply = {"t": "offer"}
        ident = frame.get("id")
        if isinstance(ident, int | str) and len(str(ident)) <= 64:
            reply["id"] = ident
        amount = frame.get("amount_fen")
        if self.user is None:
            self.user = await signed_in_user(self.scope)
        if not self.user.is_authenticated:
            reply.update(ok=False, code="OFFER-NOT-REGISTERED", message=_("请先登录。"), fields={})
            return viewer.push(text_message(reply))
        gate = sale_gate(self.public_id)
        async with gate.lock:
            known = committed_minimum(self.local.events)
            if (
                known is not None
                and isinstance(amount, int)
                and not isinstance(amount, bool)
                and amount < max(known[0], gate.minimum)
                and known[2] not in viewer.own_codes
                and time.time() < known[1]
            ):
                least = max(known[0], gate.minimum)
                reply.update(
                    ok=False,
                    code="OFFER-TOO-LOW",
                    message=_("报价须不低于%(least)s元（当前价加加价幅度）。") % {"least": yuan(least)},
                    fields={"amount_fen": f">= {least}", "minimum_fen": least},
                )
            else:
                answer = await offer_from_stream(self.user, self.public_id, amount)
                reply.update(answer)
                if answer["ok"]:
                    gate.minimum = max(gate.minimum, answer["next_min_fen"])
                elif answer["code"] == "OFFER-TOO-LOW":
                    gate.minimum = max(gate.minimum, answer["fields"].get("minimum_fen", 0))
        if len(json.dumps(reply)) > 4096:
            return viewer.close(CLOSE_TOO_BIG, "WS-TOO-BIG", _("消息过长。"))
        viewer.push(text_message(reply))
