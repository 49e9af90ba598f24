"""Campaign journeys through the real UI, in Chromium: the app process, htmx, uploads and the outbox.

The main journey plays three people, each in their own browser context (their own cookies): an admin
creates a closed campaign, its manager configures it, uploads a banner, invites someone and activates it,
the admin reads the invitation in the outbox, and the invited person, who has no account, signs up through
the link and lands on the campaign with their coins. A fourth person, signed in but not invited, must not
even learn that the campaign exists. A second test runs axe-core on every campaign page (light and dark).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw, ImageOps
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.mail.models import EmailMessage
from coins.settings import Settings
from tests.browser.conftest import NewContext, log_in
from tests.browser.test_accessibility import AXE, Audit
from tests.conftest import PASSWORD, make_admin
from tests.support.servers import AppProcess, unique_email

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean")]

Screenshot = Callable[[Page, str], Awaitable[None]]
RegisterUser = Callable[..., Awaitable[dict[str, Any]]]

TITLE = "Quieter open-plan office"
SLUG = "quieter-office"
COINS = 80
PASSWORD_RULE = "The password needs at least 8 characters"
INVALID_LINK = "This invitation link is invalid, already used, revoked or expired."
FORM_DATETIME = "%Y-%m-%dT%H:%M"


def header(page: Page) -> Any:
    return page.get_by_role("banner")


def flash(page: Page) -> Any:
    return page.locator("#messages")


def campaign_tabs(page: Page) -> Any:
    return page.get_by_role("navigation", name="Campaign")


def banner_png(folder: Path, width: int = 1200, height: int = 300) -> Path:
    """A small but real PNG: a gold gradient with a few coins on it."""
    gradient = Image.linear_gradient("L").rotate(90).resize((width, height))
    image = ImageOps.colorize(gradient, black="#6e4700", white="#f7c948")
    draw = ImageDraw.Draw(image)
    for index in range(6):
        x, y = 120 + index * 170, height // 2 + (30 if index % 2 else -30)
        draw.ellipse((x - 45, y - 45, x + 45, y + 45), fill="#f0b429", outline="#4a3000", width=6)
    path = folder / "banner.png"
    image.save(path, format="PNG")
    return path


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `npm ci` (axe-core is a devDependency).")
    return AXE.read_text()


async def bearer(api: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await api.post("/api/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def invitation_link(db_engine: AsyncEngine, email: str) -> str:
    """The path in the newest invitation email to `email` (what the outbox page shows as a link)."""
    async with db_engine.connect() as conn:
        body = await conn.scalar(
            select(EmailMessage.body_text)
            .where(EmailMessage.to_address == email)
            .order_by(EmailMessage.created_at.desc())
            .limit(1)
        )
    found = re.search(r"https?://[^/\s]+(/invitations/[\w-]+)", body or "")
    assert found, body
    return found[1]


async def wait_for_image(page: Page, selector: str) -> int:
    """Wait until the image has really loaded (a broken link stays at width 0); return its natural width."""
    await page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && i.complete && i.naturalWidth > 0; }",
        arg=selector,
    )
    width: int = await page.locator(selector).evaluate("img => img.naturalWidth")
    return width


async def test_closed_campaign_from_creation_to_an_invited_newcomer_with_coins(
    new_context: NewContext,
    register_user: RegisterUser,
    settings: Settings,
    screenshot: Screenshot,
    tmp_path: Path,
) -> None:
    manager_email = unique_email("manager")
    await register_user(manager_email, "Margaret Hamilton")
    outsider_email = unique_email("outsider")
    await register_user(outsider_email, "Otto Outsider")
    admin_email = unique_email("admin")
    await make_admin(settings, admin_email, PASSWORD)
    newcomer_email = unique_email("newcomer")
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    # 1. The admin creates a closed draft campaign, naming a registered user as its manager. -------------
    admin = await (await new_context()).new_page()
    await log_in(admin, admin_email)
    await header(admin).get_by_role("link", name="Campaigns").click()
    await expect(admin.get_by_role("heading", name="Campaigns", exact=True)).to_be_visible()
    await expect(admin.get_by_text("No campaigns to show.")).to_be_visible()
    await admin.get_by_role("button", name="New campaign").click()  # a link styled as a button
    await expect(admin).to_have_url(re.compile(r"/campaigns/new$"))
    await expect(admin.get_by_role("heading", name="New campaign")).to_be_visible()
    await admin.get_by_label("Title", exact=True).fill(TITLE)
    await admin.get_by_label("Address", exact=True).fill(SLUG)
    await admin.get_by_role("textbox", name="Description").fill("Ideas for **fewer interruptions** at work.")
    await admin.get_by_label("Type", exact=True).select_option("closed")
    await admin.get_by_label("Starts (UTC)").fill((now - timedelta(hours=1)).strftime(FORM_DATETIME))
    await admin.get_by_label("Ends (UTC)").fill((now + timedelta(days=30)).strftime(FORM_DATETIME))
    await admin.get_by_label("Coins per member").fill(str(COINS))
    await admin.get_by_label("Manager email addresses").fill(manager_email)
    await screenshot(admin, "campaign-new-form")
    await admin.get_by_role("button", name="Create draft campaign").click()

    await expect(admin).to_have_url(re.compile(rf"/campaigns/{SLUG}/settings$"))
    await expect(flash(admin)).to_contain_text(f"“{TITLE}” is created as a draft.")
    await expect(admin.get_by_role("heading", name=TITLE, level=1)).to_be_visible()
    await expect(admin.get_by_text("This campaign is a draft.")).to_be_visible()
    await expect(admin.get_by_label("Coins per member")).to_have_value(str(COINS))
    await expect(admin.get_by_label("Type", exact=True)).to_have_value("closed")

    # 2. The manager finds it among their campaigns, configures it, invites a newcomer and activates it. --
    manager = await (await new_context()).new_page()
    await log_in(manager, manager_email)
    await header(manager).get_by_role("link", name="Campaigns").click()
    await manager.get_by_role("navigation", name="Filter campaigns").get_by_role("link", name="Mine").click()
    await expect(manager).to_have_url(re.compile(r"/campaigns\?mine=true$"))
    card = manager.get_by_role("article").filter(has_text=TITLE)
    await expect(card).to_have_count(1)
    await expect(card).to_contain_text("Draft")
    await expect(card).to_contain_text("Closed")
    await expect(card).to_contain_text("Manager")  # their role in it
    await screenshot(manager, "campaign-list")
    await card.get_by_role("link", name=TITLE).click()
    await expect(manager).to_have_url(re.compile(rf"/campaigns/{SLUG}$"))
    await expect(manager.get_by_text("You are a manager of this campaign.")).to_be_visible()
    await expect(manager.get_by_text("your coins arrive when it is activated")).to_be_visible()
    await expect(manager.get_by_role("region", name="Your coins in this campaign")).to_have_count(0)

    await campaign_tabs(manager).get_by_role("link", name="Settings").click()
    await expect(manager.get_by_role("heading", name="Settings")).to_be_visible()
    description = manager.get_by_role("textbox", name="Description")
    await expect(description).to_have_value("Ideas for **fewer interruptions** at work.")
    await description.fill("Ideas for a **quieter** office: phone booths, quiet hours, fewer meetings.")
    await manager.get_by_role("button", name="Save settings").click()
    await expect(flash(manager)).to_contain_text("Settings saved.")
    await expect(description).to_have_value(
        "Ideas for a **quieter** office: phone booths, quiet hours, fewer meetings."
    )

    await expect(manager.locator("img.campaign-banner")).to_have_count(0)
    await manager.get_by_label("Banner", exact=True).set_input_files(banner_png(tmp_path))
    await manager.get_by_role("button", name="Upload banner").click()
    await expect(flash(manager)).to_contain_text("The banner is updated.")
    await expect(manager).to_have_url(re.compile(rf"/campaigns/{SLUG}/settings$"))
    assert await wait_for_image(manager, "img.campaign-banner") == 1200
    await screenshot(manager, "campaign-settings-with-banner")

    await campaign_tabs(manager).get_by_role("link", name="Members").click()
    await expect(manager.get_by_role("heading", name="Members (1)")).to_be_visible()
    await expect(manager.get_by_role("row").filter(has_text=manager_email)).to_contain_text("Manager")
    # Sending nothing is refused in place, and the page stays the members page.
    await manager.get_by_role("button", name="Send invitations").click()
    await expect(manager.get_by_text("Add at least one address.")).to_be_visible()
    await expect(manager.get_by_label("Email addresses", exact=True)).to_be_focused()
    await expect(manager).to_have_url(re.compile(rf"/campaigns/{SLUG}/members$"))
    await expect(campaign_tabs(manager).get_by_role("link", name="Members")).to_have_attribute("aria-current", "page")
    await manager.get_by_label("Email addresses", exact=True).fill(newcomer_email)
    await manager.get_by_role("button", name="Send invitations").click()
    await expect(flash(manager)).to_contain_text("Invited 1.")
    invitation_row = manager.get_by_role("row").filter(has_text=newcomer_email)
    await expect(invitation_row).to_contain_text("Pending")
    await expect(invitation_row.get_by_role("button", name=f"Resend to {newcomer_email}")).to_be_visible()
    await expect(invitation_row.get_by_role("button", name=f"Revoke invitation to {newcomer_email}")).to_be_visible()
    await screenshot(manager, "campaign-members-with-invitation")

    await campaign_tabs(manager).get_by_role("link", name="Settings").click()
    await manager.get_by_role("button", name="Activate campaign").click()
    await expect(flash(manager)).to_contain_text(
        "The campaign is active: members have their coins and can submit ideas."
    )
    await expect(manager).to_have_url(re.compile(rf"/campaigns/{SLUG}$"))
    await expect(manager.locator(".campaign-header .status")).to_have_text("Active")
    await expect(manager.locator(".prose")).to_contain_text("Ideas for a quieter office")
    await expect(manager.get_by_role("region", name="Your coins in this campaign")).to_contain_text(
        f"{COINS} available"
    )
    await campaign_tabs(manager).get_by_role("link", name="Settings").click()
    await expect(manager.get_by_text("This campaign is active.")).to_be_visible()
    await expect(manager.get_by_role("button", name="Activate campaign")).to_have_count(0)
    await expect(manager.get_by_label("Coins per member")).to_be_disabled()  # frozen while it runs

    # 3. The admin reads the invitation in the outbox (no SMTP server here). ------------------------------
    await header(admin).get_by_role("link", name="Admin", exact=True).click()
    await admin.get_by_role("navigation", name="Admin").get_by_role("link", name="Outbox").click()
    await expect(admin.get_by_role("heading", name="Outbox")).to_be_visible()
    row = admin.get_by_role("row").filter(has_text=newcomer_email)
    await expect(row).to_have_count(1)
    await row.get_by_role("link", name=f"You are invited to “{TITLE}”").click()
    await expect(admin.get_by_role("heading", name="Links in this email")).to_be_visible()
    await expect(admin.locator(".email-body")).to_contain_text(
        f"Margaret Hamilton invites you to take part in “{TITLE}”"
    )
    link = admin.get_by_role("link", name="/invitations/")
    await expect(link).to_have_count(1)
    invitation_url = await link.get_attribute("href")
    base_url = admin.url.split("/admin/")[0]
    assert invitation_url and invitation_url.startswith(base_url + "/invitations/"), invitation_url

    # 4. The newcomer, who has no account, opens the link and signs up and joins in one step. ------------
    newcomer = await (await new_context()).new_page()
    await newcomer.goto(invitation_url)
    await expect(newcomer.get_by_role("heading", name=f"Join “{TITLE}”")).to_be_visible()
    await expect(newcomer.get_by_role("main")).to_contain_text(f"The invitation was sent to {newcomer_email}")
    await expect(newcomer.get_by_label("Email")).to_have_value(newcomer_email)
    await expect(newcomer.get_by_label("Email")).to_have_attribute("readonly", "")
    await screenshot(newcomer, "campaign-invitation-landing")

    await newcomer.get_by_label("Your name").fill("Nina Newcomer")
    password = newcomer.get_by_label("Password")
    await password.fill("weak")
    await newcomer.get_by_role("button", name="Create account and join").click()
    rule = newcomer.get_by_text(PASSWORD_RULE)
    await expect(rule).to_be_visible()
    await expect(password).to_have_attribute("aria-invalid", "true")
    await expect(password).to_have_accessible_description(re.compile(PASSWORD_RULE))
    field_box, rule_box = await password.bounding_box(), await rule.bounding_box()
    assert field_box and rule_box
    assert 0 <= rule_box["y"] - (field_box["y"] + field_box["height"]) < 40, (field_box, rule_box)
    await expect(password).to_be_focused()  # the keyboard lands on the field to correct
    await expect(newcomer.get_by_label("Your name")).to_have_value("Nina Newcomer")
    await expect(password).to_have_value("")
    await expect(header(newcomer).get_by_role("link", name="Log in")).to_be_visible()
    await screenshot(newcomer, "campaign-invitation-weak-password")

    await password.fill(PASSWORD)
    await newcomer.get_by_role("button", name="Create account and join").click()
    await expect(flash(newcomer)).to_contain_text(f"You joined “{TITLE}”.")
    await expect(newcomer).to_have_url(re.compile(rf"/campaigns/{SLUG}$"))
    await expect(header(newcomer).get_by_role("link", name="Nina", exact=True)).to_be_visible()
    await expect(newcomer.get_by_text("You are a member of this campaign.")).to_be_visible()
    balance = newcomer.get_by_role("region", name="Your coins in this campaign")
    await expect(balance.locator("div")).to_have_text([f"{COINS} available", "0 on ideas", "0 spent"])
    await expect(newcomer.locator(".campaign-header")).to_contain_text("2 members")
    assert await wait_for_image(newcomer, "img.campaign-banner") == 1200
    # A member sees neither the member list nor the manager's tabs.
    for tab in ("Members", "Tags", "Settings"):
        await expect(campaign_tabs(newcomer).get_by_role("link", name=tab)).to_have_count(0)
    await screenshot(newcomer, "campaign-member-home")

    # 5. The link worked once. -------------------------------------------------------------------------
    response = await newcomer.goto(invitation_url)
    assert response is not None and response.status == 400
    await expect(newcomer.get_by_text(INVALID_LINK)).to_be_visible()
    await expect(newcomer.get_by_label("Password")).to_have_count(0)

    # The manager sees the invitation used and the newcomer among the members.
    await manager.goto(f"/campaigns/{SLUG}/members")
    await expect(manager.get_by_role("heading", name="Members (2)")).to_be_visible()
    await expect(manager.get_by_role("row").filter(has_text=newcomer_email).first).to_be_visible()
    await expect(manager.get_by_role("table").last.get_by_role("row").filter(has_text=newcomer_email)).to_contain_text(
        "Accepted"
    )

    # Someone signed in but not invited cannot tell the closed campaign exists.
    outsider = await (await new_context()).new_page()
    await log_in(outsider, outsider_email)
    await header(outsider).get_by_role("link", name="Campaigns").click()
    await expect(outsider.get_by_text("No campaigns to show.")).to_be_visible()
    response = await outsider.goto(f"/campaigns/{SLUG}")
    assert response is not None and response.status == 404
    await expect(outsider.get_by_role("heading", name="We could not find that page")).to_be_visible()
    await expect(outsider.get_by_text(TITLE)).to_have_count(0)


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_campaign_pages_have_no_serious_accessibility_violations(
    *,
    scheme: str,
    new_context: NewContext,
    register_user: RegisterUser,
    settings: Settings,
    live_server: AppProcess,
    db_engine: AsyncEngine,
    axe_source: str,
    screenshot: Screenshot,
    tmp_path: Path,
) -> None:
    """axe-core on every campaign page, filled with realistic data (set up through the JSON API)."""
    manager_email, newcomer_email = unique_email("manager"), unique_email("newcomer")
    await register_user(manager_email, "Margaret Hamilton")
    admin_email = unique_email("admin")
    await make_admin(settings, admin_email, PASSWORD)
    now = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=live_server.url) as api:
        admin_auth = await bearer(api, admin_email)
        created = await api.post(
            "/api/campaigns",
            headers=admin_auth,
            json={
                "slug": SLUG,
                "title": TITLE,
                "description": "Ideas for a **quieter** office:\n\n- phone booths\n- quiet hours",
                "campaign_type": "closed",
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(days=30)).isoformat(),
                "coin_policy": {
                    "initial_allocation": COINS,
                    "pricing": "quadratic",
                    "max_allocation_per_idea": 20,
                },
                "manager_emails": [manager_email],
            },
        )
        assert created.status_code == 201, created.text
        manager_auth = await bearer(api, manager_email)
        banner = banner_png(tmp_path).read_bytes()
        uploaded = await api.post(
            f"/api/campaigns/{SLUG}/banner",
            headers=manager_auth,
            files={"file": ("banner.png", banner, "image/png")},
        )
        assert uploaded.status_code == 200, uploaded.text
        parent = None
        for name, colour, kind in [("Noise", "#1d4ed8", "category"), ("Phone booths", "#15803d", "feature")]:
            tag = await api.post(
                f"/api/campaigns/{SLUG}/tags",
                headers=manager_auth,
                json={"name": name, "colour": colour, "kind": kind, "parent_id": parent},
            )
            assert tag.status_code == 201, tag.text
            parent = tag.json()["id"]
        invited = await api.post(
            f"/api/campaigns/{SLUG}/members", headers=manager_auth, json={"emails": [newcomer_email]}
        )
        assert invited.status_code == 200, invited.text
        activated = await api.post(f"/api/campaigns/{SLUG}/activate", headers=manager_auth)
        assert activated.status_code == 200, activated.text
    link = await invitation_link(db_engine, newcomer_email)

    audit = Audit(axe_source, screenshot, "" if scheme == "light" else "-dark")

    async def open_page() -> Page:
        # bypass_csp lets this test, and only this one, add axe's script to the pages.
        context: BrowserContext = await new_context(bypass_csp=True, color_scheme=scheme)
        return await context.new_page()

    admin = await open_page()
    await log_in(admin, admin_email)
    await admin.goto("/campaigns/new")
    await audit.check(admin, "campaign-a11y-new")

    manager = await open_page()
    await log_in(manager, manager_email)
    for path, name in [
        ("/campaigns", "list"),
        (f"/campaigns/{SLUG}", "home"),
        (f"/campaigns/{SLUG}/settings", "settings"),
        (f"/campaigns/{SLUG}/members", "members"),
        (f"/campaigns/{SLUG}/tags", "tags"),
    ]:
        await manager.goto(path)
        await audit.check(manager, f"campaign-a11y-{name}")
    # Forms with their error messages in place.
    await manager.get_by_role("button", name="Add tag").click()
    await expect(manager.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    await audit.check(manager, "campaign-a11y-tags-errors")
    await manager.goto(f"/campaigns/{SLUG}/members")
    await manager.get_by_role("button", name="Send invitations").click()
    await expect(manager.get_by_label("Email addresses", exact=True)).to_have_attribute("aria-invalid", "true")
    await audit.check(manager, "campaign-a11y-members-errors")

    newcomer = await open_page()
    await newcomer.goto(link)
    await audit.check(newcomer, "campaign-a11y-invitation")
    await newcomer.get_by_label("Your name").fill("Nina Newcomer")
    await newcomer.get_by_label("Password").fill("weak")
    await newcomer.get_by_role("button", name="Create account and join").click()
    await expect(newcomer.get_by_text(PASSWORD_RULE)).to_be_visible()
    await audit.check(newcomer, "campaign-a11y-invitation-errors")
    await newcomer.get_by_label("Password").fill(PASSWORD)
    await newcomer.get_by_role("button", name="Create account and join").click()
    await expect(newcomer.get_by_role("region", name="Your coins in this campaign")).to_contain_text(
        f"{COINS} available"
    )
    await audit.check(newcomer, "campaign-a11y-member-home")
    await newcomer.goto(link)
    await expect(newcomer.get_by_text(INVALID_LINK)).to_be_visible()
    await audit.check(newcomer, "campaign-a11y-invitation-used")

    audit.assert_clean()
