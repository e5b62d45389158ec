"""Seal and open throughput of bidding.envelope, as a ratio to hashlib SHA-256 over the same bytes.

Also HPKE unwraps per second as a ratio to bare P-256 ECDH exchanges, and peak RSS
growth to show memory flat in file size. Usage: python bench/seal_open.py [--max-mb 256]
"""

import argparse
import hashlib
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric import ec

from bidding import envelope as E

MB = 1 << 20


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-mb", type=int, default=256)
    args = parser.parse_args()
    opening, bidder, signing = E.generate_key(), E.generate_key(), E.generate_key()
    print(f"{'size':>8} {'sha256 MB/s':>12} {'seal MB/s':>10} {'ratio':>6} {'open MB/s':>10} {'ratio':>6} {'peak RSS MB':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for size_mb in [s for s in (1, 16, 64, 256, 1024) if s <= args.max_mb]:
            source, sealed = Path(tmp) / "bid.bin", Path(tmp) / "bid.env"
            with open(source, "wb") as fh:
                for _ in range(size_mb):
                    fh.write(os.urandom(MB))
            start = time.perf_counter()
            digest = hashlib.sha256()
            with open(source, "rb") as fh:
                while piece := fh.read(4 * MB):
                    digest.update(piece)
            sha = size_mb / (time.perf_counter() - start)
            start = time.perf_counter()
            with open(sealed, "wb") as out:
                E.seal(
                    section="S-BENCH",
                    bidder_code="B-0001",
                    opening_public_key=opening.public_key(),
                    bidder_public_key=bidder.public_key(),
                    signing_private_key=signing,
                    form={"price_fen": 1},
                    files={"technical": str(source)},
                    out=out,
                )
            seal = size_mb / (time.perf_counter() - start)
            start = time.perf_counter()
            with open(sealed, "rb") as fh, open(os.devnull, "wb") as sink:
                E.open_part(fh, private_key=opening, recipient="opening", part_name="technical", out=sink)
            opened = size_mb / (time.perf_counter() - start)
            row = f"{size_mb:>6}MB {sha:>12.0f} {seal:>10.0f} {seal / sha:>6.2f} {opened:>10.0f} {opened / sha:>6.2f}"
            print(f"{row} {rss_mb():>12.0f}")
            source.unlink()
            sealed.unlink()
    n = 2000
    wrapped = E.SUITE.encrypt(os.urandom(32), opening.public_key(), info=b"x")
    start = time.perf_counter()
    for _ in range(n):
        E.SUITE.decrypt(wrapped, opening, info=b"x")
    unwraps = n / (time.perf_counter() - start)
    peer = ec.generate_private_key(ec.SECP256R1()).public_key()
    start = time.perf_counter()
    for _ in range(n):
        opening.exchange(ec.ECDH(), peer)
    exchanges = n / (time.perf_counter() - start)
    print(f"HPKE unwraps/s {unwraps:.0f}  bare P-256 ECDH/s {exchanges:.0f}  ratio {unwraps / exchanges:.2f} (goal 0.8)")


if __name__ == "__main__":
    main()
