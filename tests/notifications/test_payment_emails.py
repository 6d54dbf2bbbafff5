"""The emails about money: sent once the order is paid, with its totals and what was and will
be charged; the expiry, cancellation, refund and pay-link emails; the merchants' pay-link alert.
Real checkouts, paid through billing with django-payments' dummy provider; read from the
real outbox and mail backend."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from payments import PaymentStatus

from billing.models import EntryKind, EntryState, LedgerEntry
from billing.services import entry_settle, payment_start
from billing.signals import order_paid
from notifications import tasks
from notifications.events import emails_send_batch
from notifications.models import OrderPlacedNote, OutboxMessage, RefundNote
from orders.models import RowStatus
from orders.services import row_cancel, shipment_create
from tests.billing.factories import pay, place, place_prepaid, shipped_after_expiry, shop_settings, submit
from tests.catalog.factories import ProductFactory
from tests.helpers import receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]


@pytest.fixture(autouse=True)
def shop(settings):
    return shop_settings(settings, MERCHANT_EMAILS=["shop@example.com"])


@pytest.fixture
def mixed(main):
    """One lamp on the shelf (20.00; the last one: low stock), chairs on backorder (10.00, notify)."""
    lamp = ProductFactory(
        name="Brass Lamp", price=D("20.00"), use_global_low_stock_threshold=False, low_stock_threshold=0
    )
    receive(lamp, 1, main)
    chair = ProductFactory(name="Oak Chair", price=D("10.00"), notify=True)
    return lamp, chair


def sent(subject=""):
    emails_send_batch()
    return [m for m in mail.outbox if subject in m.subject]


# Lamp 20.00 + 2 chairs at 10.00, shipping 4.90, all with 20 % tax included
# (per unit: 3.33, 1.67, 1.67 and 0.82 on shipping).
TOTALS = ["Subtotal: €40.00", "Shipping: €4.90", "Tax (20%, included): €7.49", "Total: €44.90"]


def test_the_confirmation_waits_for_the_payment_and_goes_out_once(main, mixed):
    lamp, chair = mixed
    order = place([(lamp, 1), (chair, 2)])

    # Low stock is about stock: told at checkout. The order's own emails wait for the money.
    assert [m.subject for m in sent()] == [f"Low stock: {lamp.sku} has 0 free"]
    assert OrderPlacedNote.objects.filter(order=order).exists()

    pay(order)
    entry = LedgerEntry.objects.get(order=order, kind=EntryKind.AUTHORIZE)
    order_paid.send(sender=LedgerEntry, order_id=order.pk, entry=entry)  # announced twice

    (confirmation,) = sent("Your Restock order")
    (merchant,) = sent("Backorder placed")
    for line in [*TOTALS, "Charged so far: €0.00", "To be charged as the rest ships: €44.90"]:
        assert line in confirmation.body
    assert "€44.90" in confirmation.alternatives[0][0]
    assert "each shipment is charged when it ships" in confirmation.body
    assert f"2 x Oak Chair ({chair.sku})" in merchant.body
    assert not OrderPlacedNote.objects.exists()
    order_paid.send(sender=LedgerEntry, order_id=order.pk, entry=entry)
    assert len(sent("Your Restock order")) == 1
    assert len(sent("Low stock")) == 1


def test_prepaid_confirmation_says_it_was_all_charged(shop, main, mixed):
    shop.BILLING_SETTLEMENT = "at_checkout"
    lamp, chair = mixed
    pay(place([(lamp, 1), (chair, 2)]), PaymentStatus.CONFIRMED)

    (confirmation,) = sent("Your Restock order")
    for line in [*TOTALS, "Charged so far: €44.90"]:
        assert line in confirmation.body
    assert "To be charged" not in confirmation.body and "authorized" not in confirmation.body


def test_an_unpaid_order_expires_with_its_email_and_never_a_confirmation(
    shop, main, mixed, django_capture_on_commit_callbacks
):
    lamp, chair = mixed
    order = place([(lamp, 1), (chair, 2)])
    started = payment_start(order_id=order.pk)  # the customer leaves the provider's page open
    late = timezone.now() + dt.timedelta(minutes=shop.BILLING_PAYMENT_WINDOW_MINUTES + 1)

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.expire_unpaid_orders() == 0  # still in its window
    with time_machine.travel(late, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert tasks.expire_unpaid_orders() == 1
    # ...and approves after the window closed: the authorization is released, nothing told
    with django_capture_on_commit_callbacks(execute=True):
        submit(started, PaymentStatus.PREAUTH)

    (expired,) = sent("Payment not completed")
    assert expired.subject == f"Payment not completed: order {order.number} is cancelled"
    assert expired.to == ["ada@example.com"]
    assert f"2 x Oak Chair ({chair.sku}): Cancelled" in expired.body
    assert "Nothing was charged." in expired.body
    assert sent("Your Restock order") == [] and sent("Backorder placed") == []
    assert not OrderPlacedNote.objects.exists()
    assert LedgerEntry.objects.get(order=order, kind=EntryKind.RELEASE).state == EntryState.SUCCEEDED


def test_ready_to_ship_and_shipped_emails_carry_the_totals_and_the_charge(
    main, mixed, django_capture_on_commit_callbacks
):
    lamp, chair = mixed
    order = place([(lamp, 1), (chair, 2)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
        shipment_create(order=order, source=main)  # the lamp, and shipping: 24.90

    (shipped,) = sent("has shipped")
    for line in [*TOTALS, "Charged so far: €24.90", "To be charged as the rest ships: €20.00"]:
        assert line in shipped.body
    assert "Charged for this shipment: €24.90" in shipped.body

    with django_capture_on_commit_callbacks(execute=True):
        receive(chair, 2, main)  # allocated to the waiting chairs (the job, run in-process)
    (ready,) = sent("ready to ship")
    for line in [*TOTALS, "Charged so far: €24.90", "To be charged as the rest ships: €20.00"]:
        assert line in ready.body


def test_a_prepaid_cancelled_row_says_what_comes_back_and_the_refund_email_follows_settlement(
    shop, main, mixed, django_capture_on_commit_callbacks
):
    lamp, chair = mixed
    order = place_prepaid(shop, [(lamp, 1), (chair, 2)], django_capture_on_commit_callbacks)
    waiting = order.rows.get(product=chair, status=RowStatus.BACKORDERED)

    row_cancel(row_ids=[waiting.pk], by_customer=True)  # its refund job has not run yet

    (cancelled,) = sent("Cancelled")
    assert cancelled.subject == f"Cancelled: items of order {order.number}"
    assert "(Cancelled by customer)" in cancelled.body
    assert f"2 x Oak Chair ({chair.sku}): Cancelled" in cancelled.body
    assert "€20.00 comes back to you" in cancelled.body
    for line in [*TOTALS, "Charged so far: €44.90", "Refunded or on its way back: €20.00"]:
        assert line in cancelled.body
    assert sent("Refund") == []  # not settled yet
    assert RefundNote.objects.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        (refund,) = LedgerEntry.objects.filter(order=order, kind=EntryKind.REFUND)
        entry_settle(entry_id=refund.pk)
    (email,) = sent("Refund of")
    assert email.subject == f"Refund of €20.00 for order {order.number}"
    assert f"- 2 x Oak Chair ({chair.sku}): €20.00" in email.body
    assert "Refunded or on its way back: €20.00" in email.body
    assert not RefundNote.objects.exists()
    assert len(sent("Refund of")) == 1


def test_the_last_row_cancelled_gives_back_shipping_too_in_one_refund_email(
    shop, main, mixed, django_capture_on_commit_callbacks
):
    shop.BILLING_SETTLEMENT = "at_checkout"
    lamp, chair = mixed
    order = place([(lamp, 1), (chair, 2)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(order, PaymentStatus.CONFIRMED)
        row_cancel(row_ids=list(order.rows.values_list("pk", flat=True)))  # by the merchant

    (cancelled,) = sent("Cancelled")
    assert "(Cancelled by merchant)" in cancelled.body
    assert "€44.90 comes back to you" in cancelled.body
    (email,) = sent("Refund of")  # three refunds settled (two rows, shipping): one email
    assert email.subject == f"Refund of €44.90 for order {order.number}"
    assert "- Shipping: €4.90" in email.body


def test_per_shipment_cancelled_row_is_not_charged(main, mixed, django_capture_on_commit_callbacks):
    lamp, chair = mixed
    order = place([(lamp, 1), (chair, 2)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
        row_cancel(row_ids=[order.rows.get(product=chair).pk], by_customer=True)

    (cancelled,) = sent("Cancelled")
    assert "You are not charged for these items." in cancelled.body
    assert "To be charged as the rest ships: €24.90" in cancelled.body
    assert sent("Refund") == []


@pytest.fixture
def expired_authorization(shop, main, mixed, django_capture_on_commit_callbacks):
    """A lamp order whose authorization is older than its validity, then shipped."""
    lamp, _ = mixed
    return shipped_after_expiry(lamp, main, shop, django_capture_on_commit_callbacks)


def test_an_expired_authorization_sends_the_customer_a_pay_link(expired_authorization):
    order = expired_authorization
    capture = LedgerEntry.objects.get(order=order, kind=EntryKind.CAPTURE)
    assert capture.state == EntryState.AWAITING_PAYMENT
    link = capture.pay_links.get()

    (email,) = sent("Payment needed")
    assert email.subject == f"Payment needed for your shipment of order {order.number}"
    assert "Please pay €24.90 for this shipment" in email.body
    assert "Waiting for your payment (pay link): €24.90" in email.body
    assert link.total == D("24.90")
    (shipped,) = sent("has shipped")
    assert "This shipment (€24.90) waits for your payment" in shipped.body


def test_the_pay_link_opens_the_shipment_s_payment_page(expired_authorization, client):
    order = expired_authorization
    capture = LedgerEntry.objects.get(order=order, kind=EntryKind.CAPTURE)
    (email,) = sent("Payment needed")
    url = re.search(r"Please pay .* for this shipment here:\s+(\S+)", email.body).group(1)
    assert f'href="{url}"' in email.alternatives[0][0]

    page = client.get(url.removeprefix("http://127.0.0.1:8000"), follow=True)

    assert page.status_code == 200
    assert page.redirect_chain[-1][0].endswith(f"/checkout/pay/{order.number}/shipment/{capture.pk}/")
    assert capture.pay_links.count() == 1  # the page pays the link the email announced


def test_merchants_hear_of_an_overdue_pay_link_once(expired_authorization, shop):
    order = expired_authorization
    assert tasks.alert_overdue_pay_links() == 0  # not overdue yet
    later = timezone.now() + dt.timedelta(days=shop.BILLING_PAY_LINK_ALERT_DAYS, minutes=1)
    with time_machine.travel(later, tick=False):
        assert tasks.alert_overdue_pay_links() == 1
        assert tasks.alert_overdue_pay_links() == 0  # told once
        (alert,) = sent("Pay link unpaid")

    assert alert.to == ["shop@example.com"]
    assert alert.subject == f"Pay link unpaid for 3 days: order {order.number}"
    assert "(€24.90)" in alert.body
    assert OutboxMessage.objects.filter(kind="pay_link_overdue").count() == 1
