from django.core.management.base import BaseCommand

from trading.workdays import seed_from_chinese_calendar


class Command(BaseCommand):
    help = "Load Chinese holidays and adjusted working days from the chinese_calendar package."

    def add_arguments(self, parser):
        parser.add_argument("--from-year", type=int, default=2024)
        parser.add_argument("--to-year", type=int, default=2027)

    def handle(self, *args, from_year, to_year, **options):
        created = seed_from_chinese_calendar(range(from_year, to_year + 1))
        self.stdout.write(f"calendar: {created} days added")
