"""Back-in-stock waitlist: "notify me" subscriptions and telling subscribers once."""

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from catalog.models import Product
from orders.selectors import availability_for

from .models import Subscription
from .services import outbox_message, outbox_write

UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def unsubscribe_url(subscription: Subscription) -> str:
    token = signing.dumps(subscription.pk, salt=UNSUBSCRIBE_SALT)
    return settings.SITE_URL + reverse("notifications:unsubscribe", kwargs={"token": token})


def subscription_from_token(token: str) -> Subscription | None:
    try:
        pk = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return Subscription.objects.select_related("product").filter(pk=pk).first()


def subscription_create(*, product: Product, email: str, user=None) -> None:
    """Add the address to the product's waitlist. Says nothing about whether it was
    already there, so the form cannot be used to learn who is subscribed."""
    try:
        with transaction.atomic():
            Subscription.objects.create(product=product, email=email.strip(), user=user)
    except IntegrityError:
        pass  # already waiting for this product: nothing to add


def subscription_cancel(*, subscription: Subscription) -> None:
    Subscription.objects.filter(pk=subscription.pk, unsubscribed_at__isnull=True).update(
        unsubscribed_at=timezone.now()
    )


def back_in_stock_notify(*, product_id: int) -> int:
    """Tell the earliest subscribers, as many as there are units a new order could get now;
    the rest stay queued for the next restock. Returns how many were told."""
    with transaction.atomic():
        product = Product.objects.filter(pk=product_id, is_active=True).first()
        if product is None:
            return 0
        units = availability_for(product=product).stock_salable
        if units <= 0:
            return 0
        subscriptions = list(
            Subscription.objects.select_for_update(skip_locked=True)
            .filter(product=product, notified_at__isnull=True, unsubscribed_at__isnull=True)
            .order_by("created_at", "pk")[:units]
        )
        if not subscriptions:
            return 0
        Subscription.objects.filter(pk__in=[s.pk for s in subscriptions]).update(notified_at=timezone.now())
        outbox_write(
            messages=[
                outbox_message(
                    kind="back_in_stock",
                    key=str(s.pk),
                    to=s.email,
                    context={
                        "product": product,
                        "product_url": settings.SITE_URL + product.get_absolute_url(),
                        "unsubscribe_url": unsubscribe_url(s),
                    },
                )
                for s in subscriptions
            ]
        )
    return len(subscriptions)
