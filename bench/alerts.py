"""The cost of an alert: a row, an audit-chain entry and a live-feed event, as a ratio to a bare audit append.

Each round appends N audit entries (the baseline: what any audited act pays) and then raises
N alerts (Alert row + audit entry + supervision stream event, one transaction each), in this
process against DATABASE_URL; the best of --repeat rounds is reported, with the ratio measured
in the same run. Then the same for lifecycle transitions (suspend + resume, each with its feed
event) against the baseline. Run against a scratch database: it writes rows (append-only).

Usage: DATABASE_URL=postgres://... python bench/alerts.py [--n 200] [--repeat 3]
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from trading.audit.events import AuditEvent  # noqa: E402
from trading.audit.log import audit_append  # noqa: E402
from trading.models import Organization, OrganizationKind, Project, Section, SectionState, User  # noqa: E402
from trading.services.lifecycle import section_transition  # noqa: E402
from trading.services.sections import section_resume  # noqa: E402
from trading.supervision.services.alerts import alert_raise  # noqa: E402


def best(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    stamp = str(time.time_ns())
    org = Organization.objects.create(name=f"bench {stamp}", kind=OrganizationKind.TENDERER, credit_code=stamp[-18:])
    supervisor = User.objects.create(username=f"bench-sup-{stamp}", role="supervisor")
    project = Project.objects.create(code=f"B-{stamp}", name="bench", tenderer=org, transaction_type="construction", region="x")
    section = Section.objects.create(
        project=project, public_id=f"BENCH-{stamp}", name="bench", estimated_price_fen=1, state=SectionState.PUBLISHED
    )

    def audits():
        for _ in range(args.n):
            with transaction.atomic():
                audit_append(event=AuditEvent.ALERT_RAISED, section=section, data={"bench": True})

    def alerts():
        for _ in range(args.n):
            alert_raise(rule="BENCH", message="bench alert", section=section)

    def transitions():
        for _ in range(args.n // 2):
            section_transition(section=section, to_state=SectionState.SUSPENDED, actor=supervisor, reason="bench")
            section_resume(actor=supervisor, section=section, reason="bench")

    base = best(args.repeat, audits)
    alert = best(args.repeat, alerts)
    moves = best(args.repeat, transitions)
    per = lambda seconds, n=args.n: seconds / n * 1000  # noqa: E731
    print(f"database: {connection.vendor}, n={args.n}, best of {args.repeat}")
    print(f"audit append (baseline)         {per(base):7.2f} ms/op   {args.n / base:8.0f} op/s")
    print(f"alert (row+audit+feed event)    {per(alert):7.2f} ms/op   {args.n / alert:8.0f} op/s   x{alert / base:.2f}")
    print(f"transition (+lock, history, feed)  {per(moves):7.2f} ms/op   {args.n / moves:8.0f} op/s   x{moves / base:.2f}")


if __name__ == "__main__":
    main()
