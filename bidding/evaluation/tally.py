"""Aggregation and ranking as a pure function of the scheme, the bids and the signed submissions.

- A bid is rejected (EVAL-REJECT) when more than half of the committee votes to reject it; the
  experts on the losing side of that vote are recorded as dissent.
- Comprehensive scoring: price score = price points x lowest valid price / bid price (the benchmark
  is the lowest price among the bids not rejected), plus each expert's criteria points; a bid's
  score is the mean over the experts who scored it. Ties: the lower price, then the higher
  technical points, then the earlier read-out.
- Lowest evaluated price: the valid bids by price; ties by the earlier read-out.
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

CENT = Decimal("0.01")


def q(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class BidIn:
    opening_id: int
    price_fen: int
    readout_order: int


@dataclass(frozen=True)
class SubmissionIn:
    seat: int
    scores: dict  # {str(opening_id): {criterion key: points}}
    rejections: dict  # {str(opening_id): {"code", "reason"}}


@dataclass
class Row:
    opening_id: int
    price_fen: int
    readout_order: int
    rejected: bool = False
    reject_votes: list = field(default_factory=list)  # [{"seat", "code", "reason"}]
    price_score: Decimal | None = None
    experts: dict = field(default_factory=dict)  # seat -> total
    technical: Decimal = Decimal(0)
    score: Decimal | None = None
    rank: int | None = None
    tie_break: str = ""


def tally(*, method: str, price_points: int, criteria: list[dict], bids: list[BidIn], submissions: list[SubmissionIn]):
    """(rows in rank order, rejected rows after them; dissent list)."""
    rows = {b.opening_id: Row(b.opening_id, b.price_fen, b.readout_order) for b in bids}
    dissent = []
    majority = len(submissions) // 2 + 1
    for row in rows.values():
        key = str(row.opening_id)
        row.reject_votes = [{"seat": s.seat, **s.rejections[key]} for s in submissions if key in s.rejections]
        row.rejected = len(row.reject_votes) >= majority
        voters = {v["seat"] for v in row.reject_votes}
        for s in submissions:
            if voters and (s.seat in voters) != row.rejected:
                dissent.append({"opening_id": row.opening_id, "seat": s.seat, "voted": "reject" if s.seat in voters else "keep"})
    valid = [r for r in rows.values() if not r.rejected]
    technical_keys = {c["key"] for c in criteria if c.get("kind", "technical") == "technical"}
    if valid and method == "comprehensive":
        benchmark = min(r.price_fen for r in valid)
        for row in valid:
            row.price_score = q(Decimal(price_points) * benchmark / row.price_fen)
            key = str(row.opening_id)
            scored = [s for s in submissions if key in s.scores and key not in s.rejections]
            for s in scored:
                points = s.scores[key]
                row.experts[s.seat] = q(row.price_score + sum(Decimal(str(points[c["key"]])) for c in criteria))
            if scored:
                row.score = q(sum(row.experts.values()) / len(scored))
                row.technical = q(sum(Decimal(str(s.scores[key][k])) for s in scored for k in technical_keys) / len(scored))
        order = sorted(valid, key=lambda r: (-(r.score or 0), r.price_fen, -r.technical, r.readout_order))
    else:
        order = sorted(valid, key=lambda r: (r.price_fen, r.readout_order))
    for rank, row in enumerate(order, start=1):
        row.rank = rank
    for before, after in pairwise(order):
        if method == "comprehensive" and before.score != after.score:
            continue
        if before.price_fen != after.price_fen:
            reason = "price" if method == "comprehensive" else ""
        elif method == "comprehensive" and before.technical != after.technical:
            reason = "technical"
        else:
            reason = "readout_order"
        if reason:
            before.tie_break = after.tie_break = reason
    rejected = sorted((r for r in rows.values() if r.rejected), key=lambda r: r.readout_order)
    return order + rejected, dissent
