"""The merchant's backorder dashboard in a real browser, over the seeded demo shop."""

import csv
import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from orders.models import OrderRow, RowStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dashboard_renders_charts_and_its_csv_downloads_parse(page: Page, screenshot_dir):
    call_command("seed_demo", stdout=io.StringIO())  # the demo: products in every state, waiting rows
    backordered = OrderRow.objects.filter(status=RowStatus.BACKORDERED).count()
    assert backordered > 0

    page.goto("/admin/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("restock-demo")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name=re.compile("Dashboard")).first.click()
    expect(page.get_by_role("heading", name=re.compile("Order rows by status"))).to_be_visible()

    # server-side SVG charts, with a bar per status and per age bucket
    charts = page.locator("svg[role=img]")
    expect(charts).to_have_count(2)
    assert charts.first.locator("rect").count() >= 5
    page.screenshot(path=str(screenshot_dir / "e2e-dashboard.png"), full_page=True)

    # every CSV link downloads a table that parses, with the numbers the page shows
    links = page.locator("a.rd-csv")
    assert links.count() == 6
    tables = {}
    for i in range(links.count()):
        with page.expect_download() as info:
            links.nth(i).click()
        download = info.value
        with open(download.path(), encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert rows and all(rows[0]), download.suggested_filename  # a header row, always
        tables[download.suggested_filename] = rows
    # the demo shop has waiting rows, so these three tables have data
    for name in ("statuses", "aging", "demand"):
        assert any(name in f and len(rows) > 1 for f, rows in tables.items()), name
    statuses = next(rows for name, rows in tables.items() if "statuses" in name)
    counted = {row[0].lower(): row for row in statuses[1:]}
    assert str(backordered) in counted["backordered"]
