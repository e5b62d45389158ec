"""Settings from the environment and our deploy checks."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.checks import run_checks

from trading.checks import redis_broker_persistence

TEST_PLATFORM_KEY = (
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n-----END PRIVATE KEY-----\n"
)


# Any RSA public key: the bank's, as production is configured with it (ESCROW_BANK_PUBLIC_KEY).
TEST_BANK_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAiO609t6yHxLl/hC4iOIH
B2obgqt+b52mKb11D22yb6bi/IyAk3jnF1ndVRYUegUistdV65runb6wCR/xPEtw
iOZkntVL6OCjYcrPKJ+RPypq0UiDhBxtYRZFio9x+ubuE5Xk8uchLwxXsgI3Pf6y
xNhq6tEbL99t8PCRMGagXOwwnBCiW6nPk72ShOXL+z3souUZY1BecC7ceSbpsjT1
f9fjR8Wpv141/8axeNK6Izhjshp86Dl4IkZsDDha5/gV/WnFOcy/oIsAOWsAMwjp
5gzGspBHtOpqyos9bMd/tyrJnceclyagcAlqNVgKQDTpfI55dFQcHsXw5TwiqSNt
RwIDAQAB
-----END PUBLIC KEY-----
"""


def run_check_deploy(extra_env: dict) -> subprocess.CompletedProcess:
    # DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser tests' fixture in this process, never in production.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY="x" * 64 + "production-secret-Q2w3E4r5T6y7U8i9",
        DJANGO_ALLOWED_HOSTS="sunlight.example.cn",
        PLATFORM_SIGNING_KEY=TEST_PLATFORM_KEY,
        ESCROW_PAYER_KEY="c3VubGlnaHQtdGVzdC1wYXllci1rZXktMzItYnl0ZXM=",
        ESCROW_BANK_PUBLIC_KEY=TEST_BANK_PUBLIC_KEY,
        AUCTION_RESERVE_KEY="c3VubGlnaHQtdGVzdC1yZXNlcnZlLWtleS0zMmJ5dGU=",
        OPENED_PARTS_KEY="c3VubGlnaHQtdGVzdC1vcGVuZWQtcGFydHMta2V5LTM=",
        EVALUATION_SEED_KEY="c3VubGlnaHQtdGVzdC1ldmFsdWF0aW9uLXNlZWQtMzI=",
        **extra_env,
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        capture_output=True,
        text=True,
        env=env,
        cwd=settings.BASE_DIR,
        timeout=120,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = run_check_deploy({})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.production", DJANGO_ALLOWED_HOSTS="x")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env, cwd=settings.BASE_DIR, timeout=120
    )
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


def test_embedded_default_needs_nothing_configured():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings.local'; django.setup(); "
        "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], "
        "s.CELERY_TASK_ALWAYS_EAGER, s.STORAGES['default']['BACKEND'], s.TIME_ZONE, s.LANGUAGE_CODE)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=settings.BASE_DIR, timeout=60
    )
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "channels.layers.InMemoryChannelLayer",
        "True",
        "django.core.files.storage.FileSystemStorage",
        "Asia/Shanghai",
        "zh-hans",
    ]


def test_the_static_files_collect_with_the_deployed_manifest_storage(tmp_path):
    """`make run` and every deployment run collectstatic with hashed, compressed names; a vendored file that
    names a missing one (a source map) fails it, which the test settings' plain storage would not notice."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.local", STATIC_ROOT=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=settings.BASE_DIR,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = (tmp_path / "staticfiles.json").read_text()
    assert "vendor/hls/hls.light.min.js" in manifest and "bidding/bid_page.js" in manifest


@pytest.mark.redis
def test_the_deploy_check_warns_when_the_broker_redis_keeps_nothing_on_disk(settings):
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    saved = {**client.config_get("save"), **client.config_get("appendonly")}
    try:
        client.config_set("save", "")
        client.config_set("appendonly", "no")
        settings.REDIS_URL = os.environ["REDIS_URL"]
        warnings = redis_broker_persistence(None)
        assert [w.id for w in warnings] == ["sunlight.W001"]
        client.config_set("appendonly", "yes")
        assert redis_broker_persistence(None) == []
    finally:
        client.config_set("appendonly", saved.get("appendonly", "no"))
        client.config_set("save", saved.get("save", ""))


def test_our_checks_are_registered():
    assert all(message.id != "sunlight.W002" for message in run_checks(include_deployment_checks=False))


EMBEDDED_WRITERS = """
import os, threading, time
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
django.setup()
from django.db import connection, connections, transaction

with connection.cursor() as c:
    c.execute("CREATE TABLE t (n integer)")
a_read, b_started, errors = threading.Event(), threading.Event(), []

def reader_then_writer():  # a step that reads its rows, then writes (the opening's read-out, a refund)
    try:
        with transaction.atomic(), connection.cursor() as c:
            c.execute("SELECT count(*) FROM t")
            a_read.set()
            b_started.wait(5)
            time.sleep(0.3)
            c.execute("INSERT INTO t VALUES (1)")
    except Exception as error:
        errors.append(repr(error))
    finally:
        connections.close_all()

def writer():  # another thread of the same server writing meanwhile (a request, the schedule)
    try:
        a_read.wait(5)
        b_started.set()
        with transaction.atomic(), connection.cursor() as c:
            c.execute("INSERT INTO t VALUES (2)")
            time.sleep(0.6)
    except Exception as error:
        errors.append(repr(error))
    finally:
        connections.close_all()

threads = [threading.Thread(target=reader_then_writer), threading.Thread(target=writer)]
[t.start() for t in threads]
[t.join() for t in threads]
print(errors or "ok")
"""


def test_the_embedded_database_lets_a_transaction_write_after_reading_while_another_writes(tmp_path):
    """The embedded default's SQLite: a transaction that read and then writes while another thread writes must
    wait its turn, not fail with "database is locked" (which left the opening's read-out to the watchdog)."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'embedded.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "-c", EMBEDDED_WRITERS],
        capture_output=True,
        text=True,
        env=env,
        cwd=settings.BASE_DIR,
        timeout=60,
    )
    assert result.stdout.strip() == "ok", result.stdout + result.stderr
