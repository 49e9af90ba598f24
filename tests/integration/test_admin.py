"""The admin section and API: who may enter, users and roles, deactivation, the outbox."""

from __future__ import annotations

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.lib.audit import AuditEvent
from coins.settings import Settings
from tests.conftest import PASSWORD, make_admin, register, token_for
from tests.support.forms import csrf_token, log_in, submit
from tests.support.servers import unique_email


async def admin_token(client: AsyncTestClient[Litestar], settings: Settings) -> tuple[str, dict[str, str]]:
    email = unique_email("admin")
    await make_admin(settings, email)
    return email, {"Authorization": f"Bearer {await token_for(client, email)}"}


async def test_only_admins_enter(client: AsyncTestClient[Litestar], settings: Settings) -> None:
    visitor = await client.get("/admin", follow_redirects=False)
    assert visitor.status_code == 303
    assert visitor.headers["location"] == "/login?next=%2Fadmin"

    member = unique_email()
    await register(client, email=member)
    await log_in(client, member, PASSWORD)
    denied = await client.get("/admin/users")
    assert denied.status_code == 403
    assert "Only administrators" in denied.text
    api = await client.get("/api/admin/users", headers={"Authorization": f"Bearer {await token_for(client, member)}"})
    assert api.status_code == 403
    assert api.json()["error_code"] == "AUTH_002"


async def test_user_search_api_paginates(client: AsyncTestClient[Litestar], settings: Settings) -> None:
    _, auth = await admin_token(client, settings)
    for index in range(3):
        await register(client, email=f"searchable-{index}@example.org", name=f"Searchable {index}")
    found = await client.get("/api/admin/users", params={"q": "searchable", "limit": 2}, headers=auth)
    body = found.json()
    assert body["total"] == 3 and body["limit"] == 2 and len(body["items"]) == 2
    too_many = await client.get("/api/admin/users", params={"limit": 101}, headers=auth)
    assert too_many.status_code in {400, 422}
    assert too_many.json()["error_code"] == "VALIDATION_001"


async def test_role_change_applies_to_the_next_request_of_every_session(
    client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine
) -> None:
    _, auth = await admin_token(client, settings)
    member = await register(client, email=unique_email(), name="Rosalind Franklin")
    member_token = await token_for(client, member["email"])
    await log_in(client, member["email"], PASSWORD)
    assert (await client.get("/admin", follow_redirects=False)).status_code == 403
    assert "/admin" not in (await client.get("/")).text.split("<main")[0]

    granted = await client.post(
        f"/api/admin/users/{member['id']}/roles", json={"role": "admin", "granted": True}, headers=auth
    )
    assert granted.status_code == 200 and granted.json()["is_admin"] is True
    # Same browser session, no new log-in: the very next request sees the role.
    assert (await client.get("/admin")).status_code == 200
    assert 'href="/admin"' in (await client.get("/")).text
    # And the token issued before the change too.
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {member_token}"})
    assert me.json()["is_admin"] is True

    revoked = await client.post(
        f"/api/admin/users/{member['id']}/roles", json={"role": "admin", "granted": False}, headers=auth
    )
    assert revoked.json()["is_admin"] is False
    assert (await client.get("/admin")).status_code == 403

    async with db_engine.connect() as conn:
        actions = (await conn.execute(select(AuditEvent.action).order_by(AuditEvent.occurred_at))).scalars().all()
    assert actions.count("user.role_granted") == 1
    assert actions.count("user.role_revoked") == 1


async def test_admin_pages_grant_sponsor_and_deactivate(client: AsyncTestClient[Litestar], settings: Settings) -> None:
    admin_email, _ = await admin_token(client, settings)
    member = await register(client, email=unique_email(), name="Lise Meitner")
    member_session = httpx.Cookies()
    client.cookies = member_session
    await log_in(client, member["email"], PASSWORD)
    member_session = httpx.Cookies(client.cookies)

    client.cookies = httpx.Cookies()
    await log_in(client, admin_email, PASSWORD)
    listing = await client.get("/admin/users", params={"q": "meitner"})
    assert "Lise Meitner" in listing.text and "1 user " in listing.text
    fragment = await client.get(
        "/admin/users", params={"q": "meitner"}, headers={"HX-Request": "true", "HX-Target": "user-table"}
    )
    assert fragment.text.lstrip().startswith('<div id="user-table">')
    assert "<html" not in fragment.text
    assert "HX-Request" in fragment.headers["vary"]

    sponsor = await submit(
        client,
        f"/admin/users/{member['id']}",
        action=f"/admin/users/{member['id']}/roles",
        role="sponsor",
        granted="true",
    )
    assert sponsor.status_code == 303
    page = await client.get(f"/admin/users/{member['id']}")
    assert "Lise Meitner is now a sponsor." in page.text
    assert "Revoke sponsor role" in page.text

    deactivated = await submit(
        client, f"/admin/users/{member['id']}", action=f"/admin/users/{member['id']}/active", active="false"
    )
    assert deactivated.status_code == 303
    # The member's open session ends on its next request, and log-in is refused.
    client.cookies = member_session
    kicked = await client.get("/account", follow_redirects=False)
    assert kicked.status_code == 303
    refused = await client.post("/api/auth/token", json={"email": member["email"], "password": PASSWORD})
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "AUTH_005"


async def test_admin_cannot_lock_themselves_out(client: AsyncTestClient[Litestar], settings: Settings) -> None:
    email, auth = await admin_token(client, settings)
    me = (await client.get("/api/auth/me", headers=auth)).json()
    demote = await client.post(
        f"/api/admin/users/{me['id']}/roles", json={"role": "admin", "granted": False}, headers=auth
    )
    assert demote.status_code == 403
    deactivate = await client.post(f"/api/admin/users/{me['id']}/active", json={"is_active": False}, headers=auth)
    assert deactivate.status_code == 403
    assert (await client.get("/api/auth/me", headers=auth)).json()["is_admin"] is True
    unknown = await client.post(
        "/api/admin/users/00000000-0000-7000-8000-000000000000/roles",
        json={"role": "sponsor", "granted": True},
        headers=auth,
    )
    assert unknown.status_code == 404
    assert email


async def test_outbox_lists_and_shows_emails(client: AsyncTestClient[Litestar], settings: Settings) -> None:
    admin_email, _ = await admin_token(client, settings)
    member = unique_email()
    await register(client, email=member)
    await client.post("/api/auth/password-reset", json={"email": member})
    await log_in(client, admin_email, PASSWORD)
    outbox = await client.get("/admin/outbox")
    assert member in outbox.text
    assert "Reset your Coins for Change password" in outbox.text
    message_link = outbox.text.split('href="/admin/outbox/')[1].split('"')[0]
    message = await client.get(f"/admin/outbox/{message_link}")
    assert "/password/reset/" in message.text
    assert csrf_token(message.text)
