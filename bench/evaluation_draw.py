"""The expert draw (bidding.evaluation.draw) on large pools, as a ratio to one HMAC-SHA256 per candidate.

The draw orders the candidate list by HMAC-SHA256(seed, code) and fills the seats; the re-run
(`evaluation_redraw`) does the same with the replacement log. The baseline is the HMACs alone over
the same codes, measured in the same run, so the ratio says what the seat filling and sorting add.
Each figure is the best of --repeat runs.

Usage: python bench/evaluation_draw.py [--repeat 5]
"""

import argparse
import hashlib
import hmac
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bidding.evaluation.draw import draw_committee

SPECIALTIES = [f"A{n:02d}" for n in range(1, 21)]


def pool(size: int) -> list[dict]:
    return [{"code": f"E-{n:06d}", "specialties": [SPECIALTIES[n % 20], SPECIALTIES[(n * 7) % 20]]} for n in range(size)]


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    seed = secrets.token_hex(32)
    rules = {"quotas": [["A01", 4], ["A02", 3], ["A03", 2], ["A04", 2]]}
    print(f"{'pool':>8} {'hmac only ms':>13} {'draw ms':>9} {'ratio':>6} {'draw+20 declines ms':>20} {'ratio':>6}")
    for size in (1_000, 10_000, 100_000):
        candidates = pool(size)
        key = bytes.fromhex(seed)
        baseline = best(
            lambda c=candidates, k=key: [
                hmac.new(k, f"sunlight-draw/v1|{x['code']}".encode(), hashlib.sha256).digest() for x in c
            ],
            args.repeat,
        )
        drawn = draw_committee(seed_hex=seed, candidates=candidates, rules=rules)
        log = []
        for n in range(20):  # twenty successive declines, each of the seat's current holder
            seats = draw_committee(seed_hex=seed, candidates=candidates, rules=rules, replacements=log)
            seat = seats[n % len(seats)]
            log.append({"seat": seat.seat, "code": seat.code})
        draw_time = best(lambda c=candidates: draw_committee(seed_hex=seed, candidates=c, rules=rules), args.repeat)
        replay = best(
            lambda c=candidates, r=log: draw_committee(seed_hex=seed, candidates=c, rules=rules, replacements=r), args.repeat
        )
        assert len(drawn) == 11
        print(
            f"{size:>8} {baseline * 1000:>13.2f} {draw_time * 1000:>9.2f} {draw_time / baseline:>6.2f}"
            f" {replay * 1000:>20.2f} {replay / baseline:>6.2f}"
        )


if __name__ == "__main__":
    main()
