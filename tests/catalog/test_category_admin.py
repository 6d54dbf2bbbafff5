"""The category tree in the merchant admin: two levels, enforced by the form."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from catalog.models import Category
from tests.catalog.factories import CategoryFactory, ProductFactory
from tests.catalog.test_admin import change_url, product_form_data

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:catalog_category_add")


def category_change_url(category) -> str:
    return reverse("admin:catalog_category_change", args=[category.pk])


def test_a_subcategory_is_added_under_a_top_level_category(admin_client):
    kitchen = CategoryFactory(name="Kitchen")

    response = admin_client.post(
        ADD_URL, {"name": "Kettles", "slug": "kettles", "parent": kitchen.pk, "position": 1}
    )

    assert response.status_code == 302
    kettles = Category.objects.get(slug="kettles")
    assert kettles.parent == kitchen
    assert list(kitchen.children.all()) == [kettles]


def test_a_third_level_is_refused_naming_the_subcategory(admin_client):
    kitchen = CategoryFactory(name="Kitchen")
    kettles = CategoryFactory(name="Kettles", parent=kitchen)

    response = admin_client.post(ADD_URL, {"name": "Glass kettles", "slug": "glass", "parent": kettles.pk})

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["parent"]
    # The parent select offers top-level categories only, so the form says the choice is invalid;
    # the model rule (below) names the subcategory when something gets past the select.
    assert errors == ["Select a valid choice. That choice is not one of the available choices."]
    assert not Category.objects.filter(slug="glass").exists()


def test_the_model_rule_names_the_subcategory():
    kitchen = CategoryFactory(name="Kitchen")
    kettles = CategoryFactory(name="Kettles", parent=kitchen)

    with pytest.raises(ValidationError) as refused:
        Category(name="Glass kettles", slug="glass", parent=kettles).full_clean()

    assert "“Kettles” is a subcategory; categories have two levels only." in str(refused.value)


def test_a_category_with_subcategories_cannot_move_under_another(admin_client):
    kitchen = CategoryFactory(name="Kitchen")
    CategoryFactory(name="Kettles", parent=kitchen)
    garden = CategoryFactory(name="Garden")

    response = admin_client.post(
        category_change_url(kitchen),
        {"name": "Kitchen", "slug": kitchen.slug, "parent": garden.pk, "position": 0},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["parent"] == [
        "“Kitchen” has subcategories, so it must stay a top-level category."
    ]
    kitchen.refresh_from_db()
    assert kitchen.parent is None


def test_a_category_cannot_be_its_own_parent(admin_client):
    kitchen = CategoryFactory(name="Kitchen")

    response = admin_client.post(
        category_change_url(kitchen),
        {"name": "Kitchen", "slug": kitchen.slug, "parent": kitchen.pk, "position": 0},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["parent"] == ["A category cannot be its own parent."]


def test_the_category_list_counts_products(admin_client):
    kitchen = CategoryFactory(name="Kitchen")
    ProductFactory.create_batch(3, category=kitchen)

    response = admin_client.get(reverse("admin:catalog_category_changelist"))

    assert response.status_code == 200
    row = next(c for c in response.context["cl"].result_list if c.pk == kitchen.pk)
    assert row._product_count == 3


def test_the_product_form_sets_the_category(admin_client):
    kettles = CategoryFactory(name="Kettles")
    product = ProductFactory()

    response = admin_client.post(change_url(product), product_form_data(product, category=kettles.pk))

    assert response.status_code == 302
    product.refresh_from_db()
    assert product.category == kettles


def test_deleting_a_category_keeps_its_products():
    kettles = CategoryFactory(name="Kettles")
    product = ProductFactory(category=kettles)

    kettles.delete()

    product.refresh_from_db()
    assert product.category is None
