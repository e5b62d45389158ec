"""Import a bank statement (CSV) of transfers to virtual accounts, as a bank feed would: prints outcomes, never payers."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from escrow.services.payments import statement_import
from trading.errors import DomainError


class Command(BaseCommand):
    help = "Apply a bank statement (CSV, UTF-8) to deposits; each line once, refusals alerted."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, **options):
        try:
            lines = statement_import(actor=None, text=path.read_text(encoding="utf-8-sig"))
        except (OSError, DomainError) as error:
            raise CommandError(str(error)) from None
        for line in lines:
            self.stdout.write(f"line {line.line}: {line.outcome}{' (' + line.reason + ')' if line.reason else ''}")
        applied = sum(line.outcome == "applied" for line in lines)
        self.stdout.write(self.style.SUCCESS(f"{applied} applied, {len(lines) - applied} not applied"))
