from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from payments.signals import status_changed

        from orders import signals as orders

        from . import checks, receivers  # noqa: F401 (checks registers itself)
        from .models import Payment

        orders.order_placed.connect(receivers.order_placed, dispatch_uid="billing_totals")
        orders.shipment_created.connect(receivers.shipment_created, dispatch_uid="billing_capture")
        orders.rows_cancelled.connect(receivers.rows_cancelled, dispatch_uid="billing_refund_release")
        status_changed.connect(
            receivers.payment_status_changed, sender=Payment, dispatch_uid="billing_payment"
        )
