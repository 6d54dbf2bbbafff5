from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from billing import signals as billing
        from catalog.models import GlobalSettings, Product
        from catalog.signals import products_settings_changed
        from inventory.signals import purchase_order_sent, stock_freed, supply_changed
        from orders import signals as orders

        from . import receivers
        from .outbox import messages_written

        messages_written.connect(receivers.send_outbox, dispatch_uid="send_outbox")
        stock_freed.connect(receivers.allocate_freed_stock, dispatch_uid="allocate_freed_stock")
        orders.order_placed.connect(receivers.order_placed, dispatch_uid="notify_order_placed")
        orders.rows_allocated.connect(receivers.rows_allocated, dispatch_uid="notify_rows_allocated")
        orders.shipment_created.connect(receivers.shipment_created, dispatch_uid="notify_shipped")
        orders.shipment_tracking_changed.connect(
            receivers.shipment_tracking_changed, dispatch_uid="notify_tracking_changed"
        )
        orders.preorders_released.connect(receivers.preorders_released, dispatch_uid="notify_released")
        orders.promises_slipped.connect(receivers.promises_slipped, dispatch_uid="notify_promises_slipped")
        orders.rows_cancelled.connect(receivers.rows_cancelled, dispatch_uid="promises_after_cancel")
        orders.return_moved.connect(receivers.return_moved, dispatch_uid="notify_return_moved")
        billing.order_paid.connect(receivers.order_paid, dispatch_uid="notify_order_paid")
        billing.shipment_charged.connect(receivers.shipment_charged, dispatch_uid="notify_pay_link")
        billing.refunds_written.connect(receivers.refunds_written, dispatch_uid="notify_refunds")
        supply_changed.connect(receivers.refresh_promises, dispatch_uid="refresh_promises")
        purchase_order_sent.connect(receivers.purchase_order_sent, dispatch_uid="email_purchase_order")
        post_save.connect(receivers.product_saved, sender=Product, dispatch_uid="product_promises")
        products_settings_changed.connect(
            receivers.products_settings_changed, dispatch_uid="products_promises"
        )
        post_save.connect(receivers.global_settings_saved, sender=GlobalSettings, dispatch_uid="all_promises")
