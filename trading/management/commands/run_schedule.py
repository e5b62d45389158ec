"""The beat schedule without Celery beat, for the embedded default (`make run`).

There, tasks run eagerly and no beat or worker runs. Without this, nothing would close a section at its
deadline, end a sale's countdown that passes in silence, restart a stalled opening, deliver the payment
simulator's notifications or take audit checkpoints. Each entry of CELERY_BEAT_SCHEDULE runs here at its
interval, every one once at the start; one that fails is logged and runs again at its next turn. A
deployment runs Celery beat instead, which sends the same entries to the workers.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

log = logging.getLogger(__name__)


def _every(schedule) -> float:
    if isinstance(schedule, timedelta):
        return schedule.total_seconds()
    if isinstance(schedule, int | float):
        return float(schedule)
    raise CommandError(f"only interval schedules run here, not {schedule!r}: use Celery beat")


class Command(BaseCommand):
    help = "Run the beat schedule's tasks in this process at their intervals (embedded default) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")

    def handle(self, *args, seconds: float, **options):
        from config.celery import app

        app.loader.import_default_modules()  # every app's tasks module: the schedule names them
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # not a line per tick on the console
        entries = {name: (app.tasks[e["task"]], _every(e["schedule"])) for name, e in settings.CELERY_BEAT_SCHEDULE.items()}
        due = dict.fromkeys(entries, 0.0)
        stop = time.monotonic() + seconds if seconds else None
        while stop is None or time.monotonic() < stop:
            for name, (task, every) in entries.items():
                if time.monotonic() >= due[name]:
                    due[name] = time.monotonic() + every
                    try:
                        task.apply(throw=True)
                    except Exception:
                        log.exception("scheduled task %s failed; it runs again in %.0f s", name, every)
                    finally:
                        close_old_connections()
            wait = min(due.values()) - time.monotonic()
            if stop is not None:
                wait = min(wait, stop - time.monotonic())
            time.sleep(max(0.01, wait))
