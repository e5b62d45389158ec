"""pytest-xdist workers share this machine's Redis and the checkout's var/: each gets its own part of both.

Loaded with `-p tests.workers` (pyproject's addopts), so it runs before Django reads its settings; the servers and
Celery workers that tests start inherit the environment, and with it the worker's share. Pub/sub channels ignore
the Redis database number, hence the channel-layer prefix. PostgreSQL needs nothing: pytest-django gives each
worker a test database of its own (test_sunlight_gw0, ...).
"""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw"):
    if os.environ.get("REDIS_URL"):
        _url = urlsplit(os.environ["REDIS_URL"])
        _database = 1 + int(_worker[2:]) % 15  # 0 stays the serial run's
        os.environ["REDIS_URL"] = urlunsplit(_url._replace(path=f"/{_database}"))
        os.environ["CHANNELS_PREFIX"] = f"asgi-{_worker}"
    # Upload and opening work files are named by row id, which every worker's database counts again from 1.
    _own = Path(__file__).resolve().parent.parent / "var" / f"test-{_worker}"
    os.environ.setdefault("UPLOAD_TEMP_DIR", str(_own / "uploads"))
    os.environ.setdefault("MEDIA_ROOT", str(_own / "media"))
