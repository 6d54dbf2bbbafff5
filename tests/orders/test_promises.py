import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from catalog.promise import promise_walk
from inventory.services import inbound_cancel, inbound_create, inbound_update
from notifications.events import emails_send_batch
from orders.models import CustomerTier, OrderRow
from orders.services import CartLine, Customer, checkout_place_order, promises_refresh
from tests.catalog.factories import ProductFactory
from tests.helpers import receive

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()  # rows are placed on the real clock


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def wait(product, quantity, today=TODAY, user=None):
    order = checkout_place_order(
        lines=[CartLine(product.pk, quantity)],
        customer=Customer(email="c@example.com", full_name="C", address="x", user=user),
        today=today,
    )
    return order.rows.get(status__in=["backordered", "preordered"])


def promises(product):
    return list(
        OrderRow.objects.filter(product=product, status__in=["backordered", "preordered"])
        .order_by("queue_at", "pk")
        .values_list("quantity", "promise_date")
    )


# -- the walk itself -------------------------------------------------------------------------


def test_walk_covers_rows_in_queue_order_from_stock_then_supply_then_fallback():
    # Supply given in neither date order nor its reverse: sorting ascending, descending or
    # not at all each gives different dates.
    dates = promise_walk(
        demands=[1, 1, 3, 2, 1],
        stock_now=1,
        inbound=[(days(20), 2), (days(5), 1), (days(10), 3)],
        today=TODAY,
        fallbacks=[days(30)] * 5,
    )
    # timeline by date: 1 today, 1 on day 5, 3 on day 10, 2 on day 20 (7 units for 8 wanted)
    assert dates == [TODAY, days(5), days(10), days(20), days(30)]
    # descending would give [TODAY, days(20), days(10), days(5), ...], unsorted [TODAY, days(20),
    # days(10), days(10), ...]


def test_walk_dates_the_last_unit_of_a_row():
    assert promise_walk(
        demands=[5], stock_now=2, inbound=[(days(3), 3)], today=TODAY, fallbacks=[days(9)]
    ) == [days(3)]


def test_supply_dated_in_the_past_counts_from_today():
    assert promise_walk(
        demands=[1], stock_now=0, inbound=[(days(-2), 1)], today=TODAY, fallbacks=[days(9)]
    ) == [TODAY]


# -- refresh over real rows ----------------------------------------------------------------------


def test_queue_position_several_sources_and_supplies(main, overflow):
    product = ProductFactory(backorderable=True, use_global_lead_time_days=False, lead_time_days=21)
    for quantity in (2, 2, 2, 2):
        wait(product, quantity)
    inbound_create(source=overflow, product=product, quantity=3, expected_date=days(12), reference="PO-2")
    inbound_create(source=main, product=product, quantity=2, expected_date=days(5), reference="PO-1")

    promises_refresh(product_id=product.pk, today=TODAY)

    # 2 on day 5 cover row 1; 3 on day 12 cover row 2 and half of row 3; the rest: lead time
    assert promises(product) == [(2, days(5)), (2, days(12)), (2, days(21)), (2, days(21))]


def test_free_stock_not_yet_allocated_promises_today(main):
    product = ProductFactory(backorderable=True)
    wait(product, 2)
    receive(product, 2, main)
    promises_refresh(product_id=product.pk, today=TODAY)
    assert promises(product) == [(2, TODAY)]


def test_no_supply_uses_the_lead_time_or_the_manual_expected_date():
    plain = ProductFactory(backorderable=True, use_global_lead_time_days=False, lead_time_days=10)
    manual = ProductFactory(backorderable=True, expected_restock_date=days(40))
    wait(plain, 1)
    wait(manual, 1)
    promises_refresh(product_id=plain.pk, today=TODAY)
    promises_refresh(product_id=manual.pk, today=TODAY)
    assert promises(plain) == [(1, days(10))]
    assert promises(manual) == [(1, days(40))]


@pytest.mark.parametrize("partial", ["split", "wait"])
def test_partial_allocation_setting_promises_the_date_the_whole_row_is_covered(main, partial):
    product = ProductFactory(
        backorderable=True, use_global_partial_allocation=False, partial_allocation=partial
    )
    wait(product, 4)
    wait(product, 1)
    inbound_create(source=main, product=product, quantity=3, expected_date=days(3), reference="A")
    inbound_create(source=main, product=product, quantity=2, expected_date=days(8), reference="B")
    promises_refresh(product_id=product.pk, today=TODAY)
    # the later small row never gets an earlier date than the row ahead of it
    assert promises(product) == [(4, days(8)), (1, days(8))]


def test_safety_stock_is_not_promised_to_waiting_rows(main):
    product = ProductFactory(backorderable=True, use_global_safety_stock=False, safety_stock=2)
    wait(product, 1)
    wait(product, 2)
    receive(product, 3, main)  # 3 free, 2 held back: one unit for the queue
    inbound_create(source=main, product=product, quantity=2, expected_date=days(6), reference="PO")

    promises_refresh(product_id=product.pk, today=TODAY)

    assert promises(product) == [(1, TODAY), (2, days(6))]


def test_a_higher_tier_row_is_promised_the_earlier_supply(main):
    vip = get_user_model().objects.create_user("vip", "vip@example.com", "pw")
    CustomerTier.objects.create(user=vip, priority=5)
    product = ProductFactory(backorderable=True, use_global_lead_time_days=False, lead_time_days=21)
    early = wait(product, 2)
    late_vip = wait(product, 2, user=vip)
    inbound_create(source=main, product=product, quantity=2, expected_date=days(5), reference="PO")

    promises_refresh(product_id=product.pk, today=TODAY)

    early.refresh_from_db()
    late_vip.refresh_from_db()
    assert (late_vip.promise_date, early.promise_date) == (days(5), days(21))


def test_preorders_are_never_promised_before_release(main):
    product = ProductFactory(preorder_enabled=True, release_date=days(30))
    wait(product, 1)
    inbound_create(source=main, product=product, quantity=5, expected_date=days(2), reference="PO")
    promises_refresh(product_id=product.pk, today=TODAY)
    assert promises(product) == [(1, days(30))]


def test_checkout_sets_the_promise_of_new_rows(main):
    product = ProductFactory(backorderable=True)
    receive(product, 1, main)
    wait(product, 2)  # 1 from stock, 1 waits
    inbound_create(source=main, product=product, quantity=2, expected_date=days(6), reference="PO")
    row = wait(product, 2, today=TODAY)  # 1 + 2 waiting ahead of it... 2 arrive on day 6
    assert row.promise_date == days(14)  # the first waiting unit takes 1, 1 left: not enough
    first = OrderRow.objects.filter(product=product, status="backordered").order_by("pk").first()
    assert first.promise_date == TODAY + dt.timedelta(days=14)  # placed before the PO existed


# -- slips ------------------------------------------------------------------------------------


def test_a_later_promise_is_emailed_once_an_earlier_one_is_not(main):
    product = ProductFactory(
        name="Oak Chair", backorderable=True, use_global_lead_time_days=False, lead_time_days=30
    )
    row = wait(product, 2)
    supply = inbound_create(source=main, product=product, quantity=2, expected_date=days(5), reference="PO")
    promises_refresh(product_id=product.pk, today=TODAY)
    emails_send_batch()
    mail.outbox.clear()

    inbound_update(supply=supply, quantity=2, expected_date=days(9))  # the supplier is late
    assert [s.now for s in promises_refresh(product_id=product.pk, today=TODAY)] == [days(9)]
    assert promises_refresh(product_id=product.pk, today=TODAY) == []  # nothing new
    inbound_update(supply=supply, quantity=2, expected_date=days(7))  # earlier again: saved, not emailed
    assert promises_refresh(product_id=product.pk, today=TODAY) == []
    inbound_cancel(supply=supply)  # cancelled: falls back to the lead time
    assert [s.now for s in promises_refresh(product_id=product.pk, today=TODAY)] == [days(30)]

    emails_send_batch()
    subjects = [m.subject for m in mail.outbox]
    assert subjects == [f"New expected date for order {row.order.number}"] * 2
    first = mail.outbox[0]
    assert (
        f"now expected by {days(9).day} {days(9):%b %Y} (we said {days(5).day} {days(5):%b %Y})" in first.body
    )
    assert "cancel it: http" in first.body
    row.refresh_from_db()
    assert row.promise_date == days(30)


def test_a_lead_time_promise_counts_from_the_order_and_does_not_slip_a_day_every_day():
    product = ProductFactory(backorderable=True, use_global_lead_time_days=False, lead_time_days=14)
    row = wait(product, 1)
    placed = row.queue_at.date()
    promises_refresh(product_id=product.pk, today=placed)
    assert promises(product) == [(1, placed + dt.timedelta(days=14))]
    assert promises_refresh(product_id=product.pk, today=placed + dt.timedelta(days=1)) == []
    assert promises_refresh(product_id=product.pk, today=placed + dt.timedelta(days=14)) == []
    # once the promised day has passed with nothing in sight, it moves on by one lead time
    slips = promises_refresh(product_id=product.pk, today=placed + dt.timedelta(days=15))
    assert [(s.was, s.now) for s in slips] == [
        (placed + dt.timedelta(days=14), placed + dt.timedelta(days=28))
    ]


def test_cart_and_checkout_say_when_waiting_units_are_expected(client, main):
    product = ProductFactory(backorderable=True, use_global_lead_time_days=False, lead_time_days=10)
    receive(product, 1, main)
    inbound_create(source=main, product=product, quantity=5, expected_date=days(4), reference="PO")
    client.post(reverse("storefront:cart_add"), {"product_id": product.pk, "quantity": 3})
    expected = f"The rest is expected to ship by {dt.date.today() + dt.timedelta(days=4):%-d %b %Y}."
    assert expected in client.get(reverse("storefront:cart")).content.decode()
    assert expected in client.get(reverse("storefront:checkout")).content.decode()


def test_product_page_says_when_the_next_unit_ships(client, main):
    # allow_notify: the badge names the backorder (silent mode says only "Available")
    product = ProductFactory(notify=True, use_global_lead_time_days=False, lead_time_days=10)
    inbound_create(source=main, product=product, quantity=1, expected_date=days(3), reference="PO")
    wait(product, 1)  # takes the unit of the inbound supply
    html = client.get(product.get_absolute_url()).content.decode()
    lead = dt.date.today() + dt.timedelta(days=10)
    assert f"Order now: expected to ship by {lead:%-d %b %Y}." in html
    assert f"Available on backorder — ships by {lead:%-d %b %Y}" in html


def test_a_cancellation_moves_the_promises_behind_it_up(main, django_capture_on_commit_callbacks):
    from orders.services import row_cancel

    product = ProductFactory(backorderable=True, use_global_lead_time_days=False, lead_time_days=30)
    inbound_create(source=main, product=product, quantity=2, expected_date=days(5), reference="PO")
    ahead, behind = wait(product, 2), wait(product, 2)
    assert behind.promise_date == behind.queue_at.date() + dt.timedelta(days=30)
    with django_capture_on_commit_callbacks(execute=True):
        row_cancel(row_ids=[ahead.pk], by_customer=True)
    behind.refresh_from_db()
    assert behind.promise_date == days(5)
