"""Scheduled sale work: takes ids, calls services, safe to run twice."""

from celery import shared_task

from bidding.auction.models import Sale


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def sale_settle_task(self, sale_id: int) -> dict:
    from bidding.auction.settlement import sale_settle
    from escrow.gateways import ProviderError

    try:
        return sale_settle(sale=Sale.objects.get(pk=sale_id))
    except ProviderError as error:
        raise self.retry(exc=error) from None


@shared_task
def sales_tick_task() -> int:
    from bidding.auction.services import sales_tick

    return sales_tick()
