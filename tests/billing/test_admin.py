"""The merchant's money admin: the ledger list and its actions, the order page's payment panel
and its refund page; a merchant without billing.settle_payments sees but cannot move money."""

from decimal import Decimal as D

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from payments import PaymentStatus

from billing import gateway as provider
from billing.models import DummyGatewayCall, EntryKind, EntryState, LedgerEntry, Payment, PaymentPurpose
from orders import signals as orders_signals
from orders.models import RowStatus
from orders.services import row_cancel, shipment_create
from tests.billing.factories import backdate, pay, place, shop_settings
from tests.catalog.factories import ProductFactory
from tests.helpers import receive, staff_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]

LEDGER = reverse("admin:billing_ledgerentry_changelist")
VIEW = ("billing.view_ledgerentry", "billing.view_payment", "orders.view_order")


@pytest.fixture(autouse=True)
def shop(settings):
    return shop_settings(settings, BILLING_AUTHORIZATION_DAYS=7)


@pytest.fixture
def goods(main):
    shelf = ProductFactory(sku="SHELF", price=D("20.00"))
    receive(shelf, 10, main)
    later = ProductFactory(sku="LATER", price=D("10.00"), backorderable=True)
    return shelf, later


def only(order, kind):
    (entry,) = LedgerEntry.objects.filter(order=order, kind=kind)
    return entry


def aged(order, days):
    backdate(order, days=days)


@pytest.fixture
def books(shop, main, goods, monkeypatch, django_capture_on_commit_callbacks):
    """prepaid: charged 44.90, its backordered row cancelled and refunded 20.00;
    expiring: authorized 6 days ago, nothing shipped; expired: authorized 8 days ago, then
    shipped: its capture waits for a pay link; failed: shipped, the provider refused the capture;
    pending: shipped, the capture job not run yet."""
    shelf, later = goods
    shop.BILLING_SETTLEMENT = "at_checkout"
    prepaid = place([(shelf, 1), (later, 2)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(prepaid, PaymentStatus.CONFIRMED)
        row_cancel(row_ids=[prepaid.rows.get(status=RowStatus.BACKORDERED).pk], by_customer=True)
    shop.BILLING_SETTLEMENT = "per_shipment"

    orders = {"prepaid": prepaid}
    for name in ("expiring", "expired", "failed", "pending"):
        orders[name] = place([(shelf, 1)], email=f"{name}@example.com")
        with django_capture_on_commit_callbacks(execute=True):
            pay(orders[name])
    aged(orders["expiring"], 6)
    aged(orders["expired"], 8)
    with django_capture_on_commit_callbacks(execute=True):
        shipment_create(order=orders["expired"], source=main)

    def refused(entry):
        raise provider.PaymentError("Card issuer unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(provider, "perform", refused)
        with django_capture_on_commit_callbacks(execute=True):
            shipment_create(order=orders["failed"], source=main)
    with django_capture_on_commit_callbacks(execute=False):
        shipment_create(order=orders["pending"], source=main)
    return orders


def listed(client, **query):
    response = client.get(LEDGER, query)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def act(client, action, entries, **extra):
    return client.post(
        LEDGER, {"action": action, "_selected_action": [e.pk for e in entries], **extra}, follow=True
    )


# -- the list --


def test_each_money_filter_lists_exactly_its_entries(admin_client, books):
    assert listed(admin_client, money="awaiting_payment") == [only(books["expired"], EntryKind.CAPTURE)]
    assert listed(admin_client, money="expiring") == [only(books["expiring"], EntryKind.AUTHORIZE)]
    assert listed(admin_client, money="capture_failed") == [only(books["failed"], EntryKind.CAPTURE)]
    assert listed(admin_client, money="refunded") == [only(books["prepaid"], EntryKind.REFUND)]
    assert only(books["failed"], EntryKind.CAPTURE).error == "Card issuer unavailable"


def test_search_by_order_number_and_amounts_formatted(admin_client, books):
    prepaid = books["prepaid"]
    found = listed(admin_client, q=prepaid.number)
    assert {e.order_id for e in found} == {prepaid.pk}
    assert sorted((e.kind, e.amount) for e in found) == [
        (EntryKind.CAPTURE, D("44.90")),
        (EntryKind.REFUND, D("20.00")),
    ]
    html = admin_client.get(LEDGER, {"q": prepaid.number}).content.decode()
    assert "€44.90" in html and "€20.00" in html


def test_entries_and_payments_are_read_only(admin_client, books):
    entry = only(books["prepaid"], EntryKind.CAPTURE)
    page = admin_client.get(reverse("admin:billing_ledgerentry_change", args=[entry.pk]))
    assert page.status_code == 200
    assert 'name="amount"' not in page.content.decode()  # shown, not editable
    assert (
        admin_client.post(reverse("admin:billing_ledgerentry_change", args=[entry.pk]), {}).status_code == 403
    )
    assert admin_client.get(reverse("admin:billing_ledgerentry_add")).status_code == 403
    payments = admin_client.get(reverse("admin:billing_payment_changelist"), {"q": books["prepaid"].number})
    assert payments.status_code == 200 and len(payments.context["cl"].result_list) == 1


# -- the actions (each calls a service) --


def test_retry_a_failed_capture(admin_client, books, django_capture_on_commit_callbacks):
    capture = only(books["failed"], EntryKind.CAPTURE)
    with django_capture_on_commit_callbacks(execute=True):
        response = act(admin_client, "retry_failed", [capture])
    assert "Sent again: 1." in texts(response)
    capture.refresh_from_db()
    assert capture.state == EntryState.SUCCEEDED
    assert DummyGatewayCall.objects.filter(key=capture.idempotency_key, amount=D("24.90")).exists()


def test_capture_now_charges_a_pending_shipment_capture_and_names_what_it_skipped(admin_client, books):
    pending = only(books["pending"], EntryKind.CAPTURE)
    waiting = only(books["expired"], EntryKind.CAPTURE)
    response = act(admin_client, "capture_now", [pending, waiting])
    pending.refresh_from_db()
    assert pending.state == EntryState.SUCCEEDED
    assert "Captured: 1." in texts(response)
    assert (
        f"Order {books['expired'].number}: Capture 24.90 EUR (awaiting_payment) is not a pending capture "
        "(send a pay link)." in texts(response)
    )
    waiting.refresh_from_db()
    assert waiting.state == EntryState.AWAITING_PAYMENT


def test_send_a_pay_link_for_a_capture_awaiting_payment(admin_client, books):
    capture = only(books["expired"], EntryKind.CAPTURE)
    response = act(admin_client, "send_pay_link", [capture])
    assert "Pay links ready: 1." in texts(response)
    (link,) = Payment.objects.filter(purpose=PaymentPurpose.PAY_LINK, entry=capture)
    assert (link.total, link.order, link.status) == (D("24.90"), books["expired"], PaymentStatus.WAITING)
    act(admin_client, "send_pay_link", [capture])  # a second click: the same link
    assert Payment.objects.filter(purpose=PaymentPurpose.PAY_LINK, entry=capture).count() == 1


def test_a_merchant_without_the_money_permission_sees_the_ledger_but_no_money_action(client, books):
    clerk = staff_client(client, *VIEW)
    response = clerk.get(LEDGER)
    assert response.status_code == 200
    assert response.context["action_form"] is None  # no action to offer: no dropdown at all

    failed, waiting = only(books["failed"], EntryKind.CAPTURE), only(books["expired"], EntryKind.CAPTURE)
    pending = only(books["pending"], EntryKind.CAPTURE)
    links = Payment.objects.filter(purpose=PaymentPurpose.PAY_LINK).count()  # notifications may send one
    for action, entry in [("retry_failed", failed), ("send_pay_link", waiting), ("capture_now", pending)]:
        act(clerk, action, [entry])
    assert [e.state for e in (failed, waiting, pending) if e.refresh_from_db() is None] == [
        EntryState.FAILED,
        EntryState.AWAITING_PAYMENT,
        EntryState.PENDING,
    ]
    assert Payment.objects.filter(purpose=PaymentPurpose.PAY_LINK).count() == links


def test_with_the_money_permission_the_same_merchant_may_act(client, books):
    clerk = staff_client(client, *VIEW, "billing.settle_payments")
    waiting = only(books["expired"], EntryKind.CAPTURE)
    assert "Pay links ready: 1." in texts(act(clerk, "send_pay_link", [waiting]))


# -- the order page: payment panel and refund of selected rows --


def order_page(client, order):
    return client.get(reverse("admin:orders_order_change", args=[order.pk]))


def refund_url(order):
    return reverse("admin:orders_order_refund", args=[order.pk])


def test_the_order_page_shows_state_totals_rows_and_ledger(admin_client, books):
    html = order_page(admin_client, books["prepaid"]).content.decode()
    assert 'id="payment-panel"' in html
    assert "Paid at checkout" in html and "Charge at checkout" in html
    for label, amount in [("Subtotal", "€40.00"), ("Shipping", "€4.90"), ("Tax (included)", "€7.49"),
                          ("Total", "€44.90")]:  # fmt: skip
        assert f'<th scope="row">{label}</th><td class="num">{amount}</td>' in html
    assert "Refunded" in html and "Paid" in html  # the rows' money states
    assert html.count("<td>Capture (+ shipping)</td>") == 1 and html.count("<td>Refund</td>") == 1
    assert "Refund selected cancelled rows" not in html  # its one cancelled row is refunded already

    waiting = order_page(admin_client, books["expired"]).content.decode()
    assert "Pay link due for a shipment" in waiting and "Awaiting payment (pay link)" in waiting


def test_the_panel_follows_the_merchants_permissions(client, books):
    orders_only = staff_client(client, "orders.view_order", username="orders-only")
    assert 'id="payment-panel"' not in order_page(orders_only, books["prepaid"]).content.decode()
    assert orders_only.get(refund_url(books["prepaid"])).status_code == 403

    viewer = staff_client(client, *VIEW, username="viewer")
    html = order_page(viewer, books["prepaid"]).content.decode()
    assert 'id="payment-panel"' in html and "Refund selected cancelled rows" not in html
    assert viewer.get(refund_url(books["prepaid"])).status_code == 403
    assert viewer.post(refund_url(books["prepaid"]), {"rows": []}).status_code == 403


@pytest.fixture
def unrefunded(main, goods, shop, monkeypatch, django_capture_on_commit_callbacks):
    """A prepaid order whose two backordered rows were cancelled without their refund (as a
    cancellation made before billing settled them would leave them)."""
    shelf, later = goods
    other = ProductFactory(sku="OTHER", price=D("5.00"), backorderable=True)
    shop.BILLING_SETTLEMENT = "at_checkout"
    order = place([(shelf, 1), (later, 2), (other, 1)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(order, PaymentStatus.CONFIRMED)
    signal = orders_signals.rows_cancelled
    # Restore the receivers list as it was: reconnecting would put billing's receiver after
    # notifications' one, and later tests' cancellation emails would miss the refund.
    with monkeypatch.context() as patched:
        patched.setattr(signal, "receivers", list(signal.receivers))
        assert signal.disconnect(dispatch_uid="billing_refund_release")
        row_cancel(row_ids=list(order.rows.filter(status=RowStatus.BACKORDERED).values_list("pk", flat=True)))
    signal.sender_receivers_cache.clear()
    return order


def test_refund_selected_cancelled_rows(admin_client, unrefunded, django_capture_on_commit_callbacks):
    later_row = unrefunded.rows.get(product__sku="LATER")
    html = order_page(admin_client, unrefunded).content.decode()
    assert "Refund selected cancelled rows" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            refund_url(unrefunded), {"rows": [later_row.pk], "amount": "20.00"}, follow=True
        )
    assert f"Refund of €20.00 on its way for order {unrefunded.number}." in texts(response)
    (refund,) = LedgerEntry.objects.filter(order=unrefunded, kind=EntryKind.REFUND)
    assert (refund.amount, refund.state, [line.row_id for line in refund.lines.all()]) == (
        D("20.00"),
        EntryState.SUCCEEDED,
        [later_row.pk],
    )


def test_a_wrong_amount_names_the_rows_and_their_value_and_writes_nothing(admin_client, unrefunded):
    rows = list(
        unrefunded.rows.filter(status=RowStatus.CANCELLED).order_by("pk").values_list("pk", flat=True)
    )
    response = admin_client.post(refund_url(unrefunded), {"rows": rows, "amount": "30.00"})
    assert response.status_code == 200
    assert texts(response) == [
        f"30.00 EUR is not an amount of order {unrefunded.number} (paid in EUR). "
        f"Rows {rows} are worth €25.00; nothing was refunded."
    ]
    assert not LedgerEntry.objects.filter(order=unrefunded, kind=EntryKind.REFUND).exists()


def test_a_row_that_is_not_a_cancelled_row_of_the_order_is_refused(admin_client, unrefunded, books):
    shipped_elsewhere = books["pending"].rows.get()
    live = unrefunded.rows.get(status=RowStatus.ALLOCATED)
    for row in (shipped_elsewhere, live):
        response = admin_client.post(refund_url(unrefunded), {"rows": [row.pk]})
        assert f"{row.pk} is not one of the available choices" in response.content.decode()
    assert not LedgerEntry.objects.filter(order=unrefunded, kind=EntryKind.REFUND).exists()
