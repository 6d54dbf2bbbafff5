"""Two languages: the storefront and the customers' emails in English or German, chosen by the
switcher (a plain form) or the browser; dates and money follow the language; the admin and
the merchants' emails stay in the merchant's language."""

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings as django_settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from notifications.events import emails_send_batch
from orders.models import Order
from orders.services import CartLine, Customer, checkout_place_order
from tests.billing.factories import pay, shop_settings
from tests.catalog.factories import DiscountRuleFactory, ProductFactory
from tests.helpers import receive, staff_client

pytestmark = pytest.mark.django_db

PO = Path(django_settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES" / "django.po"


def page(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def test_the_switcher_is_a_plain_form_and_turns_the_shop_german(client, main):
    lamp = ProductFactory(name="Brass Lamp", price=Decimal("12.50"))
    receive(lamp, 3, main)
    english = page(client.get("/"))
    assert '<html lang="en">' in english and "Add to cart" in english
    # No JavaScript: a form posting to set_language with a button per language.
    assert re.search(r'<form method="post" action="/i18n/setlang/"', english)
    assert re.search(r'<button type="submit" name="language" value="de"[^>]*>Deutsch</button>', english)

    switched = client.post(reverse("set_language"), {"language": "de", "next": "/"})

    assert switched.status_code == 302 and switched["Location"] == "/"
    german = page(client.get("/"))
    assert '<html lang="de">' in german
    assert "In den Warenkorb" in german and "Add to cart" not in german
    assert "12,50\xa0€" in german  # money as German writes it
    assert "Ihr Warenkorb" in page(client.get(reverse("storefront:cart")))


def test_the_browser_language_chooses_german_until_the_customer_switches(client, main):
    ProductFactory(name="Brass Lamp")
    assert "Ausverkauft" in page(client.get("/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5"))
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Out of stock" in page(client.get("/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9"))


def test_dates_on_product_pages_follow_the_language(client, main):
    release = timezone.localdate() + dt.timedelta(days=40)
    ProductFactory(name="Comet Kit", preorder_enabled=True, release_date=release)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "de"
    german = page(client.get("/"))
    months = ["Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez"]
    assert f"Vorbestellung — erscheint am {release.day}. {months[release.month - 1]} {release.year}" in german


def test_the_admin_keeps_the_merchants_language_whatever_the_storefront_chose(client):
    staff_client(client, "catalog.view_product")
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "de"
    html = page(client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="de"))
    assert '<html lang="en"' in html
    assert "Site administration" in html and "Website-Verwaltung" not in html


def test_an_order_placed_in_german_is_emailed_in_german_and_the_merchant_in_english(client, main, settings):
    shop_settings(settings)
    settings.MERCHANT_EMAILS = ["shop@example.com"]
    lamp = ProductFactory(name="Brass Lamp", price=Decimal("12.50"), notify=True)
    receive(lamp, 1, main)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "de"
    client.post(reverse("storefront:cart_add"), {"product_id": lamp.pk, "quantity": 2})
    placed = client.post(
        reverse("storefront:checkout"),
        {"email": "ada@example.com", "full_name": "Ada Lovelace", "address": "1 Analytical Way"},
    )
    order = Order.objects.get()
    assert placed.status_code == 302 and order.language == "de"

    pay(order)
    emails_send_batch()

    (confirmation,) = [m for m in mail.outbox if m.to == ["ada@example.com"]]
    assert confirmation.subject == f"Ihre Restock-Bestellung {order.number}"
    body = confirmation.body
    assert "Hallo Ada Lovelace," in body
    assert "1 der 2 bestellten Brass Lamp ist nachbestellt" in body
    assert "Gesamt: 29,90\xa0€" in body  # 2 × 12,50 € + 4,90 € shipping
    # The HTML part says its language, so a screen reader does not read German as English.
    html = confirmation.alternatives[0][0]
    assert '<html lang="de">' in html and "Hallo Ada Lovelace," in html
    # The merchant's emails in the merchant's language, not the order's.
    merchant = sorted(m.subject for m in mail.outbox if m.to == ["shop@example.com"])
    assert [s.split(":")[0] for s in merchant] == ["Backorder placed", "Low stock"]
    to_merchant = [m.alternatives[0][0] for m in mail.outbox if m.to == ["shop@example.com"]]
    assert all('<html lang="en">' in html for html in to_merchant)


def test_every_customer_string_has_a_german_translation():
    catalog = read_po(PO.open("rb"), locale="de")
    untranslated = [
        m.id for m in catalog if m.id and not (m.string if isinstance(m.string, str) else all(m.string))
    ]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    # To fix: translate them in locale/de/LC_MESSAGES/django.po (its header says how to update it).
    assert untranslated == [] and fuzzy == []


@pytest.mark.gettext
def test_the_german_catalogue_covers_every_string_in_the_code(tmp_path):
    """makemessages, run on a copy of today's code, finds no string the committed catalogue lacks."""
    root = Path(django_settings.BASE_DIR)
    copy = tmp_path / "shop"
    shutil.copytree(
        root, copy, ignore=shutil.ignore_patterns(".*", "tests", "bench", "var", "__pycache__", "*.sqlite3")
    )
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "de", "--ignore=templates/admin/*"],
        cwd=copy,
        check=True,
        capture_output=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
    )
    committed = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(PO.open("rb")) if m.id}
    extracted = read_po((copy / "locale" / "de" / "LC_MESSAGES" / "django.po").open("rb"))
    # To fix: run makemessages as locale/de/LC_MESSAGES/django.po's header says, then translate.
    assert sorted({m.id if isinstance(m.id, str) else m.id[0] for m in extracted if m.id} - committed) == []


@pytest.mark.gettext
def test_the_compiled_catalogue_matches_the_german_po(tmp_path):
    """The committed .mo is compiled from the committed .po, placeholders checked by msgfmt."""
    subprocess.run(["msgfmt", "--check", "-o", str(tmp_path / "django.mo"), str(PO)], check=True)
    # To fix: manage.py compilemessages --ignore=.venv
    assert (tmp_path / "django.mo").read_bytes() == PO.with_suffix(".mo").read_bytes()


def test_a_discount_is_worded_in_the_orders_language_when_the_email_is_rendered(main, settings):
    """The reason is written when the send job renders the email (English by default), in
    the language the order was placed in."""
    shop_settings(settings)
    release = timezone.localdate() + dt.timedelta(days=20)
    kit = ProductFactory(
        name="Comet Kit", price=Decimal("20.00"), preorder_enabled=True, release_date=release
    )
    DiscountRuleFactory(value=Decimal("10"), applies_to="preorder")
    order = checkout_place_order(
        lines=[CartLine(kit.pk, 1)],
        customer=Customer(email="ada@example.com", full_name="Ada", address="1 Way", language="de"),
    )
    pay(order)
    emails_send_batch()

    (confirmation,) = mail.outbox
    assert "1 x Comet Kit (SKU-" in confirmation.body and "): Vorbestellt" in confirmation.body
    assert "10 % Rabatt während der Vorbestellung" in confirmation.body
    assert "18,00\xa0€ statt 20,00\xa0€" in confirmation.body
