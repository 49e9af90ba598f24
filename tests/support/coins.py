"""A campaign with members and competing ideas, ready for coin tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.coins.audit import AuditReport, run_audit
from tests.support.factories import Actors, create_campaign


@dataclass
class Arena:
    slug: str
    campaign_id: str
    manager: dict[str, str]
    members: list[dict[str, str]] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    ideas: list[int] = field(default_factory=list)

    def coins_path(self, operation: str) -> str:
        return f"/api/campaigns/{self.slug}/coins/{operation}"


async def add_ideas(db_engine: AsyncEngine, campaign_id: str, count: int, status: str = "competing") -> list[int]:
    """Ideas written directly (the ideas workflow has its own tests); coins only care that they compete."""
    async with db_engine.begin() as conn:
        rows = await conn.execute(
            text(
                "INSERT INTO ideas (campaign_id, title, description, description_html, status) "
                "SELECT CAST(:campaign AS uuid), 'Idea ' || n, 'An idea worth coins', "
                "'<p>An idea worth coins</p>', :status FROM generate_series(1, :count) AS n RETURNING id"
            ),
            {"campaign": campaign_id, "count": count, "status": status},
        )
        return sorted(row.id for row in rows)


async def make_arena(
    client: AsyncTestClient[Litestar],
    actors: Actors,
    db_engine: AsyncEngine,
    *,
    slug: str = "arena",
    members: int = 2,
    ideas: int = 2,
    policy: dict[str, Any] | None = None,
) -> Arena:
    manager_email, manager = await actors.person("manager")
    created = await create_campaign(
        client, actors.admin, slug=slug, manager_emails=[manager_email], coin_policy=policy or {}
    )
    assert (await client.post(f"/api/campaigns/{slug}/activate", headers=manager)).status_code == 200
    arena = Arena(slug=slug, campaign_id=created["id"], manager=manager)
    for index in range(members):
        email, auth = await actors.person(f"member{index}")
        assert (await client.post(f"/api/campaigns/{slug}/join", headers=auth)).status_code == 200
        arena.members.append(auth)
        arena.emails.append(email)
    arena.ideas = await add_ideas(db_engine, arena.campaign_id, ideas)
    return arena


async def assert_audit_clean(db_engine: AsyncEngine) -> AuditReport:
    report = await run_audit(db_engine)
    assert report.clean, report.summary()
    return report


async def set_idea_status(db_engine: AsyncEngine, idea_id: int, status: str) -> None:
    async with db_engine.begin() as conn:
        await conn.execute(text("UPDATE ideas SET status = :s WHERE id = :i"), {"s": status, "i": idea_id})
