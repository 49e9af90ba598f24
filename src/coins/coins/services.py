"""Coin operations against the database. The rules themselves live in `coins.ledger` (pure functions).

Every operation is one or two SQL statements that the database checks: balances cannot go negative
(CHECK constraints) and the initial grant happens once per member (unique index on the ledger).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from coins.coins.models import CoinBalance, LedgerEntry

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


async def grant_initial_allocation(
    session: AsyncSession,
    *,
    campaign_id: UUID,
    user_ids: Sequence[UUID],
    amount: int,
    actor_id: UUID | None,
) -> int:
    """Give each member their initial coins, once: members who already have a balance are skipped.

    The ledger rows are driven by the rows the balance insert actually created (RETURNING), so a second
    activation, a join racing an activation, or a retried request can never grant twice.
    """
    if not user_ids:
        return 0
    result = await session.execute(
        _GRANT,
        {"campaign_id": campaign_id, "user_ids": list(user_ids), "amount": amount, "actor_id": actor_id},
    )
    return len(result.fetchall())


async def balance_of(session: AsyncSession, *, campaign_id: UUID, user_id: UUID) -> CoinBalance:
    """The member's balance; all zeros before their first grant (a draft campaign)."""
    balance = await session.get(CoinBalance, (campaign_id, user_id))
    if balance is None:
        return CoinBalance(
            campaign_id=campaign_id, user_id=user_id, granted=0, available=0, allocated=0, expended=0
        )
    return balance


async def history_of(
    session: AsyncSession, *, campaign_id: UUID, user_id: UUID, limit: int, offset: int
) -> tuple[list[LedgerEntry], int]:
    condition = (LedgerEntry.campaign_id == campaign_id) & (LedgerEntry.user_id == user_id)
    total = await session.scalar(select(func.count()).select_from(LedgerEntry).where(condition)) or 0
    rows = await session.scalars(
        select(LedgerEntry).where(condition).order_by(LedgerEntry.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total
