"""A task sent with a countdown, also where no worker can hold it until then.

With eager tasks (the embedded default that `make run` uses: no broker, no worker, no beat) Celery runs a
task at once and ignores its countdown. A task that reschedules itself until its time has come (the
opening's paced read-out) would then call itself again and again until the stack overflows. Here the
ASGI process's loop (trading.schedule), or else a timer thread, waits out the countdown instead.
"""

import threading

from django.conf import settings


def send_later(task, args: tuple, *, countdown: float = 0) -> None:
    if not countdown or not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        task.apply_async(args, countdown=countdown or None)
        return
    from trading import schedule

    if schedule.apply_later(task, args, countdown):
        return  # its live events go through the server's own loop and channel layer

    timer = threading.Timer(countdown, schedule.apply_logged, (task, args))
    timer.daemon = True  # the process may stop meanwhile: the opening watchdog picks the ceremony up again
    timer.start()
