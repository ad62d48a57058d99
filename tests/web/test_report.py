"""make report's page in headless Chromium: no axe-core violation, and readable at 320 px (no
sideways scrolling of the page, charts as wide as the screen allows, the suppression notice
in view). Made from counts of several months with withheld and shown values; no servers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, BrowserContext, Page

from addons import counts
from scripts import report
from tests.web.conftest import SCREENSHOTS
from tests.web.test_accessibility import axe_violations

pytestmark = pytest.mark.web


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    engine = counts.sqlite_engine(str(folder / "counts.sqlite"))
    counts.metadata.create_all(engine, tables=[counts.daily_counts])
    rows = []
    for month in range(1, 7):
        day = dt.date(2026, month, 3)
        for i, (metric, keys) in enumerate(counts.METRICS.items()):
            for j, key in enumerate(keys or (counts.ALL,)):
                rows.append({"day": day, "metric": metric, "key": key,
                             "n": (month * 7 + i * 3 + j * 5) % 40})
    with engine.begin() as connection:
        connection.execute(sa.insert(counts.daily_counts), rows)
    out = folder / "out"
    report.write_report(engine, out, "month", "the test's counts", rollup=False)
    return out / "index.html"


def open_report(browser: Browser, report_page: Path, width: int) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto(report_page.as_uri())
    return context, page


@pytest.mark.parametrize("width", [1280, 320])
def test_the_report_has_no_axe_violations(
    browser: Browser, report_page: Path, axe_source: str, width: int
) -> None:
    context, page = open_report(browser, report_page, width)
    try:
        assert page.locator("svg[role=img]").count() > 40
        assert axe_violations(page, axe_source) == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"report-{width}.png"))
    finally:
        context.close()


def test_the_report_is_readable_at_320px(browser: Browser, report_page: Path) -> None:
    context, page = open_report(browser, report_page, 320)
    try:
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        # The notice says what is withheld, in view without scrolling sideways.
        notice = page.get_by_text("Small numbers are withheld.")
        assert notice.is_visible()
        box = notice.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320
        # Each chart nearly as wide as the screen, so its 14-unit labels are 12 px or more.
        widths = page.evaluate("[...document.querySelectorAll('svg[role=img]')]"
                               ".map(s => s.getBoundingClientRect().width)")
        assert min(widths) >= 270
        # A wide table scrolls inside its own box, which the keyboard can reach.
        wrap = page.locator(".table-wrap").first
        assert wrap.get_attribute("tabindex") == "0"
        assert page.locator("td", has_text="≤7").count() > 0
    finally:
        context.close()
