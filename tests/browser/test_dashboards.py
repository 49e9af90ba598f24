"""The dashboards in Chromium: charts drawn by Chart.js under the strict content security policy, their
tables beside them, the system dashboard's live panel, a screenshot of each dashboard kept in
test-artifacts/screenshots/ to look at, and axe-core on every analytics page (light and dark).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.settings import Settings
from tests.browser.conftest import NewContext, log_in
from tests.browser.test_accessibility import AXE, Audit
from tests.support.analytics import Figures, build_figures, make_sponsor_account
from tests.support.factories import Actors

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean")]

Screenshot = Callable[[Page, str], Awaitable[None]]
WIDE = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `npm ci` (axe-core is a devDependency).")
    return AXE.read_text()


@pytest.fixture
async def actors(client: AsyncTestClient[Litestar], settings: Settings) -> Actors:
    return await Actors(client, settings).setup()


async def add_history(db_engine: AsyncEngine, figures: Figures) -> None:
    """Two weeks of coins going on and off ideas in alpha (pairs that leave the balances as they are, so the
    coin audit stays clean), and ideas submitted over the past months, for charts with a shape."""
    async with db_engine.begin() as conn:
        await conn.execute(
            text(
                """
                INSERT INTO coin_ledger (campaign_id, user_id, actor_id, kind, amount, votes, idea_id, created_at)
                SELECT l.campaign_id, l.user_id, l.user_id, kinds.kind, 3 + (day * 7 + kinds.k) % 9, 0, l.idea_id,
                       now() - day * interval '1 day' - (CASE kinds.kind WHEN 'allocate' THEN 2 ELSE 1 END) * interval '1 hour'
                FROM coin_ledger l
                CROSS JOIN generate_series(1, 14) AS day
                CROSS JOIN (VALUES ('allocate', 0), ('release', 0)) AS kinds(kind, k)
                WHERE l.campaign_id = (SELECT id FROM campaigns WHERE slug = 'alpha') AND l.kind = 'allocate'
                """
            )
        )
        await conn.execute(
            text(
                "UPDATE ideas SET created_at = now() - ((id % 5) * interval '1 month') "
                "WHERE campaign_id IN (SELECT id FROM campaigns WHERE slug IN ('alpha', 'bravo'))"
            )
        )


async def record_outcome(client: AsyncTestClient[Litestar], figures: Figures) -> None:
    outcome = {
        "note": "Sensors switch the lights off in empty rooms at night.",
        "metric_name": "Energy saved",
        "metric_value": 1200,
        "metric_unit": "kWh/month",
    }
    created = await client.post(f"/api/ideas/{figures.a.ideas[0]}/outcome", json=outcome, headers=figures.a.manager)
    assert created.status_code == 201, created.text


async def wait_for_charts(page: Page, count: int) -> None:
    """Until `count` canvases hold a Chart.js chart with a real size."""
    await page.wait_for_function(
        """(count) => [...document.querySelectorAll('canvas[data-chart]')].filter(
               (c) => window.Chart && Chart.getChart(c) && c.width > 0 && c.height > 0).length === count""",
        arg=count,
    )


def watch_console(page: Page) -> list[str]:
    """Errors that concern the dashboards: content security policy refusals, and errors in the chart scripts.

    (Other scripts' errors are their own tests' business: static/js/app.js currently throws on the
    notification bell's server-sent-event swaps, on every page.)
    """
    problems: list[str] = []

    def console(message: Any) -> None:
        if message.type == "error" and ("Content Security Policy" in message.text or "chart" in message.text.lower()):
            problems.append(message.text)

    def page_error(error: Any) -> None:
        stack = str(getattr(error, "stack", "") or "")
        if "charts.js" in stack or "chart.umd" in stack:
            problems.append(f"{error}\n{stack}")

    page.on("console", console)
    page.on("pageerror", page_error)
    return problems


async def test_dashboards_draw_their_charts_and_refresh_live(
    client: AsyncTestClient[Litestar],
    actors: Actors,
    db_engine: AsyncEngine,
    new_context: NewContext,
    screenshot: Screenshot,
) -> None:
    figures = await build_figures(client, actors, db_engine)
    await add_history(db_engine, figures)
    await record_outcome(client, figures)
    sponsor = await make_sponsor_account(client, actors)

    admin = await (await new_context(viewport=WIDE)).new_page()
    errors = watch_console(admin)
    await log_in(admin, actors.admin_email)
    # Through the navigation, as a person would (boosted by htmx: the chart scripts load with the page).
    await admin.goto("/campaigns/alpha")
    await admin.get_by_role("navigation", name="Campaign").get_by_role("link", name="Analytics").click()
    await expect(admin.get_by_role("heading", name="Participation")).to_be_visible()
    await wait_for_charts(admin, 6)
    figure = admin.get_by_role("listitem").filter(has_text="Gini over ideas")
    await expect(figure).to_contain_text("0.625")
    chart = admin.get_by_role("img", name="Participation.")
    await expect(chart).to_have_attribute(
        "aria-label", "Participation. Invited: 2; Joined: 4; Submitted an idea: 1; Allocated coins: 2"
    )
    # The numbers are one click away as a table.
    await admin.get_by_text("Show the numbers as a table").first.click()
    await expect(admin.get_by_role("table", name="Participation").get_by_role("row", name="Joined 4")).to_be_visible()
    await screenshot(admin, "dashboard-campaign")

    await admin.goto("/admin/system")
    await expect(admin.get_by_role("heading", name="PostgreSQL")).to_be_visible()
    first = await admin.locator("#system-live small").first.inner_text()
    await admin.wait_for_timeout(1_100)  # the panel shows the time to the second
    # The panel asks for itself every 10 s; ask now instead of waiting, the way htmx's timer does.
    async with admin.expect_response(
        lambda r: r.url.endswith("/admin/system") and r.request.headers.get("hx-target") == "system-live"
    ):
        await admin.evaluate("() => htmx.ajax('GET', '/admin/system', {target: '#system-live', swap: 'outerHTML'})")
    await expect(admin.locator("#system-live")).to_have_count(1)
    await expect(admin.locator("#system-live small").first).not_to_have_text(first)
    await screenshot(admin, "dashboard-system")
    assert not errors, errors

    viewer = await (await new_context(viewport=WIDE)).new_page()
    errors = watch_console(viewer)
    await log_in(viewer, sponsor)
    await viewer.get_by_role("banner").get_by_role("link", name="Dashboards").click()
    await viewer.get_by_role("link", name="Executive dashboard").click()
    await expect(viewer.get_by_role("heading", name="Executive dashboard", level=1)).to_be_visible()
    await wait_for_charts(viewer, 3)
    await expect(viewer.get_by_role("listitem").filter(has_text="Cost per engaged member")).to_contain_text("850.00")
    await screenshot(viewer, "dashboard-executive")
    assert not errors, errors

    # A download is a download: the export links leave htmx alone.
    async with viewer.expect_download() as download:
        await viewer.get_by_role("link", name="Executive dashboard PDF").click()
    assert (await download.value).suggested_filename.endswith(".pdf")


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_analytics_pages_have_no_serious_accessibility_violations(
    *,
    scheme: str,
    client: AsyncTestClient[Litestar],
    actors: Actors,
    db_engine: AsyncEngine,
    new_context: NewContext,
    screenshot: Screenshot,
    axe_source: str,
) -> None:
    figures = await build_figures(client, actors, db_engine)
    await add_history(db_engine, figures)
    done = figures.a.ideas[0]
    outcome = {
        "note": "Lights off at night.",
        "metric_name": "Energy saved",
        "metric_value": 1200,
        "metric_unit": "kWh",
    }
    assert (await client.post(f"/api/ideas/{done}/outcome", json=outcome, headers=figures.a.manager)).status_code == 201
    sponsor = await make_sponsor_account(client, actors)
    audit = Audit(axe_source, screenshot, "" if scheme == "light" else "-dark")

    async def open_as(email: str) -> Page:
        context: BrowserContext = await new_context(bypass_csp=True, color_scheme=scheme, viewport=WIDE)
        page = await context.new_page()
        await log_in(page, email)
        return page

    admin = await open_as(actors.admin_email)
    pages: list[tuple[str, str]] = [
        ("/campaigns/alpha/analytics", "analytics-campaign"),
        ("/campaigns/alpha/analytics/outcomes", "analytics-outcomes"),
        ("/campaigns/alpha/analytics/audit?entity_type=campaign", "analytics-campaign-audit"),
        ("/admin/system", "analytics-system"),
        ("/admin/audit-trail", "analytics-admin-audit"),
        ("/dashboards", "analytics-dashboards"),
    ]
    for path, name in pages:
        await admin.goto(path)
        await audit.check(admin, name)
    await admin.goto("/campaigns/alpha/analytics/outcomes")
    await admin.get_by_role("button", name="Record the outcome").click()
    await expect(admin.locator("[aria-invalid=true]").first).to_be_visible()
    await audit.check(admin, "analytics-outcomes-errors")

    viewer = await open_as(sponsor)
    await viewer.goto("/dashboards/executive")
    await wait_for_charts(viewer, 3)
    await audit.check(viewer, "analytics-executive")
    audit.assert_clean()
