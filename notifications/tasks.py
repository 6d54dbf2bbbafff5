"""Celery jobs: thin wrappers that load ids, call one service and own the retries.

Every task is safe to run twice: the services they call are idempotent.
"""

import logging

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from billing.services import unpaid_orders_expire
from inventory.restock_import import restock_import_folder
from orders.selectors import products_needing_allocation, products_with_waiting_rows
from orders.services import (
    backorders_allocate,
    preorders_release,
    promises_refresh,
    row_status_summary_refresh,
)

from .events import digest_aged_backorders, emails_send_batch
from .money import pay_links_overdue_alert
from .outbox import LEASE
from .replenishment import reorder_points_check
from .waitlist import back_in_stock_notify, waitlist_openings

log = logging.getLogger(__name__)

# A worker killed mid-job leaves its batch rolled back; acks_late + reject_on_worker_lost
# put the message back so another worker redoes it.
RELIABLE = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 6,
}


@shared_task(**RELIABLE)
def allocate_product(product_id: int) -> dict:
    result = backorders_allocate(product_id=product_id)
    promises_refresh(product_id=product_id)  # the queue moved: so did its promise dates
    return {"product_id": product_id, "rows": result.rows, "units": result.units, "batches": result.batches}


@shared_task(**RELIABLE)
def allocation_sweep() -> list[int]:
    """The safety net: allocate wherever free stock and waiting rows coexist."""
    product_ids = products_needing_allocation()
    for product_id in product_ids:
        allocate_product.delay(product_id)
    return product_ids


@shared_task(**RELIABLE)
def release_preorders() -> list[int]:
    return preorders_release()


@shared_task(**RELIABLE)
def import_restock_files() -> list[dict]:
    directory = settings.RESTOCK_IMPORT_DIR
    if not directory.is_dir():
        return []
    return [outcome.__dict__ for outcome in restock_import_folder(directory=directory)]


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_outbox(max_batches: int = 50) -> dict:
    """Send due outbox messages, batch after batch; also run by beat as the retry sweep.

    Bounded in time as well as in batches (a slow mail server): no batch starts after
    LEASE/2, and each batch stops at LEASE/2 of its own, so the job ends within about
    one LEASE plus one message's send (EMAIL_TIMEOUT per exchange), well inside the
    broker's visibility timeout. What is left waits for the next run.
    """
    total = {"sent": 0, "retried": 0, "failed": 0}
    stop_at = timezone.now() + LEASE / 2
    for _ in range(max_batches):
        if timezone.now() > stop_at:
            break
        result = emails_send_batch(batch_size=settings.OUTBOX_BATCH_SIZE)
        for name in total:
            total[name] += getattr(result, name)
        if not (result.sent + result.retried + result.failed):
            break
    return total


@shared_task(**RELIABLE)
def refresh_row_status_summary() -> int:
    """Recount the admin's rows-by-status snapshot (replaced whole: safe to run twice)."""
    return len(row_status_summary_refresh())


@shared_task(**RELIABLE)
def send_aged_backorders_digest() -> int:
    return digest_aged_backorders()


@shared_task(**RELIABLE)
def notify_back_in_stock(product_id: int) -> int:
    return back_in_stock_notify(product_id=product_id)


@shared_task(**RELIABLE)
def waitlist_sweep() -> list[int]:
    """The waitlist's safety net (a trigger lost with the broker down, a killed job):
    tell subscribers wherever a product has places for them that nobody has filled."""
    product_ids = sorted(waitlist_openings())
    for product_id in product_ids:
        notify_back_in_stock.delay(product_id)
    return product_ids


@shared_task(**RELIABLE)
def refresh_promises(product_id: int) -> int:
    return len(promises_refresh(product_id=product_id))


@shared_task(**RELIABLE)
def refresh_all_promises() -> int:
    """Daily: promises whose lead time ran out move on (and their customers are told)."""
    product_ids = products_with_waiting_rows()
    for product_id in product_ids:
        refresh_promises.delay(product_id)
    return len(product_ids)


EXPIRE_BATCH = 100


@shared_task(**RELIABLE)
def expire_unpaid_orders(max_batches: int = 20) -> int:
    """Every minute: orders whose time to pay ran out are cancelled (billing), and their
    customers emailed (the cancellation's receiver). A batch per order cancelled commits on
    its own; what is left waits for the next run."""
    expired = 0
    for _ in range(max_batches):
        done = unpaid_orders_expire(limit=EXPIRE_BATCH)
        expired += len(done)
        if len(done) < EXPIRE_BATCH:
            break
    return expired


@shared_task(**RELIABLE)
def alert_overdue_pay_links() -> int:
    """Merchants hear of each pay link unpaid after BILLING_PAY_LINK_ALERT_DAYS, once."""
    return pay_links_overdue_alert()


@shared_task(**RELIABLE)
def alert_reorder_points() -> list[int]:
    """Nightly: merchants hear of products newly below their reorder point (once per crossing)."""
    return reorder_points_check()
