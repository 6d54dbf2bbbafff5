"""The nightly reorder-point email: merchants hear of a product once per crossing."""

import threading

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import IntegrityError

from notifications.models import OutboxMessage, ReorderAlert
from notifications.replenishment import reorder_points_check
from notifications.tasks import alert_reorder_points, send_outbox
from orders.models import RowStatus
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.orders.factories import OrderRowFactory
from tests.threads import run_together

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchants(settings):
    settings.MERCHANT_EMAILS = ["buyer@shop.example", "boss@shop.example"]
    return settings.MERCHANT_EMAILS


@pytest.fixture
def kettle(main, global_settings):
    """Reorder point 0 (no demand in the window, no safety stock) with 4 free: not below."""
    kettle = ProductFactory(sku="KETTLE-1", name="Copper kettle", backorderable=True)
    receive(kettle, 4, main)
    return kettle


def wait_for(product, units):
    return OrderRowFactory(product=product, quantity=units, status=RowStatus.BACKORDERED)


def reorder_emails():
    return OutboxMessage.objects.filter(kind="reorder_point").order_by("pk")


def test_a_product_that_falls_below_is_emailed_to_every_merchant_with_its_numbers(kettle, merchants):
    # 7 waiting + reorder point 4 (7 units in 28 days × 14 days, rounded up) − 4 free = 7
    wait_for(kettle, 7)

    assert reorder_points_check() == [kettle.pk]

    emails = list(reorder_emails())
    assert sorted(e.to_email for e in emails) == sorted(merchants)
    email = emails[0]
    assert email.subject == "Below reorder point: 1 product"
    assert "Copper kettle (KETTLE-1)" in email.body_text
    assert "free 4, inbound 0, waiting 7" in email.body_text
    assert "/admin/replenishment/" in email.body_text
    assert "KETTLE-1" in email.body_html


def test_once_per_crossing_not_every_night(kettle, main, merchants):
    wait_for(kettle, 7)
    assert reorder_points_check() == [kettle.pk]
    assert reorder_points_check() == []  # the next night: still below, already told
    assert reorder_emails().count() == 2  # one email to each of the two merchants

    receive(kettle, 30, main)  # back above its reorder point: the crossing is over
    assert reorder_points_check() == []
    assert not ReorderAlert.objects.exists()

    wait_for(kettle, 40)  # below again: a new crossing, told again
    assert reorder_points_check() == [kettle.pk]
    assert reorder_emails().count() == 4


def test_products_not_below_are_not_emailed(kettle, merchants):
    assert reorder_points_check() == []
    assert not reorder_emails().exists()


def test_one_email_lists_every_product_that_crossed_that_night(kettle, merchants):
    teapot = ProductFactory(sku="TEAPOT-1", name="Teapot", backorderable=True)
    wait_for(kettle, 7)
    wait_for(teapot, 2)
    assert sorted(reorder_points_check()) == sorted([kettle.pk, teapot.pk])
    email = reorder_emails().first()
    assert email.subject == "Below reorder point: 2 products"
    assert "KETTLE-1" in email.body_text and "TEAPOT-1" in email.body_text


def test_the_nightly_task_is_scheduled_and_sends_through_the_outbox(kettle, merchants, eager, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    schedule = django_settings.CELERY_BEAT_SCHEDULE["reorder-point-alert"]
    assert schedule["task"] == alert_reorder_points.name
    wait_for(kettle, 7)

    assert alert_reorder_points.delay().get() == [kettle.pk]
    send_outbox.delay().get()

    assert sorted(m.to[0] for m in mail.outbox) == sorted(merchants)
    assert alert_reorder_points.delay().get() == []  # safe to run twice


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_checks_at_once_tell_the_merchants_once(merchants, main, global_settings, monkeypatch):
    """Two workers run the nightly check together (a redelivered job), both having read that
    nobody was told yet: one writes the crossing and its emails; the other's insert meets the
    unique product, rolls back whole and, rerun as its task would be, finds the crossing told."""
    kettle = ProductFactory(sku="KETTLE-1", backorderable=True)
    wait_for(kettle, 7)
    both_read = threading.Barrier(2)
    insert = ReorderAlert.objects.bulk_create

    def insert_once_both_have_read(objs, **kwargs):
        both_read.wait(timeout=10)
        return insert(objs, **kwargs)

    monkeypatch.setattr(ReorderAlert.objects, "bulk_create", insert_once_both_have_read)
    outcomes = []

    def check():
        try:
            outcomes.append(reorder_points_check())
        except IntegrityError:
            outcomes.append("rolled back")

    run_together(check, 2)

    assert sorted(map(str, outcomes)) == sorted([str([kettle.pk]), "rolled back"])
    assert reorder_emails().count() == len(merchants)
    assert ReorderAlert.objects.count() == 1
    monkeypatch.undo()
    assert reorder_points_check() == []  # the retry
