"""The beat schedule without Celery beat, for the embedded default (`make run`).

There, tasks run eagerly and no beat or worker runs. Without this, nothing would close a section at its
deadline, end a sale's countdown that passes in silence, restart a stalled opening, deliver the payment
simulator's notifications or take audit checkpoints. The ASGI process runs the schedule itself
(`lifespan`, when EMBEDDED_SCHEDULE is on, as in config.settings.local): the jobs' live events then reach
the websocket viewers through this process's in-memory channel layer. Each entry of CELERY_BEAT_SCHEDULE
runs at its interval, every one once at the start; one that fails is logged and runs again at its next
turn. A deployment runs Celery beat instead, which sends the same entries to the workers.

send_later: eager Celery also ignores a task's countdown, so a task that reschedules itself until its time
has come (the opening's paced read-out) would call itself until the stack overflows. The server's loop,
or else a timer thread, waits out the countdown instead.
"""

import asyncio
import logging
import threading
import time
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)
_loop: asyncio.AbstractEventLoop | None = None  # the ASGI process's loop, once its schedule runs


def _every(schedule) -> float:
    if isinstance(schedule, timedelta):
        return schedule.total_seconds()
    if isinstance(schedule, int | float):
        return float(schedule)
    raise ValueError(f"only interval schedules run here, not {schedule!r}: use Celery beat")


def apply_logged(task, args: tuple = ()) -> None:
    """Run a task here and now; a failure is logged, not raised (the next turn or the watchdog tries again)."""
    try:
        task.apply(args, throw=True)
    except Exception:
        log.exception("scheduled task %s failed", task.name)
    finally:
        connections.close_all()  # this thread's own connections: it may be a timer's, which ends here


async def run_schedule(*, seconds: float = 0) -> None:
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
                await sync_to_async(apply_logged, thread_sensitive=False)(task)
        wait = min(due.values()) - time.monotonic()
        if stop is not None:
            wait = min(wait, stop - time.monotonic())
        await asyncio.sleep(max(0.01, wait))


def send_later(task, args: tuple, *, countdown: float = 0) -> None:
    """A task after `countdown` seconds, also where no worker can hold it until then (eager tasks)."""
    if not countdown or not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        task.apply_async(args, countdown=countdown or None)
        return
    loop = _loop
    if loop is not None and not loop.is_closed():  # its live events go through the server's own channel layer

        def start() -> None:
            loop.create_task(sync_to_async(apply_logged, thread_sensitive=False)(task, args))

        loop.call_soon_threadsafe(loop.call_later, countdown, start)
        return
    timer = threading.Timer(countdown, apply_logged, (task, args))
    timer.daemon = True  # the process may stop meanwhile: the opening watchdog picks the ceremony up again
    timer.start()


async def lifespan(scope, receive, send) -> None:
    """ASGI lifespan: the schedule runs beside the server in the embedded default."""
    global _loop
    job = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if getattr(settings, "EMBEDDED_SCHEDULE", False):
                _loop = asyncio.get_running_loop()
                job = asyncio.create_task(run_schedule())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if job is not None:
                job.cancel()
            _loop = None
            await send({"type": "lifespan.shutdown.complete"})
            return
