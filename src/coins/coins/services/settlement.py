"""Coins following an idea's fate: expended when it is accepted, returned or forfeited when it leaves the
competition, moved with it when it is merged.  Run inside the transaction of the status change.

Locks: settling holds the idea and then locks many members' rows, the opposite of a member's own operation
(balance, allocations, then ideas), so the status change takes the campaign's advisory lock exclusively
before it locks the idea (`coins.campaigns.locks`): a settlement never runs beside a member's operation, and
no lock cycle can form.  Within a settlement, balance rows are locked by ascending user id.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from coins.campaigns.locks import holds_campaign_exclusive
from coins.coins import ledger
from coins.coins.ledger import Kind, Policy
from coins.coins.models import CoinAllocation

# Coins on an idea leave their owners' `allocated`: back to `available` (recycle) or to `expended`.
_SETTLE = (
    "UPDATE coin_balances b SET allocated = b.allocated - a.coins, {target} = b.{target} + a.coins, "
    "updated_at = now() FROM coin_allocations a "
    "WHERE a.idea_id = :idea AND a.user_id = b.user_id AND b.campaign_id = :campaign AND a.coins > 0"
)
_RECYCLE = text(_SETTLE.format(target="available"))
_SETTLE_LEDGER = text(
    "WITH entries AS ("
    " INSERT INTO coin_ledger (campaign_id, user_id, actor_id, kind, amount, votes, idea_id, reason, created_at)"
    " SELECT :campaign, user_id, :actor, :kind, coins, votes, idea_id, :reason, now()"
    " FROM coin_allocations WHERE idea_id = :idea AND coins > 0 RETURNING amount"
    ") SELECT sum(amount) FROM entries"
)
_MERGE_LEDGER = text(
    "INSERT INTO coin_ledger (campaign_id, user_id, actor_id, kind, amount, votes, idea_id, from_idea_id, reason,"
    " created_at) VALUES (:campaign, :user, :actor, 'move', :moved, :votes, :idea, :source, 'merge', now())"
)
_LOCK_ALLOCATIONS = text("SELECT 1 FROM coin_allocations WHERE idea_id = :idea ORDER BY user_id FOR UPDATE")
_LOCK_BALANCES = text(
    "SELECT 1 FROM coin_balances WHERE campaign_id = :campaign"
    " AND user_id IN (SELECT user_id FROM coin_allocations WHERE idea_id = :idea AND coins > 0)"
    " ORDER BY user_id FOR UPDATE"
)
_EXPEND = text(_SETTLE.format(target="expended"))
_MERGE_INTO_TARGET = text(
    "INSERT INTO coin_allocations (campaign_id, idea_id, user_id, coins, votes, updated_at) "
    "VALUES (:campaign, :idea, :user, :coins, :votes, now()) "
    "ON CONFLICT (idea_id, user_id) DO UPDATE SET coins = :coins, votes = :votes, updated_at = now()"
)

_DROP_ALLOCATIONS = text("DELETE FROM coin_allocations WHERE idea_id = :idea")
_EMPTY_IDEA = text("UPDATE ideas SET coins = 0, supporters = 0 WHERE id = :idea")
_MERGED_TARGET_TOTALS = text(
    "UPDATE ideas SET coins = coins + :moved, supporters = "
    "(SELECT count(*) FROM coin_allocations WHERE idea_id = :target) WHERE id = :target"
)


class CoinSettlement:
    def __init__(self, session: AsyncSession) -> None:
        self.db = session

    async def _require_exclusive(self, campaign_id: UUID) -> None:
        """Settlements must hold the campaign lock exclusively from before they locked the idea.

        Waiting for it now, with the idea already locked, could deadlock with a member's operation that holds
        the shared lock and waits for that idea; so only try.
        """
        if not await holds_campaign_exclusive(self.db, campaign_id):
            raise RuntimeError("settling an idea's coins needs lock_campaign_exclusive() before the idea is locked")

    async def close_idea(
        self,
        *,
        campaign_id: UUID,
        policy: Policy,
        idea_id: int,
        outcome: Literal["accepted", "withdrawn", "rejected"],
        actor_id: UUID | None,
    ) -> tuple[Kind, int]:
        """Settle the coins of an idea leaving the competition; returns (what happened, total coins).

        Accepted: every coin on it is expended for good (the allocations stay, as the record of who paid).
        Withdrawn or rejected: the coins return to their owners, or are forfeited if recycling is off.
        The caller holds the campaign's advisory lock exclusively and has locked the idea (by changing its
        status) in this transaction.
        """
        kind = ledger.closing_kind(policy, outcome)
        await self._require_exclusive(campaign_id)
        # The idea's allocations, then their owners' balances in user order (no deadlocks), in SQL only: an
        # idea backed by ten thousand members must not become ten thousand Python objects.
        await self.db.execute(_LOCK_ALLOCATIONS, {"idea": idea_id})
        await self.db.execute(_LOCK_BALANCES, {"idea": idea_id, "campaign": campaign_id})
        parameters = {"idea": idea_id, "campaign": campaign_id}
        await self.db.execute(_RECYCLE if kind == Kind.RECYCLE else _EXPEND, parameters)
        # The ledger rows come straight from the allocations they settle, in one statement.
        settled = await self.db.execute(
            _SETTLE_LEDGER, {**parameters, "actor": actor_id, "kind": kind.value, "reason": f"idea {outcome}"}
        )
        total = int(settled.scalar_one() or 0)
        if kind != Kind.EXPEND:
            await self.db.execute(_DROP_ALLOCATIONS, {"idea": idea_id})
            await self.db.execute(_EMPTY_IDEA, {"idea": idea_id})
        return kind, total

    async def move_on_merge(
        self, *, campaign_id: UUID, policy: Policy, source_id: int, target_id: int, actor_id: UUID | None
    ) -> int:
        """Move every allocation of a merged idea onto its target; balances do not change. Returns coins moved.

        The caller holds the campaign's advisory lock exclusively and has locked both ideas (ascending id).  The
        merged allocation of each member is a rule (`ledger.merged_allocation`: under quadratic pricing the votes
        follow from the combined coins), so it is computed here and written back in two batched statements.
        """
        await self._require_exclusive(campaign_id)
        sources = list(
            await self.db.execute(
                select(CoinAllocation.user_id, CoinAllocation.coins)
                .where(CoinAllocation.idea_id == source_id, CoinAllocation.coins > 0)
                .order_by(CoinAllocation.user_id)
                .with_for_update()
            )
        )
        if not sources:
            return 0
        targets = {
            row.user_id: row.coins
            for row in await self.db.execute(
                select(CoinAllocation.user_id, CoinAllocation.coins)
                .where(CoinAllocation.idea_id == target_id)
                .order_by(CoinAllocation.user_id)
                .with_for_update()
            )
        }
        merged = []
        for source in sources:
            coins, votes = ledger.merged_allocation(
                policy, source_coins=source.coins, target_coins=targets.get(source.user_id, 0)
            )
            merged.append({"user": source.user_id, "coins": coins, "votes": votes, "moved": source.coins})
        common = {"campaign": campaign_id, "idea": target_id, "source": source_id, "actor": actor_id}
        await self.db.execute(_MERGE_INTO_TARGET, [{**common, **row} for row in merged])
        await self.db.execute(_MERGE_LEDGER, [{**common, **row} for row in merged])
        moved = int(sum(row["moved"] for row in merged))
        await self.db.execute(_DROP_ALLOCATIONS, {"idea": source_id})
        await self.db.execute(_MERGED_TARGET_TOTALS, {"moved": moved, "target": target_id})
        await self.db.execute(_EMPTY_IDEA, {"idea": source_id})
        return moved
