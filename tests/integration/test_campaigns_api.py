"""Campaigns through the JSON API: creation, settings, lifecycle, membership, invitations, tags, images."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.campaigns.models import Invitation
from coins.coins.models import CoinBalance, LedgerEntry
from coins.mail.models import EmailMessage
from coins.settings import Settings
from tests.support.factories import Actors, campaign_body, create_campaign
from tests.support.servers import unique_email


@pytest.fixture
async def actors(client: AsyncTestClient[Litestar], settings: Settings) -> Actors:
    return await Actors(client, settings).setup()


async def last_email_to(db_engine: AsyncEngine, address: str) -> str:
    async with db_engine.connect() as conn:
        body = await conn.scalar(
            select(EmailMessage.body_text)
            .where(EmailMessage.to_address == address)
            .order_by(EmailMessage.created_at.desc())
            .limit(1)
        )
    assert body, f"no email to {address}"
    return str(body)


def token_in(body: str) -> str:
    return re.search(r"/invitations/([\w-]+)", body).group(1)


async def test_admin_creates_with_policy_and_managers(client: AsyncTestClient[Litestar], actors: Actors) -> None:
    manager_email, manager = await actors.person("manager")
    outsider = unique_email("future-manager")
    created = await create_campaign(
        client,
        actors.admin,
        slug="green-office",
        coin_policy={"initial_allocation": 50, "pricing": "quadratic", "max_allocation_per_idea": 20},
        manager_emails=[manager_email, outsider],
    )
    assert created["status"] == "draft"
    assert created["coin_policy"] == {
        "initial_allocation": 50,
        "idea_submission_reward": 0,
        "allow_reallocation": True,
        "allow_recycling": True,
        "max_allocation_per_idea": 20,
        "min_allocation_amount": 1,
        "pricing": "quadratic",
    }
    assert "<strong>cut</strong>" in created["description_html"]
    # The existing account manages it at once; the unknown address got a manager invitation.
    mine = await client.get("/api/campaigns/green-office", headers=manager)
    assert mine.json()["my_role"] == "manager"
    invitations = (await client.get("/api/campaigns/green-office/invitations", headers=actors.admin)).json()
    assert [(i["email"], i["role"], i["status"]) for i in invitations["items"]] == [(outsider, "manager", "pending")]


async def test_only_admins_create_and_input_is_checked(client: AsyncTestClient[Litestar], actors: Actors) -> None:
    _, member = await actors.person()
    refused = await client.post("/api/campaigns", json=campaign_body(), headers=member)
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "AUTH_002"

    now = datetime.now(UTC)
    backwards = await client.post(
        "/api/campaigns",
        json=campaign_body(starts_at=now.isoformat(), ends_at=(now - timedelta(days=1)).isoformat()),
        headers=actors.admin,
    )
    assert backwards.status_code == 422
    assert "ends_at" in backwards.json()["details"]["fields"]
    bad_slug = await client.post("/api/campaigns", json=campaign_body(slug="Not A Slug"), headers=actors.admin)
    assert bad_slug.status_code in {400, 422}
    assert bad_slug.json()["error_code"] == "VALIDATION_001"
    bad_policy = await client.post(
        "/api/campaigns",
        json=campaign_body(coin_policy={"min_allocation_amount": 10, "max_allocation_per_idea": 5}),
        headers=actors.admin,
    )
    assert "max_allocation_per_idea" in bad_policy.json()["details"]["fields"]
    await create_campaign(client, actors.admin, slug="taken")
    duplicate = await client.post("/api/campaigns", json=campaign_body(slug="taken"), headers=actors.admin)
    assert duplicate.status_code == 409
    assert duplicate.json()["error_code"] == "CAMPAIGN_006"


async def test_lifecycle_with_actors_and_invalid_transitions(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    manager_email, manager = await actors.person("manager")
    await create_campaign(client, actors.admin, slug="life", manager_emails=[manager_email])
    _, member = await actors.person()

    for target in ("complete", "archive"):
        wrong = await client.post(f"/api/campaigns/life/{target}", headers=actors.admin)
        assert wrong.status_code == 409
        assert wrong.json()["error_code"] == "CAMPAIGN_003"
    assert (await client.post("/api/campaigns/life/activate", headers=member)).status_code == 404  # draft: hidden

    activated = await client.post("/api/campaigns/life/activate", headers=manager)
    assert activated.json()["status"] == "active"
    again = await client.post("/api/campaigns/life/activate", headers=manager)
    assert again.status_code == 409

    assert (await client.post("/api/campaigns/life/complete", headers=member)).status_code == 403
    assert (await client.post("/api/campaigns/life/complete", headers=manager)).json()["status"] == "completed"
    # Archiving is for admins only.
    assert (await client.post("/api/campaigns/life/archive", headers=manager)).status_code == 403
    assert (await client.post("/api/campaigns/life/archive", headers=actors.admin)).json()["status"] == "archived"
    frozen = await client.patch("/api/campaigns/life", json={"title": "New"}, headers=manager)
    assert frozen.status_code == 403

    async with db_engine.connect() as conn:
        status = await conn.scalar(text("SELECT status FROM campaigns WHERE slug = 'life'"))
    assert status == "archived"


async def test_core_settings_freeze_once_active_except_for_admins(
    client: AsyncTestClient[Litestar], actors: Actors
) -> None:
    manager_email, manager = await actors.person("manager")
    await create_campaign(client, actors.admin, slug="freeze", manager_emails=[manager_email])
    draft_change = await client.patch(
        "/api/campaigns/freeze",
        json={"coin_policy": {"initial_allocation": 70}, "campaign_type": "mediated"},
        headers=manager,
    )
    assert draft_change.json()["coin_policy"]["initial_allocation"] == 70
    await client.post("/api/campaigns/freeze/activate", headers=manager)

    frozen = await client.patch(
        "/api/campaigns/freeze", json={"coin_policy": {"pricing": "quadratic"}}, headers=manager
    )
    assert frozen.status_code == 409
    assert frozen.json()["error_code"] == "CAMPAIGN_004"
    assert "pricing" in frozen.json()["details"]["fields"]
    allowed = await client.patch(
        "/api/campaigns/freeze", json={"title": "Freeze, renamed", "description": "# Hi"}, headers=manager
    )
    assert allowed.json()["title"] == "Freeze, renamed"
    assert allowed.json()["description_html"].startswith("<h1>")
    admin_change = await client.patch(
        "/api/campaigns/freeze", json={"coin_policy": {"max_allocation_per_idea": None}}, headers=actors.admin
    )
    assert admin_change.status_code == 200
    assert (await client.get("/api/campaigns/freeze", headers=manager)).json()["coin_policy"]["pricing"] == "linear"


async def test_visibility_and_closed_campaigns_are_404_to_outsiders(
    client: AsyncTestClient[Litestar], actors: Actors, settings: Settings
) -> None:
    manager_email, manager = await actors.person("manager")
    await create_campaign(client, actors.admin, slug="public-one", manager_emails=[manager_email])
    await create_campaign(
        client, actors.admin, slug="secret-one", campaign_type="closed", manager_emails=[manager_email]
    )
    for slug in ("public-one", "secret-one"):
        await client.post(f"/api/campaigns/{slug}/activate", headers=manager)
    await create_campaign(client, actors.admin, slug="still-draft")
    _, outsider = await actors.person()

    anonymous = {c["slug"] for c in (await client.get("/api/campaigns")).json()["items"]}
    assert anonymous == {"public-one"}
    assert (await client.get("/api/campaigns/secret-one")).status_code == 404
    hidden = await client.get("/api/campaigns/secret-one", headers=outsider)
    assert hidden.status_code == 404
    assert hidden.json()["error_code"] == "CAMPAIGN_001"
    assert (await client.post("/api/campaigns/secret-one/join", headers=outsider)).status_code == 404
    assert (await client.get("/api/campaigns/still-draft", headers=outsider)).status_code == 404

    as_manager = {c["slug"] for c in (await client.get("/api/campaigns", headers=manager)).json()["items"]}
    assert as_manager == {"public-one", "secret-one"}
    as_admin = {c["slug"] for c in (await client.get("/api/campaigns", headers=actors.admin)).json()["items"]}
    assert as_admin == {"public-one", "secret-one", "still-draft"}
    mine = (await client.get("/api/campaigns", params={"mine": "true"}, headers=manager)).json()
    assert mine["total"] == 2


async def test_activation_and_joining_grant_initial_coins_once(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    manager_email, manager = await actors.person("manager")
    await create_campaign(
        client,
        actors.admin,
        slug="coins",
        manager_emails=[manager_email],
        coin_policy={"initial_allocation": 40},
    )
    early_email, early = await actors.person()
    await client.post("/api/campaigns/coins/members", json={"emails": [early_email]}, headers=manager)
    accepted = await client.post(
        "/api/invitations/accept",
        json={"token": token_in(await last_email_to(db_engine, early_email))},
        headers=early,
    )
    assert accepted.json()["my_role"] == "member"
    before = (await client.get("/api/campaigns/coins/coins/balance", headers=early)).json()
    assert before == {"granted": 0, "available": 0, "allocated": 0, "expended": 0}

    await client.post("/api/campaigns/coins/activate", headers=manager)
    assert (await client.get("/api/campaigns/coins/coins/balance", headers=early)).json()["available"] == 40

    _, late = await actors.person()
    joined = await client.post("/api/campaigns/coins/join", headers=late)
    assert joined.json()["my_role"] == "member"
    assert (await client.get("/api/campaigns/coins/coins/balance", headers=late)).json()["granted"] == 40
    # Leaving and joining again does not grant twice.
    assert (await client.post("/api/campaigns/coins/leave", headers=late)).json()["my_role"] is None
    await client.post("/api/campaigns/coins/join", headers=late)
    assert (await client.get("/api/campaigns/coins/coins/balance", headers=late)).json()["granted"] == 40
    history = (await client.get("/api/campaigns/coins/coins/history", headers=late)).json()
    assert [(e["kind"], e["amount"]) for e in history["items"]] == [("grant", 40)]

    async with db_engine.connect() as conn:
        grants = await conn.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "grant"))
        total = await conn.scalar(select(func.sum(CoinBalance.granted)))
    assert grants == 3  # manager, early member, late member
    assert total == 120


async def test_the_database_refuses_inconsistent_balances_and_ledger_edits(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    """Even code that bypasses the service cannot break a balance or rewrite history."""
    manager_email, manager = await actors.person("manager")
    await create_campaign(client, actors.admin, slug="guarded", manager_emails=[manager_email])
    await client.post("/api/campaigns/guarded/activate", headers=manager)
    for statement, message in [
        ("UPDATE coin_ledger SET amount = amount + 1", "append-only"),
        ("DELETE FROM coin_ledger", "append-only"),
        ("UPDATE coin_balances SET available = -1, granted = granted - 101", "available_non_negative"),
        ("UPDATE coin_balances SET available = available + 1", "granted_is_sum"),
    ]:
        async with db_engine.connect() as conn:
            with pytest.raises(Exception, match=message):
                await conn.execute(text(statement))
            await conn.rollback()
    balance = (await client.get("/api/campaigns/guarded/coins/balance", headers=manager)).json()
    assert balance == {"granted": 100, "available": 100, "allocated": 0, "expended": 0}


async def test_invitations_single_use_expiry_resend_revoke(
    client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine
) -> None:
    manager_email, manager = await actors.person("manager")
    await create_campaign(client, actors.admin, slug="invites", campaign_type="closed", manager_emails=[manager_email])
    await client.post("/api/campaigns/invites/activate", headers=manager)
    alice_email, alice = await actors.person("alice")
    bob_email, bob = await actors.person("bob")

    result = await client.post(
        "/api/campaigns/invites/members",
        json={"emails": [alice_email, bob_email, "not-an-email", manager_email, alice_email.upper()]},
        headers=manager,
    )
    assert result.json() == {
        "invited": [alice_email, bob_email],
        "resent": [],
        "already_members": [manager_email],
        "invalid": ["not-an-email"],
    }
    alice_token = token_in(await last_email_to(db_engine, alice_email))
    wrong_person = await client.post("/api/invitations/accept", json={"token": alice_token}, headers=bob)
    assert wrong_person.status_code == 403
    assert (await client.post("/api/invitations/accept", json={"token": alice_token}, headers=alice)).status_code == 200
    reused = await client.post("/api/invitations/accept", json={"token": alice_token}, headers=alice)
    assert reused.json()["error_code"] == "CAMPAIGN_005"
    assert (await client.get("/api/campaigns/invites/coins/balance", headers=alice)).json()["available"] == 100

    # Resend issues a new link; the old one stops working.
    bob_first = token_in(await last_email_to(db_engine, bob_email))
    bob_invitation = next(
        i
        for i in (await client.get("/api/campaigns/invites/invitations", headers=manager)).json()["items"]
        if i["email"] == bob_email
    )
    resent = await client.post(f"/api/invitations/{bob_invitation['id']}/resend", headers=manager)
    assert resent.json()["send_count"] == 2
    bob_second = token_in(await last_email_to(db_engine, bob_email))
    assert bob_second != bob_first
    assert (await client.post("/api/invitations/accept", json={"token": bob_first}, headers=bob)).status_code == 400

    # Expired after 7 days.
    async with db_engine.begin() as conn:
        await conn.execute(
            update(Invitation).where(Invitation.email == bob_email).values(expires_at=datetime(2000, 1, 1, tzinfo=UTC))
        )
    assert (await client.post("/api/invitations/accept", json={"token": bob_second}, headers=bob)).status_code == 400
    statuses = {
        i["email"]: i["status"]
        for i in (await client.get("/api/campaigns/invites/invitations", headers=manager)).json()["items"]
    }
    assert statuses == {alice_email: "accepted", bob_email: "expired"}

    # Revoke a fresh one.
    carol_email, carol = await actors.person("carol")
    await client.post("/api/campaigns/invites/members", json={"emails": [carol_email]}, headers=manager)
    carol_token = token_in(await last_email_to(db_engine, carol_email))
    carol_invitation = next(
        i
        for i in (await client.get("/api/campaigns/invites/invitations", headers=manager)).json()["items"]
        if i["email"] == carol_email
    )
    assert (await client.post(f"/api/invitations/{carol_invitation['id']}/revoke", headers=bob)).status_code in {
        403,
        404,
    }
    revoked = await client.post(f"/api/invitations/{carol_invitation['id']}/revoke", headers=manager)
    assert revoked.json()["status"] == "revoked"
    assert (await client.post("/api/invitations/accept", json={"token": carol_token}, headers=carol)).status_code == 400
    assert (await client.get("/api/campaigns/invites", headers=carol)).status_code == 404


async def test_only_admins_invite_managers(client: AsyncTestClient[Litestar], actors: Actors) -> None:
    manager_email, manager = await actors.person("manager")
    await create_campaign(client, actors.admin, slug="roles", manager_emails=[manager_email])
    refused = await client.post(
        "/api/campaigns/roles/members", json={"emails": [unique_email()], "role": "manager"}, headers=manager
    )
    assert refused.status_code == 403
    other_email, other = await actors.person()
    made = await client.post("/api/campaigns/roles/managers", json={"emails": [other_email]}, headers=actors.admin)
    assert made.json()["already_members"] == [other_email]
    assert (await client.get("/api/campaigns/roles", headers=other)).json()["my_role"] == "manager"
    members = (await client.get("/api/campaigns/roles/members", headers=manager)).json()
    assert {(m["email"], m["role"]) for m in members["items"]} == {
        (manager_email, "manager"),
        (other_email, "manager"),
    }


async def test_tags(client: AsyncTestClient[Litestar], actors: Actors) -> None:
    manager_email, manager = await actors.person("manager")
    await create_campaign(client, actors.admin, slug="tagged", manager_emails=[manager_email])
    await client.post("/api/campaigns/tagged/activate", headers=manager)
    parent = (
        await client.post("/api/campaigns/tagged/tags", json={"name": "Energy", "colour": "#1F6FEB"}, headers=manager)
    ).json()
    assert parent["colour"] == "#1f6feb"
    child = (
        await client.post(
            "/api/campaigns/tagged/tags",
            json={"name": "Solar", "kind": "feature", "parent_id": parent["id"]},
            headers=manager,
        )
    ).json()
    duplicate = await client.post("/api/campaigns/tagged/tags", json={"name": "energy"}, headers=manager)
    assert duplicate.status_code == 422
    assert "name" in duplicate.json()["details"]["fields"]
    cycle = await client.patch(
        f"/api/campaigns/tagged/tags/{parent['id']}", json={"parent_id": child["id"]}, headers=manager
    )
    assert cycle.status_code == 422
    retired = await client.patch(
        f"/api/campaigns/tagged/tags/{child['id']}", json={"is_active": False}, headers=manager
    )
    assert retired.json()["is_active"] is False
    everything = (await client.get("/api/campaigns/tagged/tags")).json()
    assert {t["name"] for t in everything["items"]} == {"Energy", "Solar"}
    offered = (await client.get("/api/campaigns/tagged/tags", params={"active": "true"})).json()
    assert [t["name"] for t in offered["items"]] == ["Energy"]
    _, member = await actors.person()
    assert (await client.post("/api/campaigns/tagged/tags", json={"name": "Mine"}, headers=member)).status_code == 403


def image_bytes(kind: str = "PNG", size: tuple[int, int] = (200, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (240, 180, 40)).save(buffer, format=kind)
    return buffer.getvalue()


async def test_banner_and_icon_uploads(client: AsyncTestClient[Litestar], actors: Actors, settings: Settings) -> None:
    manager_email, manager = await actors.person("manager")
    await create_campaign(client, actors.admin, slug="pictures", manager_emails=[manager_email])
    banner = await client.post(
        "/api/campaigns/pictures/banner",
        files={"file": ("b.png", image_bytes(), "image/png")},
        headers=manager,
    )
    assert banner.status_code == 200, banner.text
    url = banner.json()["banner_url"]
    assert url.startswith("/media/campaigns/") and url.endswith(".png")
    served = await client.get(url)
    assert served.status_code == 200
    assert served.content == image_bytes()

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    refused = await client.post(
        "/api/campaigns/pictures/icon", files={"file": ("x.png", svg, "image/png")}, headers=manager
    )
    assert refused.status_code == 422
    assert "PNG, JPEG, WebP or GIF" in refused.json()["details"]["fields"]["icon"]
    huge = await client.post(
        "/api/campaigns/pictures/icon",
        files={"file": ("big.png", image_bytes(size=(1500, 1500)), "image/png")},
        headers=manager,
    )
    assert huge.status_code == 422
    icon = await client.post(
        "/api/campaigns/pictures/icon",
        files={"file": ("i.jpg", image_bytes("JPEG", (64, 64)), "image/jpeg")},
        headers=manager,
    )
    assert icon.json()["icon_url"].endswith(".jpg")
    # Replacing the banner removes the old file.
    old_file = settings.media_path / url.removeprefix("/media/")
    assert old_file.exists()
    await client.post(
        "/api/campaigns/pictures/banner",
        files={"file": ("b.gif", image_bytes("GIF"), "image/gif")},
        headers=manager,
    )
    assert not old_file.exists()
