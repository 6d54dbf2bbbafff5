"""Emails name their order (the order page's communication log): new ones from the context
they are rendered with, ones written before the link by the migration, from their key."""

from importlib import import_module

import pytest
from django.apps import apps

from notifications.models import OutboxMessage
from orders.services import CartLine, Customer, checkout_place_order, shipment_create
from tests.catalog.factories import ProductFactory
from tests.helpers import receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]
migration = import_module("notifications.migrations.0005_after_the_sale")


def test_sent_emails_written_before_the_link_are_linked_to_their_order_by_key(main):
    lamp = ProductFactory()
    receive(lamp, 1, main)
    customer = Customer(email="ada@example.com", full_name="Ada", address="x")
    order = checkout_place_order(lines=[CartLine(lamp.pk, 1)], customer=customer)
    shipment = shipment_create(order=order, source=main)
    assert OutboxMessage.objects.get(kind="shipped").order == order  # new ones: from their context
    OutboxMessage.objects.all().delete()

    def old(kind, key):
        return OutboxMessage.objects.create(key=key, kind=kind, to_email="ada@example.com", subject=kind)

    confirmation = old("order_confirmation", f"order_confirmation:{order.number}:ada@example.com")
    shipped = old("shipped", f"shipped:{shipment.pk}:ada@example.com")
    unknown = old("rows_cancelled", "rows_cancelled:R-NOPE:ada@example.com")
    reset = old("password_reset", "password_reset:abc:ada@example.com")

    migration.link_sent_emails_to_orders(apps, None)

    linked = dict(OutboxMessage.objects.values_list("pk", "order_id"))
    assert linked == {confirmation.pk: order.pk, shipped.pk: order.pk, unknown.pk: None, reset.pk: None}
