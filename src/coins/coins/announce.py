"""What follows a member's committed coin operation, the same for both front doors (JSON API and pages)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from coins.lib import live
from coins.lib.metrics import COIN_ALLOCATIONS
from coins.notifications.triggers import notify_coins_received


async def announce_member_move(state: Any, *, campaign_id: UUID, operation: str, idea_id: int | None) -> None:
    """Count it, let the boards re-rank, and tell the receiving idea's author (coalesced, see the triggers).

    `idea_id` is the idea that received coins (None for a release).  Nothing here can undo the operation:
    it has committed, so failures are logged by the callees, never raised.
    """
    COIN_ALLOCATIONS.labels(operation).inc()
    live.campaign_changed(state.valkey, campaign_id)  # coalesced per process, no I/O here
    if idea_id is not None:
        await notify_coins_received(
            state.valkey, state.queue, idea_id=idea_id, raised_here=state.coins_received_raised_here
        )
