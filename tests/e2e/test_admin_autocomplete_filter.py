"""The order-row list's product filter in a real browser: an autocomplete (select2) that
searches products and reloads the list filtered by the one chosen."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from orders.models import OrderRow
from tests.catalog.factories import ProductFactory
from tests.orders.factories import OrderRowFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_choose_a_product_in_the_filter_and_the_list_shows_its_rows(page: Page):
    get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-boss-123")
    lamp = ProductFactory(sku="LAMP-1", name="Brass Lamp", backorderable=True)
    chair = ProductFactory(sku="CHAIR-9", name="Oak Chair", backorderable=True)
    for product in (lamp, lamp, chair):
        OrderRowFactory(product=product)

    page.goto("/admin/login/?next=/admin/orders/orderrow/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill("pw-boss-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(3)

    page.locator("#changelist-filter .select2-selection").click()
    page.locator(".select2-search__field").fill("LAMP")
    option = page.locator(".select2-results__option", has_text="Brass Lamp (LAMP-1)")
    expect(option).to_have_count(1)
    expect(page.locator(".select2-results__option", has_text="Oak Chair")).to_have_count(0)
    option.click()

    expect(page).to_have_url(re.compile(rf"product__id__exact={lamp.pk}"))
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(page.locator("#changelist-filter .select2-selection__rendered")).to_contain_text("Brass Lamp")
    assert OrderRow.objects.filter(product=lamp).count() == 2
