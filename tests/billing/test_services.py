"""Billing's services on real checkouts, shipments and cancellations, paid with the dummy provider."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone
from payments import PaymentStatus

from billing.exceptions import (
    AmountNotOrders,
    CaptureOfCancelledRow,
    NotPayable,
    RefundAboveCapture,
    RowNotInOrder,
    RowNotRefundable,
)
from billing.models import DummyGatewayCall, EntryKind, EntryState, LedgerEntry, OrderTotals, Payment
from billing.selectors import ledger_reconcile, order_is_paid, orders_payment_expired, pay_links_overdue
from billing.services import (
    pay_link_create,
    payment_start,
    rows_refund,
    shipment_capture,
    unpaid_orders_expire,
)
from orders.models import RowStatus
from orders.services import backorders_allocate, row_cancel, shipment_create
from tests.billing.factories import pay, place, place_prepaid, shipped_after_expiry, shop_settings, submit
from tests.catalog.factories import ProductFactory
from tests.helpers import receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]


@pytest.fixture(autouse=True)
def shop(settings):
    return shop_settings(settings)


@pytest.fixture
def mixed(main):
    """An order of one unit in stock (20.00) and two on backorder (10.00 each)."""
    shelf = ProductFactory(price=D("20.00"))
    receive(shelf, 1, main)
    later = ProductFactory(price=D("10.00"), backorderable=True)
    return shelf, later


def entries(order, kind):
    return list(LedgerEntry.objects.filter(order=order, kind=kind).order_by("pk"))


def gateway(operation):
    return sorted(c.amount for c in DummyGatewayCall.objects.filter(operation=operation))


def row_of(order, product, status):
    return order.rows.get(product=product, status=status)


# -- totals snapshot --


def test_checkout_snapshots_the_totals_and_later_settings_do_not_change_them(shop, mixed):
    shelf, later = mixed
    order = place([(shelf, 1), (later, 2)])
    totals = OrderTotals.objects.get(order=order)
    assert (totals.subtotal, totals.shipping, totals.total) == (D("40.00"), D("4.90"), D("44.90"))
    assert totals.tax == D("3.33") + D("1.67") * 2 + D("0.82")  # per unit: 20.00 → 3.33, 10.00 → 1.67
    assert totals.settlement == "per_shipment"

    shop.BILLING_SHIPPING, shop.BILLING_TAX_RATE, shop.BILLING_SETTLEMENT = "9.99", "0.07", "at_checkout"
    payment = payment_start(order_id=order.pk)

    totals.refresh_from_db()
    assert (totals.total, totals.tax_rate, totals.settlement) == (D("44.90"), D("0.2000"), "per_shipment")
    assert (payment.total, payment.delivery, payment.currency) == (D("44.90"), D("4.90"), "EUR")


# -- per shipment --


def test_per_shipment_authorizes_then_captures_each_shipment_and_shipping_once(
    main, mixed, django_capture_on_commit_callbacks
):
    shelf, later = mixed
    order = place([(shelf, 1), (later, 2)])
    with django_capture_on_commit_callbacks(execute=True):
        payment = pay(order)
    assert payment.status == PaymentStatus.PREAUTH
    (auth,) = entries(order, EntryKind.AUTHORIZE)
    assert (auth.amount, auth.state) == (D("44.90"), EntryState.SUCCEEDED)
    assert order_is_paid(order_id=order.pk)

    with django_capture_on_commit_callbacks(execute=True):
        first = shipment_create(order=order, source=main)
    receive(later, 2, main)
    with django_capture_on_commit_callbacks(execute=True):
        backorders_allocate(product_id=later.pk)
        second = shipment_create(order=order, source=main)

    captures = entries(order, EntryKind.CAPTURE)
    assert [(c.shipment_id, c.amount, c.state) for c in captures] == [
        (first.pk, D("24.90"), EntryState.SUCCEEDED),  # the shelf unit + shipping
        (second.pk, D("20.00"), EntryState.SUCCEEDED),  # two backordered units, no shipping again
    ]
    assert gateway("capture") == [D("20.00"), D("24.90")]
    assert entries(order, EntryKind.RELEASE) == []  # all of it was captured
    assert ledger_reconcile().violations == []


def test_cancelled_waiting_rows_are_never_captured_and_the_rest_is_released(
    main, mixed, django_capture_on_commit_callbacks
):
    shelf, later = mixed
    order = place([(shelf, 1), (later, 2)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
        shipment_create(order=order, source=main)
    with django_capture_on_commit_callbacks(execute=True):
        row_cancel(row_ids=[row_of(order, later, RowStatus.BACKORDERED).pk], by_customer=True)

    (release,) = entries(order, EntryKind.RELEASE)
    assert (release.amount, release.state) == (D("20.00"), EntryState.SUCCEEDED)
    assert gateway("capture") == [D("24.90")]
    assert gateway("release") == [D("20.00")]
    assert ledger_reconcile().violations == []


def test_an_expired_authorization_is_not_captured_the_customer_gets_a_pay_link(
    main, mixed, settings, django_capture_on_commit_callbacks
):
    shelf, later = mixed
    order = shipped_after_expiry(shelf, main, settings, django_capture_on_commit_callbacks)

    (capture,) = entries(order, EntryKind.CAPTURE)
    assert (capture.state, capture.amount, capture.parent) == (EntryState.AWAITING_PAYMENT, D("24.90"), None)
    assert gateway("capture") == []
    assert [f.order for f in ledger_reconcile().open] == [order.number]
    assert ledger_reconcile().violations == []
    assert list(
        pay_links_overdue(now=timezone.now() + dt.timedelta(days=settings.BILLING_PAY_LINK_ALERT_DAYS + 1))
    )

    link = pay_link_create(entry_id=capture.pk)
    assert pay_link_create(entry_id=capture.pk) == link  # a second click gets the same payment
    assert link.total == D("24.90")
    with django_capture_on_commit_callbacks(execute=True):
        assert submit(link, PaymentStatus.CONFIRMED).redirected_to == link.get_success_url()
    capture.refresh_from_db()
    assert (capture.state, capture.payment) == (EntryState.SUCCEEDED, link)
    assert ledger_reconcile().open == [] and ledger_reconcile().violations == []


# -- charge at checkout --


def test_prepaid_cancelled_rows_are_refunded_their_amount_and_shipping_when_nothing_is_left(
    shop, main, mixed, django_capture_on_commit_callbacks
):
    shelf, later = mixed
    order = place_prepaid(shop, [(shelf, 1), (later, 2)], django_capture_on_commit_callbacks)
    (capture,) = entries(order, EntryKind.CAPTURE)
    assert (capture.amount, capture.covers_shipping) == (D("44.90"), True)

    with django_capture_on_commit_callbacks(execute=True):
        row_cancel(row_ids=[row_of(order, later, RowStatus.BACKORDERED).pk], by_customer=True)
    assert [r.amount for r in entries(order, EntryKind.REFUND)] == [D("20.00")]
    assert ledger_reconcile().violations == []

    with django_capture_on_commit_callbacks(execute=True):
        row_cancel(row_ids=[row_of(order, shelf, RowStatus.ALLOCATED).pk])
    refunds = entries(order, EntryKind.REFUND)
    assert [(r.amount, r.covers_shipping) for r in refunds] == [
        (D("20.00"), False),
        (D("20.00"), False),
        (D("4.90"), True),
    ]
    assert {r.state for r in refunds} == {EntryState.SUCCEEDED}
    assert gateway("refund") == [D("4.90"), D("20.00"), D("20.00")]
    capture.refresh_from_db()
    assert capture.drawn == capture.amount
    assert ledger_reconcile().violations == []


def test_prepaid_shipping_stays_charged_once_something_has_shipped(
    shop, main, mixed, django_capture_on_commit_callbacks
):
    shop.BILLING_SETTLEMENT = "at_checkout"
    shelf, later = mixed
    order = place([(shelf, 1), (later, 2)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(order, PaymentStatus.CONFIRMED)
        shipment_create(order=order, source=main)
        row_cancel(row_ids=[row_of(order, later, RowStatus.BACKORDERED).pk], by_customer=True)
    assert [r.amount for r in entries(order, EntryKind.REFUND)] == [D("20.00")]
    assert ledger_reconcile().violations == []


# -- paying --


def test_a_declined_payment_can_be_retried_and_two_tabs_share_one_payment(mixed):
    shelf, _ = mixed
    order = place([(shelf, 1)])
    assert payment_start(order_id=order.pk) == payment_start(order_id=order.pk)
    declined = pay(order, PaymentStatus.REJECTED)
    assert declined.status == PaymentStatus.REJECTED
    assert not order_is_paid(order_id=order.pk)

    retried = pay(order)
    assert retried != declined and retried.status == PaymentStatus.PREAUTH
    assert order_is_paid(order_id=order.pk)
    with pytest.raises(NotPayable, match="paid already"):
        payment_start(order_id=order.pk)


def test_a_second_payment_that_gets_through_is_given_back(mixed, django_capture_on_commit_callbacks):
    shelf, _ = mixed
    order = place([(shelf, 1)])
    first = payment_start(order_id=order.pk)
    first.status = PaymentStatus.INPUT
    second = Payment.objects.create(
        order=order, variant="dummy", currency="EUR", total=first.total, status=PaymentStatus.INPUT
    )
    with django_capture_on_commit_callbacks(execute=True):
        first.change_status(PaymentStatus.PREAUTH)
        second.change_status(PaymentStatus.PREAUTH)
    (release,) = entries(order, EntryKind.RELEASE)
    assert (release.payment, release.amount, release.state) == (second, first.total, EntryState.SUCCEEDED)
    assert ledger_reconcile().violations == []


def test_the_payment_window_closes(mixed, settings):
    shelf, _ = mixed
    order = place([(shelf, 1)])
    late = timezone.now() + dt.timedelta(minutes=settings.BILLING_PAYMENT_WINDOW_MINUTES + 1)
    with pytest.raises(NotPayable, match="run out"):
        payment_start(order_id=order.pk, now=late)
    assert list(orders_payment_expired(now=late)) == [order]
    assert list(orders_payment_expired()) == []
    pay(order)
    assert list(orders_payment_expired(now=late)) == []


# -- bad input: a clear error, nothing written --


@pytest.fixture
def prepaid(shop, mixed, django_capture_on_commit_callbacks):
    shelf, later = mixed
    order = place_prepaid(shop, [(shelf, 1), (later, 2)], django_capture_on_commit_callbacks)
    return order


def test_refunding_a_row_of_another_order_writes_nothing(prepaid, mixed):
    other = place([(mixed[1], 1)])
    before = LedgerEntry.objects.count()
    with pytest.raises(RowNotInOrder) as error:
        rows_refund(order_id=prepaid.pk, row_ids=[other.rows.get().pk])
    assert error.value.row_ids == [other.rows.get().pk]
    assert LedgerEntry.objects.count() == before


def test_refunding_a_row_not_cancelled_writes_nothing(prepaid):
    row = prepaid.rows.get(status=RowStatus.ALLOCATED)
    with pytest.raises(RowNotRefundable, match="allocated"):
        rows_refund(order_id=prepaid.pk, row_ids=[row.pk])
    assert not LedgerEntry.objects.filter(kind=EntryKind.REFUND).exists()


def test_an_amount_in_another_currency_writes_nothing(prepaid, django_capture_on_commit_callbacks):
    row = prepaid.rows.get(status=RowStatus.BACKORDERED)
    with django_capture_on_commit_callbacks(execute=True):
        row_cancel(row_ids=[row.pk], by_customer=True)
    before = LedgerEntry.objects.count()
    with pytest.raises(AmountNotOrders, match="USD"):
        rows_refund(order_id=prepaid.pk, row_ids=[row.pk], amount=D("20.00"), currency="USD")
    with pytest.raises(AmountNotOrders):
        rows_refund(order_id=prepaid.pk, row_ids=[row.pk], amount=D("25.00"))
    assert LedgerEntry.objects.count() == before


def test_a_refund_above_the_capture_writes_nothing(main, mixed, django_capture_on_commit_callbacks):
    shelf, later = mixed
    order = place([(shelf, 1), (later, 2)])  # per shipment: authorized, nothing captured
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
        row_cancel(row_ids=[row_of(order, later, RowStatus.BACKORDERED).pk], by_customer=True)
    before = LedgerEntry.objects.count()
    with pytest.raises(RefundAboveCapture) as error:
        rows_refund(order_id=order.pk, row_ids=[row_of(order, later, RowStatus.CANCELLED).pk])
    assert (error.value.requested, error.value.available) == (D("20.00"), D("0"))
    assert LedgerEntry.objects.count() == before


def test_capturing_a_cancelled_row_writes_nothing(shop, main, mixed, django_capture_on_commit_callbacks):
    shelf, later = mixed
    order = place([(shelf, 1), (later, 2)])
    shop.BILLING_SETTLEMENT = "per_shipment"
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
        OrderTotals.objects.filter(order=order).update(settlement="at_checkout")  # ship with no capture
        shipment = shipment_create(order=order, source=main)
        row_cancel(row_ids=[row_of(order, later, RowStatus.BACKORDERED).pk], by_customer=True)
    OrderTotals.objects.filter(order=order).update(settlement="per_shipment")
    before = LedgerEntry.objects.count()
    with pytest.raises(CaptureOfCancelledRow):
        shipment_capture(
            shipment=shipment, rows=[*shipment.rows.all(), row_of(order, later, RowStatus.CANCELLED)]
        )
    assert LedgerEntry.objects.count() == before


def test_prepaid_row_split_by_a_partial_restock_refunds_only_the_cancelled_part(
    shop, main, django_capture_on_commit_callbacks
):
    shop.BILLING_SETTLEMENT = "at_checkout"
    later = ProductFactory(price=D("10.00"), backorderable=True)
    order = place([(later, 3)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(order, PaymentStatus.CONFIRMED)
    receive(later, 1, main)
    with django_capture_on_commit_callbacks(execute=True):
        backorders_allocate(product_id=later.pk)  # 1 unit allocated, split off; 2 wait
        waiting = row_of(order, later, RowStatus.BACKORDERED)
        assert waiting.quantity == 2
        row_cancel(row_ids=[waiting.pk], by_customer=True)

    assert [(r.amount, r.lines.get().row_id) for r in entries(order, EntryKind.REFUND)] == [
        (D("20.00"), waiting.pk)
    ]
    assert ledger_reconcile().violations == []
    with django_capture_on_commit_callbacks(execute=True):
        row_cancel(row_ids=[row_of(order, later, RowStatus.ALLOCATED).pk])
    assert [r.amount for r in entries(order, EntryKind.REFUND)] == [D("20.00"), D("10.00"), D("4.90")]
    assert ledger_reconcile().violations == []


def test_an_authorization_in_a_prepaid_shop_settles_per_shipment(
    shop, main, mixed, django_capture_on_commit_callbacks
):
    shop.BILLING_SETTLEMENT = "at_checkout"
    shelf, _ = mixed
    order = place([(shelf, 1)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(order, PaymentStatus.PREAUTH)  # the provider only authorized
        shipment_create(order=order, source=main)
    assert OrderTotals.objects.get(order=order).settlement == "per_shipment"
    assert [c.amount for c in entries(order, EntryKind.CAPTURE)] == [D("24.90")]
    assert ledger_reconcile().violations == []


def test_an_unpaid_order_expires_its_units_go_to_the_next_waiting_customer(
    main, settings, django_capture_on_commit_callbacks
):
    shelf = ProductFactory(price=D("20.00"), backorderable=True)
    receive(shelf, 1, main)
    unpaid = place([(shelf, 2)], email="late@example.com")  # 1 allocated, 1 backordered
    paid = place([(shelf, 1)], email="next@example.com")
    pay(paid)
    waiting = paid.rows.get()
    assert waiting.status == RowStatus.BACKORDERED
    late = timezone.now() + dt.timedelta(minutes=settings.BILLING_PAYMENT_WINDOW_MINUTES + 1)

    assert unpaid_orders_expire() == []  # still in its window
    with django_capture_on_commit_callbacks(execute=True):
        assert unpaid_orders_expire(now=late) == [unpaid.pk]

    assert {r.status for r in unpaid.rows.all()} == {RowStatus.CANCELLED}
    assert {e.reason for r in unpaid.rows.all() for e in r.events.filter(to_status=RowStatus.CANCELLED)} == {
        "Payment not completed"
    }
    waiting.refresh_from_db()
    assert waiting.status == RowStatus.ALLOCATED
    assert not LedgerEntry.objects.filter(order=unpaid).exists()  # nothing was paid, nothing to give back
    assert unpaid_orders_expire(now=late) == []  # nothing left to expire


def test_a_payment_that_lands_after_the_order_expired_is_given_back(
    main, mixed, settings, django_capture_on_commit_callbacks
):
    shelf, _ = mixed
    order = place([(shelf, 1)])
    started = payment_start(order_id=order.pk)  # the customer is on the provider's page...
    late = timezone.now() + dt.timedelta(minutes=settings.BILLING_PAYMENT_WINDOW_MINUTES + 1)
    with django_capture_on_commit_callbacks(execute=True):
        unpaid_orders_expire(now=late)
        submit(started, PaymentStatus.PREAUTH)  # ...and approves after the window closed

    (auth,) = entries(order, EntryKind.AUTHORIZE)
    (release,) = entries(order, EntryKind.RELEASE)
    assert (release.parent, release.amount, release.state) == (auth, auth.amount, EntryState.SUCCEEDED)
    assert ledger_reconcile().violations == []


def test_an_order_placed_before_billing_cannot_be_paid():
    from tests.orders.factories import OrderFactory

    order = OrderFactory()
    with pytest.raises(NotPayable, match=f"{order.number} cannot be paid: it has no totals"):
        payment_start(order_id=order.pk)


def test_a_refused_refund_is_kept_failed_and_succeeds_when_retried(
    prepaid, monkeypatch, django_capture_on_commit_callbacks
):
    from billing import gateway as provider
    from billing.services import entry_retry

    def refused(entry):
        raise provider.PaymentError("Card issuer unavailable")

    monkeypatch.setattr(provider, "perform", refused)
    with django_capture_on_commit_callbacks(execute=True):
        row_cancel(row_ids=[prepaid.rows.get(status=RowStatus.BACKORDERED).pk], by_customer=True)
    (refund,) = entries(prepaid, EntryKind.REFUND)
    assert (refund.state, refund.error) == (EntryState.FAILED, "Card issuer unavailable")
    assert [f.order for f in ledger_reconcile().open] == [prepaid.number]

    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        entry_retry(entry_id=refund.pk)
    refund.refresh_from_db()
    assert refund.state == EntryState.SUCCEEDED and gateway("refund") == [D("20.00")]
    assert ledger_reconcile().open == [] and ledger_reconcile().violations == []


def test_the_sweep_sends_a_job_that_never_ran(prepaid, django_capture_on_commit_callbacks):
    from billing.tasks import settle_pending_sweep

    with django_capture_on_commit_callbacks(execute=False):  # the after-commit send is lost
        row_cancel(row_ids=[prepaid.rows.get(status=RowStatus.BACKORDERED).pk], by_customer=True)
    (refund,) = entries(prepaid, EntryKind.REFUND)
    assert refund.state == EntryState.PENDING

    settle_pending_sweep()

    refund.refresh_from_db()
    assert refund.state == EntryState.SUCCEEDED and gateway("refund") == [D("20.00")]


def test_a_row_cancelled_while_the_customer_was_paying_is_refunded(
    shop, mixed, django_capture_on_commit_callbacks
):
    shop.BILLING_SETTLEMENT = "at_checkout"
    shelf, later = mixed
    order = place([(shelf, 1), (later, 2)])
    started = payment_start(order_id=order.pk)  # 44.90 for both rows
    with django_capture_on_commit_callbacks(execute=True):
        row_cancel(row_ids=[row_of(order, later, RowStatus.BACKORDERED).pk], by_customer=True)  # another tab
        submit(started, PaymentStatus.CONFIRMED)

    assert [c.amount for c in entries(order, EntryKind.CAPTURE)] == [D("44.90")]
    assert [r.amount for r in entries(order, EntryKind.REFUND)] == [D("20.00")]
    assert ledger_reconcile().violations == []


def test_each_row_says_what_it_means_for_the_customer_s_money(
    main, mixed, settings, django_capture_on_commit_callbacks
):
    from billing.selectors import RowPayment, rows_payment_state
    from billing.signals import order_paid, refunds_written, shipment_charged

    heard = []
    for signal in (order_paid, shipment_charged, refunds_written):
        signal.connect(lambda sender, signal=signal, **kw: heard.append(signal), weak=False, dispatch_uid="t")
    try:
        shelf, later = mixed
        receive(shelf, 1, main)
        order = place([(shelf, 2), (later, 2)])
        states = lambda: sorted(rows_payment_state(order_id=order.pk).values())  # noqa: E731
        assert states() == [RowPayment.AWAITING_PAYMENT] * 2
        with django_capture_on_commit_callbacks(execute=True):
            pay(order)
            shipment_create(order=order, source=main)
        assert states() == [RowPayment.CHARGED_WHEN_SHIPPED, RowPayment.PAID]
        LedgerEntry.objects.filter(kind=EntryKind.AUTHORIZE).update(
            created_at=timezone.now() - dt.timedelta(days=settings.BILLING_AUTHORIZATION_DAYS + 1)
        )
        receive(later, 2, main)
        with django_capture_on_commit_callbacks(execute=True):
            backorders_allocate(product_id=later.pk)
            shipment_create(order=order, source=main)
        assert states() == [RowPayment.PAID, RowPayment.PAY_LINK_DUE]
        assert heard == [order_paid, shipment_charged, shipment_charged]
    finally:
        for signal in (order_paid, shipment_charged, refunds_written):
            signal.disconnect(dispatch_uid="t")


def test_prepaid_rows_say_paid_refunded_or_not_charged(shop, mixed, django_capture_on_commit_callbacks):
    from billing.selectors import RowPayment, rows_payment_state

    shop.BILLING_SETTLEMENT = "at_checkout"
    shelf, later = mixed
    other = ProductFactory(price=D("5.00"), backorderable=True)
    order = place([(shelf, 1), (later, 2), (other, 1)])
    row_cancel(row_ids=[row_of(order, other, RowStatus.BACKORDERED).pk], by_customer=True)  # before paying
    with django_capture_on_commit_callbacks(execute=True):
        pay(order, PaymentStatus.CONFIRMED)
        row_cancel(row_ids=[row_of(order, later, RowStatus.BACKORDERED).pk], by_customer=True)
    found = rows_payment_state(order_id=order.pk)
    assert found == {
        row_of(order, shelf, RowStatus.ALLOCATED).pk: RowPayment.PAID,
        row_of(order, later, RowStatus.CANCELLED).pk: RowPayment.REFUNDED,
        row_of(order, other, RowStatus.CANCELLED).pk: RowPayment.NOT_CHARGED,
    }
    assert [c.amount for c in entries(order, EntryKind.CAPTURE)] == [D("44.90")]
