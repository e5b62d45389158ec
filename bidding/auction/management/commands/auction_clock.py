"""The sales' clock: ticks every running sale a few times a second (listing start and end, countdown, warnings).

Offers are judged by the clock at request time whatever this does; this moves the sales nobody
is offering on (a countdown that passes in silence ends here) and sends the last-minute warnings.
Run one per deployment (more are harmless: each tick takes the sale's row lock).
"""

import time

from django.core.management.base import BaseCommand

from bidding.auction.services import sales_tick


class Command(BaseCommand):
    help = "Tick running sales (listing, limited-time countdown, warnings) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=0.25)
        parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")

    def handle(self, *args, interval: float, seconds: float, **options):
        stop = time.monotonic() + seconds if seconds else None
        while stop is None or time.monotonic() < stop:
            started = time.monotonic()
            sales_tick()
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
