"""Reading ideas: the viewer's access to a campaign and an idea, an idea with its history and versions.

An idea the viewer may not see is "not found" (404), like the closed campaigns it lives in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from coins.accounts.auth import CurrentUser
from coins.accounts.models import User
from coins.campaigns.access import CampaignAccess
from coins.campaigns.models import Campaign, CampaignMember, Tag
from coins.campaigns.services.reading import CampaignReader
from coins.ideas.access import PRIVATE_STATUSES, IdeaAccess, IdeaNotFound
from coins.ideas.models import Idea, IdeaStatusChange, IdeaTag, IdeaVersion
from coins.ideas.search import IdeaFilters
from coins.ideas.shapes import (
    BIGINT_MAX,
    IdeaDetail,
    IdeaRef,
    IdeaView,
    StatusEntry,
    VersionEntry,
    field_diff,
)
from coins.lib.pages import Page


class IdeaReader:
    def __init__(self, session: AsyncSession) -> None:
        self.db = session

    async def campaign_access(self, slug: str, viewer: CurrentUser | None) -> CampaignAccess:
        return await CampaignReader(self.db).visible(slug, viewer)

    async def idea_access(self, idea_id: int, viewer: CurrentUser | None, *, lock: bool = False) -> IdeaAccess:
        """The idea and what the viewer may do with it; IDEA_001 when it does not exist for them."""
        if not 0 < idea_id <= BIGINT_MAX:
            raise IdeaNotFound()
        query = select(Idea).options(defer(Idea.search_vector)).where(Idea.id == idea_id)
        if lock:
            query = query.with_for_update()
        idea = await self.db.scalar(query.execution_options(populate_existing=True))
        if idea is None:
            raise IdeaNotFound()
        campaign = await self.db.get_one(Campaign, idea.campaign_id, populate_existing=True)
        role = None
        if viewer is not None:
            role = await self.db.scalar(
                select(CampaignMember.role).where(
                    CampaignMember.campaign_id == campaign.id,
                    CampaignMember.user_id == viewer.id,
                    CampaignMember.left_at.is_(None),
                )
            )
        return IdeaAccess(CampaignAccess(campaign=campaign, viewer=viewer, role=role), idea).require_view()

    def filters(self, access: CampaignAccess, requested: Sequence[str], **narrowing: Any) -> IdeaFilters:
        """What of `requested` the viewer may see: private statuses only as a manager or for own ideas."""
        if access.is_manager or access.is_admin:
            return IdeaFilters(statuses=tuple(requested), **narrowing)
        viewer = access.viewer
        return IdeaFilters(
            statuses=tuple(s for s in requested if s not in PRIVATE_STATUSES),
            own_statuses=tuple(s for s in requested if s in PRIVATE_STATUSES) if viewer else (),
            author_id=viewer.id if viewer else None,
            **narrowing,
        )

    async def view(self, idea_id: int, viewer: CurrentUser | None) -> IdeaView:
        await self.idea_access(idea_id, viewer)
        return (await self.views([idea_id]))[0]

    async def get(self, idea_id: int, viewer: CurrentUser | None) -> IdeaDetail:
        """The idea with its tags, status history, versions and merge links."""
        access = await self.idea_access(idea_id, viewer)
        view = (await self.views([idea_id]))[0]
        history = [
            StatusEntry(
                from_status=change.from_status,
                to_status=change.to_status,
                actor_id=change.actor_id,
                actor_name=name,
                reason=change.reason,
                details=change.details,
                created_at=change.created_at,
            )
            for change, name in await self.db.execute(
                select(IdeaStatusChange, User.full_name)
                .outerjoin(User, User.id == IdeaStatusChange.actor_id)
                .where(IdeaStatusChange.idea_id == idea_id)
                .order_by(IdeaStatusChange.id)
            )
        ]
        versions = [
            VersionEntry(
                number=version.number,
                editor_id=version.editor_id,
                editor_name=name,
                created_at=version.created_at,
                title=version.title,
                description=version.description,
                tag_names=list(version.tag_names),
                changed=list(version.changed),
            )
            for version, name in await self.db.execute(
                select(IdeaVersion, User.full_name)
                .outerjoin(User, User.id == IdeaVersion.editor_id)
                .where(IdeaVersion.idea_id == idea_id)
                .order_by(IdeaVersion.number)
            )
        ]
        merged_into = None
        if view.idea.merged_into_id is not None:
            row = (
                await self.db.execute(
                    select(Idea.id, Idea.title, Idea.status).where(Idea.id == view.idea.merged_into_id)
                )
            ).first()
            merged_into = IdeaRef(id=row.id, title=row.title, status=row.status) if row else None
        merged_from = [
            IdeaRef(id=row.id, title=row.title, status=row.status)
            for row in await self.db.execute(
                select(Idea.id, Idea.title, Idea.status).where(Idea.merged_into_id == idea_id).order_by(Idea.id)
            )
        ]
        return IdeaDetail(
            view=view,
            history=history,
            versions=versions,
            merged_into=merged_into,
            merged_from=merged_from,
            can_edit=access.can_edit,
            allowed_statuses=access.allowed_statuses(),
        )

    async def merge_targets(self, idea: Idea, *, limit: int = 500) -> list[Any]:
        """(id, title) of the competing ideas this one could be merged into, most coins first."""
        rows = await self.db.execute(
            select(Idea.id, Idea.title)
            .where(Idea.campaign_id == idea.campaign_id, Idea.status == "competing", Idea.id != idea.id)
            .order_by(Idea.coins.desc(), Idea.id)
            .limit(limit)
        )
        return list(rows)

    async def versions(
        self, idea_id: int, viewer: CurrentUser | None, *, limit: int = 50, offset: int = 0
    ) -> Page[VersionEntry]:
        """Versions, oldest first, each with a unified diff per field against the version before."""
        await self.idea_access(idea_id, viewer)
        condition = IdeaVersion.idea_id == idea_id
        total = int(await self.db.scalar(select(func.count()).select_from(IdeaVersion).where(condition)) or 0)
        # One version more than the page (the one before it), to diff the page's first version against.
        start = max(offset - 1, 0)
        rows = list(
            await self.db.execute(
                select(IdeaVersion, User.full_name)
                .outerjoin(User, User.id == IdeaVersion.editor_id)
                .where(condition)
                .order_by(IdeaVersion.number)
                .offset(start)
                .limit(limit + (offset - start))
            )
        )
        entries: list[VersionEntry] = []
        previous: IdeaVersion | None = None
        for index, (version, name) in enumerate(rows):
            if index >= offset - start:
                entries.append(
                    VersionEntry(
                        number=version.number,
                        editor_id=version.editor_id,
                        editor_name=name,
                        created_at=version.created_at,
                        title=version.title,
                        description=version.description,
                        tag_names=list(version.tag_names),
                        changed=list(version.changed),
                        diff=_version_diff(previous, version),
                    )
                )
            previous = version
        return Page(items=entries, total=total)

    async def views(self, ids: Sequence[int]) -> list[IdeaView]:
        """Ideas with their campaign slug, author name and tags, in the order of `ids`."""
        if not ids:
            return []
        rows = await self.db.execute(
            select(Idea, User.full_name, Campaign.slug)
            .options(defer(Idea.search_vector))
            .join(Campaign, Campaign.id == Idea.campaign_id)
            .outerjoin(User, User.id == Idea.author_id)
            .where(Idea.id.in_(list(ids)))
            .execution_options(populate_existing=True)
        )
        found = {idea.id: (idea, name, slug) for idea, name, slug in rows}
        tags: dict[int, list[Tag]] = defaultdict(list)
        for idea_id, tag in await self.db.execute(
            select(IdeaTag.idea_id, Tag)
            .join(Tag, Tag.id == IdeaTag.tag_id)
            .where(IdeaTag.idea_id.in_(list(found)))
            .order_by(func.lower(Tag.name))
        ):
            tags[idea_id].append(tag)
        return [
            IdeaView(idea=found[i][0], campaign_slug=found[i][2], tags=tags[i], author_name=found[i][1])
            for i in ids
            if i in found
        ]


def _version_diff(previous: IdeaVersion | None, version: IdeaVersion) -> dict[str, str]:
    if previous is None:
        return {}
    pairs = {
        "title": (previous.title, version.title),
        "description": (previous.description, version.description),
        "tags": ("\n".join(previous.tag_names), "\n".join(version.tag_names)),
    }
    diffs = {
        name: field_diff(name, before, after, previous.number, version.number)
        for name, (before, after) in pairs.items()
        if before != after
    }
    return {name: text for name, text in diffs.items() if text}


def visible_to(filters: IdeaFilters, status: str, author_id: UUID | None) -> bool:
    if status in filters.statuses:
        return True
    return status in filters.own_statuses and author_id is not None and author_id == filters.author_id
