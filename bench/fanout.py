"""Fan-out of one live stream to N websocket viewers, as a ratio to a bare `websockets` broadcast server.

Both servers are driven by the same client in the same run, on 127.0.0.1 only:
- bare: a `websockets` server that keeps its history in memory and broadcasts
  each event with websockets.broadcast (one process);
- sunlight: `uvicorn config.asgi:application` (the stream consumer, its per-process
  hub, the Redis pub/sub channel layer, PostgreSQL), events published by a
  separate process through stream_publish (a transaction, then Redis).
Each event carries its send time (stamped by the publisher just before publishing).

Figures per viewer count: delivered / expected, p50 and p99 delivery latency, time
to the last viewer (per event, median and worst), connects per second for a join
storm, and the p99 for a late joiner to receive the history.

Usage: python bench/fanout.py [--viewers 1000 2000] [--events 40] [--rate 5] [--history 200]
                              [--storm 200] [--late 30] [--workers 1]
Needs DATABASE_URL (PostgreSQL) and REDIS_URL.
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
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))


# --- the bare server ----------------------------------------------------------------
async def serve_bare(port: int) -> None:
    """History in memory, hello + history on connect, websockets.broadcast for live events; a control socket drives it."""
    from websockets import broadcast
    from websockets.asyncio.server import serve

    viewers = set()
    history: list[dict] = []

    async def publish(count: int, rate: float, pad: int) -> None:
        for _ in range(count):
            event = {"seq": len(history) + 1, "kind": "bench", "at": "", "payload": {"sent": time.time(), "pad": "x" * pad}}
            history.append(event)
            broadcast(viewers, dumps({"t": "ev", "events": [event]}))
            if rate:
                await asyncio.sleep(1 / rate)

    async def handler(ws):
        query = parse_qs(urlparse(ws.request.path).query)
        if "control" in query:
            async for message in ws:
                command = json.loads(message)
                await publish(command["count"], command["rate"], command.get("pad", 64))
                await ws.send("done")
            return
        after = int(query.get("after", ["0"])[0])
        await ws.send(dumps({"t": "hello", "seq": len(history), "after": after, "viewers": len(viewers) + 1}))
        missed = history[after:]
        if missed:
            await ws.send(dumps({"t": "ev", "replay": True, "events": missed}))
        viewers.add(ws)
        try:
            await ws.wait_closed()
        finally:
            viewers.discard(ws)

    async with serve(handler, HOST, port, compression=None, backlog=4096, max_size=2**20):
        await asyncio.Future()


# --- the sunlight publisher (a process of its own, as a view or a task would be) ------------
def run_publisher(stream_key: str) -> None:
    import django

    django.setup()
    from django.db import connection

    from livestream.models import Stream, StreamKind
    from livestream.services import stream_publish

    stream, _ = Stream.objects.get_or_create(key=stream_key, defaults={"kind": StreamKind.DEMO})
    print("ready", flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        for _ in range(command["count"]):
            stream_publish(stream=stream, kind="bench", payload={"sent": time.time(), "pad": "x" * command.get("pad", 64)})
            if command["rate"]:
                time.sleep(1 / command["rate"])
        connection.close()
        print("done", flush=True)


class Publisher:
    """Either the bare server's control socket or the sunlight publisher process."""

    def __init__(self, kind: str, port: int, env: dict, stream_key: str):
        self.kind, self.port, self.env, self.stream_key = kind, port, env, stream_key
        self.process = None
        self.control = None

    async def start(self):
        from websockets.asyncio.client import connect

        if self.kind == "bare":
            self.control = await connect(f"ws://{HOST}:{self.port}/?control=1", compression=None)
        else:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--publisher",
                self.stream_key,
                cwd=ROOT,
                env=self.env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            assert (await self.process.stdout.readline()).strip() == b"ready"

    async def publish(self, count: int, rate: float) -> None:
        command = dumps({"count": count, "rate": rate})
        if self.control:
            await self.control.send(command)
            await self.control.recv()
        else:
            self.process.stdin.write(command.encode() + b"\n")
            await self.process.stdin.drain()
            assert (await self.process.stdout.readline()).strip() == b"done"

    async def stop(self):
        if self.control:
            await self.control.close()
        if self.process:
            self.process.stdin.close()
            await self.process.wait()


# --- the client -------------------------------------------------------------------------
class Viewer:
    def __init__(self):
        self.latencies: list[tuple[int, float]] = []  # (seq, seconds)
        self.seqs: list[int] = []
        self.ws = None
        self.task = None


async def open_viewer(url: str, origin: str, viewer: Viewer) -> dict:
    from websockets.asyncio.client import connect

    viewer.ws = await connect(url, origin=origin, compression=None, ping_interval=None, open_timeout=60, max_size=2**22)
    return json.loads(await viewer.ws.recv())


async def read_events(viewer: Viewer) -> None:
    try:
        async for text in viewer.ws:
            now = time.time()
            frame = json.loads(text)
            if frame["t"] != "ev" or frame.get("replay"):
                continue
            for event in frame["events"]:
                viewer.seqs.append(event["seq"])
                viewer.latencies.append((event["seq"], now - event["payload"]["sent"]))
    except Exception:  # a cut connection shows as missing deliveries
        return


async def late_joiner(url: str, origin: str, target: int) -> float:
    """Seconds from opening the connection to holding every event up to the hello's seq."""
    from websockets.asyncio.client import connect

    start = time.perf_counter()
    async with connect(url, origin=origin, compression=None, ping_interval=None, open_timeout=60, max_size=2**22) as ws:
        hello = json.loads(await ws.recv())
        want = max(hello["seq"], target)
        have = 0
        while have < want:
            frame = json.loads(await ws.recv())
            if frame["t"] == "ev":
                have = max(have, frame["events"][-1]["seq"])
        return time.perf_counter() - start


async def drive(kind: str, port: int, path: str, publisher: Publisher, args, viewers_n: int) -> dict:
    base = f"ws://{HOST}:{port}{path}"
    origin = f"http://{HOST}:{port}"
    failed = 0
    await publisher.publish(args.history, 0)  # the history a late joiner receives
    viewers = [Viewer() for _ in range(viewers_n)]
    hellos = []
    for start in range(0, viewers_n, 200):
        batch = viewers[start : start + 200]
        opening = (open_viewer(f"{base}?after={args.history}", origin, v) for v in batch)
        results = await asyncio.gather(*opening, return_exceptions=True)
        for viewer, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                failed += 1
                viewer.ws = None
            else:
                hellos.append(result)
                viewer.task = asyncio.ensure_future(read_events(viewer))
    await asyncio.sleep(1)

    # Live events, with late joiners arriving meanwhile.
    late_times: list[float] = []

    async def late_joiners():
        for _ in range(args.late):
            await asyncio.sleep(args.events / args.rate / (args.late + 1))
            try:
                late_times.append(await late_joiner(f"{base}?after=0", origin, args.history))
            except Exception:
                nonlocal failed
                failed += 1

    began = time.time()
    await asyncio.gather(publisher.publish(args.events, args.rate), late_joiners())
    await asyncio.sleep(2)  # let the last frames land
    live = [v for v in viewers if v.ws is not None]
    expected_seqs = list(range(args.history + 1, args.history + args.events + 1))
    delivered = sum(len(v.seqs) for v in live)
    in_order = sum(1 for v in live if v.seqs == expected_seqs)
    latencies = [lat for v in live for _seq, lat in v.latencies]
    per_event: dict[int, float] = {}
    for v in live:
        for seq, lat in v.latencies:
            per_event[seq] = max(per_event.get(seq, 0.0), lat)
    # Join storm: this many at once, onto the loaded server.
    storm = [Viewer() for _ in range(args.storm)]
    t0 = time.perf_counter()
    results = await asyncio.gather(*(open_viewer(f"{base}?after=0", origin, v) for v in storm), return_exceptions=True)
    storm_seconds = time.perf_counter() - t0
    storm_failed = sum(isinstance(r, BaseException) for r in results)
    for v in live + storm:
        if v.ws is not None:
            await v.ws.close()
    for v in live:
        v.task.cancel()
    return {
        "server": kind,
        "viewers": viewers_n,
        "delivered": delivered / (viewers_n * args.events),
        "in_order_viewers": in_order / viewers_n,
        "failed_handshakes": failed + storm_failed,
        "p50_ms": 1000 * percentile(latencies, 50),
        "p99_ms": 1000 * percentile(latencies, 99),
        "last_viewer_median_ms": 1000 * statistics.median(per_event.values()) if per_event else float("nan"),
        "last_viewer_max_ms": 1000 * max(per_event.values()) if per_event else float("nan"),
        "storm_connects_per_s": args.storm / storm_seconds,
        "late_history_p99_ms": 1000 * percentile(late_times, 99),
        "seconds": time.time() - began,
    }


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


async def run_one(kind: str, viewers_n: int, args, env: dict) -> dict:
    port = free_port()
    stream_key = f"bench.{uuid.uuid4().hex[:12]}"
    if kind == "bare":
        command = [sys.executable, __file__, "--serve-bare", str(port)]
        path = "/"
    else:
        command = [
            sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", HOST, "--port", str(port),
            "--workers", str(args.workers), "--no-access-log", "--log-level", "warning", "--backlog", "4096",
        ]  # fmt: skip
        path = f"/ws/streams/{stream_key}/"
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    publisher = Publisher(kind, port, env, stream_key)
    try:
        await wait_port(port)
        await publisher.start()
        async with asyncio.timeout(300):
            return await drive(kind, port, path, publisher, args, viewers_n)
    finally:
        await publisher.stop()
        server.terminate()
        server.wait(timeout=20)


def report(bare: dict, ours: dict) -> None:
    print(f"\n== {ours['viewers']} viewers ==")
    rows = [
        ("delivered / expected", "delivered", "{:.4f}"),
        ("viewers with every event in order", "in_order_viewers", "{:.4f}"),
        ("failed handshakes", "failed_handshakes", "{:.0f}"),
        ("p50 latency ms", "p50_ms", "{:.1f}"),
        ("p99 latency ms", "p99_ms", "{:.1f}"),
        ("time to last viewer, median ms", "last_viewer_median_ms", "{:.1f}"),
        ("time to last viewer, worst ms", "last_viewer_max_ms", "{:.1f}"),
        ("join storm connects/s", "storm_connects_per_s", "{:.0f}"),
        ("late joiner history p99 ms", "late_history_p99_ms", "{:.1f}"),
    ]
    print(f"{'':36} {'bare':>10} {'sunlight':>10} {'ratio':>8}")
    for label, key, fmt in rows:
        ratio = ours[key] / bare[key] if bare[key] else float("nan")
        print(f"{label:36} {fmt.format(bare[key]):>10} {fmt.format(ours[key]):>10} {ratio:>8.2f}")
    print(
        f"goals: delivered=1 & no failed handshake: {ours['delivered'] == 1.0 and ours['failed_handshakes'] == 0}; "
        f"p99 within 5x bare: {ours['p99_ms'] <= 5 * bare['p99_ms']}; "
        f"late-joiner p99 within 2x broadcast p99: {ours['late_history_p99_ms'] <= 2 * ours['p99_ms']}"
    )


async def main_async(args) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    for viewers_n in args.viewers:
        bare = await run_one("bare", viewers_n, args, env)
        ours = await run_one("sunlight", viewers_n, args, env)
        report(bare, ours)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--viewers", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--rate", type=float, default=5)
    parser.add_argument("--history", type=int, default=200)
    parser.add_argument("--storm", type=int, default=200)
    parser.add_argument("--late", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--serve-bare", type=int)
    parser.add_argument("--publisher")
    args = parser.parse_args()
    raise_fd_limit()
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        uvloop = None
    if args.serve_bare:
        (uvloop.run if uvloop else asyncio.run)(serve_bare(args.serve_bare))
        return
    if args.publisher:
        sys.path.insert(0, str(ROOT))
        run_publisher(args.publisher)
        return
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL")
    (uvloop.run if uvloop else asyncio.run)(main_async(args))


if __name__ == "__main__":
    main()
