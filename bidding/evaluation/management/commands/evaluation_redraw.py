"""Re-run an expert draw from its published record and revealed seed, and compare with the committee.

From the database (`evaluation_redraw S-…`), or offline from the record as the public API serves it
(`curl …/api/v1/sections/S-…/draw/ > record.json; evaluation_redraw --record record.json`).
"""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from bidding.evaluation import draw as pure
from bidding.evaluation.models import ExpertDraw
from bidding.evaluation.services.draw import draw_rerun
from trading.errors import DomainError


class Command(BaseCommand):
    help = "Re-run a revealed expert draw (EVAL-RANDOM) and say whether it gives the recorded committee."

    def add_arguments(self, parser):
        parser.add_argument("section", nargs="?", help="the section's public id")
        parser.add_argument("--record", help="a draw record downloaded from /api/v1/sections/<id>/draw/ (no database needed)")

    def handle(self, *args, section=None, record=None, **options):
        if record:
            seats, recorded, facts = self._from_record(record)
        elif section:
            seats, recorded, facts = self._from_database(section)
        else:
            raise CommandError("name a section or give --record")
        self.stdout.write(f"commitment {facts['commitment']}\nseed {facts['seed']}\ncandidates {facts['candidates_digest']}")
        for round_ in facts.get("supplements", []):
            self.stdout.write(f"supplement {round_['round']} seats {round_['seats']} seed {round_['seed']}")
        for seat in seats:
            self.stdout.write(f"{seat.seat}\t{seat.code or '(vacant)'}\t{seat.specialty}")
        if recorded == {s.seat: s.code for s in seats if s.code}:
            self.stdout.write("MATCH: the recorded committee is the one the seed draws")
            return
        self.stderr.write(f"MISMATCH: recorded {recorded}")
        sys.exit(1)

    def _from_database(self, public_id):
        draw = ExpertDraw.objects.select_related("section").get(section__public_id=public_id)
        try:
            seats = draw_rerun(draw)
        except DomainError as error:
            self.stderr.write(f"{error.code}: {error.message}")
            sys.exit(2)
        recorded = draw.members.drawn_codes()
        facts = {"commitment": draw.commitment, "seed": draw.seed, "candidates_digest": draw.candidates_digest}
        return seats, recorded, {**facts, "supplements": draw.supplements_unsealed()}

    def _from_record(self, path):
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if not data.get("seed"):
            self.stderr.write("EVAL-SECRET: the seed is not revealed yet")
            sys.exit(2)
        supplements = data.get("supplements", [])  # a version-1 record has none
        problems = {
            "seed": "EVAL-RANDOM: a seed does not match the commitment published before its draw",
            "candidates": "EVAL-RANDOM: a candidate list does not match its published digest",
        }
        for round_ in [data, *supplements]:
            if mismatch := pure.round_mismatch(round_):
                self.stderr.write(problems[mismatch])
                sys.exit(2)
        seats = pure.draw_committee(
            seed_hex=data["seed"],
            candidates=data["candidates"],
            rules=data["rules"],
            replacements=data["replacements"],
            supplements=supplements,
        )
        recorded = {
            s["seat"]: s["code"] for s in data["seats"] if s["source"] == "drawn" and s["status"] in ("invited", "accepted")
        }
        return seats, recorded, data
