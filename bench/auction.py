"""A live sale under load: bidders offering as fast as they can, spectators watching, through the real stack.

On 127.0.0.1 only: `uvicorn config.asgi:application` (the auction room's websocket: offers judged
under the sale's row lock in PostgreSQL, events fanned out through Redis), the sales' clock
(`manage.py auction_clock`), and this client: B bidders each sending its next offer (the
price it last saw + the increment) as soon as the previous one is answered, for the listing's
length, and S spectators holding the room open. When the listing ends the sale goes to its
countdown, nobody offers, and it ends; then every spectator's sequence is compared.

Figures: offers accepted per second (and refused, by reason), p50/p99 from an offer's sending
to its broadcast reaching a spectator, whether every spectator saw the same offers in the same
order ending at the same winner. Baselines in the same run: bare PostgreSQL row-lock transactions
per second from B threads (lock, update, commit: the least a serialized offer costs), and the
websocket round trip (ping/pong) p99 on the same server before the load.

Usage: python bench/auction.py [--bidders 50] [--spectators 1000] [--seconds 60] [--countdown 5] [--workers 1]
Needs DATABASE_URL (PostgreSQL) and REDIS_URL. Bounded: the listing lasts --seconds, then the sale ends.
"""

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- set-up (Django, before the event loop) ------------------------------------------------------
def setup_sale(args) -> dict:
    """A published land sale whose listing runs from now for --seconds, with B registered bidders signed in."""
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from bidding.auction.models import Sale
    from bidding.auction.services import sale_set_up
    from bidding.services import registration_create
    from trading.models import Organization, OrganizationKind, Procedure, Project, Role, Section, TransactionType, User
    from trading.services.sections import section_publish

    settings.AUCTION_COUNTDOWN_SECONDS = args.countdown
    tag = uuid.uuid4().hex[:8]
    now = timezone.now()

    def org(kind, n):
        return Organization.objects.create(name=f"压测单位{tag}-{n}", kind=kind, credit_code=f"B{tag}{n:09d}"[:18])

    staff = User.objects.create(username=f"bench-staff-{tag}", role=Role.STAFF, organization=org(OrganizationKind.EXCHANGE, 0))
    project = Project.objects.create(
        code=f"BENCH-{tag}",
        name="压测出让地块",
        tenderer=org(OrganizationKind.TENDERER, 1),
        transaction_type=TransactionType.LAND,
        region="上城区",
    )
    section = Section.objects.create(
        public_id=f"S-BENCH-{tag}",
        project=project,
        name="一号地块",
        procedure=Procedure.AUCTION,
        estimated_price_fen=100_000_000,
        starting_price_fen=100_000_000,
        increment_fen=100_000,
        deposit_fen=0,  # the offers are measured here, not the payments: everyone qualifies
        documents_issued_at=now,
        registration_start=now - timedelta(minutes=1),
        registration_end=now + timedelta(days=5),
        bid_deadline=now + timedelta(days=6),
        opening_at=now + timedelta(days=8),
    )
    sale_set_up(actor=staff, section=section, listing_end=section.opening_at + timedelta(hours=1))
    section_publish(actor=staff, section=section)
    sessions = []
    for n in range(args.bidders):
        user = User.objects.create(
            username=f"bench-bidder-{tag}-{n}", role=Role.BIDDER, organization=org(OrganizationKind.BIDDER, 10 + n)
        )
        registration_create(actor=user, section=section, contact_name="压测", contact_phone="13800000000")
        store = SessionStore()
        store[SESSION_KEY], store[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        sessions.append(store.session_key)
    # The announced days have passed (AUCTION-7D): the listing starts now and lasts --seconds.
    start = timezone.now() + timedelta(seconds=args.warmup)
    Section.objects.filter(pk=section.pk).update(opening_at=start - timedelta(seconds=args.warmup))
    Sale.objects.filter(section=section).update(listing_end=start + timedelta(seconds=args.seconds))
    return {"public_id": section.public_id, "sessions": sessions, "start": start.timestamp(), "seconds": args.seconds}


def sale_outcome(public_id: str) -> dict:
    from bidding.auction.models import Offer, Sale

    sale = Sale.objects.select_related("winner").get(section__public_id=public_id)
    offers = list(Offer.objects.filter(sale=sale).order_by("seq").values_list("seq", "amount_fen"))
    return {"state": sale.state, "winner": sale.winner.bidder_code if sale.winner_id else None, "offers": offers}


def row_lock_baseline(threads: int, seconds: float) -> float:
    """Transactions per second: lock one row, update it, commit, from `threads` connections at once."""
    import psycopg
    from django.db import connection

    db = connection.settings_dict
    dsn = f"host={db['HOST']} port={db['PORT'] or 5432} user={db['USER']} dbname={db['NAME']}"
    with psycopg.connect(dsn, autocommit=True) as setup:
        setup.execute("CREATE TABLE IF NOT EXISTS bench_row_lock (id int primary key, n bigint)")
        setup.execute("INSERT INTO bench_row_lock VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET n = 0")
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def work(i):
        with psycopg.connect(dsn) as conn:
            while time.monotonic() < stop:
                with conn.transaction():
                    conn.execute("SELECT n FROM bench_row_lock WHERE id = 1 FOR UPDATE")
                    conn.execute("UPDATE bench_row_lock SET n = n + 1 WHERE id = 1")
                counts[i] += 1

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / seconds


# --- the clients ---------------------------------------------------------------------------------
class Spectator:
    def __init__(self):
        self.offers: list[tuple[int, int, str]] = []  # (offer seq, amount, code)
        self.received: dict[int, float] = {}  # offer seq -> arrival, live frames only
        self.winner = None
        self.ended = asyncio.Event()


async def watch(url: str, origin: str, spectator: Spectator, ready: asyncio.Event | None = None) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, origin=origin, compression=None, ping_interval=None, open_timeout=120, max_size=2**24) as ws:
        async for text in ws:
            now = time.time()
            frame = json.loads(text)
            if frame["t"] != "ev":
                continue
            for event in frame["events"]:
                if event["kind"] == "offer.accepted":
                    p = event["payload"]
                    spectator.offers.append((p["offer"], p["amount_fen"], p["code"]))
                    if not frame.get("replay"):
                        spectator.received[p["offer"]] = now
                elif event["kind"] == "sale.result":
                    spectator.winner = event["payload"]["winner"]
                    spectator.ended.set()
                    return


class Bidder:
    def __init__(self):
        self.sent: dict[int, float] = {}  # accepted offer seq -> when it was sent
        self.refused: Counter = Counter()
        self.accepted = 0
        self.answer_accepted: list[float] = []  # seconds from sending to the answer
        self.answer_refused: list[float] = []


async def bid(url: str, origin: str, session: str, bidder: Bidder, sale: dict, increment: int, starting: int) -> None:
    """Closed loop: the next offer goes as soon as the last is answered; a leader waits until it is outbid."""
    from websockets.asyncio.client import connect

    state = {"price": None, "leader": None, "me": None}
    changed = asyncio.Event()
    pending: dict[int, asyncio.Future] = {}
    headers = {"Cookie": f"sessionid={session}"}
    async with connect(
        url, origin=origin, additional_headers=headers, compression=None, ping_interval=None, open_timeout=120, max_size=2**24
    ) as ws:

        async def read():
            async for text in ws:
                frame = json.loads(text)
                if frame["t"] == "ev":
                    for event in frame["events"]:
                        if event["kind"] == "offer.accepted":
                            state["price"], state["leader"] = event["payload"]["amount_fen"], event["payload"]["code"]
                            changed.set()
                elif frame["t"] == "offer" and frame.get("id") in pending:
                    pending.pop(frame["id"]).set_result(frame)

        reader = asyncio.ensure_future(read())
        n = 0
        stop = sale["start"] + sale["seconds"] - 0.2
        while time.time() < sale["start"]:
            await asyncio.sleep(0.01)
        while time.time() < stop:
            if state["me"] is not None and state["leader"] == state["me"]:
                changed.clear()
                try:
                    await asyncio.wait_for(changed.wait(), timeout=max(0.01, stop - time.time()))
                except TimeoutError:
                    break
                continue
            n += 1
            amount = starting if state["price"] is None else state["price"] + increment
            future = asyncio.get_running_loop().create_future()
            pending[n] = future
            sent = time.time()
            await ws.send(json.dumps({"t": "offer", "id": n, "amount_fen": amount}))
            reply = await future
            (bidder.answer_accepted if reply["ok"] else bidder.answer_refused).append(time.time() - sent)
            if reply["ok"]:
                bidder.accepted += 1
                bidder.sent[reply["seq"]] = sent
                state["me"] = reply["code"]
                if reply["amount_fen"] >= (state["price"] or 0):
                    state["price"], state["leader"] = reply["amount_fen"], reply["code"]
            else:
                bidder.refused[reply["code"]] += 1
                if reply["code"] == "OFFER-TOO-LOW" and "minimum_fen" in reply.get("fields", {}):
                    state["price"] = max(state["price"] or 0, reply["fields"]["minimum_fen"] - increment)
        reader.cancel()


async def ping_rtt(url: str, origin: str, count: int = 100) -> float:
    from websockets.asyncio.client import connect

    times = []
    async with connect(url, origin=origin, compression=None, ping_interval=None) as ws:
        while json.loads(await ws.recv())["t"] != "hello":
            pass
        for i in range(count):
            t0 = time.perf_counter()
            await ws.send(json.dumps({"t": "ping", "id": i}))
            while json.loads(await ws.recv())["t"] != "pong":
                pass
            times.append(time.perf_counter() - t0)
            await asyncio.sleep(0.01)
    return percentile(times, 99)


async def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _reader, writer = await asyncio.open_connection(HOST, port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def run(args, sale: dict) -> dict:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        "AUCTION_OFFER_FRAMES_PER_MINUTE": "100000000",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", HOST, "--port", str(port),
         "--workers", str(args.workers), "--no-access-log", "--log-level", "warning", "--backlog", "4096"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    clock = subprocess.Popen([sys.executable, "manage.py", "auction_clock", "--interval", "0.1"], cwd=ROOT, env=env)
    try:
        await wait_port(port)
        url = f"ws://{HOST}:{port}/ws/auctions/{sale['public_id']}/?after=0"
        origin = f"http://{HOST}:{port}"
        rtt_p99 = await ping_rtt(url, origin)
        spectators = [Spectator() for _ in range(args.spectators)]
        watchers = []
        for start in range(0, len(spectators), 200):
            batch = spectators[start : start + 200]
            watchers += [asyncio.ensure_future(watch(url, origin, s)) for s in batch]
            await asyncio.sleep(0.5)
        bidders = [Bidder() for _ in sale["sessions"]]
        began = time.time()
        async with asyncio.timeout(args.seconds + args.warmup + args.countdown + 120):
            await asyncio.gather(
                *(
                    bid(url, origin, session, b, sale, 100_000, 100_000_000)
                    for session, b in zip(sale["sessions"], bidders, strict=True)
                )
            )
            listing_over = time.time()
            _done, _pending = await asyncio.wait(watchers, timeout=args.countdown + 60)
        failed_watchers = sum(1 for w in watchers if w.done() and w.exception() is not None) + len(_pending)
        for w in _pending:
            w.cancel()
        return {
            "spectators": spectators,
            "bidders": bidders,
            "seconds": max(1e-9, min(listing_over, sale["start"] + sale["seconds"]) - max(began, sale["start"])),
            "rtt_p99": rtt_p99,
            "failed_watchers": failed_watchers,
        }
    finally:
        clock.terminate()
        server.terminate()
        clock.wait(timeout=20)
        server.wait(timeout=20)


def report(args, result: dict, outcome: dict, baseline_tps: float) -> None:
    bidders, spectators = result["bidders"], result["spectators"]
    accepted = sum(b.accepted for b in bidders)
    refused = sum((b.refused for b in bidders), Counter())
    sent = {seq: t for b in bidders for seq, t in b.sent.items()}
    latencies = [s.received[seq] - t for s in spectators for seq, t in sent.items() if seq in s.received]
    expected = [(seq, amount) for seq, amount in outcome["offers"]]
    same_sequence = sum(1 for s in spectators if [(o[0], o[1]) for o in s.offers] == expected)
    same_winner = sum(1 for s in spectators if s.winner == outcome["winner"] and s.winner is not None)
    rate = accepted / result["seconds"]
    print(f"\n== sale: {args.bidders} bidders, {args.spectators} spectators, {args.seconds:.0f} s listing ==")
    print(f"offers accepted                 {accepted} ({rate:.1f}/s)")
    print(f"offers refused                  {sum(refused.values())} {dict(refused)}")
    print(f"offer -> broadcast p50 / p99 ms {1000 * percentile(latencies, 50):.1f} / {1000 * percentile(latencies, 99):.1f}"
          f"  ({len(latencies)} deliveries measured)")  # fmt: skip
    answered = [x for b in bidders for x in b.answer_accepted]
    refused_answers = [x for b in bidders for x in b.answer_refused]
    a50, a99 = 1000 * percentile(answered, 50), 1000 * percentile(answered, 99)
    r50, r99 = 1000 * percentile(refused_answers, 50), 1000 * percentile(refused_answers, 99)
    print(f"answer to the bidder p50 / p99 ms: accepted {a50:.1f} / {a99:.1f}, refused {r50:.1f} / {r99:.1f}")
    print(f"baseline: row-lock tx/s ({args.bidders} threads)  {baseline_tps:.0f}; accepted/s ratio {rate / baseline_tps:.3f}")
    p99 = percentile(latencies, 99)
    ratio = p99 / result["rtt_p99"]
    print(f"baseline: websocket ping p99 ms  {1000 * result['rtt_p99']:.1f}; offer->broadcast p99 ratio {ratio:.1f}")
    print(f"sale {outcome['state']}, winner {outcome['winner']}, {len(expected)} offers in the database")
    print(f"spectators with the database's exact sequence  {same_sequence}/{len(spectators)}")
    failed = result["failed_watchers"]
    print(f"spectators who saw the same winner             {same_winner}/{len(spectators)}  (failed connections: {failed})")
    print(f"median offers per bidder {statistics.median(b.accepted for b in bidders):.0f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bidders", type=int, default=50)
    parser.add_argument("--spectators", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--countdown", type=int, default=5)
    parser.add_argument("--warmup", type=float, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--baseline-seconds", type=float, default=5)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=os.environ, check=True)
    import django

    django.setup()
    from django.db import connection

    baseline_tps = row_lock_baseline(args.bidders, args.baseline_seconds)
    args.warmup = args.warmup or 5 + args.spectators / 200  # time to connect the spectators before the listing opens
    sale = setup_sale(args)
    connection.close()
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        uvloop = None
    result = (uvloop.run if uvloop else asyncio.run)(run(args, sale))
    report(args, result, sale_outcome(sale["public_id"]), baseline_tps)


if __name__ == "__main__":
    main()
