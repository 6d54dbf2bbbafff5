"""Billing's jobs: thin, each loads ids and calls one service; safe to run twice."""

import logging

from celery import shared_task
from kombu.exceptions import OperationalError

from . import services

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def settle_entry(entry_id: int) -> None:
    """Call the provider for one pending capture, refund or release (ledger first)."""
    services.entry_settle(entry_id=entry_id)


@shared_task(acks_late=True)
def settle_pending_sweep() -> None:
    """Pending entries whose job was lost (broker down, worker killed past its claim)."""
    for entry_id in services.pending_entries_ids():
        enqueue_settle(entry_id)


@shared_task(acks_late=True)
def refresh_money_waiting_summary() -> int:
    """Value the dashboard's money-waiting snapshot again (replaced whole: safe to run twice)."""
    return len(services.money_waiting_summary_refresh())


def enqueue_settle(entry_id: int) -> None:
    try:
        settle_entry.delay(entry_id)
    except OperationalError:
        log.warning("Broker unreachable; ledger entry %s left for the settle sweep", entry_id)
