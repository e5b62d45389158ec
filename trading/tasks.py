"""Scheduled work: takes ids, calls services, safe to run twice."""

from celery import shared_task

from trading.audit.log import checkpoint_create
from trading.services.lifecycle import close_due_sections


@shared_task
def audit_checkpoint() -> int | None:
    checkpoint = checkpoint_create()
    return checkpoint.tree_size if checkpoint else None


@shared_task
def lifecycle_tick() -> int:
    return close_due_sections()
