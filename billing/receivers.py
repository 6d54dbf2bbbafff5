"""Reactions to what orders and django-payments announce. Thin: each calls one service.

orders sends its signals inside its transaction, so the totals snapshot and every ledger
intent commit with the change that caused them (or roll back with it)."""

from . import services


def order_placed(sender, order, rows, **kwargs) -> None:
    services.order_totals_snapshot(order=order, rows=rows)


def shipment_created(sender, shipment, rows, **kwargs) -> None:
    services.shipment_capture(shipment=shipment, rows=rows)


def rows_cancelled(sender, rows, **kwargs) -> None:
    services.rows_cancelled_settle(rows=rows)


def payment_status_changed(sender, instance, **kwargs) -> None:
    services.payment_status_changed(payment_id=instance.pk)
