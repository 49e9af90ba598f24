"""What a member sees of their coins: the balance, the ledger entries, the coins on each idea."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.coins.models import CoinAllocation, CoinBalance, LedgerEntry
from coins.ideas.models import Idea


class CoinReader:
    def __init__(self, session: AsyncSession) -> None:
        self.db = session

    async def balance(self, *, campaign_id: UUID, user_id: UUID) -> CoinBalance:
        """The member's balance; all zeros before their first grant (a draft campaign)."""
        balance = await self.db.get(CoinBalance, (campaign_id, user_id))
        if balance is None:
            return CoinBalance(
                campaign_id=campaign_id, user_id=user_id, granted=0, available=0, allocated=0, expended=0
            )
        return balance

    async def history(
        self, *, campaign_id: UUID, user_id: UUID, limit: int, offset: int
    ) -> tuple[list[LedgerEntry], int]:
        condition = (LedgerEntry.campaign_id == campaign_id) & (LedgerEntry.user_id == user_id)
        total = await self.db.scalar(select(func.count()).select_from(LedgerEntry).where(condition)) or 0
        rows = await self.db.scalars(
            select(LedgerEntry).where(condition).order_by(LedgerEntry.id.desc()).limit(limit).offset(offset)
        )
        return list(rows), total

    async def allocations(self, *, campaign_id: UUID, user_id: UUID) -> list[Any]:
        """The member's coins on each idea, with the idea's title and status (for "my coins")."""
        rows = await self.db.execute(
            select(
                CoinAllocation.idea_id,
                CoinAllocation.coins,
                CoinAllocation.votes,
                Idea.title,
                Idea.status,
                Idea.coins,
            )
            .join(Idea, Idea.id == CoinAllocation.idea_id)
            .where(CoinAllocation.campaign_id == campaign_id, CoinAllocation.user_id == user_id)
            .order_by(CoinAllocation.coins.desc(), CoinAllocation.idea_id)
        )
        return list(rows)

    async def mine_on(self, *, user_id: UUID, idea_ids: list[int]) -> dict[int, int]:
        """The member's coins on each of these ideas (absent: none)."""
        if not idea_ids:
            return {}
        rows = await self.db.execute(
            select(CoinAllocation.idea_id, CoinAllocation.coins).where(
                CoinAllocation.user_id == user_id, CoinAllocation.idea_id.in_(idea_ids)
            )
        )
        return {row[0]: row[1] for row in rows}

    async def competing_ideas(self, campaign_id: UUID, *, limit: int = 500) -> list[Any]:
        """(id, title) of the ideas coins can go to now: the "move to" choices."""
        rows = await self.db.execute(
            select(Idea.id, Idea.title)
            .where(Idea.campaign_id == campaign_id, Idea.status == "competing")
            .order_by(Idea.title)
            .limit(limit)
        )
        return list(rows)
