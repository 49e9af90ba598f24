"""The permalink journey in Chromium: a platform makes a link (with examples/create_permalink.py), a visitor
without an account opens it, signs up on the way, finds the form pre-filled with the context shown, submits,
and is offered the way back to the platform with the idea's id; the platform then finds the idea in its
context (with examples/list_context_ideas.py)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.settings import Settings
from tests.browser.conftest import NewContext
from tests.browser.test_accessibility import AXE, Audit
from tests.conftest import PASSWORD, make_admin
from tests.support.factories import campaign_body
from tests.support.platforms import load_example
from tests.support.servers import AppProcess, unique_email

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean")]

Screenshot = Callable[[Page, str], Awaitable[None]]
RETURN_URL = "https://wiki.example.org/pages/42?lang=en"


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `npm ci` (axe-core is a devDependency).")
    return AXE.read_text()


async def set_up_platform(live_server: AppProcess, settings: Settings) -> tuple[str, dict[str, str]]:
    """An active open campaign with two tags and a platform allowed into it; (its API key, tag ids)."""
    admin_email = unique_email("admin")
    await make_admin(settings, admin_email, PASSWORD)
    async with httpx.AsyncClient(base_url=live_server.url) as api:
        token = (await api.post("/api/auth/token", json={"email": admin_email, "password": PASSWORD})).json()
        admin = {"Authorization": f"Bearer {token['access_token']}"}
        created = await api.post("/api/campaigns", json=campaign_body("greener-office"), headers=admin)
        assert created.status_code == 201, created.text
        tags = {}
        for name in ("Mobility", "Energy"):
            tags[name] = (
                await api.post("/api/campaigns/greener-office/tags", json={"name": name}, headers=admin)
            ).json()["id"]
        assert (await api.post("/api/campaigns/greener-office/activate", headers=admin)).status_code == 200
        platform = await api.post(
            "/api/platforms",
            json={"name": "Team wiki", "owner_email": "wiki-team@example.org", "campaigns": ["greener-office"]},
            headers=admin,
        )
        assert platform.status_code == 201, platform.text
    return platform.json()["api_key"], tags


async def test_a_visitor_signs_up_through_a_permalink_and_returns_with_the_idea_id(
    new_context: NewContext,
    live_server: AppProcess,
    settings: Settings,
    db_engine: AsyncEngine,
    screenshot: Screenshot,
    axe_source: str,
) -> None:
    audit = Audit(axe_source, screenshot, "")  # axe-core on each page of the journey, screenshots kept
    api_key, tags = await set_up_platform(live_server, settings)
    create = load_example("create_permalink")
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {api_key}"}) as platform:
        permalink: dict[str, Any] = await asyncio.to_thread(
            create.create_permalink,
            platform,
            campaign="greener-office",
            context_id="page-42",
            tags=["Mobility"],
            title="Covered bike racks",
            description="By the north entrance, out of the rain.",
            return_url=RETURN_URL,
        )
    path = "/p/" + str(permalink["url"]).rsplit("/p/", 1)[1]

    page = await (await new_context(bypass_csp=True)).new_page()
    await page.goto(path)
    await expect(page.get_by_role("heading", name="Share your idea")).to_be_visible()
    context_line = page.locator("#permalink-context")
    await expect(context_line).to_have_text("Your idea will be linked to: page-42 from Team wiki")
    await audit.check(page, "permalink-signup")
    await page.get_by_label("Your name").fill("Rosalind Franklin")
    await page.get_by_label("Email").fill(unique_email("rosalind"))
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account and continue").click()

    await expect(page.get_by_role("heading", name="Share your idea with “Greener office”")).to_be_visible()
    await expect(page).to_have_url(re.compile(rf"{re.escape(path)}$"))
    await expect(page.locator("#messages")).to_contain_text("Welcome, Rosalind Franklin!")
    await expect(context_line).to_have_text("Your idea will be linked to: page-42 from Team wiki")
    await expect(page.get_by_label("Title")).to_have_value("Covered bike racks")
    await expect(page.get_by_label("Description")).to_have_value("By the north entrance, out of the rain.")
    await expect(page.get_by_role("checkbox", name="Mobility")).to_be_checked()
    await expect(page.get_by_role("checkbox", name="Energy")).not_to_be_checked()
    await expect(page.get_by_text("You will join this campaign when you submit")).to_be_visible()
    await audit.check(page, "permalink-form")
    await page.get_by_label("Title").fill("Covered bike racks with lights")
    await page.get_by_role("button", name="Submit idea").click()

    await expect(page.get_by_role("heading", name="Thank you: your idea is in")).to_be_visible()
    await expect(page).to_have_url(re.compile(rf"{re.escape(path)}/ideas/\d+$"))
    idea_id = int(page.url.rsplit("/", 1)[1])
    back = page.get_by_role("button", name="Back to Team wiki")  # a link styled as a button
    await expect(back).to_have_attribute("href", f"{RETURN_URL}&idea_id={idea_id}")
    await expect(page.get_by_text(f"{RETURN_URL}&idea_id={idea_id}")).to_be_visible()
    await audit.check(page, "permalink-done")

    audit.assert_clean()

    async with db_engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT i.context_id, i.source, i.title, array_agg(t.tag_id::text) AS tags FROM ideas i "
                    "LEFT JOIN idea_tags t ON t.idea_id = i.id WHERE i.id = :id GROUP BY i.id"
                ),
                {"id": idea_id},
            )
        ).one()
    assert (row.context_id, row.source, row.title, row.tags) == (
        "page-42", "permalink", "Covered bike racks with lights", [tags["Mobility"]],
    )  # fmt: skip

    listing = load_example("list_context_ideas")
    with httpx.Client(base_url=live_server.url, headers={"X-API-Key": api_key}) as platform:
        ideas = await asyncio.to_thread(lambda: list(listing.context_ideas(platform, "page-42")))
    assert [(i["id"], i["title"], i["status"]) for i in ideas] == [
        (idea_id, "Covered bike racks with lights", "competing")
    ]
