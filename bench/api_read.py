"""Requests per second of the public announcements list, as a ratio to a plain JsonResponse.

Both are served by the same gunicorn (WSGI) server over the same rows of the demo
data on PostgreSQL, in the same run, driven by the same wrk client.
Usage: python bench/api_read.py [--seconds 10] [--clients 8]
Needs DATABASE_URL (PostgreSQL); REDIS_URL enables the shared cache for the cached figure.
"""

import argparse
import http.client
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT = 8765


def drive(path: str, seconds: float, clients: int) -> tuple[float, float]:
    """(requests per second, p99 ms), measured by wrk (Debian's package): a C client leaves the 2 cores to the server."""
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    out = subprocess.run(
        ["wrk", "-t2", f"-c{clients}", f"-d{max(int(seconds), 1)}s", "--latency", f"http://127.0.0.1:{PORT}{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx answers from {path}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    return rps, p99


def start_server(python: str, env: dict, workers: int) -> subprocess.Popen:
    gunicorn = Path(python).with_name("gunicorn")
    server = subprocess.Popen(
        [
            str(gunicorn),
            "bench.wsgi_app:application",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "error",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/bench/baseline/")
            return server
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (e.g. postgres://postgres@127.0.0.1:5432/sunlight_bench)")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_CONN_MAX_AGE": "60"}
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([python, "manage.py", "load_demo", "--quiet"], cwd=ROOT, env=env, check=True)
    gunicorn = Path(python).with_name("gunicorn")
    server = subprocess.Popen(
        [
            str(gunicorn),
            "bench.wsgi_app:application",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "error",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/bench/baseline/")
                break
            except OSError:
                time.sleep(0.2)
        drive("/bench/baseline/", 1, 2)  # warm up both paths
        drive("/api/v1/announcements/?page_size=20", 1, 2)
        base_rps, base_p99 = drive("/bench/baseline/", args.seconds, args.clients)
        api_rps, api_p99 = drive("/api/v1/announcements/?page_size=20&nocache=1", args.seconds, args.clients)
        cached_rps, cached_p99 = drive("/api/v1/announcements/?page_size=20", args.seconds, args.clients)
    finally:
        server.terminate()
        server.wait()
    print(f"baseline JsonResponse      {base_rps:8.0f} req/s  p99 {base_p99:6.1f} ms")
    print(f"announcements API uncached {api_rps:8.0f} req/s  p99 {api_p99:6.1f} ms  ratio {api_rps / base_rps:.2f} (goal 0.7)")
    cached_ratio = cached_rps / base_rps
    print(f"announcements API cached   {cached_rps:8.0f} req/s  p99 {cached_p99:6.1f} ms  ratio {cached_ratio:.2f} (goal 0.8)")


if __name__ == "__main__":
    main()
