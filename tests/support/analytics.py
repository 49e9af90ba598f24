"""Analytics fixtures: a sponsor, and three campaigns whose every figure is computed by hand in the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import register, token_for
from tests.support.coins import Arena, add_ideas, make_arena, set_idea_status
from tests.support.factories import Actors, create_campaign
from tests.support.servers import unique_email


async def make_sponsor_account(client: AsyncTestClient[Litestar], actors: Actors) -> str:
    """A new account with the sponsor role; its email (the password is conftest's PASSWORD)."""
    email = unique_email("sponsor")
    user = await register(client, email=email, name="Sam Sponsor")
    granted = await client.post(
        f"/api/admin/users/{user['id']}/roles", json={"role": "sponsor", "granted": True}, headers=actors.admin
    )
    assert granted.status_code == 200, granted.text
    return email


async def make_sponsor(client: AsyncTestClient[Litestar], actors: Actors) -> dict[str, str]:
    email = await make_sponsor_account(client, actors)
    return {"Authorization": f"Bearer {await token_for(client, email)}"}


async def allocate(client: AsyncTestClient[Litestar], arena: Arena, member: int, idea: int, amount: int) -> None:
    response = await client.post(
        arena.coins_path("allocate"), json={"idea_id": idea, "amount": amount}, headers=arena.members[member]
    )
    assert response.status_code == 200, response.text


async def sql(db_engine: AsyncEngine, statement: str, **params: Any) -> None:
    async with db_engine.begin() as conn:
        await conn.execute(text(statement), params)


@dataclass
class Figures:
    a: Arena  # active, cost 1,200.00: ideas' coins [0, 0, 10, 30] (+ a rejected and a pending idea)
    b: Arena  # completed: one idea complete, one in progress, one accepted, one competing with 5 coins
    d: Arena  # active, cost 500.00, nobody but its manager


async def build_figures(client: AsyncTestClient[Litestar], actors: Actors, db_engine: AsyncEngine) -> Figures:
    # Campaign A: a manager and three members (four members in all, each granted 100 coins).
    a = await make_arena(client, actors, db_engine, slug="alpha", members=3, ideas=4)
    for address in ("invited-1@example.org", "invited-2@example.org"):
        invited = await client.post(f"/api/campaigns/{a.slug}/members", json={"emails": [address]}, headers=a.manager)
        assert invited.status_code == 200, invited.text
    await allocate(client, a, 0, a.ideas[2], 10)
    await allocate(client, a, 1, a.ideas[3], 30)
    # One idea complete (no coins on it), one rejected and one pending beside the four.
    await set_idea_status(db_engine, a.ideas[0], "complete")
    rejected, pending = await add_ideas(db_engine, a.campaign_id, 1, "rejected") + await add_ideas(
        db_engine, a.campaign_id, 1, "pending"
    )
    async with db_engine.connect() as conn:
        author_id = (await conn.execute(text("SELECT id FROM users WHERE email = :e"), {"e": a.emails[0]})).scalar_one()
    await sql(db_engine, "UPDATE ideas SET author_id = CAST(:u AS uuid) WHERE id = :i", u=str(author_id), i=pending)
    tags = []
    for name in ("Energy", "Travel"):
        created = await client.post(f"/api/campaigns/{a.slug}/tags", json={"name": name}, headers=a.manager)
        assert created.status_code == 201, created.text
        tags.append(created.json()["id"])
    for idea, tag in ((a.ideas[2], 0), (a.ideas[3], 0), (a.ideas[0], 1), (rejected, 1)):
        await sql(
            db_engine, "INSERT INTO idea_tags (idea_id, tag_id) VALUES (:i, CAST(:t AS uuid))", i=idea, t=tags[tag]
        )
    cost = await client.patch(f"/api/campaigns/{a.slug}", json={"cost_cents": 120_000}, headers=actors.admin)
    assert cost.status_code == 200, cost.text

    # Campaign B: a manager and two members; one member allocates; the campaign completes.
    b = await make_arena(client, actors, db_engine, slug="bravo", members=2, ideas=4)
    await allocate(client, b, 0, b.ideas[0], 5)
    for idea, status in zip(b.ideas[1:], ("complete", "in_progress", "accepted"), strict=True):
        await set_idea_status(db_engine, idea, status)
    assert (await client.post(f"/api/campaigns/{b.slug}/complete", headers=b.manager)).status_code == 200
    renamed = await client.patch(f"/api/campaigns/{b.slug}", json={"title": "Bike to work"}, headers=actors.admin)
    assert renamed.status_code == 200, renamed.text

    # Campaign D: only its manager; a cost but nobody engaged.  A draft campaign counts nowhere.
    d = await make_arena(client, actors, db_engine, slug="delta", members=0, ideas=0)
    cost = await client.patch(
        f"/api/campaigns/{d.slug}", json={"cost_cents": 50_000, "title": "Paperless office"}, headers=actors.admin
    )
    assert cost.status_code == 200, cost.text
    await create_campaign(client, actors.admin, slug="draft-only")
    return Figures(a=a, b=b, d=d)
