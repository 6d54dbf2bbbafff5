"""Reactions to what lower apps announce. Thin: each calls one function."""

import logging
import time
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from kombu.exceptions import OperationalError

from billing.models import EntryState

from . import after_sale, events, money, outbox, purchasing, tasks
from .tasks import allocate_product, notify_back_in_stock

log = logging.getLogger(__name__)


def allocate_freed_stock(sender, product_ids, **kwargs) -> None:
    """inventory.signals.stock_freed arrives after commit: queue the allocation, then the
    back-in-stock emails (they only count units the waiting rows are not entitled to)."""
    for product_id in product_ids:
        try:
            allocate_product.delay(product_id)
            notify_back_in_stock.delay(product_id)
        except OperationalError:
            # Broker down: the periodic sweeps allocate it and tell its waitlist once it is back.
            log.warning(
                "Broker unreachable; product %s left for the allocation and waitlist sweeps", product_id
            )


SEND_QUEUED_KEY = "notifications:send-outbox-queued"
# When the send job this process queued (or found queued) starts, as time.time(): until
# then this process publishes nothing and asks the cache nothing.
_send_queued_until = 0.0


def send_outbox(sender, **kwargs) -> None:
    """outbox.messages_written arrives after commit: queue the send job, once per burst.

    The first announcement in a window of OUTBOX_SEND_WINDOW_SECONDS sets a cache key
    holding the job's start (now + window, living as long) and queues the job with that
    countdown; a later one finds the key, so a job is queued that starts after this commit
    and sends what it wrote: nothing is published. Each web process also remembers that
    start, and asks the cache again only once it has passed. (A worker whose clock runs
    ahead, or web machines whose clocks disagree, may start a job before the last few
    commits it covers; beat's periodic send takes those, a minute at most.) A broker or
    cache that is down only delays the messages (beat's periodic send picks them up); a
    publish that failed forgets the window, so the next write tries again. Nothing is
    sent twice whatever happens here (the outbox's claims).
    """
    global _send_queued_until
    window = settings.OUTBOX_SEND_WINDOW_SECONDS
    now = time.time()
    if window <= 0 or tasks.send_outbox.app.conf.task_always_eager:
        countdown = None  # in-process tasks (no broker): nothing runs later, send now
    elif now < _send_queued_until:
        return
    else:
        countdown = window
        try:
            if not cache.add(SEND_QUEUED_KEY, now + window, timeout=window):
                queued = cache.get(SEND_QUEUED_KEY)
                if queued is not None and queued > now:
                    _send_queued_until = queued
                    return
        except Exception:  # noqa: BLE001 - a cache down must not stop the send job
            log.warning("Cache unreachable; the send job is queued without coalescing", exc_info=True)
        _send_queued_until = now + window
    try:
        tasks.send_outbox.apply_async(countdown=countdown)
    except OperationalError:
        log.warning("Broker unreachable; the outbox waits for the periodic send")
        if countdown is not None:
            send_window_forget()  # nothing is queued: the next write tries again


def send_window_forget() -> None:
    """Forget the send job queued for this window (in the cache and in this process)."""
    global _send_queued_until
    _send_queued_until = 0.0
    cache.delete(SEND_QUEUED_KEY)


def order_placed(sender, order, rows, decisions, **kwargs) -> None:
    events.notify_order_placed(order=order, rows=rows, decisions=decisions)


def rows_allocated(sender, rows, **kwargs) -> None:
    events.notify_rows_allocated(rows=rows)


def shipment_created(sender, shipment, rows, **kwargs) -> None:
    events.notify_shipped(shipment=shipment, rows=rows)


def shipment_tracking_changed(sender, shipment, was_tracking_number, note, **kwargs) -> None:
    events.notify_tracking_changed(shipment=shipment, was_tracking_number=was_tracking_number, note=note)


def preorders_released(sender, rows, **kwargs) -> None:
    events.notify_preorders_released(rows=rows)


def promises_slipped(sender, slips, **kwargs) -> None:
    events.notify_promises_slipped(slips=slips)


def refresh_promises(sender, product_ids, **kwargs) -> None:
    """Supply changed (after commit): recompute the promises of these products."""
    for product_id in product_ids:
        try:
            tasks.refresh_promises.delay(product_id)
        except OperationalError:
            log.warning("Broker unreachable; promises of product %s wait for the daily refresh", product_id)


def _enqueue(task, *args) -> None:
    try:
        task.delay(*args)
    except OperationalError:
        log.warning("Broker unreachable; %s%s left for its periodic run", task.name, args)


def product_saved(sender, instance, **kwargs) -> None:
    """Settings (lead time, expected date, release date...) feed the promise dates."""
    transaction.on_commit(partial(_enqueue, tasks.refresh_promises, instance.pk))


def products_settings_changed(sender, product_ids, **kwargs) -> None:
    """A bulk settings change (catalog.services.products_set_policy): as product_saved, each."""
    for product_id in product_ids:
        transaction.on_commit(partial(_enqueue, tasks.refresh_promises, product_id))


def global_settings_saved(sender, instance, **kwargs) -> None:
    transaction.on_commit(partial(_enqueue, tasks.refresh_all_promises))


def rows_cancelled(sender, rows, **kwargs) -> None:
    """Tell the customers (billing has written the refunds by now: it reacts first), and
    the rows behind cancelled ones moved up the queue: refresh their promises after commit."""
    events.notify_rows_cancelled(rows=rows)
    for product_id in sorted({row.product_id for row in rows}):
        transaction.on_commit(partial(_enqueue, tasks.refresh_promises, product_id))


def order_paid(sender, order_id, entry, **kwargs) -> None:
    """billing recorded the checkout's payment: after commit the send job renders the
    order's emails from its note (order_notes_render), once."""
    outbox.outbox_announce()


def shipment_charged(sender, entry, **kwargs) -> None:
    """No valid authorization covers the shipment: the customer gets a pay link."""
    if entry.state == EntryState.AWAITING_PAYMENT:
        money.notify_pay_link(entry=entry)


def refunds_written(sender, order_id, entries, **kwargs) -> None:
    money.note_refunds(order_id=order_id, entries=entries)


def return_moved(sender, return_request, event, **kwargs) -> None:
    after_sale.notify_return_moved(return_request=return_request, event=event)


def purchase_order_sent(sender, purchase_order, lines, **kwargs) -> None:
    """Inside the send's transaction: the supplier's email is written with it."""
    purchasing.notify_purchase_order_sent(purchase_order=purchase_order, lines=lines)
