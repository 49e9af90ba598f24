"""Coins coming in: the initial allocation (on activation, or on joining a running campaign) and rewards."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coins.campaigns.locks import lock_campaign_shared
from coins.coins.ledger import Kind
from coins.coins.models import LedgerEntry

_GRANT = text(
    """
    WITH granted AS (
        INSERT INTO coin_balances (campaign_id, user_id, granted, available)
        SELECT :campaign_id, member, :amount, :amount FROM unnest(CAST(:user_ids AS uuid[])) AS member
        ON CONFLICT (campaign_id, user_id) DO NOTHING
        RETURNING user_id
    )
    INSERT INTO coin_ledger (campaign_id, user_id, actor_id, kind, amount, reason)
    SELECT :campaign_id, user_id, :actor_id, 'grant', :amount, 'initial allocation'
    FROM granted WHERE :amount > 0
    RETURNING user_id
    """
)
_REWARD = text(
    "UPDATE coin_balances SET granted = granted + :amount, available = available + :amount, "
    "updated_at = now() WHERE campaign_id = :campaign AND user_id = :user RETURNING user_id"
)


class CoinGrants:
    """Runs in the caller's transaction (the activation, the join, the idea that starts competing)."""

    def __init__(self, session: AsyncSession) -> None:
        self.db = session

    async def initial_allocation(
        self, *, campaign_id: UUID, user_ids: Sequence[UUID], amount: int, actor_id: UUID | None
    ) -> int:
        """Give each member their initial coins, once: members who already have a balance are skipped.

        The ledger rows are driven by the rows the balance insert actually created (RETURNING), so a second
        activation, a join racing an activation, or a retried request can never grant twice.
        """
        if not user_ids:
            return 0
        result = await self.db.execute(
            _GRANT, {"campaign_id": campaign_id, "user_ids": list(user_ids), "amount": amount, "actor_id": actor_id}
        )
        return len(result.fetchall())

    async def reward(self, *, campaign_id: UUID, user_id: UUID, amount: int, reason: str, idea_id: int | None) -> bool:
        """Reward coins (e.g. for submitting an idea); members without a balance yet get nothing."""
        if amount <= 0:
            return False
        await lock_campaign_shared(self.db, campaign_id)
        updated = await self.db.execute(_REWARD, {"amount": amount, "campaign": campaign_id, "user": user_id})
        if updated.first() is None:
            return False
        self.db.add(
            LedgerEntry(
                campaign_id=campaign_id, user_id=user_id, kind=Kind.REWARD.value, amount=amount, reason=reason,
                idea_id=idea_id,
            )
        )  # fmt: skip
        return True
