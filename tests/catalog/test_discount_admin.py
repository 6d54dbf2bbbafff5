"""The merchant's discount rules and alternatives in the admin."""

from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import DiscountRule
from tests.catalog.factories import ProductFactory
from tests.helpers import staff_client

pytestmark = pytest.mark.django_db
ADD_URL = reverse("admin:catalog_discountrule_add")
LIST_URL = reverse("admin:catalog_discountrule_changelist")


def rule_data(**changes) -> dict:
    data = {
        "name": "Pre-order deal",
        "is_active": "on",
        "kind": "percent",
        "value": "10",
        "applies_to": "preorder",
        "scope": "all",
        "category": "",
        "starts_on": "",
        "ends_on": "",
        "priority": "10",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def merchant(client):
    return staff_client(
        client, "catalog.add_discountrule", "catalog.change_discountrule", "catalog.view_discountrule"
    )


def errors(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    form = response.context["adminform"].form
    return [str(e) for field_errors in form.errors.values() for e in field_errors]


def test_a_merchant_adds_a_rule_for_chosen_products(merchant):
    game = ProductFactory(name="Game")
    response = merchant.post(ADD_URL, rule_data(scope="products", products=[game.pk], stop_further="on"))
    assert response.status_code == 302
    rule = DiscountRule.objects.get()
    assert (rule.value, rule.scope, rule.stop_further, list(rule.products.all())) == (
        Decimal("10.00"),
        "products",
        True,
        [game],
    )
    assert "Pre-order deal" in merchant.get(LIST_URL).content.decode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"scope": "products"}, 'Choose the products for the scope "chosen products".'),
        ({"scope": "category"}, 'Choose the category for the scope "a category".'),
        ({"value": "150"}, "A percent off is at most 100."),
        ({"value": "0"}, "Ensure this value is greater than or equal to 0.01."),
        ({"starts_on": "2030-06-10", "ends_on": "2030-06-01"}, '"Active to" cannot be before "active from".'),
    ],
)
def test_a_rule_that_cannot_apply_is_refused_with_the_reason(merchant, changes, message):
    assert message in errors(merchant.post(ADD_URL, rule_data(**changes)))
    assert not DiscountRule.objects.exists()


def test_an_amount_above_100_is_fine(merchant):
    response = merchant.post(ADD_URL, rule_data(kind="amount", value="150"))
    assert response.status_code == 302 and DiscountRule.objects.get().value == Decimal("150.00")


def test_the_product_form_has_the_merchants_alternatives(client):
    admin = staff_client(client, "catalog.change_product", "catalog.view_product")
    product = ProductFactory()
    other = ProductFactory(name="Other kettle")
    product.alternatives.set([other])
    html = admin.get(reverse("admin:catalog_product_change", args=[product.pk])).content.decode()
    assert 'name="alternatives"' in html and "Other kettle" in html
