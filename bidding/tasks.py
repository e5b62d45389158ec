"""Opening tasks: they take ids and call the services, which read the state from the rows (safe twice).

Crash safety comes from the settings (late acknowledgement, reject on worker loss, a visibility
timeout above the longest task) and, for what the broker loses anyway, from the watchdog on beat.
"""

from celery import shared_task

from bidding.opening import bid_openings_decrypt, opening_advance, opening_watchdog


@shared_task(acks_late=True, reject_on_worker_lost=True)
def bid_open_task(bid_opening_ids: list[int] | int) -> dict:
    ids = [bid_opening_ids] if isinstance(bid_opening_ids, int) else list(bid_opening_ids)  # one id: sent by an older release
    return bid_openings_decrypt(bid_opening_ids=ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def opening_advance_task(ceremony_id: int) -> str:
    return opening_advance(ceremony_id=ceremony_id)


@shared_task
def opening_watchdog_task() -> int:
    return opening_watchdog()
