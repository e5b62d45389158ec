"""The beat schedule in a process of its own, where neither Celery beat nor the ASGI server runs it
(trading.schedule; `make run`'s server runs it itself)."""

import asyncio

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the beat schedule's tasks in this process at their intervals (embedded default) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")

    def handle(self, *args, seconds: float, **options):
        from trading.schedule import run_schedule

        asyncio.run(run_schedule(seconds=seconds))
