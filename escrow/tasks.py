"""Scheduled escrow work: takes ids, calls services, safe to run twice."""

import logging

from celery import shared_task
from celery.exceptions import Retry

from escrow.gateways import ProviderError
from escrow.models import Deposit
from escrow.services.reconciliation import reconciliation_daily
from escrow.services.refunds import deposit_refund, refund_overdue_alerts, refunds_due
from trading.errors import DomainError

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=5, default_retry_delay=300)
def deposit_refund_task(self, deposit_id: int, reason: str) -> bool:
    try:
        deposit_refund(deposit=Deposit.objects.get(pk=deposit_id), reason=reason)
    except ProviderError as error:
        raise self.retry(exc=error) from None
    except DomainError as error:  # forfeited or never paid meanwhile: nothing to send
        logger.info("refund of deposit %s not made: %s", deposit_id, error.code)
        return False
    return True


@shared_task
def refund_scan() -> int:
    """Every refund that fell due goes out; then whatever is still owed past its day raises an alert."""
    due = refunds_due()
    for item in due:
        try:
            deposit_refund_task.delay(item.deposit_id, item.reason)
        except (ProviderError, Retry):  # eager mode: the retry is the next scan
            logger.warning("refund of deposit %s failed at the provider; retried next scan", item.deposit_id)
    refund_overdue_alerts()
    return len(due)


@shared_task
def reconciliation_task() -> list[int]:
    return [run.pk for run in reconciliation_daily()]


@shared_task
def sim_deliver() -> int:
    """The simulated provider's delivery round (its retries ride on the beat schedule)."""
    from escrow.gateways.simulated import deliver

    return deliver()
