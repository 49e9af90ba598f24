"""Keeping an external index in step: every committed change of an idea enqueues its re-indexing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from coins.ideas.events import IdeaEvent, IdeaStatusChanged
from coins.lib.jobs import enqueue_after_commit

if TYPE_CHECKING:
    from saq.queue import Queue

    from coins.lib.events import EventBus


def connect(bus: EventBus, *, queue: Queue | None, indexing: bool) -> None:
    """`indexing`: an external index is configured (OpenSearch); PostgreSQL search reads the rows themselves."""
    if not indexing:
        return

    async def reindex(session: AsyncSession, event: IdeaEvent) -> None:
        ideas = [event.idea.id]
        if isinstance(event, IdeaStatusChanged) and event.merged_into is not None:
            ideas.append(event.merged_into)  # its coins and supporters changed too
        for idea_id in ideas:
            enqueue_after_commit(session, queue, "index_idea", idea_id=idea_id)

    bus.subscribe(IdeaEvent, reindex)
