"""Re-run a section's expert draw from its published record and revealed seed, and compare with the committee."""

import sys

from django.core.management.base import BaseCommand

from bidding.evaluation.models import ExpertDraw
from bidding.evaluation.services.draw import draw_rerun
from trading.errors import DomainError


class Command(BaseCommand):
    help = "Re-run a revealed expert draw (EVAL-RANDOM) and say whether it gives the recorded committee."

    def add_arguments(self, parser):
        parser.add_argument("section", help="the section's public id")

    def handle(self, *args, section, **options):
        draw = ExpertDraw.objects.select_related("section").get(section__public_id=section)
        try:
            seats = draw_rerun(draw)
        except DomainError as error:
            self.stderr.write(f"{error.code}: {error.message}")
            sys.exit(2)
        self.stdout.write(f"commitment {draw.commitment}\nseed {draw.seed}\ncandidates {draw.candidates_digest}")
        for seat in seats:
            self.stdout.write(f"{seat.seat}\t{seat.code}\t{seat.specialty}")
        recorded = dict(
            draw.members.filter(source="drawn", status__in=["invited", "accepted"]).values_list("seat", "expert__code")
        )
        if recorded == {s.seat: s.code for s in seats}:
            self.stdout.write("MATCH: the recorded committee is the one the seed draws")
            return
        self.stderr.write(f"MISMATCH: recorded {recorded}")
        sys.exit(1)
