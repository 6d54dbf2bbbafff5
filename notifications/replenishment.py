"""The merchants' reorder-point email: once per crossing, not every night.

The nightly job asks the replenishment rule (through orders' selector) which products are
below their reorder point. A product newly below is written to ReorderAlert together with
the email; while it stays below, later nights find its row and stay silent; once it is back
at or above the point its row is deleted, so falling below again is a new crossing.
"""

import hashlib

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from orders.selectors import replenishment_suggestions

from .models import ReorderAlert
from .outbox import outbox_message, outbox_write


def reorder_points_check(*, now=None) -> list[int]:
    """Email the merchants about the products that fell below their reorder point since the
    last check (one email listing them all); return their ids. Safe to run twice: a product
    already told is skipped. Two runs at once: the second to insert a product's row fails on
    its unique product and rolls back whole (the task retries, and finds it told)."""
    now = now or timezone.now()
    below = {s.product.pk: s for s in replenishment_suggestions(now=now) if s.decision.below_reorder_point}
    with transaction.atomic():
        # Back at or above the point (or no longer sold): the next fall is a new crossing.
        ReorderAlert.objects.exclude(product_id__in=below).delete()
        told = set(ReorderAlert.objects.values_list("product_id", flat=True))
        crossed = [below[pk] for pk in below if pk not in told]  # already in name order
        if not crossed:
            return []
        alerts = ReorderAlert.objects.bulk_create(
            [ReorderAlert(product_id=s.product.pk, created_at=now) for s in crossed]
        )
        # Keyed by the crossings themselves (their rows), so a later crossing is a new email.
        crossings = ",".join(str(a.pk) for a in sorted(alerts, key=lambda a: a.pk))
        key = hashlib.sha256(crossings.encode()).hexdigest()[:16]
        context = {"suggestions": crossed, "page_path": reverse("admin:replenishment"), "day": now.date()}
        outbox_write(
            messages=[
                outbox_message(
                    kind="reorder_point",
                    key=key,
                    to=to,
                    context=context,
                    language=settings.ADMIN_LANGUAGE_CODE,
                )
                for to in settings.MERCHANT_EMAILS
            ]
        )
    return [s.product.pk for s in crossed]
