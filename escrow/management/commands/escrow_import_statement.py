"""Import a bank statement (CSV) of transfers to virtual accounts with the bank's signature file, as a bank feed would:
prints outcomes, never payers."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from escrow.services.payments import statement_import
from trading.errors import DomainError


class Command(BaseCommand):
    help = "Apply a bank statement (CSV, UTF-8) to deposits; each line once, refusals alerted."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--signature", type=Path, help="the bank's signature file (default: the statement's path + .sig)")

    def handle(self, *args, path: Path, signature: Path | None, **options):
        signature = signature or path.with_name(path.name + ".sig")
        try:
            lines = statement_import(actor=None, data=path.read_bytes(), signature=signature.read_text(encoding="ascii"))
        except (OSError, DomainError) as error:
            raise CommandError(str(error)) from None
        for line in lines:
            self.stdout.write(f"line {line.line}: {line.outcome}{' (' + line.reason + ')' if line.reason else ''}")
        applied = sum(line.outcome == "applied" for line in lines)
        self.stdout.write(self.style.SUCCESS(f"{applied} applied, {len(lines) - applied} not applied"))
