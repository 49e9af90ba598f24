"""What the ideas domain's own events mean for the boards watching the campaign: re-rank once committed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from coins.ideas.events import IdeaEvent
from coins.lib import live

if TYPE_CHECKING:
    from valkey.asyncio import Valkey

    from coins.lib.events import EventBus


def connect(bus: EventBus, *, valkey: Valkey | None) -> None:
    async def rerank(session: AsyncSession, event: IdeaEvent) -> None:
        # Coalesced per process; no I/O until after the commit.
        live.campaign_changed_after_commit(session, valkey, event.campaign_id)

    bus.subscribe(IdeaEvent, rerank)
