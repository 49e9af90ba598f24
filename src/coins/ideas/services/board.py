"""The board (filter by tags, status, coins and text; sort; paginate) and similar titles while someone types.

The search backend (PostgreSQL, or OpenSearch when configured) answers with ids; the rows themselves are read
from PostgreSQL, and what an index says is checked against them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.campaigns.access import CampaignAccess
from coins.campaigns.models import Tag
from coins.ideas.models import IDEA_STATUSES, Idea
from coins.ideas.search import SIMILAR_THRESHOLD, SORTS, IdeaSearch, Sort
from coins.ideas.services.reading import IdeaReader, visible_to
from coins.ideas.shapes import (
    BOARD_DEFAULT,
    PAGE_MAX,
    SIMILAR_MAX,
    SIMILAR_STATUSES,
    BoardQuery,
    IdeaView,
    SimilarIdea,
    clean_title,
)
from coins.lib.errors import InvalidInput
from coins.lib.pages import Page


class IdeaBoard:
    def __init__(self, session: AsyncSession, search: IdeaSearch) -> None:
        self.db = session
        self.search = search
        self.reader = IdeaReader(session)

    async def similar(self, access: CampaignAccess, title: str, *, limit: int = 5) -> list[SimilarIdea]:
        """Ideas of the campaign that look like `title` (best first, score 0-1), for the submit form."""
        access.require_view()
        title = clean_title(title)
        if len(title) < 3:
            return []
        limit = max(1, min(limit, SIMILAR_MAX))
        filters = self.reader.filters(access, SIMILAR_STATUSES)
        hits = await self.search.similar(access.campaign.id, title, filters, limit=limit, min_score=SIMILAR_THRESHOLD)
        if not hits:
            return []
        rows = {
            row.id: row
            for row in await self.db.execute(
                select(Idea.id, Idea.title, Idea.status, Idea.coins, Idea.supporters, Idea.author_id).where(
                    Idea.id.in_([hit.idea_id for hit in hits]), Idea.campaign_id == access.campaign.id
                )
            )
        }
        result = []
        for hit in hits:
            row = rows.get(hit.idea_id)
            # The index may lag behind the database: check what it says against the rows themselves.
            if row is None or not visible_to(filters, row.status, row.author_id):
                continue
            result.append(
                SimilarIdea(
                    id=row.id,
                    title=row.title,
                    status=row.status,
                    coins=row.coins,
                    supporters=row.supporters,
                    score=round(hit.score, 2),
                )
            )
        return result

    async def board(self, access: CampaignAccess, query: BoardQuery) -> Page[IdeaView]:
        """The campaign's ideas, filtered, sorted and paginated, as the viewer may see them."""
        access.require_view()
        problems: dict[str, str] = {}
        statuses = list(dict.fromkeys(query.statuses)) or list(BOARD_DEFAULT)
        unknown = [s for s in statuses if s not in IDEA_STATUSES]
        if unknown:
            problems["status"] = f"Unknown status {', '.join(unknown)}; use {', '.join(IDEA_STATUSES)}."
        if query.sort not in SORTS:
            problems["sort"] = f"Sort by {', '.join(SORTS)}."
        if query.min_coins is not None and query.min_coins < 0:
            problems["min_coins"] = "At least 0."
        if query.max_coins is not None and query.max_coins < 0:
            problems["max_coins"] = "At least 0."
        if query.min_coins is not None and query.max_coins is not None and query.min_coins > query.max_coins:
            problems["max_coins"] = "At least min_coins."
        if not 1 <= query.limit <= PAGE_MAX:
            problems["limit"] = f"Between 1 and {PAGE_MAX}."
        if query.offset < 0:
            problems["offset"] = "At least 0."
        tag_ids, tag_problem = await self._tag_filter(access.campaign.id, query.tags)
        if tag_problem:
            problems["tag"] = tag_problem
        if problems:
            raise InvalidInput("Some filters are not valid.", fields=problems)
        filters = self.reader.filters(
            access,
            statuses,
            tag_ids=tuple(tag_ids),
            min_coins=query.min_coins,
            max_coins=query.max_coins,
            context_id=query.context_id,
        )
        sort = cast("Sort", query.sort)
        text = " ".join((query.text or "").split()) or None
        page = await self.search.search_ids(access.campaign.id, text, filters, sort, query.limit, query.offset)
        return Page(items=await self.reader.views(page.ids), total=page.total)

    async def _tag_filter(self, campaign_id: UUID, values: Sequence[str]) -> tuple[list[UUID], str | None]:
        """Tag ids or names (any case) of the campaign, retired ones included, to filter by."""
        if not values:
            return [], None
        by_id: dict[str, UUID] = {}
        by_name: dict[str, UUID] = {}
        for tag_id, name in await self.db.execute(select(Tag.id, Tag.name).where(Tag.campaign_id == campaign_id)):
            by_id[str(tag_id)] = tag_id
            by_name[name.lower()] = tag_id
        ids: list[UUID] = []
        unknown: list[str] = []
        for value in values:
            key = value.strip()
            found = by_id.get(key.lower()) or by_name.get(key.lower())
            if found is None:
                unknown.append(key)
            else:
                ids.append(found)
        if unknown:
            return [], f"No such tag in this campaign: {', '.join(unknown)}."
        return list(dict.fromkeys(ids)), None
