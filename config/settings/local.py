"""Embedded default: one machine, nothing configured."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# No Celery beat here when tasks run eagerly: the ASGI server runs the schedule itself (trading/schedule.py).
EMBEDDED_SCHEDULE = env.bool("EMBEDDED_SCHEDULE", default=CELERY_TASK_ALWAYS_EAGER)  # noqa: F405
