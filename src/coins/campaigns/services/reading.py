"""Reading campaigns: the viewer's access to one, the campaigns they may see, members."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from coins.accounts.auth import CurrentUser
from coins.accounts.models import User
from coins.campaigns.access import CampaignAccess, CampaignNotFound
from coins.campaigns.models import Campaign, CampaignMember
from coins.lib.errors import PermissionDenied
from coins.lib.pages import Page


class CampaignReader:
    def __init__(self, session: AsyncSession) -> None:
        self.db = session

    async def access(self, slug: str, viewer: CurrentUser | None, *, lock: bool = False) -> CampaignAccess:
        query = select(Campaign).where(Campaign.slug == slug)
        if lock:
            query = query.with_for_update()
        campaign = await self.db.scalar(query)
        if campaign is None:
            raise CampaignNotFound()
        role = None
        if viewer is not None:
            role = await self.db.scalar(
                select(CampaignMember.role).where(
                    CampaignMember.campaign_id == campaign.id,
                    CampaignMember.user_id == viewer.id,
                    CampaignMember.left_at.is_(None),
                )
            )
        return CampaignAccess(campaign=campaign, viewer=viewer, role=role)

    async def visible(self, slug: str, viewer: CurrentUser | None) -> CampaignAccess:
        return (await self.access(slug, viewer)).require_view()

    async def list_visible(
        self,
        viewer: CurrentUser | None,
        *,
        status: str | None = None,
        mine: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[tuple[Campaign, str | None]]:
        """Campaigns the viewer may see, each with the viewer's role in it (None when not a member)."""
        membership = (
            select(CampaignMember.campaign_id, CampaignMember.role)
            .where(CampaignMember.user_id == viewer.id, CampaignMember.left_at.is_(None))
            .subquery()
            if viewer is not None
            else None
        )
        query = select(Campaign, membership.c.role if membership is not None else None)  # type: ignore[arg-type]
        if membership is not None:
            query = query.outerjoin(membership, membership.c.campaign_id == Campaign.id)
        public = and_(Campaign.status != "draft", Campaign.campaign_type != "closed")
        condition: ColumnElement[bool]
        if viewer is not None and viewer.is_admin:
            condition = Campaign.id.is_not(None)
        elif viewer is not None and viewer.is_sponsor:
            condition = or_(Campaign.status != "draft", membership.c.role.is_not(None))  # type: ignore[union-attr]
        elif membership is not None:
            condition = or_(public, membership.c.role.is_not(None))
        else:
            condition = public
        query = query.where(condition)
        if mine and membership is not None:
            query = query.where(membership.c.role.is_not(None))
        # Archived campaigns show only when asked for by status.
        query = query.where(Campaign.status == status if status else Campaign.status != "archived")
        total = await self.db.scalar(select(func.count()).select_from(query.subquery())) or 0
        order = [
            func.array_position(["active", "draft", "completed", "archived"], Campaign.status),
            Campaign.ends_at,
        ]
        rows = await self.db.execute(query.order_by(*order).limit(limit).offset(offset))
        return Page(items=[(row[0], row[1]) for row in rows], total=total)

    async def member_count(self, campaign_id: UUID) -> int:
        return int(
            await self.db.scalar(
                select(func.count())
                .select_from(CampaignMember)
                .where(CampaignMember.campaign_id == campaign_id, CampaignMember.left_at.is_(None))
            )
            or 0
        )

    async def members(self, access: CampaignAccess, *, limit: int = 50, offset: int = 0) -> Page[Any]:
        if not access.require_view().can_see_members:
            raise PermissionDenied("Only managers, sponsors and administrators see the member list.")
        base = (
            select(
                User.id,
                User.email,
                User.full_name,
                CampaignMember.role,
                CampaignMember.joined_at,
            )
            .join(CampaignMember, CampaignMember.user_id == User.id)
            .where(CampaignMember.campaign_id == access.campaign.id, CampaignMember.left_at.is_(None))
        )
        total = await self.db.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = await self.db.execute(
            base.order_by(CampaignMember.role.desc(), User.full_name).limit(limit).offset(offset)
        )
        return Page(items=list(rows), total=total)
