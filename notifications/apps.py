from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from inventory.signals import stock_freed

        from . import receivers

        stock_freed.connect(receivers.allocate_freed_stock, dispatch_uid="allocate_freed_stock")
