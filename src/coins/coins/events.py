"""What happens to coins outside the transactions of other domains: a member's own operation.

A member's allocate, release or reallocate commits inside the coin function (one statement on the coin pool,
no session), so it is announced after its commit (`EventBus.announce`): the boards re-rank, the receiving
idea's author hears of it (coalesced).  Coins that move with an idea's fate (settlement, merge, rewards) are
part of that idea's own event instead (`coins.ideas.events`, through `IdeaEvent.note`).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from coins.lib.events import Event


@dataclass(frozen=True, kw_only=True)
class CoinsMoved(Event):
    campaign_id: UUID
    user_id: UUID
    operation: str  # allocate, release or reallocate
    # The idea that received coins (None for a release).
    receiving_idea_id: int | None
