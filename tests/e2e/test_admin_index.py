"""The admin's home page as the merchant sees it: the shop's modules laid out with Django's."""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_index_headings_read_on_one_line_and_recent_actions_sit_beside_the_apps(page: Page, screenshot_dir):
    call_command("seed_demo", stdout=io.StringIO())
    page.goto("/admin/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("restock-demo")
    page.get_by_role("button", name="Log in").click()
    page.screenshot(path=str(screenshot_dir / "e2e-admin-index.png"), full_page=True)

    # "Rows" and "Units" each on one line: the heading row no taller than a row of counts
    headings = page.locator("#rows-by-status thead th")
    assert [h.inner_text().strip().lower() for h in headings.all()] == ["status", "rows", "units"]
    heading_row = page.locator("#rows-by-status thead tr").bounding_box()["height"]
    count_row = page.locator("#rows-by-status tbody tr").first.bounding_box()["height"]
    assert heading_row < 1.5 * count_row, (heading_row, count_row)

    # the sidebar beside the app list, not pushed below the shop's modules
    apps = page.locator("#content-main").bounding_box()
    recent = page.get_by_role("heading", name=re.compile("Recent actions")).bounding_box()
    rows = page.locator("#rows-by-status").bounding_box()
    assert recent["x"] > apps["x"] + apps["width"] / 2
    assert recent["y"] < rows["y"], (recent, rows)
