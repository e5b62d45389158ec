"""Sealed-bid ingest through the real ASGI server, as a ratio to fsync'd disk writes of the same bytes.

A single 200 MB envelope, then 50 concurrent 20 MB envelopes (resumable upload API: PUTs of 8 to
64 MB, about a second's worth each, on a kept-alive connection, each read from the file as it is
sent, as the bid page sends them; then finalize with the checks); the upload server's peak RSS
after each; and the p99 of the public announcements list while the uploads run, against its idle
p99. --rounds times (default 3: the bidders replace their bids), and the reads of every window
pooled, since the p99 of one window of a few hundred reads is its 3rd worst: idle 8 s before each
round and after the last, 3 s left out after each round (the write-back and autovacuum the uploads
leave, which would flatter the ratio as idle). The throughput figures are the median round, as a
ratio to the mean of a disk copy before and one after (its speed moves from run to run on a VM).

Each uploader is a process of its own under SCHED_IDLE: it stands for a browser on another
machine, so it takes only the CPU the servers leave (50 threads in this process queued behind
its GIL and timed the client, not the server). The servers run as deployed (README, "Running on
several machines"): no DEBUG, the anonymous rate limit lifted for the prober, the upload API
(/api/v1/uploads/... and the create) on its own uvicorn process at nice 10 (--upload-nice), the
pages and the rest of the API on gunicorn; the client sends each request where the proxy would.
--one-process puts everything on one uvicorn process instead.
Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/sunlight_bench python bench/upload.py
       [--big-mb 200 --crowd 50 --each-mb 20] [--rounds 3] [--one-process] [--upload-nice 10]
"""

import argparse
import http.client
import json
import os
import re
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PORT = 8766  # the upload API (uvicorn)
PAGES_PORT = 8767  # everything else (gunicorn), unless --one-process
UPLOAD_PATHS = re.compile(r"/api/v1/(uploads/|sections/[^/]+/uploads/)")
MB = 1 << 20
CHUNK_MIN, CHUNK_MAX, CHUNK_SECONDS = 8 * MB, 64 * MB, 1.0  # as the bid page (static/bidding/bid_page.js)


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()


def make_bidders(n: int):
    """A published section and n registered bidders with keys and API tokens."""
    from rest_framework.authtoken.models import Token

    from bidding import envelope as E
    from bidding.services import registration_create
    from tests import factories
    from tests.factories import OrganizationFactory, SectionFactory, UserFactory, platform_custodians
    from trading.models import Role, User
    from trading.services.sections import section_publish

    # Sequences restart in every process: start them past earlier runs on the same database.
    base = int(time.time()) % 10**6 * 1000
    for factory_class in (OrganizationFactory, UserFactory, factories.ProjectFactory, SectionFactory):
        factory_class.reset_sequence(base)
    platform_custodians()
    staff = User.objects.filter(role=Role.STAFF).first() or UserFactory(role=Role.STAFF)
    section = section_publish(actor=staff, section=SectionFactory(public_id=f"BENCH-{int(time.time())}"))
    bidders = []
    for _ in range(n):
        user = UserFactory(role=Role.BIDDER, organization=OrganizationFactory())
        signing, encryption = E.generate_key(), E.generate_key()
        registration = registration_create(
            actor=user,
            section=section,
            contact_name="bench",
            contact_phone="10000000",
            signing_public_key=E.public_key_text(signing.public_key()),
            encryption_public_key=E.public_key_text(encryption.public_key()),
        )
        bidders.append((Token.objects.create(user=user).key, registration.bidder_code, signing, encryption))
    return section, bidders


def seal_file(section, bidder, size_mb: int, directory: str) -> Path:
    from bidding import envelope as E

    _token, code, signing, encryption = bidder
    source = Path(directory) / f"{code}.src"
    with open(source, "wb") as fh:
        for _ in range(size_mb):
            fh.write(os.urandom(MB))
    target = Path(directory) / f"{code}.env"
    with open(target, "wb") as out:
        E.seal(
            section=section.public_id,
            bidder_code=code,
            opening_public_key=E.load_public_key(section.opening_key.public_key),
            bidder_public_key=encryption.public_key(),
            signing_private_key=signing,
            form={"price_fen": 1},
            files={"technical": str(source)},
            out=out,
        )
    source.unlink()
    return target


def port_for(path: str) -> int:
    """Where the proxy sends the request: the upload processes or the pages server."""
    return PORT if ONE_PROCESS or UPLOAD_PATHS.match(path) else PAGES_PORT


_connections = threading.local()  # one keep-alive connection per client thread and server, as a browser keeps


def _connection(port: int) -> http.client.HTTPConnection:
    pool = _connections.__dict__.setdefault("by_port", {})
    if port not in pool:
        pool[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=600, blocksize=1 << 20)
    return pool[port]


def request(method, path, token, body=None, headers=None):
    headers = {"Authorization": f"Token {token}", "Accept": "application/json", **(headers or {})}
    connection = _connection(port_for(path))
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
    except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
        # The server closed the idle connection (its keep-alive timeout): a new one, as a browser does.
        connection.close()
        if isinstance(body, FileRange):
            body.rewind()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
    data = response.read()
    if response.status >= 400:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
    return json.loads(data) if data else None


class FileRange:
    """`length` bytes of a file from `offset`, read as they are sent (a browser streams a Blob body the
    same way: reading the whole PUT first would leave the server idle meanwhile)."""

    def __init__(self, fh, offset: int, length: int):
        self.fh, self.offset, self.length, self.left = fh, offset, length, length

    def rewind(self) -> None:
        self.left = self.length

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        if self.left == self.length:
            self.fh.seek(self.offset)  # a resent request starts again from its offset (rewind)
        piece = self.fh.read(n)
        self.left -= len(piece)
        return piece


def upload(section, token, path: Path) -> None:
    size = path.stat().st_size
    created = request(
        "POST",
        f"/api/v1/sections/{section.public_id}/uploads/",
        token,
        json.dumps({"size": size}),
        {"Content-Type": "application/json"},
    )
    with open(path, "rb") as fh:
        offset, chunk = 0, CHUNK_MIN
        while offset < size:
            piece = FileRange(fh, offset, min(chunk, size - offset))
            started = time.perf_counter()
            request(
                "PUT",
                f"/api/v1/uploads/{created['id']}/",
                token,
                piece,
                {
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(piece.length),
                    "Upload-Offset": str(offset),
                },
            )
            offset += piece.length
            if ADAPTIVE:
                seconds = max(time.perf_counter() - started, 0.001)
                chunk = min(CHUNK_MAX, max(CHUNK_MIN, round(piece.length / seconds * CHUNK_SECONDS)))
    request("POST", f"/api/v1/uploads/{created['id']}/finalize/", token)


def wait_until_serving(port: int) -> None:
    for _ in range(300):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/v1/announcements/")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def fsync_baseline(paths: list[Path], directory: str) -> float:
    start = time.perf_counter()
    for path in paths:
        with open(path, "rb") as source, open(Path(directory) / (path.name + ".copy"), "wb") as out:
            while piece := source.read(8 * MB):
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
    return time.perf_counter() - start


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far: what a request costs when the machine is shared."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0


def _probe(port: int, stop, latencies) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/api/v1/announcements/")
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"the announcements list answered {response.status}")
        latencies.append((time.perf_counter() - start) * 1000)
        time.sleep(0.02)


class Prober:
    """Reads the public announcements list over and over from a process of its own (not behind the GIL of
    this process's 50 upload threads, which would time the client, not the server); records latencies."""

    def __init__(self):
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self._manager = context.Manager()
        self._latencies, self.stop = self._manager.list(), context.Event()
        port = port_for("/api/v1/announcements/")
        self._process = context.Process(target=_probe, args=(port, self.stop, self._latencies), daemon=True)

    def start(self):
        self._process.start()

    def join(self):
        self._process.join()
        self.latencies = list(self._latencies)
        self._manager.shutdown()

    def quantile(self, percent: int) -> float:
        return statistics.quantiles(self.latencies, n=100)[percent - 1] if len(self.latencies) > 2 else float("nan")

    def p99(self):
        return self.quantile(99)


class Uploaders:
    """The crowd: each uploader in a process of its own, as each bidder is a browser of its own (50 threads
    behind this process's GIL queued their own requests for seconds, which timed the client, not the
    server). The processes start before the clock does and wait for the word."""

    def __init__(self, section, jobs, sink: tuple[int, float] | None = None):
        import multiprocessing

        from django.db import connections

        connections.close_all()  # no database connection shared with the children
        context = multiprocessing.get_context("fork")
        self._ready, self._go = context.Barrier(len(jobs) + 1), context.Event()
        self._processes = [context.Process(target=self._upload, args=(section, *job, sink)) for job in jobs]
        for process in self._processes:
            process.start()
        self._ready.wait(timeout=120)

    def _upload(self, section, token, path, sink):
        _connections.by_port = {}  # the parent's kept-alive connections are its own
        # A stand-in for a browser on another machine: it takes only the CPU the servers leave.
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        self._ready.wait(timeout=120)
        self._go.wait()
        if sink is None:
            upload(section, token, path)
        else:
            send_raw(sink[0], path, sink[1])

    def run(self):
        self._go.set()
        for process in self._processes:
            process.join()
        failed = [process.exitcode for process in self._processes if process.exitcode]
        if failed:
            raise RuntimeError(f"{len(failed)} uploaders failed")


def send_raw(port: int, path: Path, seconds: float) -> None:
    """The file's bytes over TCP to the sink in the blocks an upload sends, spread over `seconds` (as long as its
    upload took): the network's part of an upload at the same rate."""
    blocks, start = -(-path.stat().st_size // MB), time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as connection, open(path, "rb") as fh:
        for sent in range(1, blocks + 1):
            connection.sendall(fh.read(MB))
            time.sleep(max(0.0, start + seconds * sent / blocks - time.perf_counter()))


def _sink(ports, stop) -> None:
    os.nice(10)  # as the upload server
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    ports.put(listener.getsockname()[1])
    selector, buffer = selectors.DefaultSelector(), bytearray(MB)
    selector.register(listener, selectors.EVENT_READ)
    while not stop.is_set():
        for key, _events in selector.select(0.1):
            if key.fileobj is listener:
                selector.register(listener.accept()[0], selectors.EVENT_READ)
            elif not key.fileobj.recv_into(buffer):
                selector.unregister(key.fileobj)
                key.fileobj.close()


class Sink:
    """A process at the upload server's niceness that reads every byte sent to it and does nothing else: the crowd
    sending to it loads the machine as the uploads' TCP traffic does (on loopback the kernel's send and receive
    work, at no process's priority), without the server."""

    def __init__(self):
        import multiprocessing

        context = multiprocessing.get_context("fork")
        ports, self._stop = context.Queue(), context.Event()
        self._process = context.Process(target=_sink, args=(ports, self._stop), daemon=True)
        self._process.start()
        self.port = ports.get(timeout=30)

    def close(self) -> None:
        self._stop.set()
        self._process.join(timeout=10)


class Latencies:
    """The reads of several windows pooled: the p99 of one window of a few hundred reads is its 3rd worst."""

    quantile, p99 = Prober.quantile, Prober.p99

    def __init__(self, probers):
        self.latencies = [latency for prober in probers for latency in prober.latencies]


def warm_up(reads: int = 20) -> None:
    """The first reads load each pages worker's code and connection: not the list's idle latency."""
    for _ in range(reads):
        connection = http.client.HTTPConnection("127.0.0.1", port_for("/api/v1/announcements/"), timeout=30)
        connection.request("GET", "/api/v1/announcements/")
        connection.getresponse().read()
        connection.close()


def probe_idle(seconds: float = 8) -> Prober:
    prober = Prober()
    prober.start()
    time.sleep(seconds)
    prober.stop.set()
    prober.join()
    return prober


ONE_PROCESS = False
ADAPTIVE = True
SETTLE_SECONDS = 3


def main():
    global ONE_PROCESS
    parser = argparse.ArgumentParser()
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--crowd", type=int, default=50)
    parser.add_argument("--each-mb", type=int, default=20)
    parser.add_argument("--one-process", action="store_true", help="the whole site on one uvicorn process")
    parser.add_argument("--upload-nice", type=int, default=10, help="the upload server's niceness (README: 10 on shared cores)")
    parser.add_argument("--rounds", type=int, default=3, help="single + crowd this many times (bids replaced)")
    parser.add_argument("--chunk-mb", type=int, help="a fixed size per PUT (default: as the bid page, about a second's worth)")
    args = parser.parse_args()
    global CHUNK_MIN, ADAPTIVE
    if args.chunk_mb:
        CHUNK_MIN, ADAPTIVE = args.chunk_mb * MB, False
    ONE_PROCESS = args.one_process
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    section, bidders = make_bidders(args.crowd + 1)
    with tempfile.TemporaryDirectory() as tmp:
        big = seal_file(section, bidders[0], args.big_mb, tmp)
        crowd = [seal_file(section, b, args.each_mb, tmp) for b in bidders[1:]]
        # The disk's speed moves from run to run on this VM: the baseline is the mean of a copy before and after.
        before_single, before_many = fsync_baseline([big], tmp), fsync_baseline(crowd, tmp)
        # The prober reads the list 50 times a second from one address: past the rate limits (anonymous
        # requests count against both scopes, by address), it would time the 429 answers instead of the list.
        env = {**os.environ, "API_THROTTLE_ANON": "1000000/min", "API_THROTTLE_USER": "1000000/min"}
        env["DJANGO_DEBUG"] = "false"  # as deployed: no query log, no debug pages
        env["EMBEDDED_SCHEDULE"] = "false"  # as deployed: the scheduled jobs run on Celery beat, not in the server
        bin_dir = Path(sys.executable).parent
        uvicorn = [str(bin_dir / "uvicorn"), "config.asgi:application", "--port", str(PORT), "--log-level", "warning"]
        server = subprocess.Popen(
            ["nice", "-n", str(args.upload_nice), *uvicorn],
            cwd=ROOT,
            env=env,
        )
        pages = None
        if not ONE_PROCESS:
            gunicorn = [str(bin_dir / "gunicorn"), "config.wsgi:application", "--workers", "2"]
            pages = subprocess.Popen(
                [*gunicorn, "--bind", f"127.0.0.1:{PAGES_PORT}", "--log-level", "warning"],
                cwd=ROOT,
                env=env,
            )
        try:
            wait_until_serving(PORT)
            wait_until_serving(port_for("/api/v1/announcements/"))
            warm_up()
            idle, busy, network, singles, crowds = [], [], [], [], []
            sink = Sink()
            cpu_single = cpu_many = 0.0
            rss_single = None
            for _ in range(args.rounds):
                idle.append(probe_idle())
                # Every uploader's process is forked before the clock and the prober start: a bidder's browser
                # runs elsewhere, its start-up is not the server's load.
                uploader = Uploaders(section, [(bidders[0][0], big)])
                uploaders = Uploaders(section, [(b[0], p) for b, p in zip(bidders[1:], crowd, strict=True)])
                prober = Prober()
                prober.start()
                cpu_start, start = cpu_seconds(server.pid), time.perf_counter()
                uploader.run()
                singles.append(time.perf_counter() - start)
                cpu_single += cpu_seconds(server.pid) - cpu_start
                rss_single = rss_single or peak_rss_mb(server.pid)
                cpu_start, start = cpu_seconds(server.pid), time.perf_counter()
                uploaders.run()
                crowds.append(time.perf_counter() - start)
                cpu_many += cpu_seconds(server.pid) - cpu_start
                prober.stop.set()
                prober.join()
                busy.append(prober)
                # What the uploads leave behind (write-back, PostgreSQL's autovacuum) falls in neither window:
                # counted as idle, it would flatter the ratio.
                time.sleep(SETTLE_SECONDS)
                # The same bytes at the same rate to the sink: how much of the busy p99 is the machine's TCP path.
                senders = Uploaders(
                    section, [(b[0], p) for b, p in zip(bidders[1:], crowd, strict=True)], (sink.port, crowds[-1])
                )
                prober = Prober()
                prober.start()
                senders.run()
                prober.stop.set()
                prober.join()
                network.append(prober)
            idle.append(probe_idle())
            rss = peak_rss_mb(server.pid)
            sink.close()
        finally:
            for process in (server, pages):
                if process is not None:
                    process.terminate()
                    process.wait()
        base_single = (before_single + fsync_baseline([big], tmp)) / 2
        base_many = (before_many + fsync_baseline(crowd, tmp)) / 2
    crowd_mb, rounds = args.crowd * args.each_mb, args.rounds
    single, many = statistics.median(singles), statistics.median(crowds)

    def each(times, size):
        return ", ".join(f"{size / t:.0f}" for t in times)

    print(
        f"single {args.big_mb} MB: {args.big_mb / single:7.0f} MB/s vs fsync'd disk {args.big_mb / base_single:7.0f} MB/s"
        f"  ratio {base_single / single:.2f} (goal 0.8); median of {rounds} rounds: {each(singles, args.big_mb)} MB/s"
    )
    print(
        f"crowd {args.crowd} x {args.each_mb} MB: {crowd_mb / many:7.0f} MB/s vs fsync'd disk {crowd_mb / base_many:7.0f} MB/s"
        f"  ratio {base_many / many:.2f} (goal 0.5); median of {rounds} rounds: {each(crowds, crowd_mb)} MB/s"
    )
    print(
        f"upload server CPU per 100 MB: single {100 * cpu_single / (rounds * args.big_mb):.2f} s,"
        f" crowd {100 * cpu_many / (rounds * crowd_mb):.2f} s"
        f" (wall clock per 100 MB: single {100 * single / args.big_mb:.2f} s, crowd {100 * many / crowd_mb:.2f} s;"
        f" machine load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    sizes = f"{CHUNK_MIN // MB} to {CHUNK_MAX // MB} MB per PUT, about a second's worth"
    if args.chunk_mb:
        sizes = f"{args.chunk_mb} MB per PUT"
    layout = "everything on one uvicorn process" if ONE_PROCESS else "uploads on their own uvicorn process, pages on gunicorn"
    print(f"({layout}; {sizes})")
    idle_all, busy_all, network_all = Latencies(idle), Latencies(busy), Latencies(network)
    print(
        f"upload server peak RSS {rss_single:.0f} MB after the {args.big_mb} MB upload, {rss:.0f} MB after {rounds} rounds;"
        f" announcements p99 idle {idle_all.p99():.1f} ms, during uploads {busy_all.p99():.1f} ms"
        f"  ratio {busy_all.p99() / idle_all.p99():.2f} (goal <= 2)"
    )
    print(
        "announcements: "
        + "; ".join(
            f"{name} {len(p.latencies)} reads, p50 {p.quantile(50):.1f} p95 {p.quantile(95):.1f} ms"
            for name, p in (("idle", idle_all), ("busy", busy_all), ("crowd to the sink", network_all))
        )
        + f"; p99 of each window: idle {', '.join(f'{p.p99():.1f}' for p in idle)},"
        + f" busy {', '.join(f'{p.p99():.1f}' for p in busy)} ms"
    )
    print(
        "the crowd's bytes sent at its rate to a sink that only reads them (no server):"
        f" announcements p99 {network_all.p99():.1f} ms,"
        f" ratio {network_all.p99() / idle_all.p99():.2f} to idle: the part of the busy p99 that is the machine's TCP path"
    )


if __name__ == "__main__":
    main()
