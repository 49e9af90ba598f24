"""The permission matrix of SPEC.md "People and roles", for every campaign endpoint and page.

Each row is one request; each column a role.  Every cell runs against a fresh campaign in the state the
row needs, so a request that succeeds (and changes something) never disturbs the next cell.  The test
collects every mismatch and reports them together as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.mail.models import EmailMessage
from coins.settings import Settings
from tests.support.factories import Actors, create_campaign

ROLES = ("visitor", "outsider", "member", "manager", "sponsor", "admin")


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    path: str  # {slug} is replaced by the fresh campaign's slug
    expected: tuple[int, ...]  # one status per role, in ROLES order
    state: str = "active"  # draft | active | completed
    campaign_type: str = "open"
    body: Any = None


ROWS = [
    Row("read open campaign", "GET", "/api/campaigns/{slug}", (200, 200, 200, 200, 200, 200)),
    Row("read closed campaign", "GET", "/api/campaigns/{slug}", (404, 404, 200, 200, 200, 200), campaign_type="closed"),
    Row("read draft campaign", "GET", "/api/campaigns/{slug}", (404, 404, 200, 200, 404, 200), state="draft"),
    Row("list includes it", "GET", "/api/campaigns?mine=false", (200, 200, 200, 200, 200, 200)),
    Row("change title", "PATCH", "/api/campaigns/{slug}", (401, 403, 403, 200, 403, 200), body={"title": "T2"}),
    Row("activate", "POST", "/api/campaigns/{slug}/activate", (401, 404, 403, 200, 404, 200), state="draft"),
    Row("complete", "POST", "/api/campaigns/{slug}/complete", (401, 403, 403, 200, 403, 200)),
    Row("archive", "POST", "/api/campaigns/{slug}/archive", (401, 403, 403, 403, 403, 200), state="completed"),
    Row("join open", "POST", "/api/campaigns/{slug}/join", (401, 200, 200, 200, 200, 200)),
    Row("join closed", "POST", "/api/campaigns/{slug}/join", (401, 404, 200, 200, 403, 403), campaign_type="closed"),
    Row("leave", "POST", "/api/campaigns/{slug}/leave", (401, 422, 200, 200, 422, 422)),
    Row("member list", "GET", "/api/campaigns/{slug}/members", (401, 403, 403, 200, 200, 200)),
    Row(
        "invite members", "POST", "/api/campaigns/{slug}/members", (401, 403, 403, 200, 403, 200),
        body={"emails": ["someone@example.org"]},
    ),
    Row(
        "invite a manager", "POST", "/api/campaigns/{slug}/members", (401, 403, 403, 403, 403, 200),
        body={"emails": ["lead@example.org"], "role": "manager"},
    ),
    Row(
        "assign managers", "POST", "/api/campaigns/{slug}/managers", (401, 403, 403, 403, 403, 200),
        body={"emails": ["lead@example.org"]},
    ),
    Row("invitations", "GET", "/api/campaigns/{slug}/invitations", (401, 403, 403, 200, 403, 200)),
    Row("read tags", "GET", "/api/campaigns/{slug}/tags", (200, 200, 200, 200, 200, 200)),
    Row("read tags, closed", "GET", "/api/campaigns/{slug}/tags", (404, 404, 200, 200, 200, 200), campaign_type="closed"),
    Row(
        "create tag", "POST", "/api/campaigns/{slug}/tags", (401, 403, 403, 201, 403, 201), body={"name": "Energy"}
    ),
    Row("my balance", "GET", "/api/campaigns/{slug}/coins/balance", (401, 403, 200, 200, 403, 403)),
    Row("campaign page", "GET", "/campaigns/{slug}", (200, 200, 200, 200, 200, 200)),
    Row("closed campaign page", "GET", "/campaigns/{slug}", (404, 404, 200, 200, 200, 200), campaign_type="closed"),
    Row("settings page", "GET", "/campaigns/{slug}/settings", (303, 403, 403, 200, 403, 200)),
    Row("members page", "GET", "/campaigns/{slug}/members", (303, 403, 403, 200, 200, 200)),
    Row("tags page", "GET", "/campaigns/{slug}/tags", (303, 403, 403, 200, 403, 200)),
    Row("new campaign page", "GET", "/campaigns/new", (303, 403, 403, 403, 403, 200)),
]  # fmt: skip


async def test_permission_matrix(client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine) -> None:
    actors = await Actors(client, settings).setup()
    manager_email, manager = await actors.person("manager")
    _, member = await actors.person("member")
    outsider_email, outsider = await actors.person("outsider")
    _, sponsor = await actors.person("sponsor")
    me = (await client.get("/api/auth/me", headers=sponsor)).json()
    granted = await client.post(
        f"/api/admin/users/{me['id']}/roles", json={"role": "sponsor", "granted": True}, headers=actors.admin
    )
    assert granted.status_code == 200
    # The outsider is a member elsewhere: membership of one campaign opens no other.
    await create_campaign(client, actors.admin, slug="elsewhere", manager_emails=[outsider_email])
    headers = {
        "visitor": {},
        "outsider": outsider,
        "member": member,
        "manager": manager,
        "sponsor": sponsor,
        "admin": actors.admin,
    }

    mismatches = []
    for row_number, row in enumerate(ROWS):
        for role, expected in zip(ROLES, row.expected, strict=True):
            slug = f"matrix-{row_number}-{role}"
            await create_campaign(
                client,
                actors.admin,
                slug=slug,
                campaign_type=row.campaign_type,
                manager_emails=[manager_email],
            )
            await client.post(
                f"/api/campaigns/{slug}/members",
                json={"emails": [await _email(client, member)]},
                headers=actors.admin,
            )
            await _accept_latest_invitation(client, db_engine, member)
            if row.state in {"active", "completed"}:
                assert (await client.post(f"/api/campaigns/{slug}/activate", headers=manager)).status_code == 200
            if row.state == "completed":
                assert (await client.post(f"/api/campaigns/{slug}/complete", headers=manager)).status_code == 200
            response = await client.request(
                row.method,
                row.path.format(slug=slug),
                json=row.body,
                headers=headers[role],
                follow_redirects=False,
            )
            if response.status_code != expected:
                mismatches.append(f"{row.name:<22} {role:<9} expected {expected}, got {response.status_code}")
            elif expected >= 400 and row.path.startswith("/api/"):
                assert response.json()["error_code"], response.text
    assert not mismatches, "permission matrix mismatches:\n" + "\n".join(mismatches)


async def _email(client: AsyncTestClient[Litestar], auth: dict[str, str]) -> str:
    return str((await client.get("/api/auth/me", headers=auth)).json()["email"])


async def _accept_latest_invitation(
    client: AsyncTestClient[Litestar], db_engine: AsyncEngine, member: dict[str, str]
) -> None:
    """Members join through an invitation (works for closed campaigns and drafts alike)."""
    email = await _email(client, member)
    async with db_engine.connect() as conn:
        body = await conn.scalar(
            select(EmailMessage.body_text)
            .where(EmailMessage.to_address == email, EmailMessage.kind == "invitation")
            .order_by(EmailMessage.created_at.desc())
            .limit(1)
        )
    token = body.split("/invitations/")[1].split()[0]
    accepted = await client.post("/api/invitations/accept", json={"token": token}, headers=member)
    assert accepted.status_code == 200, accepted.text
