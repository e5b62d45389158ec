"""Scheduled and deferred evaluation work: takes ids, calls a service, safe to run twice."""

from celery import shared_task

from trading.models import Section


@shared_task
def collusion_scan_task(section_id: int) -> int:
    from bidding.evaluation.services.collusion import collusion_scan

    return len(collusion_scan(section=Section.objects.get(pk=section_id)))


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=8)
def expert_invitation_task(member_id: int) -> bool:
    """A mail server that is down is tried again later; a sent invitation is not sent again."""
    from bidding.evaluation.services.invitations import invitation_send

    return invitation_send(member_id=member_id)


@shared_task
def contracts_overdue_task() -> int:
    from bidding.evaluation.services.award import contracts_overdue

    return contracts_overdue()
