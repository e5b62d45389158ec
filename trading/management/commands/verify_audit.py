"""Check the whole audit log against its signed roots and checkpoints; name the first bad entry."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from trading.audit.log import audit_verify


class Command(BaseCommand):
    help = "Verify the audit log end to end (exit 1 and name the first altered or removed entry on failure)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoints",
            type=Path,
            action="append",
            default=[],
            help="a JSON file of checkpoints kept outside the platform (one object or a list); repeatable",
        )
        parser.add_argument(
            "--public-key", help="the platform's Ed25519 public key (base64url) to trust instead of the configured one"
        )

    def handle(self, *args, checkpoints, public_key, **options):
        held: list[dict] = []
        for path in checkpoints:
            try:
                document = json.loads(path.read_text())
            except (OSError, ValueError) as error:
                raise CommandError(f"cannot read checkpoints from {path}: {error}") from error
            held.extend(document if isinstance(document, list) else [document])
        key = None
        if public_key:
            from trading.signing import b64url_decode

            key = b64url_decode(public_key)
        report = audit_verify(held_checkpoints=held, public_key=key)
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"OK: {report.entries} entries, {report.checkpoints} checkpoints verified"))
            return
        self.stderr.write(self.style.ERROR(f"FAILED: first problem at {report.first}"))
        for finding in report.findings[1:]:
            self.stderr.write(f"  also: {finding}")
        raise SystemExit(1)
