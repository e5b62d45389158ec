"""An opening end to end, from the custodian who completes the quorum to the last read-out line, as a ratio to
hashlib SHA-256 over the same envelope bytes in the same run.

Bids are sealed and uploaded through the real services first (not timed); then the SHA-256 baseline
reads and hashes every envelope file once; then the opening: the last share is presented (Argon2id
re-derivation, key rebuilt in memory, every data key unwrapped), every bid is verified, decrypted and
its parts stored, and every bid read out. ratio = baseline seconds / opening seconds (goal >= 0.7).

Tasks run where the Celery settings say: eagerly in this process without REDIS_URL, or with
--workers N in N Celery worker processes this script starts (against REDIS_URL).
Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/sunlight_bench python bench/opening.py
       [--bids 300 --mb 20 --workers 0 --dir /var/tmp]
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MB = 1 << 20


def setup_django(work: Path, eager: bool):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["MEDIA_ROOT"] = str(work / "media")
    os.environ["UPLOAD_TEMP_DIR"] = str(work / "uploads")
    os.environ["OPENING_READOUT_SECONDS"] = "0"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1" if eager else "0"
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # setup speed only: users' passwords
    hashers.get_hashers.cache_clear()


def make_section(bids: int, mb: int, work: Path):
    """A published section, `bids` registered bidders each with a sealed bid of about `mb` MB, the deadline passed."""
    from django.utils import timezone

    from tests import factories
    from tests.bidding.openings import SealedBidder, published_section
    from tests.factories import OrganizationFactory, SectionFactory, UserFactory
    from trading.models import Role, User

    base = int(time.time()) % 10**6 * 1000  # sequences restart per process: start past earlier runs
    for factory_class in (OrganizationFactory, UserFactory, factories.ProjectFactory, SectionFactory):
        factory_class.reset_sequence(base)
    staff = User.objects.filter(role=Role.STAFF, is_key_custodian=False).first() or UserFactory(role=Role.STAFF)
    section = published_section(staff, public_id=f"BENCH-OPEN-{int(time.time())}")
    content = os.urandom(mb * MB - 64 * 1024)  # the same plaintext for all: every bid's data keys differ anyway
    for n in range(bids):
        bidder = SealedBidder(section)
        files = {"technical": ("technical.bin", "application/octet-stream", content[: len(content) // 2])}
        files["commercial"] = ("commercial.bin", "application/octet-stream", content[len(content) // 2 :])
        bidder.submit(bidder.seal(price=100_000_000 + n, files=files, chunk_size=MB))
        if (n + 1) % 50 == 0:
            print(f"  sealed and uploaded {n + 1}/{bids}", flush=True)
    section.bid_deadline = section.opening_at = timezone.now()
    section.save(update_fields=["bid_deadline", "opening_at"])
    return staff, section


def sha256_baseline(section) -> tuple[float, int]:
    """Read and hash every stored envelope once, 1 MB at a time, as the opening reads them."""
    from django.core.files.storage import default_storage

    from bidding.models import Bid

    total, started = 0, time.perf_counter()
    for bid in Bid.objects.filter(registration__section=section, status="active"):
        digest = hashlib.sha256()
        with default_storage.open(bid.envelope.name, "rb") as fh:
            while data := fh.read(MB):
                digest.update(data)
                total += len(data)
        assert digest.hexdigest() == bid.digest
    return time.perf_counter() - started, total


def start_workers(count: int, work: Path) -> list[subprocess.Popen]:
    env = {**os.environ, "OPENING_TASK_STALL_SECONDS": "600"}
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "WARNING", "--concurrency", "1"]
    return [
        subprocess.Popen([*command, "-n", f"bench{i}@%h", "--without-gossip", "--without-mingle"], cwd=ROOT, env=env)
        for i in range(count)
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bids", type=int, default=300)
    parser.add_argument("--mb", type=int, default=20)
    parser.add_argument("--workers", type=int, default=0, help="Celery worker processes (0: tasks run in this process)")
    parser.add_argument("--profile", action="store_true", help="print where the opening's time goes (cProfile)")
    parser.add_argument("--dir", default=None, help="where envelopes and opened parts go (default: a temporary directory)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sunlight-opening-", dir=args.dir))
    setup_django(work, eager=args.workers == 0)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bidding.models import BidOpening, OpeningCeremony
    from bidding.opening import opening_decrypt_begin, opening_share_present, opening_start
    from tests.bidding.openings import PASSPHRASE, custodians

    workers = []
    try:
        print(f"sealing and uploading {args.bids} bids of {args.mb} MB into {work} ...", flush=True)
        staff, section = make_section(args.bids, args.mb, work)
        baseline, total = sha256_baseline(section)
        opening_start(actor=staff, section=section)
        opening_decrypt_begin(actor=staff, section=section)
        first, second, _third = custodians(section)
        opening_share_present(actor=first, section=section, passphrase=PASSPHRASE)
        if args.workers:
            workers = start_workers(args.workers, work)
            time.sleep(8)  # let them connect before the clock starts
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        opening_share_present(actor=second, section=section, passphrase=PASSPHRASE)
        quorum = time.perf_counter() - started
        while OpeningCeremony.objects.get(section=section).state != "closed":
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        if profiler is not None:
            import pstats

            profiler.disable()
            order, lines = os.environ.get("PROFILE_SORT", "tottime"), int(os.environ.get("PROFILE_LINES", "20"))
            pstats.Stats(profiler).sort_stats(order).print_stats(lines)
        opened = BidOpening.objects.filter(section=section, status="opened").count()
        assert opened == args.bids, f"{opened} of {args.bids} opened"
        gb = total / 1e9
        print(f"bids: {args.bids} x {args.mb} MB = {gb:.2f} GB of envelopes; tasks: {args.workers or 'in process'}")
        print(f"sha256 baseline: {baseline:.2f} s ({gb / baseline:.2f} GB/s)")
        print(f"opening, quorum to last read-out: {elapsed:.2f} s ({gb / elapsed:.2f} GB/s)")
        print(f"  of which the quorum request (Argon2id, rebuild, every data key unwrapped): {quorum:.2f} s")
        print(f"ratio (baseline / opening): {baseline / elapsed:.2f}  (goal >= 0.7)")
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
