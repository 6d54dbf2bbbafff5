"""The product list stays light: its HTML and CSS together under 50 KB (pictures aside)."""

import io
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image

from catalog.images import product_image_add
from tests.catalog.factories import CategoryFactory, ProductFactory
from tests.helpers import receive

pytestmark = pytest.mark.django_db
LIMIT = 50 * 1024


def stylesheets(html: str) -> list[str]:
    return re.findall(r'<link rel="stylesheet" href="/static/([^"]+)">', html)


@pytest.fixture
def full_page(source):
    """A full first page: 12 products in mixed states with long names, a picture each, a
    category tree of 4 x 3, signed-out visitor (the page's longest header)."""
    buffer = io.BytesIO()
    Image.new("RGB", (1000, 750), "#3b5b7a").save(buffer, "JPEG")
    for t in range(4):
        top = CategoryFactory(name=f"Top-level category {t}")
        for c in range(3):
            CategoryFactory(name=f"Subcategory {t}.{c} with a longer name", parent=top)
    for i in range(14):
        kind = i % 4
        product = ProductFactory(
            name=f"Product {i:02d} with a fairly long descriptive name, 12 oz",
            notify=kind == 1,
            backorder_label="Ships in about two weeks" if kind == 1 else "",
            backorder_note="Made to order in our workshop: ships in ~{days} days" if kind == 1 else "",
            preorder=kind == 2,
            preorder_note="Pre-order now; we ship on release day." if kind == 2 else "",
        )
        if kind in (0, 3):
            receive(product, 2 if kind == 3 else 50, source)
        product_image_add(
            product=product,
            file=ContentFile(buffer.getvalue(), name=f"p{i}.jpg"),
            alt=f"Picture of product {i}",
        )


def test_the_product_list_html_and_css_stay_under_50_kb(client, full_page):
    response = client.get(reverse("storefront:product_list"))
    html = response.content.decode()
    assert html.count('<li class="card">') == 12

    sheets = stylesheets(html)
    assert sheets == ["css/shop.css"]  # every stylesheet the page loads is counted
    css = sum(Path(finders.find(name)).stat().st_size for name in sheets)
    weight = len(response.content) + css

    print(f"\nproduct list: HTML {len(response.content):,} B + CSS {css:,} B = {weight:,} B of {LIMIT:,} B")
    assert weight < LIMIT
