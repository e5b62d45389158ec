"""The draw as a pure function: committee = f(seed, published candidate list, rules, log, supplements).

Anyone holding the revealed seeds and the published record re-runs it and must get the same seats
(`manage.py evaluation_redraw`). Format (version 2; a version-1 record, which has no vacancy, re-runs the same):
- order: the candidates' codes sorted by HMAC-SHA256(key=seed, msg="sunlight-draw/v1|" + code);
- seats 1..n are filled quota by quota, in the rules' order: each seat takes the first code in the
  order that has the quota's specialty and was not drawn before (declined or recused codes stay used);
- each replacement (a decline, a recusal, a replacement in session) in the order it happened re-fills its
  seat the same way; one that finds nobody leaves the seat vacant (code "");
- a supplementary round (补充抽取, a log item {"supplement": k}) adds its own seed's order of its own published
  candidates after the earlier ones, and fills the vacant seats in seat order; from then on a seat is filled from
  the first order, in round order, that still has someone.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass

DRAW_VERSION = 2


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


def round_mismatch(round_: dict) -> str:
    """What of a revealed round ({"seed", "commitment", "candidates", "candidates_digest"}) does not match what was
    published before its draw: "seed", "candidates", or "" when both hold."""
    if commitment_of(round_["seed"]) != round_["commitment"]:
        return "seed"
    if digest(round_["candidates"]) != round_["candidates_digest"]:
        return "candidates"
    return ""


@dataclass(frozen=True)
class Seat:
    seat: int
    specialty: str
    code: str


def draw_committee(
    *, seed_hex: str, candidates: list[dict], rules: dict, replacements: list[dict] = (), supplements: list[dict] = ()
) -> list[Seat]:
    """Every drawn seat after the log (a vacant one with code ""). `supplements`: the rounds' revealed
    {"seed", "candidates"}, in order. Raises PoolExhausted when the first filling cannot fill a seat, and
    ValueError on a log that does not fit the record."""
    rounds: list[tuple[list[str], dict[str, set[str]]]] = []
    used: set[str] = set()

    def add_round(seed: str, listed: list[dict]) -> None:
        rounds.append((draw_order(seed, [c["code"] for c in listed]), {c["code"]: set(c["specialties"]) for c in listed}))

    def next_for(specialty: str) -> str:
        for order, specialties in rounds:
            for code in order:
                if code not in used and specialty in specialties[code]:
                    used.add(code)
                    return code
        return ""

    add_round(seed_hex, candidates)
    seats: dict[int, Seat] = {}
    number = 0
    for specialty, count in rules["quotas"]:
        for _ in range(count):
            number += 1
            seats[number] = Seat(number, specialty, next_for(specialty) or _exhausted(specialty))
    for item in replacements:
        if "supplement" in item:
            if item["supplement"] != len(rounds) or len(supplements) < len(rounds):
                raise ValueError(f"supplementary round {item} is not the next published one")
            add_round(supplements[len(rounds) - 1]["seed"], supplements[len(rounds) - 1]["candidates"])
            for seat in [s for s in seats.values() if not s.code]:
                seats[seat.seat] = Seat(seat.seat, seat.specialty, next_for(seat.specialty))
            continue
        seat = seats.get(item["seat"])
        if seat is None or not seat.code or seat.code != item["code"]:
            raise ValueError(f"replacement {item} does not match seat {seat}")
        seats[seat.seat] = Seat(seat.seat, seat.specialty, next_for(seat.specialty))
    return [seats[n] for n in sorted(seats)]


def _exhausted(specialty: str):
    raise PoolExhausted(specialty)
