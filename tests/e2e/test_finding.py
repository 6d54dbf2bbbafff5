"""End-to-end, with JavaScript off: a visitor searches from the header, keeps what is in
stock, opens a product from the results, and walks back up its breadcrumbs."""

import io
import re

import pytest
from django.core.files.base import ContentFile
from PIL import Image
from playwright.sync_api import expect

from catalog.images import product_image_add
from tests.catalog.factories import CategoryFactory, ProductFactory
from tests.helpers import receive
from tests.inventory.factories import SourceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_js_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_search_filter_open_a_product_and_follow_its_breadcrumbs(no_js_page):
    page = no_js_page
    main = SourceFactory(code="main")
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen")
    kettles = CategoryFactory(name="Kettles", slug="kettles", parent=kitchen)
    steel = ProductFactory(name="Steel kettle", category=kettles, description="1.7 litres.")
    receive(steel, 4, main)
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), "#3b5b7a").save(buffer, "JPEG")
    product_image_add(
        product=steel, file=ContentFile(buffer.getvalue(), name="steel.jpg"), alt="A steel kettle"
    )
    ProductFactory(
        name="Asian teapot", category=kitchen, description="Pairs with any kettle.", backorderable=True
    )
    ProductFactory(name="Kettle descaler", category=kitchen)  # out of stock, backorders off
    ProductFactory(name="Garden rake")

    page.goto("/")
    page.get_by_label("Search products").fill("kettle")
    page.get_by_role("search").first.get_by_role("button", name="Search").click()

    expect(page).to_have_url(re.compile(r"/\?q=kettle$"))
    titles = page.locator("li.card h2")
    expect(titles).to_have_text(["Kettle descaler", "Steel kettle", "Asian teapot"])  # name hits first
    expect(page.get_by_text("3 products found for “kettle”.")).to_be_visible()

    page.get_by_label("Availability").select_option(label="In stock now")
    page.get_by_role("button", name="Show").click()
    expect(titles).to_have_text(["Steel kettle"])
    expect(page.get_by_label("Search", exact=True)).to_have_value("kettle")

    page.get_by_role("link", name="Steel kettle", exact=True).click()
    expect(page.get_by_role("heading", name="Steel kettle", level=1)).to_be_visible()
    picture = page.get_by_role("img", name="A steel kettle")
    expect(picture).to_have_attribute("loading", "lazy")
    expect(picture).to_have_attribute(
        "srcset", re.compile(r"-320w\.jpg 320w, .*-640w\.jpg 640w, .*-800w\.jpg 800w$")
    )
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    expect(crumbs).to_have_text(re.compile(r"^Shop\s*/\s*Kitchen\s*/\s*Kettles\s*/\s*Steel kettle$"))

    crumbs.get_by_role("link", name="Kitchen").click()
    expect(page.get_by_role("heading", name="Kitchen", level=1)).to_be_visible()
    expect(titles).to_have_text(["Asian teapot", "Kettle descaler", "Steel kettle"])
    expect(
        page.get_by_role("navigation", name="Categories").get_by_role("link", name="Kitchen")
    ).to_have_attribute("aria-current", "page")
