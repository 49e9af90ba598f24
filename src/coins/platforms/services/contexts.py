"""What a platform may read about its own contexts: the ideas that came in through them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from coins.campaigns.models import Campaign
from coins.ideas.models import Idea
from coins.lib.errors import AppError
from coins.lib.pages import Page
from coins.platforms.identity import PlatformIdentity
from coins.platforms.models import Permalink, PlatformCampaign, PlatformIdea


class ContextNotFound(AppError):
    error_code = "CONTEXT_001"
    default_message = "No such context for this platform."


@dataclass(frozen=True)
class ContextIdea:
    idea: Idea
    campaign_slug: str


class ContextService:
    """What a platform may read about its own contexts."""

    def __init__(self, session: AsyncSession) -> None:
        self.db = session

    async def ideas(
        self, platform: PlatformIdentity, context_id: str, *, limit: int = 50, offset: int = 0
    ) -> Page[ContextIdea]:
        """Ideas that came in through this platform's permalinks with this context, newest first.

        A context is the platform's when it made a permalink with it or ideas arrived with it, in a campaign
        the platform is still allowed into; anything else, including another platform's context of the
        same name, is not found.
        """
        allowed = select(PlatformCampaign.campaign_id).where(PlatformCampaign.platform_id == platform.id)
        known = await self.db.scalar(
            select(
                or_(
                    exists()
                    .where(PlatformIdea.platform_id == platform.id, PlatformIdea.context_id == context_id)
                    .where(PlatformIdea.idea_id == Idea.id, Idea.campaign_id.in_(allowed)),
                    exists().where(
                        Permalink.platform_id == platform.id,
                        Permalink.context_id == context_id,
                        Permalink.campaign_id.in_(allowed),
                    ),
                )
            )
        )
        if not known:
            raise ContextNotFound()
        query = (
            select(Idea, Campaign.slug)
            .options(defer(Idea.search_vector))
            .join(PlatformIdea, PlatformIdea.idea_id == Idea.id)
            .join(Campaign, Campaign.id == Idea.campaign_id)
            .where(PlatformIdea.platform_id == platform.id, PlatformIdea.context_id == context_id)
            .where(Idea.campaign_id.in_(allowed))
        )
        total = await self.db.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = await self.db.execute(query.order_by(Idea.id.desc()).limit(limit).offset(offset))
        return Page(items=[ContextIdea(idea=row[0], campaign_slug=row[1]) for row in rows], total=total)
