"""Scheduled campaign events: completion at the end date and the 48-hour notice, each exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.campaigns.models import Campaign
from coins.campaigns.services.lifecycle import CampaignLifecycle
from coins.lib.db import standalone_session
from coins.mail.models import EmailMessage
from coins.settings import Settings
from coins.wiring import build_runtime
from tests.support.factories import Actors, create_campaign


async def run_concurrently(settings: Settings, job: Callable[[CampaignLifecycle], object], copies: int) -> list[object]:
    """Run the same job from `copies` independent sessions at once, like several workers would."""
    parts = build_runtime(settings)

    async def one() -> object:
        async with standalone_session(parts.db) as session:
            return await job(CampaignLifecycle(session, parts.events))  # type: ignore[misc]

    try:
        return list(await asyncio.gather(*(one() for _ in range(copies))))
    finally:
        await parts.close()


async def test_campaigns_complete_at_their_end_date_once(
    client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine
) -> None:
    actors = await Actors(client, settings).setup()
    manager_email, manager = await actors.person("manager")
    for slug in ("ends-now", "ends-later"):
        await create_campaign(client, actors.admin, slug=slug, manager_emails=[manager_email])
        await client.post(f"/api/campaigns/{slug}/activate", headers=manager)
    async with db_engine.begin() as conn:
        await conn.execute(
            update(Campaign).where(Campaign.slug == "ends-now").values(ends_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    results = await run_concurrently(settings, lambda service: service.complete_due(), copies=4)
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]  # exactly one worker completed it
    assert (await client.get("/api/campaigns/ends-now", headers=manager)).json()["status"] == "completed"
    assert (await client.get("/api/campaigns/ends-later", headers=manager)).json()["status"] == "active"


async def test_members_are_told_48_hours_before_the_end_exactly_once(
    client: AsyncTestClient[Litestar], settings: Settings, db_engine: AsyncEngine
) -> None:
    actors = await Actors(client, settings).setup()
    manager_email, manager = await actors.person("manager")
    await create_campaign(client, actors.admin, slug="closing", manager_emails=[manager_email])
    await create_campaign(client, actors.admin, slug="far-away", manager_emails=[manager_email])
    for slug in ("closing", "far-away"):
        await client.post(f"/api/campaigns/{slug}/activate", headers=manager)
    members = []
    for index in range(3):
        email, auth = await actors.person(f"member{index}")
        await client.post("/api/campaigns/closing/join", headers=auth)
        members.append(email)
    async with db_engine.begin() as conn:
        await conn.execute(
            update(Campaign).where(Campaign.slug == "closing").values(ends_at=datetime.now(UTC) + timedelta(hours=47))
        )
    sent = await run_concurrently(settings, lambda service: service.send_ending_notices(), copies=4)
    assert sorted(sent) == [0, 0, 0, 4]  # three members and the manager, from one worker only
    again = await run_concurrently(settings, lambda service: service.send_ending_notices(), copies=2)
    assert again == [0, 0]
    async with db_engine.connect() as conn:
        rows = (
            await conn.execute(
                select(EmailMessage.to_address, func.count())
                .where(EmailMessage.kind == "campaign_ending")
                .group_by(EmailMessage.to_address)
            )
        ).all()
    assert {row[0]: row[1] for row in rows} == dict.fromkeys([*members, manager_email], 1)
