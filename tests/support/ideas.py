"""The cast and the campaigns the idea tests share, made through the real API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.settings import Settings
from tests.support.factories import Actors, create_campaign

ROLES = ("author", "member", "fan", "manager", "admin", "sponsor", "outsider", "visitor")


@dataclass
class Person:
    email: str
    headers: dict[str, str]
    id: UUID | None


@dataclass
class Cast:
    """author: writes ideas; member and fan: other members (they back ideas); manager: manages every
    campaign; admin; sponsor; outsider: signed in, member of nothing; visitor: not signed in."""

    client: AsyncTestClient[Litestar]
    engine: AsyncEngine
    people: dict[str, Person] = field(default_factory=dict)

    def __getitem__(self, role: str) -> Person:
        return self.people[role]

    def headers(self, role: str) -> dict[str, str]:
        return self.people[role].headers

    def id(self, role: str) -> UUID:
        user_id = self.people[role].id
        assert user_id is not None
        return user_id


async def make_cast(client: AsyncTestClient[Litestar], settings: Settings, engine: AsyncEngine) -> Cast:
    actors = await Actors(client, settings).setup()
    cast = Cast(client, engine)
    for role in ("author", "member", "fan", "manager", "sponsor", "outsider"):
        email, headers = await actors.person(role, name=f"{role.capitalize()} Person")
        cast.people[role] = Person(email, headers, None)
    cast.people["admin"] = Person(actors.admin_email, actors.admin, None)
    cast.people["visitor"] = Person("", {}, None)
    for role, person in cast.people.items():
        if role != "visitor":
            me = await client.get("/api/auth/me", headers=person.headers)
            person.id = UUID(me.json()["id"])
    granted = await client.post(
        f"/api/admin/users/{cast.id('sponsor')}/roles",
        json={"role": "sponsor", "granted": True},
        headers=actors.admin,
    )
    assert granted.status_code == 200, granted.text
    return cast


async def make_campaign(
    cast: Cast,
    slug: str,
    *,
    campaign_type: str = "open",
    reward: int = 0,
    recycling: bool = True,
    members: tuple[str, ...] = ("author", "member", "fan"),
    initial: int = 100,
) -> dict[str, Any]:
    """An active campaign managed by the cast's manager, with these members."""
    created = await create_campaign(
        cast.client,
        cast.headers("admin"),
        slug=slug,
        campaign_type=campaign_type,
        manager_emails=[cast["manager"].email],
        coin_policy={
            "initial_allocation": initial,
            "idea_submission_reward": reward,
            "allow_recycling": recycling,
        },
    )
    # Memberships straight into the table (closed campaigns would need the invitation round trip);
    # activation then grants everyone their coins exactly as it does for members who joined.
    async with cast.engine.begin() as conn:
        for role in members:
            await conn.execute(
                text(
                    "INSERT INTO campaign_members (id, campaign_id, user_id, role, joined_at) "
                    "VALUES (gen_random_uuid(), :campaign, :user, 'member', now())"
                ),
                {"campaign": UUID(created["id"]), "user": cast.id(role)},
            )
    activated = await cast.client.post(f"/api/campaigns/{slug}/activate", headers=cast.headers("manager"))
    assert activated.status_code == 200, activated.text
    return activated.json()  # type: ignore[no-any-return]


async def submit(
    cast: Cast,
    slug: str,
    title: str,
    description: str = "Details to follow.",
    role: str = "author",
    **extra: Any,
) -> dict[str, Any]:
    response = await cast.client.post(
        f"/api/campaigns/{slug}/ideas",
        json={"title": title, "description": description, **extra},
        headers=cast.headers(role),
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def move(cast: Cast, idea_id: int, status: str, role: str = "manager", **extra: Any) -> Any:
    return await cast.client.post(
        f"/api/ideas/{idea_id}/status", json={"status": status, **extra}, headers=cast.headers(role)
    )


async def allocate(cast: Cast, slug: str, role: str, idea_id: int, amount: int) -> None:
    """Put a member's coins on an idea through the coins API (SPEC.md: `POST .../coins/allocate`)."""
    response = await cast.client.post(
        f"/api/campaigns/{slug}/coins/allocate",
        json={"idea_id": idea_id, "amount": amount},
        headers=cast.headers(role),
    )
    assert response.status_code == 200, response.text


async def balances(cast: Cast, slug: str) -> dict[str, tuple[int, int, int, int]]:
    """Every member's (granted, available, allocated, expended) in the campaign, by role."""
    roles = {person.id: role for role, person in cast.people.items() if person.id is not None}
    async with cast.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT b.user_id, b.granted, b.available, b.allocated, b.expended FROM coin_balances b "
                "JOIN campaigns c ON c.id = b.campaign_id WHERE c.slug = :slug"
            ),
            {"slug": slug},
        )
        return {roles[r.user_id]: (r.granted, r.available, r.allocated, r.expended) for r in rows}


async def idea_row(cast: Cast, idea_id: int) -> dict[str, Any]:
    async with cast.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT status, coins, supporters, merged_into_id, rejection_reason, title, description, "
                    "updated_at, status_changed_at, "
                    "(SELECT count(*) FROM idea_status_changes s WHERE s.idea_id = i.id) AS changes, "
                    "(SELECT count(*) FROM idea_versions v WHERE v.idea_id = i.id) AS versions, "
                    "(SELECT count(*) FROM coin_allocations a WHERE a.idea_id = i.id) AS allocations "
                    "FROM ideas i WHERE id = :id"
                ),
                {"id": idea_id},
            )
        ).one()
        return dict(row._mapping)


async def counts(cast: Cast) -> dict[str, int]:
    async with cast.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM coin_ledger) AS ledger, "
                    "(SELECT count(*) FROM audit_events WHERE entity_type = 'idea') AS audit, "
                    "(SELECT count(*) FROM idea_status_changes) AS changes"
                )
            )
        ).one()
        return dict(row._mapping)
