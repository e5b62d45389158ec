"""Scheduled work: takes ids, calls services, safe to run twice."""

from celery import shared_task

from trading.audit.log import checkpoint_create, sealed_anchor
from trading.services.lifecycle import close_due_sections


@shared_task
def audit_checkpoint() -> int | None:
    sealed_anchor()  # the sealed chains' heads, committed to, under the checkpoint that follows
    checkpoint = checkpoint_create()
    return checkpoint.tree_size if checkpoint else None


@shared_task
def lifecycle_tick() -> int:
    return close_due_sections()
