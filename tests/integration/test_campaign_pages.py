"""Campaign pages as a browser without JavaScript uses them."""

from __future__ import annotations

import re

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.mail.models import EmailMessage
from coins.settings import Settings
from tests.conftest import PASSWORD, register
from tests.support.factories import Actors, create_campaign
from tests.support.forms import csrf_token, log_in, submit
from tests.support.servers import unique_email


@pytest.fixture
async def actors(client: AsyncTestClient[Litestar], settings: Settings) -> Actors:
    return await Actors(client, settings).setup()


async def test_admin_creates_a_campaign_with_the_form(client: AsyncTestClient[Litestar], actors: Actors) -> None:
    manager_email, _ = await actors.person("manager")
    await log_in(client, actors.admin_email, PASSWORD)
    bad = await submit(
        client, "/campaigns/new", slug="Bad Slug", title="", starts_at="2026-12-01T10:00",
        ends_at="2026-11-01T10:00", initial_allocation="lots", min_allocation_amount="1",
        idea_submission_reward="0", pricing="linear", campaign_type="open",
    )  # fmt: skip
    assert bad.status_code == 422
    assert "Enter a whole number." in bad.text
    ok = await submit(
        client, "/campaigns/new", slug="tree-planting", title="Tree planting", description="Plant **trees**",
        starts_at="2026-01-01T09:00", ends_at="2030-01-01T09:00", initial_allocation="60",
        min_allocation_amount="1", idea_submission_reward="5", pricing="quadratic", campaign_type="mediated",
        allow_reallocation="on", manager_emails=f"{manager_email}, newcomer@example.org",
    )  # fmt: skip
    assert ok.status_code == 303, ok.text
    assert ok.headers["location"] == "/campaigns/tree-planting/settings"
    settings_page = await client.get("/campaigns/tree-planting/settings")
    assert "is created as a draft" in settings_page.text
    assert 'value="60"' in settings_page.text
    assert "Activate campaign" in settings_page.text
    members = await client.get("/campaigns/tree-planting/members")
    assert manager_email in members.text
    assert "newcomer@example.org" in members.text  # invited as a manager


async def test_manager_invites_activates_and_member_signs_up_through_the_link(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    manager_email, _ = await actors.person("manager")
    await create_campaign(
        client, actors.admin, slug="closed-club", campaign_type="closed", manager_emails=[manager_email]
    )
    client.cookies = httpx.Cookies()
    await log_in(client, manager_email, PASSWORD)
    page = await client.get("/campaigns/closed-club/members")
    newcomer = unique_email("newcomer")
    invited = await client.post(
        "/campaigns/closed-club/invitations",
        data={"_csrf_token": csrf_token(page.text), "emails": "not-an-address"},
        files={"csv": ("people.csv", f"email\n{newcomer}\n".encode(), "text/csv")},
        follow_redirects=False,
    )
    assert invited.status_code == 303
    members_page = await client.get("/campaigns/closed-club/members")
    assert "Invited 1" in members_page.text
    assert "not valid: not-an-address" in members_page.text
    activated = await submit(
        client, "/campaigns/closed-club/settings", action="/campaigns/closed-club/status", status="active"
    )
    assert activated.status_code == 303

    async with db_engine.connect() as conn:
        body = await conn.scalar(select(EmailMessage.body_text).where(EmailMessage.to_address == newcomer))
    link = re.search(r"http://[^/]+(/invitations/[\w-]+)", body).group(1)

    client.cookies = httpx.Cookies()  # the newcomer's own browser
    landing = await client.get(link)
    assert "Create your account" in landing.text
    assert newcomer in landing.text
    weak = await submit(client, link, full_name="Newcomer", password="weak")
    assert weak.status_code == 422
    assert "The password needs" in weak.text
    joined = await submit(client, link, full_name="New Comer", password=PASSWORD)
    assert joined.status_code == 303
    assert joined.headers["location"] == "/campaigns/closed-club"
    home = await client.get("/campaigns/closed-club")
    assert "You joined" in home.text
    assert re.search(r'<span class="balance-number">100</span> <span>available</span>', home.text)
    used = await client.get(link)
    assert used.status_code == 400


async def test_visitors_join_open_campaigns_and_never_see_closed_ones(
    client: AsyncTestClient[Litestar], actors: Actors
) -> None:
    manager_email, manager = await actors.person("manager")
    await create_campaign(client, actors.admin, slug="open-house", manager_emails=[manager_email])
    await create_campaign(
        client, actors.admin, slug="hidden-club", campaign_type="closed", manager_emails=[manager_email]
    )
    for slug in ("open-house", "hidden-club"):
        await client.post(f"/api/campaigns/{slug}/activate", headers=manager)

    listing = await client.get("/campaigns")
    assert "open-house" in listing.text
    assert "hidden-club" not in listing.text
    assert (await client.get("/campaigns/hidden-club")).status_code == 404
    visitor_home = await client.get("/campaigns/open-house")
    assert "Log in" in visitor_home.text

    member_email = unique_email()
    await register(client, email=member_email)
    await log_in(client, member_email, PASSWORD)
    assert (await client.get("/campaigns/hidden-club")).status_code == 404
    joined = await submit(client, "/campaigns/open-house", action="/campaigns/open-house/join")
    assert joined.status_code == 303
    home = await client.get("/campaigns/open-house")
    assert "Welcome to" in home.text
    assert "Leave campaign" in home.text
    settings_page = await client.get("/campaigns/open-house/settings")
    assert settings_page.status_code == 403
    left = await submit(client, "/campaigns/open-house", action="/campaigns/open-house/leave")
    assert left.status_code == 303
    assert "Join this campaign" in (await client.get("/campaigns/open-house")).text


async def test_manager_manages_tags_with_the_form(client: AsyncTestClient[Litestar], actors: Actors) -> None:
    manager_email, _ = await actors.person("manager")
    await create_campaign(client, actors.admin, slug="tag-town", manager_emails=[manager_email])
    await log_in(client, manager_email, PASSWORD)
    added = await submit(client, "/campaigns/tag-town/tags", name="Transport", colour="#1f6feb", kind="category")
    assert added.status_code == 303
    duplicate = await submit(client, "/campaigns/tag-town/tags", name="transport", colour="#1f6feb", kind="feature")
    assert duplicate.status_code == 422
    assert "already has this name" in duplicate.text
    page = await client.get("/campaigns/tag-town/tags")
    tag_id = re.search(r'name="tag_id" value="([0-9a-f-]+)"', page.text).group(1)
    retired = await submit(client, "/campaigns/tag-town/tags", tag_id=tag_id, is_active="false")
    assert retired.status_code == 303
    assert "Retired" in (await client.get("/campaigns/tag-town/tags")).text


async def test_settings_freeze_in_the_form(
    client: AsyncTestClient[Litestar], actors: Actors, settings: Settings
) -> None:
    manager_email, manager = await actors.person("manager")
    await create_campaign(client, actors.admin, slug="frozen-form", manager_emails=[manager_email])
    await client.post("/api/campaigns/frozen-form/activate", headers=manager)
    await log_in(client, manager_email, PASSWORD)
    page = await client.get("/campaigns/frozen-form/settings")
    assert "Frozen while the campaign runs" in page.text
    # Even if a crafted form posts policy fields, a manager's save only changes title and description.
    saved = await submit(
        client,
        "/campaigns/frozen-form/settings",
        title="Renamed",
        description="New words",
        initial_allocation="5000",
        policy_form="1",
        pricing="quadratic",
    )
    assert saved.status_code == 303
    current = (await client.get("/api/campaigns/frozen-form", headers=manager)).json()
    assert current["title"] == "Renamed"
    assert current["coin_policy"]["initial_allocation"] == 100
    assert current["coin_policy"]["pricing"] == "linear"
