"""Back-in-stock waitlist: "notify me" subscriptions and telling subscribers once."""

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from catalog.models import Product
from orders.selectors import alternatives_for, availability_for_many, stock_freed_at

from .models import Subscription
from .money import money_text
from .outbox import outbox_message, outbox_write

UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def unsubscribe_url(subscription: Subscription) -> str:
    token = signing.dumps(subscription.pk, salt=UNSUBSCRIBE_SALT)
    return settings.SITE_URL + reverse(settings.CUSTOMER_URL_NAMES["unsubscribe"], kwargs={"token": token})


def subscription_from_token(token: str) -> Subscription | None:
    try:
        pk = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return Subscription.objects.select_related("product").filter(pk=pk).first()


def subscription_create(*, product: Product, email: str, user=None, language: str | None = None) -> None:
    """Add the address to the product's waitlist. Says nothing about whether it was
    already there, so the form cannot be used to learn who is subscribed."""
    try:
        with transaction.atomic():
            Subscription.objects.create(
                product=product, email=email.strip(), user=user, language=language or settings.LANGUAGE_CODE
            )
    except IntegrityError:
        pass  # already waiting for this product: nothing to add


def subscription_cancel(*, subscription: Subscription) -> None:
    Subscription.objects.filter(pk=subscription.pk, unsubscribed_at__isnull=True).update(
        unsubscribed_at=timezone.now()
    )


def waitlist_openings(*, product_ids: list[int] | None = None) -> dict[int, int]:
    """How many more subscribers each product may tell now (only products with some).

    The rule: as many as the units a new order could get from stock, less the
    subscribers already told since stock last became free for the product. So a
    rerun, a redelivered job or the periodic sweep tells nobody twice and nobody for
    units already announced; the next restock (or a cancelled allocation) opens the
    next places. Set-based: five queries whatever the number of products.
    """
    told_since_freed = (
        Subscription.objects.filter(product=OuterRef("pk"), notified_at__gte=OuterRef("freed_at"))
        .values("product")
        .annotate(n=Count("pk"))
        .values("n")
    )
    waiting = Subscription.objects.filter(
        product=OuterRef("pk"), notified_at__isnull=True, unsubscribed_at__isnull=True
    )
    products = Product.objects.filter(Exists(waiting), is_active=True)
    if product_ids is not None:
        products = products.filter(pk__in=product_ids)
    products = list(
        products.annotate(freed_at=stock_freed_at())
        .annotate(told=Coalesce(Subquery(told_since_freed), 0))
        .order_by("pk")
    )
    figures = availability_for_many(products=products)
    openings = {p.pk: figures[p.pk].stock_salable - p.told for p in products}
    return {pk: n for pk, n in openings.items() if n > 0}


def _alternatives(product: Product) -> list[dict]:
    """What the email offers in case the product sells out again before the subscriber
    comes (stock is limited): its alternatives in stock now (orders.selectors.alternatives_for)."""
    return [
        {
            "name": a.product.name,
            "price": money_text(a.product.price, settings.BILLING_CURRENCY),  # in the subscriber's language
            "url": settings.SITE_URL + a.product.get_absolute_url(),
        }
        for a in alternatives_for(product=product)
    ]


def back_in_stock_notify(*, product_id: int) -> int:
    """Tell the earliest waiting subscribers, as many as waitlist_openings allows; the rest
    stay queued for the next restock. Returns how many were told."""
    with transaction.atomic():
        # Lock the waiting subscriptions first (in sign-up order): a second run of this
        # job waits here and then counts what the first one told.
        waiting = list(
            Subscription.objects.select_for_update()
            .filter(product_id=product_id, notified_at__isnull=True, unsubscribed_at__isnull=True)
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)
        )
        units = waitlist_openings(product_ids=[product_id]).get(product_id, 0) if waiting else 0
        if units <= 0:
            return 0
        product = Product.objects.get(pk=product_id)
        alternatives = _alternatives(product)
        subscriptions = list(Subscription.objects.filter(pk__in=waiting[:units]).order_by("created_at", "pk"))
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
                        "alternatives": alternatives,
                    },
                    language=s.language,
                )
                for s in subscriptions
            ]
        )
    return len(subscriptions)
