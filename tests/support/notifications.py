"""Data and look-ups for notification tests: people and ideas written straight into the database (fast,
and independent of the ideas workflow), and what each person was told."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from saq.queue import Queue
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from valkey.asyncio import Valkey

from coins.lib.db import standalone_session
from coins.notifications.notify import Notifier
from coins.settings import Settings
from coins.wiring import database_config, make_mailer, template_env

# Not a usable Argon2 hash: bulk users never log in.
NO_PASSWORD = "bulk-user-without-password"


@asynccontextmanager
async def notifier_session(
    settings: Settings, *, valkey: Valkey | None = None, queue: Queue | None = None
) -> AsyncIterator[tuple[AsyncSession, Notifier]]:
    """A session and the Notifier the listeners and jobs are given (the mailer, Valkey and the queue)."""
    config = database_config(settings)
    try:
        async with standalone_session(config) as session:
            mailer = make_mailer(settings, template_env(settings), queue)
            mailer.links.prepare()  # as the worker does at its start: no measured step pays for it
            yield session, Notifier(mailer, valkey)
    finally:
        await config.get_engine().dispose()


async def user_id(db_engine: AsyncEngine, email: str) -> UUID:
    async with db_engine.connect() as conn:
        value = await conn.scalar(text("SELECT id FROM users WHERE email = :e"), {"e": email})
    assert value is not None, email
    return UUID(str(value))


async def bulk_members(
    db_engine: AsyncEngine, campaign_id: str, count: int, *, prefix: str = "bulk", coins: int = 0
) -> list[UUID]:
    """`count` users who are members of the campaign (with a balance of 100), in one statement each."""
    async with db_engine.begin() as conn:
        rows = await conn.execute(
            text(
                "INSERT INTO users (id, email, full_name, password_hash, created_at, updated_at) "
                "SELECT gen_random_uuid(), :prefix || '-' || n || '@example.org', 'Member ' || n, :pw, now(), "
                "now() FROM generate_series(1, :count) AS n RETURNING id"
            ),
            {"prefix": prefix, "count": count, "pw": NO_PASSWORD},
        )
        ids = [UUID(str(row.id)) for row in rows]
        await conn.execute(
            text(
                "INSERT INTO campaign_members (id, campaign_id, user_id, role, joined_at) "
                "SELECT gen_random_uuid(), CAST(:campaign AS uuid), u, 'member', now() "
                "FROM unnest(CAST(:ids AS uuid[])) AS u"
            ),
            {"campaign": campaign_id, "ids": ids},
        )
        await conn.execute(
            text(
                "INSERT INTO coin_balances (campaign_id, user_id, granted, available, allocated, expended) "
                "SELECT CAST(:campaign AS uuid), u, 100, 100 - :coins, :coins, 0 "
                "FROM unnest(CAST(:ids AS uuid[])) AS u ON CONFLICT DO NOTHING"
            ),
            {"campaign": campaign_id, "ids": ids, "coins": coins},
        )
    return ids


async def add_idea(
    db_engine: AsyncEngine,
    campaign_id: str,
    author_id: UUID | None,
    *,
    title: str = "Plant trees on the roof",
    status: str = "competing",
) -> int:
    async with db_engine.begin() as conn:
        value = await conn.scalar(
            text(
                "INSERT INTO ideas (campaign_id, author_id, title, description, description_html, status) "
                "VALUES (CAST(:campaign AS uuid), :author, :title, 'Details', '<p>Details</p>', :status) "
                "RETURNING id"
            ),
            {"campaign": campaign_id, "author": author_id, "title": title, "status": status},
        )
    return int(value)


async def support(db_engine: AsyncEngine, campaign_id: str, idea_id: int, user_ids: list[UUID], coins: int) -> None:
    """Allocations written directly (their balances must already hold `coins` allocated)."""
    async with db_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO coin_allocations (campaign_id, idea_id, user_id, coins, votes, updated_at) "
                "SELECT CAST(:campaign AS uuid), :idea, u, :coins, :coins, now() "
                "FROM unnest(CAST(:ids AS uuid[])) AS u"
            ),
            {"campaign": campaign_id, "idea": idea_id, "ids": user_ids, "coins": coins},
        )
        await conn.execute(
            text("UPDATE ideas SET coins = coins + :total, supporters = supporters + :n WHERE id = :idea"),
            {"total": coins * len(user_ids), "n": len(user_ids), "idea": idea_id},
        )


async def told(db_engine: AsyncEngine, **where: Any) -> list[Any]:
    """Notification rows (joined with the recipient's email), filtered by column values."""
    conditions = " AND ".join(f"n.{name} = :{name}" for name in where) or "true"
    async with db_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT n.*, u.email FROM notifications n JOIN users u ON u.id = n.user_id "
                f"WHERE {conditions} ORDER BY n.id"
            ),
            where,
        )
        return list(rows)


async def emails(db_engine: AsyncEngine, kind: str | None = None) -> list[Any]:
    async with db_engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT * FROM email_messages WHERE (CAST(:kind AS text) IS NULL OR kind = :kind) ORDER BY created_at"
            ),
            {"kind": kind},
        )
        return list(rows)


def per_recipient(rows: list[Any], column: str = "email") -> Counter[str]:
    return Counter(getattr(row, column) for row in rows)
