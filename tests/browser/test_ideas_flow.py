"""Ideas in Chromium, against the real app process (no in-process worker there: nothing here needs one).

1. A member of a mediated campaign types a title like an existing idea, sees it suggested with its score,
   is warned on submitting and submits anyway; a manager approves the idea from the approval queue.
2. The board filters by tag through htmx without reloading (a marker set on `window` survives, the URL
   gains the query, Back restores the previous filter); then, with two browsers, one watches the board and
   the other puts coins on an idea: the watcher sees its total and the order change, over the live ranking
   stream, without reloading.

Screenshots of every page go to test-artifacts/screenshots/; axe-core checks the board, the idea page, the
submit page with suggestions and the queue, in the light and the dark scheme.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from coins.settings import Settings
from tests.browser.conftest import NewContext, log_in
from tests.browser.test_accessibility import AXE, Audit
from tests.conftest import PASSWORD, make_admin
from tests.support.factories import campaign_body
from tests.support.servers import AppProcess, unique_email

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean")]

Screenshot = Callable[[Page, str], Awaitable[None]]


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `npm ci` (axe-core is a devDependency).")
    return AXE.read_text()


@dataclass
class Person:
    email: str
    auth: dict[str, str]


class Api:
    """Data made through the JSON API of the running app, as a script would."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def person(self, name: str) -> Person:
        email = unique_email(name.split(maxsplit=1)[0].lower())
        response = await self.client.post(
            "/api/auth/register", json={"email": email, "password": PASSWORD, "full_name": name}
        )
        assert response.status_code == 201, response.text
        return Person(email, await self.auth(email))

    async def auth(self, email: str) -> dict[str, str]:
        response = await self.client.post("/api/auth/token", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def call(self, method: str, path: str, who: Person, body: Any = None, status: int = 200) -> Any:
        response = await self.client.request(method, path, json=body, headers=who.auth)
        assert response.status_code == status, response.text
        return response.json()


async def campaign(
    api: Api, admin: Person, manager: Person, members: list[Person], slug: str, kind: str, tags: list[str]
) -> dict[str, str]:
    """An active campaign with these members; returns its tag ids by name."""
    body = campaign_body(slug=slug, title=f"{slug.replace('-', ' ').capitalize()}", campaign_type=kind)
    body["manager_emails"] = [manager.email]
    await api.call("POST", "/api/campaigns", admin, body, 201)
    await api.call("POST", f"/api/campaigns/{slug}/activate", manager)
    for member in members:
        await api.call("POST", f"/api/campaigns/{slug}/join", member)
    return {
        name: (await api.call("POST", f"/api/campaigns/{slug}/tags", manager, {"name": name}, 201))["id"]
        for name in tags
    }


async def test_a_member_submits_a_look_alike_anyway_and_a_manager_approves_it(
    new_context: NewContext,
    live_server: AppProcess,
    settings: Settings,
    screenshot: Screenshot,
    axe_source: str,
) -> None:
    slug = "mediated-ideas"
    async with httpx.AsyncClient(base_url=live_server.url, timeout=15.0) as client:
        api = Api(client)
        admin_email = unique_email("admin")
        await make_admin(settings, admin_email, PASSWORD)
        admin = Person(admin_email, await api.auth(admin_email))
        manager, member, other = (
            await api.person("Margaret Manager"),
            await api.person("Mary Member"),
            await api.person("Omar Other"),
        )
        tags = await campaign(api, admin, manager, [member, other], slug, "mediated", ["Energy", "Transport"])
        existing = await api.call(
            "POST", f"/api/campaigns/{slug}/ideas", other,
            {"title": "Solar panels on the roof", "description": "Cheaper power.", "tag_ids": [tags["Energy"]]},
            201,
        )  # fmt: skip
        await api.call("POST", f"/api/ideas/{existing['id']}/status", manager, {"status": "competing"})

    light = Audit(axe_source, screenshot, "")
    dark = Audit(axe_source, screenshot, "-dark")

    async def audit(page: Page, name: str) -> None:
        await light.check(page, name)
        await page.emulate_media(color_scheme="dark")
        await dark.check(page, name)
        await page.emulate_media(color_scheme="light")

    # (a) The member types a title like an existing idea: it shows up, with its score, as they type.
    mary = await (await new_context(bypass_csp=True)).new_page()
    await log_in(mary, member.email)
    await mary.goto(f"/campaigns/{slug}")
    await mary.get_by_role("navigation", name="Campaign").get_by_role("link", name="Ideas").click()
    await mary.get_by_role("button", name="Submit an idea").click()  # a link styled as a button
    await expect(mary.get_by_role("heading", name="Submit an idea")).to_be_visible()
    await expect(mary.get_by_text("a manager reviews every idea before it competes")).to_be_visible()
    await mary.get_by_label("Title").press_sequentially("Solar panel on roofs", delay=15)
    suggestions = mary.locator("#similar-ideas")
    await expect(suggestions.get_by_role("link", name="Solar panels on the roof")).to_be_visible()
    await expect(suggestions).to_contain_text(re.compile(r"\d+% similar"))
    await expect(suggestions.get_by_role("button", name=re.compile("Back this idea instead"))).to_have_attribute(
        "href", f"/campaigns/{slug}/ideas/{existing['id']}#allocate-{existing['id']}"
    )
    await mary.get_by_label("Description").fill("Panels on **every** roof we have.")
    await expect(mary.locator("#preview strong")).to_have_text("every")  # the live preview
    await mary.get_by_role("checkbox", name="Energy").check()
    await screenshot(mary, "ideas-submit-suggestions")
    await audit(mary, "ideas-submit")

    await mary.get_by_role("button", name="Submit idea").click()
    await expect(mary.locator("#duplicate-warning")).to_contain_text("1 similar idea already in this campaign")
    await expect(mary.get_by_label("Title")).to_have_value("Solar panel on roofs")
    await expect(mary.get_by_role("checkbox", name="Energy")).to_be_checked()
    await mary.get_by_role("button", name="Submit anyway").click()
    await expect(mary).to_have_url(re.compile(rf"/campaigns/{slug}/ideas/\d+$"))
    await expect(mary.locator("#messages")).to_contain_text("Your idea is waiting for approval by a manager")
    await expect(mary.get_by_text("Your idea is waiting for approval: a manager")).to_be_visible()
    idea_path = mary.url.split(live_server.url, 1)[1]

    # (b) The manager finds it in the approval queue and approves it.
    margaret = await (await new_context(bypass_csp=True)).new_page()
    await log_in(margaret, manager.email)
    await margaret.goto(f"/campaigns/{slug}/ideas")
    await margaret.get_by_role("button", name="Approval queue (1)").click()
    await expect(margaret.get_by_role("heading", name="Approval queue")).to_be_visible()
    item = margaret.get_by_role("article", name="Solar panel on roofs")
    await expect(item).to_contain_text("by Mary Member")
    await audit(margaret, "ideas-queue")
    await item.get_by_role("button", name="Approve “Solar panel on roofs”").click()
    await expect(margaret.locator("#messages")).to_contain_text("The idea is approved: it competes for coins now.")
    await expect(margaret.get_by_text("No idea is waiting for approval.")).to_be_visible()
    await expect(margaret).to_have_url(re.compile(rf"/campaigns/{slug}/ideas/queue$"))

    await margaret.goto(idea_path)  # now competing: the manager's buttons for what comes next
    await expect(margaret.get_by_role("heading", name="Manage this idea")).to_be_visible()
    await expect(margaret.get_by_role("button", name="Accept")).to_be_visible()
    await expect(margaret.get_by_label("Merge into")).to_be_visible()
    await audit(margaret, "ideas-idea-page-manager")

    await mary.goto(idea_path)
    await expect(mary.locator(".idea-page .idea-status")).to_have_text("Competing")
    await expect(mary.get_by_text("Waiting for approval → Competing by Margaret Manager")).to_be_visible()
    light.assert_clean()
    dark.assert_clean()


async def test_the_board_filters_without_reloading_and_ranks_live(
    new_context: NewContext,
    live_server: AppProcess,
    settings: Settings,
    screenshot: Screenshot,
    axe_source: str,
) -> None:
    slug = "live-board"
    async with httpx.AsyncClient(base_url=live_server.url, timeout=15.0) as client:
        api = Api(client)
        admin_email = unique_email("admin")
        await make_admin(settings, admin_email, PASSWORD)
        admin = Person(admin_email, await api.auth(admin_email))
        manager, member, fan = (
            await api.person("Margaret Manager"),
            await api.person("Mary Member"),
            await api.person("Fred Fan"),
        )
        tags = await campaign(api, admin, manager, [member, fan], slug, "open", ["Energy", "Transport", "Food"])
        ideas: dict[str, int] = {}
        for title, names, who in [
            ("Solar panels on the roof", ["Energy"], member),
            ("Bike racks at the north entrance", ["Transport"], fan),
            ("Electric car chargers", ["Energy", "Transport"], member),
            ("Vegetarian Mondays", ["Food"], fan),
        ]:
            body = {"title": title, "description": f"{title}: why **now**.", "tag_ids": [tags[n] for n in names]}
            ideas[title] = (await api.call("POST", f"/api/campaigns/{slug}/ideas", who, body, 201))["id"]
        for title, amount in [("Solar panels on the roof", 20), ("Electric car chargers", 12)]:
            await api.call(
                "POST", f"/api/campaigns/{slug}/coins/allocate", fan, {"idea_id": ideas[title], "amount": amount}
            )
        await api.call(
            "POST",
            f"/api/campaigns/{slug}/coins/allocate",
            member,
            {"idea_id": ideas["Bike racks at the north entrance"], "amount": 5},
        )
        await api.call(
            "PATCH", f"/api/ideas/{ideas['Electric car chargers']}", member,
            {"title": "Electric car chargers in the car park", "description": "Eight of them.\nSolar powered."},
        )  # fmt: skip

    # The watcher is a visitor (open campaigns are public) in a browser that enforces the CSP.
    watcher_context = await new_context()
    watcher = await watcher_context.new_page()
    console: list[str] = []
    watcher.on("console", lambda message: console.append(message.text))
    await watcher.goto(f"/campaigns/{slug}/ideas")
    rows = watcher.locator("#idea-list .idea-title")
    await expect(rows).to_have_text(
        ["Solar panels on the roof", "Electric car chargers in the car park", "Bike racks at the north entrance",
         "Vegetarian Mondays"]
    )  # fmt: skip
    await watcher.evaluate("window.__marker = 'no reload'")

    # (c) Tags narrow the list through htmx; the URL keeps the filters; Back restores the previous ones.
    await watcher.get_by_role("checkbox", name="Energy").check()
    await expect(watcher).to_have_url(re.compile(rf"/campaigns/{slug}/ideas\?tag=Energy$"))
    await expect(rows).to_have_text(["Solar panels on the roof", "Electric car chargers in the car park"])
    await watcher.get_by_role("checkbox", name="Transport").check()
    await expect(watcher).to_have_url(re.compile(r"\?tag=Energy&tag=Transport$"))
    await expect(rows).to_have_text(["Electric car chargers in the car park"])
    await expect(watcher.locator("#idea-count")).to_contain_text("1 idea match")
    assert await watcher.evaluate("window.__marker") == "no reload"
    await watcher.go_back()
    await expect(watcher).to_have_url(re.compile(r"\?tag=Energy$"))
    await expect(rows).to_have_text(["Solar panels on the roof", "Electric car chargers in the car park"])
    await expect(watcher.get_by_role("checkbox", name="Transport")).not_to_be_checked()
    await expect(watcher.get_by_role("checkbox", name="Energy")).to_be_checked()
    assert await watcher.evaluate("window.__marker") == "no reload"
    await watcher.get_by_role("checkbox", name="Energy").uncheck()
    await expect(watcher).to_have_url(re.compile(rf"/campaigns/{slug}/ideas$"))
    await expect(rows).to_have_count(4)
    await screenshot(watcher, "ideas-board")

    # (d) Another browser puts coins on the third idea; the watcher's board re-ranks by itself.
    async with watcher.expect_response(lambda response: "/live?" in response.url):
        await watcher.reload()  # a fresh page, its event stream opened anew
    await watcher.evaluate("window.__marker = 'no reload'")
    bikes = ideas["Bike racks at the north entrance"]
    mary = await (await new_context(bypass_csp=True)).new_page()
    await log_in(mary, member.email)
    await mary.goto(f"/campaigns/{slug}/ideas/{bikes}")
    control = mary.locator(f"#allocate-{bikes}")
    await expect(control).to_contain_text("5 coins")
    await control.get_by_label("Coins for “Bike racks at the north entrance”").fill("25")
    started = time.monotonic()
    await control.get_by_role("button", name="Add").click()
    await expect(mary.locator(f"#allocate-{bikes}")).to_contain_text("You put 25 votes on this idea.")
    await expect(watcher.locator(f"#idea-coins-{bikes}")).to_have_text("30 coins", timeout=2_500)
    await expect(rows.first).to_have_text("Bike racks at the north entrance", timeout=1_000)
    seen_after = time.monotonic() - started
    assert seen_after < 3.0, f"the watcher saw the new ranking after {seen_after:.1f} s"
    assert await watcher.evaluate("window.__marker") == "no reload"
    assert not [line for line in console if "Content Security Policy" in line], console
    await screenshot(watcher, "ideas-board-after-live-update")

    light = Audit(axe_source, screenshot, "")
    dark = Audit(axe_source, screenshot, "-dark")
    await expect(mary.get_by_role("heading", name="Bike racks at the north entrance")).to_be_visible()
    for page_name, path in [
        ("ideas-idea-page", f"/campaigns/{slug}/ideas/{bikes}"),
        ("ideas-board-member", f"/campaigns/{slug}/ideas?tag=Transport"),
    ]:
        await mary.goto(path)
        await light.check(mary, page_name)
        await mary.emulate_media(color_scheme="dark")
        await dark.check(mary, page_name)
        await mary.emulate_media(color_scheme="light")
    await mary.goto(f"/campaigns/{slug}/ideas/{ideas['Electric car chargers']}/history")
    await expect(mary.get_by_role("heading", name="Version 2")).to_be_visible()
    await expect(mary.locator(".diff-add").first).to_be_visible()
    await screenshot(mary, "ideas-history")

    # On a phone the board stacks: filters above the list, nothing scrolls sideways.
    phone = await (await new_context(viewport={"width": 390, "height": 844}, is_mobile=True)).new_page()
    await phone.goto(f"/campaigns/{slug}/ideas")
    await expect(phone.locator("#idea-list .idea-title")).to_have_count(4)
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(phone, "ideas-board-phone")
    light.assert_clean()
    dark.assert_clean()
