"""A campaign's life: draft -> active -> completed -> archived (SPEC.md: who moves it, and when).

Activating grants every member their coins and completing tells them, through the events' listeners.
Completing takes the campaign's advisory lock exclusively first: coin operations in flight finish, and none
starts until it commits, so nothing moves once a campaign is completed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import CurrentUser
from coins.campaigns.errors import InvalidTransition
from coins.campaigns.events import CampaignEnding, CampaignStatusChanged
from coins.campaigns.locks import lock_campaign_exclusive
from coins.campaigns.models import Campaign
from coins.campaigns.services.reading import CampaignReader
from coins.lib.db import commit
from coins.lib.events import EventBus

# Target status -> (allowed from, who).
TRANSITIONS: dict[str, tuple[str, str]] = {
    "active": ("draft", "manager"),
    "completed": ("active", "manager"),
    "archived": ("completed", "admin"),
}
STAMPS = {"active": "activated_at", "completed": "completed_at", "archived": "archived_at"}


class CampaignLifecycle:
    def __init__(self, session: AsyncSession, events: EventBus) -> None:
        self.db = session
        self.events = events

    async def transition(self, slug: str, viewer: CurrentUser, target: str) -> Campaign:
        """Move a campaign along draft -> active -> completed -> archived, as SPEC.md allows."""
        if target not in TRANSITIONS:
            raise InvalidTransition(f"Unknown status {target!r}.")
        if target == "completed":
            # Taken before the row lock, the order every other path takes them in.
            campaign_id = await self.db.scalar(select(Campaign.id).where(Campaign.slug == slug))
            if campaign_id is not None:
                await lock_campaign_exclusive(self.db, campaign_id)
        # Lock the row: a concurrent join or invitation acceptance waits, then sees the new status.
        access = (await CampaignReader(self.db).access(slug, viewer, lock=True)).require_view()
        source, actor_kind = TRANSITIONS[target]
        if actor_kind == "admin":
            access.require_admin()
        else:
            access.require_manage()
        campaign = access.campaign
        if campaign.status != source:
            raise InvalidTransition(
                f"A {campaign.status} campaign cannot become {target}; only a {source} one can.",
                details={"status": campaign.status, "requested": target},
            )
        now = datetime.now(UTC)
        if target == "active" and campaign.ends_at <= now:
            raise InvalidTransition("This campaign's end date has passed: move the end date first.")
        before = campaign.status
        campaign.status = target
        setattr(campaign, STAMPS[target], now)
        await self.events.publish(
            self.db, CampaignStatusChanged(campaign=campaign, actor_id=viewer.id, from_status=before, to_status=target)
        )
        await commit(self.db)
        return campaign

    async def complete_due(self) -> list[str]:
        """Complete every active campaign whose end date has passed (the cron job; safe to run anywhere)."""
        due = list(
            await self.db.scalars(
                select(Campaign.id)
                .where(Campaign.status == "active", Campaign.ends_at <= func.now())
                .order_by(Campaign.id)
            )
        )
        for campaign_id in due:  # as in `transition`: in-flight coin operations finish, new ones wait
            await lock_campaign_exclusive(self.db, campaign_id)
        result = await self.db.execute(
            update(Campaign)
            .where(Campaign.id.in_(due), Campaign.status == "active", Campaign.ends_at <= func.now())
            .values(status="completed", completed_at=func.now())
            .returning(Campaign.id, Campaign.slug)
        )
        rows = result.all()
        for row in rows:
            campaign = await self.db.get_one(Campaign, row.id, populate_existing=True)
            await self.events.publish(
                self.db,
                CampaignStatusChanged(
                    campaign=campaign, actor_id=None, from_status="active", to_status="completed", by_end_date=True
                ),
            )
        await commit(self.db)
        return [row.slug for row in rows]

    async def send_ending_notices(self, *, within: timedelta = timedelta(hours=48)) -> int:
        """Tell members of campaigns ending within 48 hours, once per campaign; returns how many were told.

        The conditional update claims each campaign: with several workers running the job at the same
        moment, only one of them gets the row back, so members are told exactly once.
        """
        claimed = await self.db.execute(
            update(Campaign)
            .where(
                Campaign.status == "active",
                Campaign.ending_notice_sent_at.is_(None),
                Campaign.ends_at > func.now(),
                Campaign.ends_at <= func.now() + within,
            )
            .values(ending_notice_sent_at=func.now())
            .returning(Campaign.id)
        )
        told = 0
        for campaign_id in [row.id for row in claimed]:
            event = CampaignEnding(campaign=await self.db.get_one(Campaign, campaign_id), actor_id=None)
            await self.events.publish(self.db, event)
            told += int(event.notes.get("told", 0))
        await commit(self.db)
        return told
