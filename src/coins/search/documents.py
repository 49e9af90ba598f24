"""Ideas as search documents, read from PostgreSQL in batches (indexing jobs, `coins search reindex`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.campaigns.models import Tag
from coins.ideas.models import Idea, IdeaTag
from coins.search.base import IdeaDocument


async def load_documents(
    session: AsyncSession,
    *,
    idea_ids: Sequence[int] | None = None,
    campaign_id: UUID | None = None,
    after_id: int = 0,
    limit: int = 500,
) -> list[IdeaDocument]:
    """Up to `limit` ideas with id > `after_id` (ascending), optionally only these ids or one campaign."""
    # The read time, in microseconds: the index keeps the newest read of each idea (external versions).
    read_at = func.floor(func.extract("epoch", func.statement_timestamp()) * 1_000_000).label("read_at")
    query = select(
        Idea.id,
        Idea.campaign_id,
        Idea.author_id,
        Idea.title,
        Idea.description,
        Idea.status,
        Idea.coins,
        Idea.supporters,
        Idea.created_at,
        Idea.context_id,
        read_at,
    ).where(Idea.id > after_id)
    if idea_ids is not None:
        query = query.where(Idea.id.in_(list(idea_ids)))
    if campaign_id is not None:
        query = query.where(Idea.campaign_id == campaign_id)
    rows = list(await session.execute(query.order_by(Idea.id).limit(limit)))
    if not rows:
        return []
    tags: dict[int, list[tuple[UUID, str]]] = defaultdict(list)
    for idea_id, tag_id, name in await session.execute(
        select(IdeaTag.idea_id, Tag.id, Tag.name)
        .join(Tag, Tag.id == IdeaTag.tag_id)
        .where(IdeaTag.idea_id.in_([row.id for row in rows]))
        .order_by(IdeaTag.idea_id, Tag.name)
    ):
        tags[idea_id].append((tag_id, name))
    return [
        IdeaDocument(
            id=row.id,
            campaign_id=row.campaign_id,
            author_id=row.author_id,
            title=row.title,
            description=row.description,
            status=row.status,
            coins=row.coins,
            supporters=row.supporters,
            created_at=row.created_at,
            context_id=row.context_id,
            tag_ids=[tag_id for tag_id, _ in tags[row.id]],
            tag_names=[name for _, name in tags[row.id]],
            version=int(row.read_at),
        )
        for row in rows
    ]
