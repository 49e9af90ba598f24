"""The bell in Chromium: a member's unread count rises without reloading when a manager, in another browser,
activates their campaign (server-sent events over Valkey pub/sub); the centre and the settings page work and
pass axe.

The live server runs without a worker: a campaign this small is notified inside the activation request, and
the live update is published by the app after its commit, so nothing else needs to run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.settings import Settings
from tests.browser.conftest import NewContext, log_in
from tests.browser.test_accessibility import AXE, Audit
from tests.conftest import PASSWORD, make_admin
from tests.support.servers import AppProcess, unique_email

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean")]

Screenshot = Callable[[Page, str], Awaitable[None]]
RegisterUser = Callable[..., Awaitable[dict[str, Any]]]
SLUG = "bell-ringing"
TITLE = "Ring the bell"
# The bell also polls every 30 s: seeing the count within this many seconds proves the live update.
LIVE_WITHIN_MS = 5_000


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `npm ci` (axe-core is a devDependency).")
    return AXE.read_text()


async def bearer(api: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await api.post("/api/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def bell(page: Page) -> Any:
    return page.get_by_role("banner").get_by_role("link", name=re.compile("^Notifications"))


async def test_the_bell_counts_up_live_when_a_manager_activates_the_campaign(
    new_context: NewContext,
    register_user: RegisterUser,
    settings: Settings,
    live_server: AppProcess,
    db_engine: AsyncEngine,
    axe_source: str,
    screenshot: Screenshot,
) -> None:
    manager_email, member_email, admin_email = unique_email("manager"), unique_email("member"), unique_email("admin")
    await register_user(manager_email, "Margaret Hamilton")
    member = await register_user(member_email, "Mary Member")
    await make_admin(settings, admin_email, PASSWORD)
    now = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=live_server.url) as api:
        created = await api.post(
            "/api/campaigns",
            headers=await bearer(api, admin_email),
            json={"slug": SLUG, "title": TITLE, "description": "Live counts.", "campaign_type": "closed",
                  "starts_at": (now - timedelta(hours=1)).isoformat(),
                  "ends_at": (now + timedelta(days=30)).isoformat(), "manager_emails": [manager_email]},
        )  # fmt: skip
        assert created.status_code == 201, created.text
    async with db_engine.begin() as conn:  # the member accepted an invitation earlier (tested elsewhere)
        await conn.execute(
            text("INSERT INTO campaign_members (id, campaign_id, user_id, role, joined_at) "
                 "VALUES (gen_random_uuid(), CAST(:c AS uuid), CAST(:u AS uuid), 'member', now())"),
            {"c": created.json()["id"], "u": member["id"]},
        )  # fmt: skip

    # The member sits on the campaigns page; the bell has loaded its count and opened its event stream.
    reader = await (await new_context()).new_page()
    async with reader.expect_response(lambda r: r.url.endswith("/events/notifications")) as stream:
        await log_in(reader, member_email)
    assert (await stream.value).headers["content-type"].startswith("text/event-stream")
    await reader.get_by_role("banner").get_by_role("link", name="Campaigns").click()
    await expect(reader).to_have_url(re.compile(r"/campaigns$"))
    await expect(bell(reader)).to_have_accessible_name("Notifications, none unread")
    await expect(reader.locator("#notification-count .bell-badge")).to_have_count(0)
    await reader.evaluate("window.sameDocument = true")  # gone if the page reloaded

    # In another browser, the manager activates the campaign.
    manager = await (await new_context()).new_page()
    await log_in(manager, manager_email)
    await manager.goto(f"/campaigns/{SLUG}/settings")
    await manager.get_by_role("button", name="Activate campaign").click()
    await expect(manager.locator("#messages")).to_contain_text("The campaign is active")
    activated = time.monotonic()

    # The member's bell shows it without a reload, well before the 30-second poll could have.
    await expect(reader.locator("#notification-count .bell-badge")).to_have_text("1", timeout=LIVE_WITHIN_MS)
    assert time.monotonic() - activated < LIVE_WITHIN_MS / 1000
    assert await reader.evaluate("window.sameDocument === true") and reader.url.endswith("/campaigns")
    await expect(bell(reader)).to_have_accessible_name("Notifications, 1 unread")
    # The manager, who did it, is not told of it (their one unread item: being made manager, at creation).
    await expect(bell(manager)).to_have_accessible_name("Notifications, 1 unread")
    await screenshot(reader, "notifications-bell-live")

    # The centre: the news links to the campaign; following it marks it read.
    await bell(reader).click()
    await expect(reader.get_by_role("heading", name="Notifications", exact=True)).to_be_visible()
    item = reader.get_by_role("link", name=f"“{TITLE}” has started")
    await expect(item).to_be_visible()
    await screenshot(reader, "notifications-centre")
    await item.click()
    await expect(reader).to_have_url(re.compile(rf"/campaigns/{SLUG}$"))
    await expect(bell(reader)).to_have_accessible_name("Notifications, none unread")

    # Settings: switch the email for campaign news off; it sticks.
    await reader.goto("/account/notifications")
    await reader.get_by_role("combobox", name="Campaign started email").select_option("never")
    await reader.get_by_role("button", name="Save notification settings").click()
    await expect(reader.locator("#messages")).to_contain_text("Your notification settings are saved.")
    await expect(reader.get_by_role("combobox", name="Campaign started email")).to_have_value("never")
    await screenshot(reader, "notifications-settings")

    # axe on both pages (a context that lets the test inject axe past the content security policy).
    audited = await (await new_context(bypass_csp=True)).new_page()
    await log_in(audited, member_email)
    audit = Audit(axe_source, screenshot, "-axe")
    for path, name in (("/notifications", "notifications"), ("/account/notifications", "notification-settings")):
        await audited.goto(path)
        await audit.check(audited, name)
    audit.assert_clean()
