"""Membership: joining open and mediated campaigns, leaving, and adding members (invitations, managers)."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import CurrentUser
from coins.campaigns.access import CampaignAccess
from coins.campaigns.errors import CampaignNotActive
from coins.campaigns.events import MemberAdded, MemberLeft
from coins.campaigns.models import Campaign, CampaignMember
from coins.campaigns.services.reading import CampaignReader
from coins.lib.db import commit
from coins.lib.errors import InvalidInput, PermissionDenied
from coins.lib.events import EventBus


class Membership:
    def __init__(self, session: AsyncSession, events: EventBus) -> None:
        self.db = session
        self.events = events

    async def join(self, slug: str, viewer: CurrentUser) -> CampaignAccess:
        access = (await CampaignReader(self.db).access(slug, viewer, lock=True)).require_view()
        campaign = access.campaign
        if access.is_member:
            return access
        if campaign.campaign_type == "closed":
            raise PermissionDenied("This campaign is by invitation only.")
        if campaign.status != "active":
            raise CampaignNotActive("You can join a campaign while it is active.")
        await self.add(campaign, viewer.id, "member", actor_id=viewer.id)
        await commit(self.db)
        return replace(access, role="member")

    async def add(self, campaign: Campaign, user_id: UUID, role: str, *, actor_id: UUID | None) -> None:
        """Add (or re-activate) a membership, in the caller's transaction; while the campaign runs, the
        coins domain grants the newcomer their coins (a listener of MemberAdded)."""
        existing = await self.db.scalar(
            select(CampaignMember).where(CampaignMember.campaign_id == campaign.id, CampaignMember.user_id == user_id)
        )
        if existing is None:
            self.db.add(CampaignMember(campaign_id=campaign.id, user_id=user_id, role=role))
        else:
            existing.left_at = None
            if role == "manager":
                existing.role = "manager"
        await self.db.flush()
        await self.events.publish(
            self.db, MemberAdded(campaign=campaign, actor_id=actor_id, user_id=user_id, role=role)
        )

    async def leave(self, slug: str, viewer: CurrentUser) -> None:
        access = (await CampaignReader(self.db).access(slug, viewer)).require_view()
        if not access.is_member:
            raise InvalidInput("You are not a member of this campaign.")
        await self.db.execute(
            update(CampaignMember)
            .where(CampaignMember.campaign_id == access.campaign.id, CampaignMember.user_id == viewer.id)
            .values(left_at=func.now())
        )
        await self.events.publish(
            self.db, MemberLeft(campaign=access.campaign, actor_id=viewer.id, user_id=viewer.id, role=access.role)
        )
        await commit(self.db)
