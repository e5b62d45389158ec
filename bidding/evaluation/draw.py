"""The draw as a pure function: committee = f(seed, published candidate list, rules, replacement log).

Anyone holding the revealed seed and the published record re-runs it and must get the same seats
(`manage.py evaluation_redraw`). Format (version 1):
- order: the candidates' codes sorted by HMAC-SHA256(key=seed, msg="sunlight-draw/v1|" + code);
- seats 1..n are filled quota by quota, in the rules' order: each seat takes the first code in the
  order that has the quota's specialty and was not drawn before (declined or recused codes stay used);
- each replacement (a decline, a recusal) in the order it happened re-fills its seat the same way.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass

DRAW_VERSION = 1


class PoolExhausted(Exception):
    """No candidate left with the specialty a seat needs."""

    def __init__(self, specialty: str):
        super().__init__(specialty)
        self.specialty = specialty


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(value) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def commitment_of(seed_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()


def draw_order(seed_hex: str, codes) -> list[str]:
    seed = bytes.fromhex(seed_hex)
    return sorted(codes, key=lambda code: hmac.new(seed, f"sunlight-draw/v1|{code}".encode(), hashlib.sha256).digest())


@dataclass(frozen=True)
class Seat:
    seat: int
    specialty: str
    code: str


def draw_committee(*, seed_hex: str, candidates: list[dict], rules: dict, replacements: list[dict] = ()) -> list[Seat]:
    """The sitting drawn members after the replacements; raises PoolExhausted, ValueError on a log that does not fit."""
    order = draw_order(seed_hex, [c["code"] for c in candidates])
    specialties = {c["code"]: set(c["specialties"]) for c in candidates}
    used: set[str] = set()

    def next_for(specialty: str) -> str:
        for code in order:
            if code not in used and specialty in specialties[code]:
                used.add(code)
                return code
        raise PoolExhausted(specialty)

    seats: dict[int, Seat] = {}
    number = 0
    for specialty, count in rules["quotas"]:
        for _ in range(count):
            number += 1
            seats[number] = Seat(number, specialty, next_for(specialty))
    for item in replacements:
        seat = seats.get(item["seat"])
        if seat is None or seat.code != item["code"]:
            raise ValueError(f"replacement {item} does not match seat {seat}")
        seats[seat.seat] = Seat(seat.seat, seat.specialty, next_for(seat.specialty))
    return [seats[n] for n in sorted(seats)]
