"""The checkout records what its emails will say; the send job renders them after commit.

Row locks last until commit, so an email rendered inside the checkout holds the
product and stock locks while it renders (issue 9.6, bench/checkout_hot.py). These
tests pin the way out: nothing is rendered inside the checkout, the emails still
say what was placed, and a note is neither lost nor rendered twice.
"""

import pytest
from django.core import mail
from django.test.signals import template_rendered

from notifications.events import emails_send_batch, order_notes_render
from notifications.exceptions import HeaderInjection
from notifications.models import OrderPlacedNote, OutboxMessage
from orders.models import Order
from orders.services import CartLine, Customer, backorders_allocate, checkout_place_order
from tests.billing.factories import pay
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.threads import run_together


def place(*lines, email="ada@example.com", paid=True):
    """A real checkout, paid through billing (dummy provider) unless ``paid`` is False."""
    order = checkout_place_order(
        lines=[CartLine(p.pk, q) for p, q in lines],
        customer=Customer(email=email, full_name="Ada Lovelace", address="1 Analytical Way"),
    )
    if paid:
        pay(order)
    return order


def sent(kind):
    emails_send_batch()
    return [m for m in mail.outbox if kind in m.subject]


@pytest.fixture
def rendered():
    """Names of the templates rendered while the block runs."""
    names = []

    def record(sender, template, **kwargs):
        names.append(template.name)

    template_rendered.connect(record)
    yield names
    template_rendered.disconnect(record)


@pytest.mark.django_db
def test_the_checkout_renders_no_email_it_only_notes_what_they_will_say(main, settings, rendered):
    settings.MERCHANT_EMAILS = ["shop@example.com"]
    lamp = ProductFactory(
        name="Brass Lamp", notify=True, use_global_low_stock_threshold=False, low_stock_threshold=5
    )
    receive(lamp, 3, main)

    # 3 allocated (free falls to 0: low stock), 2 backordered (notify)
    order = place((lamp, 5), paid=False)

    assert rendered == []  # no template rendered while the locks were held
    assert OrderPlacedNote.objects.filter(order=order).count() == 1
    assert not OutboxMessage.objects.exists()

    emails_send_batch()  # the send job renders the notes first: stock alerts at once...

    assert [m.subject for m in mail.outbox] == [f"Low stock: {lamp.sku} has 0 free"]
    pay(order)
    emails_send_batch()  # ...the order's own emails once it is paid

    assert sorted(m.subject for m in mail.outbox) == [
        f"Backorder placed: order {order.number}",
        f"Low stock: {lamp.sku} has 0 free",
        f"Your Restock order {order.number}",
    ]
    assert not OrderPlacedNote.objects.exists()


@pytest.mark.django_db
def test_the_confirmation_says_what_was_placed_even_when_rows_moved_on_before_it_was_rendered(main):
    lamp = ProductFactory(name="Brass Lamp", notify=True)
    receive(lamp, 1, main)
    order = place((lamp, 3))  # 1 allocated, 2 backordered
    receive(lamp, 2, main)
    backorders_allocate(product_id=lamp.pk)  # the backordered row is allocated before any send

    (confirmation,) = sent("Your Restock order")

    assert f"1 x Brass Lamp ({lamp.sku}): Allocated from Main warehouse" in confirmation.body
    assert f"2 x Brass Lamp ({lamp.sku}): Backordered" in confirmation.body
    assert "2 of the 3 Brass Lamp you ordered are backordered" in confirmation.body
    (ready,) = sent("ready to ship")
    assert f"2 x Brass Lamp ({lamp.sku}): Allocated from Main warehouse" in ready.body
    assert order.rows.filter(status="allocated").count() == 2


@pytest.mark.django_db
def test_a_recipient_with_a_line_break_is_refused_with_the_order(main):
    lamp = ProductFactory(backorderable=True)

    with pytest.raises(HeaderInjection):
        place((lamp, 1), email="ada@example.com\nBcc: all@example.com")

    assert not Order.objects.exists()
    assert not OrderPlacedNote.objects.exists()


@pytest.mark.django_db
def test_a_note_that_fails_to_render_is_kept_and_rendered_by_the_next_send(main, monkeypatch, caplog):
    import notifications.events as events

    lamp = ProductFactory(name="Brass Lamp", backorderable=True)
    broken, fine = place((lamp, 1), email="first@example.com"), place((lamp, 1), email="second@example.com")
    real = events.outbox_message

    def fails_for_the_first(*, key, **message):
        if key == broken.number:
            raise RuntimeError("template blew up")
        return real(key=key, **message)

    monkeypatch.setattr(events, "outbox_message", fails_for_the_first)
    emails_send_batch()

    assert [m.to for m in mail.outbox] == [["second@example.com"]]  # the other order is not held up
    assert list(OrderPlacedNote.objects.values_list("order__number", flat=True)) == [broken.number]
    assert f"Order {broken.pk}: its emails could not be rendered" in caplog.text

    monkeypatch.setattr(events, "outbox_message", real)
    emails_send_batch()
    emails_send_batch()

    assert sorted(m.to[0] for m in mail.outbox) == ["first@example.com", "second@example.com"]
    assert not OrderPlacedNote.objects.exists()
    assert fine.number in mail.outbox[0].subject


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_senders_render_each_note_once(main, monkeypatch):
    import notifications.outbox as outbox

    monkeypatch.setattr(outbox, "_announce", lambda: None)  # no send job after each commit
    lamp = ProductFactory(name="Brass Lamp", backorderable=True)
    orders = [place((lamp, 1), email=f"c{n}@example.com") for n in range(40)]
    rendered = []

    def sender():
        while done := order_notes_render(limit=5):
            rendered.append(done)

    run_together(sender, 4)

    assert sum(rendered) == 40  # each note claimed by one sender
    keys = list(OutboxMessage.objects.filter(kind="order_confirmation").values_list("key", flat=True))
    assert sorted(keys) == sorted(
        f"order_confirmation:{o.number}:c{n}@example.com" for n, o in enumerate(orders)
    )
    assert not OrderPlacedNote.objects.exists()
