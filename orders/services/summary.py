"""The rows-by-status snapshot behind the admin's index box and dashboard."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from ..models import RowStatus, RowStatusSummary
from ..selectors import row_counts_counted


def row_status_summary_refresh(*, now: dt.datetime | None = None) -> list[RowStatusSummary]:
    """Recount rows and units per status from the rows and replace the snapshot whole (one
    aggregate, then one upsert): safe to run twice, and nothing accumulates between runs."""
    now = now or timezone.now()
    counted = row_counts_counted()
    snapshot = [RowStatusSummary(status=status, **counted[status], computed_at=now) for status in RowStatus]
    with transaction.atomic():
        RowStatusSummary.objects.bulk_create(
            snapshot,
            update_conflicts=True,
            unique_fields=["status"],
            update_fields=["rows", "units", "computed_at"],
        )
    return snapshot
