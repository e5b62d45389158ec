"""The platform's own suspension of a sale (when it fails): freeze the clock now, resume it later with notice.

A supervisor suspends through the section's page or API; this is for the operators when the
platform itself cannot serve the room (its websockets down, its database failing over).
"""

from django.core.management.base import BaseCommand, CommandError

from bidding.auction.services import sale_resume, sale_suspend
from trading.errors import DomainError
from trading.models import Section


class Command(BaseCommand):
    help = "Suspend (or with --resume, resume) a sale for a platform failure."

    def add_arguments(self, parser):
        parser.add_argument("section", help="the section's public id")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--resume", action="store_true")

    def handle(self, *args, section: str, reason: str, resume: bool, **options):
        target = Section.objects.filter(public_id=section).first()
        if target is None:
            raise CommandError(f"no section {section}")
        try:
            sale = (sale_resume if resume else sale_suspend)(actor=None, section=target, reason=reason)
        except DomainError as error:
            raise CommandError(f"{error.code}: {error.message}") from None
        left = sale.frozen_remaining_ms
        self.stdout.write(f"{section}: {sale.state}" + (f", frozen with {left} ms left" if left is not None else ", running"))
