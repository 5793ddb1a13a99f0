"""The HTML dossiers in headless Chromium: every chart drawn, no script error, nothing fetched.

Uses the distribution's Chromium (``/usr/bin/chromium``; ``.ci/run`` installs it) through
playwright, without ``playwright install``. Skipped when Chromium is missing, except under CI
(``$CI`` set), where that is a failure.

``RISKENGINE_WRITE_SCREENSHOT=1`` also writes the top of Japan's dossier to
``docs/img/dossier-jpn.png`` (the README's picture).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from riskengine.cli import main

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOT = ROOT / "docs" / "img" / "dossier-jpn.png"

#: The three dossiers: the CLI arguments of each (Japan's restricted to three minerals, so
#: that its ban sweep takes seconds).
DOSSIERS: dict[str, list[str]] = {
    "country": ["--country", "JPN", "-m", "cobalt", "-m", "nickel", "-m", "copper"],
    "mineral": ["--mineral", "cobalt"],
    "scenario": ["--scenario", "cd-cobalt-export-suspension-2025"],
}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser test (.ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (the test extra)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def dossiers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dossiers")
    paths = {}
    for kind, args in DOSSIERS.items():
        paths[kind] = folder / f"{kind}.html"
        assert main(["report", *args, "-o", str(paths[kind])]) == 0
    return paths


def _open(browser: Any, path: Path, viewport: dict[str, int] | None = None) -> dict[str, Any]:
    """Open a dossier with every request recorded and anything but the file itself refused."""
    page_url = path.as_uri()
    context = browser.new_context(viewport=viewport or {"width": 1400, "height": 900})
    page = context.new_page()
    seen: dict[str, Any] = {"requests": [], "errors": [], "page": page, "context": context}
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.on("pageerror", lambda error: seen["errors"].append(f"page error: {error}"))
    page.on(
        "console",
        lambda msg: (
            seen["errors"].append(f"console {msg.type}: {msg.text}")
            if msg.type in ("error", "warning")
            else None
        ),
    )

    def gate(route: Any) -> None:
        if route.request.url == page_url:
            route.continue_()
        else:
            route.abort()

    context.route("**/*", gate)
    page.goto(page_url)
    return seen


def _draw_all(page: Any) -> int:
    """Scroll every chart into view (they draw when seen) and wait until each is drawn."""
    plots = page.locator(".chart-plot")
    for i in range(plots.count()):
        plot = plots.nth(i)
        plot.scroll_into_view_if_needed()
        page.wait_for_function(
            "el => el.querySelector('.main-svg') !== null", arg=plot.element_handle(),
            timeout=15_000,
        )  # fmt: skip
    drawn: int = page.evaluate(
        "Array.from(document.querySelectorAll('.chart-plot.js-plotly-plot'))"
        ".filter(el => el.querySelector('.main-svg')).length"
    )
    return drawn


@pytest.mark.parametrize("kind", list(DOSSIERS))
def test_dossier_draws_offline_without_errors(browser, dossiers, kind):
    seen = _open(browser, dossiers[kind])
    page = seen["page"]
    try:
        drawn = _draw_all(page)
        total = page.locator(".chart-plot").count()
        assert drawn == total >= 4
        # every drawn chart shows its title (with units and year), and has its table beside it
        titles = page.eval_on_selector_all(
            ".js-plotly-plot .gtitle", "els => els.map(el => el.textContent)"
        )
        assert len(titles) == total
        # (a long title wraps into lines, which textContent joins without a space)
        assert all(re.search(r"\(.+\),\s?\d{4}(-\d{4})?$", t) for t in titles), titles
        assert page.locator("figure.chart .data table").count() == total
        if kind == "mineral":
            # the world map's borders and shaded producers come from the geometry in the file
            borders, shaded = page.evaluate(
                """() => {
                  const geo = document.querySelector('.js-plotly-plot .geo');
                  const d = el => (el && el.getAttribute('d')) || '';
                  return [d(geo.querySelector('.countries path')).length,
                          [...geo.querySelectorAll('.choroplethlocation')]
                            .filter(el => d(el).length > 20).length];
                }"""
            )
            assert borders > 10_000
            assert shaded >= 10  # the mine map: DR Congo, Indonesia, Russia, ...
        if kind == "country":
            assert page.locator(".js-plotly-plot .sankey .sankey-node").count() > 5
        assert seen["errors"] == []
        assert seen["requests"] == [dossiers[kind].as_uri()]
        if kind == "country" and os.environ.get("RISKENGINE_WRITE_SCREENSHOT"):
            _screenshot(browser, dossiers[kind])
    finally:
        seen["context"].close()


def _screenshot(browser: Any, path: Path) -> None:
    seen = _open(browser, path, {"width": 1400, "height": 1000})
    page = seen["page"]
    _draw_all(page)
    page.evaluate("window.scrollTo(0, 0)")
    # the header, the scores, the bans and the first mineral's supply chain
    sankey = page.locator("section").nth(2).locator("figure.chart").first.bounding_box()
    top = sankey["y"] + sankey["height"] + 16
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(SCREENSHOT), full_page=True, clip={"x": 0, "y": 0, "width": 1400, "height": top}
    )
    seen["context"].close()
