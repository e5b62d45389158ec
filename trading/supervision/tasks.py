"""Scheduled supervision: the time-based monitoring nodes; safe to run twice (every alert has its dedupe key)."""

from celery import shared_task

from trading.supervision.services.monitor import scan_run


@shared_task
def supervision_scan() -> dict[str, int]:
    return scan_run()
