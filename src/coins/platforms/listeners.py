"""What idea events mean for platforms: their ideas' links and the webhooks they registered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from coins.ideas.events import IdeaEvent, IdeaSubmitted
from coins.platforms.hooks import on_idea_event

if TYPE_CHECKING:
    from saq.queue import Queue

    from coins.lib.events import EventBus
    from coins.lib.links import Links


def connect(bus: EventBus, *, links: Links, queue: Queue | None) -> None:
    async def idea_changed(session: AsyncSession, event: IdeaEvent) -> None:
        origin = event.origin if isinstance(event, IdeaSubmitted) else None
        await on_idea_event(session, event, links=links, queue=queue, attribution=origin)

    bus.subscribe(IdeaEvent, idea_changed)
