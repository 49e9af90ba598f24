"""Coin operations against the database. The rules themselves live in `coins.ledger` (pure functions).

A member's own operations (allocate, release, reallocate) go through the `coin_member_move` database
function: one statement, one round trip, guarded by row locks and conditional updates, so no
interleaving of requests can overspend and a repeated Idempotency-Key replays the first answer.  The
operations that follow an idea's fate (expend, recycle, forfeit, move on merge) and grants and rewards
run inside the caller's transaction, so the idea's new status and its coins commit together.

Locks: a member's operation takes the campaign's advisory lock shared, then that member's balance row, their
allocation rows, and the ideas (ascending id) last, so the row everyone contends for (a popular idea's
counter) is held only from its update to the commit.  Settling an idea (accept, withdraw, reject, merge)
holds the idea and then locks many members' rows, the opposite order, so it first takes the campaign's
advisory lock exclusively (`lock_campaign_exclusive`): it never runs beside a member's operation, and no
lock cycle can form.  Within a settlement, balance rows are locked by ascending user id.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from coins.coins import ledger
from coins.coins.gateway import CoinGateway
from coins.coins.ledger import Kind, Policy, RuleViolation
from coins.coins.models import CoinAllocation, CoinBalance, LedgerEntry
from coins.lib.errors import AppError

logger = logging.getLogger("coins.coins")

MAX_STALE_RETRIES = 5

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

# Status codes for the errors the database function raises (SPEC.md: 422 for rule violations).
_STATUS = {
    "COIN_001": 422,
    "COIN_002": 422,
    "COIN_003": 422,
    "COIN_004": 422,
    "IDEA_001": 404,
    "IDEA_003": 422,
    "IDEA_004": 422,
    "CAMPAIGN_002": 422,
    "AUTH_002": 403,
    "IDEMPOTENCY_001": 422,
    "VALIDATION_001": 422,
    "AUTH_001": 401,
    "SYSTEM_003": 503,
}


class CoinError(AppError):
    """A coin operation the rules or the current state refuse."""

    status_code = 422
    error_code = "COIN_001"

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, error_code=code, status_code=_STATUS.get(code, 422), details=details)


class StaleAllocation(Exception):
    """The allocation changed between reading it and applying the change (quadratic pricing): retry."""


def campaign_lock_key(campaign_id: UUID) -> Any:
    return func.hashtextextended(str(campaign_id), 0)


async def lock_campaign_shared(session: AsyncSession, campaign_id: UUID) -> None:
    await session.execute(select(func.pg_advisory_xact_lock_shared(campaign_lock_key(campaign_id))))


async def lock_campaign_exclusive(session: AsyncSession, campaign_id: UUID) -> None:
    """Wait for in-flight coin operations of the campaign to finish and keep new ones out until commit."""
    await session.execute(select(func.pg_advisory_xact_lock(campaign_lock_key(campaign_id))))


async def _require_campaign_exclusive(session: AsyncSession, campaign_id: UUID) -> None:
    """Settlements must hold the campaign lock exclusively from before they locked the idea.

    Waiting for it now, with the idea already locked, could deadlock with a member's operation that holds the
    shared lock and waits for that idea; so only try.  The try succeeds at once when this transaction already
    holds the lock (or when no coin operation is in flight, which is just as safe).
    """
    if not await session.scalar(select(func.pg_try_advisory_xact_lock(campaign_lock_key(campaign_id)))):
        raise RuntimeError("settling an idea's coins needs lock_campaign_exclusive() before the idea is locked")


def policy_of(campaign: Any) -> Policy:
    return Policy(
        initial_allocation=campaign.initial_allocation,
        idea_submission_reward=campaign.idea_submission_reward,
        allow_reallocation=campaign.allow_reallocation,
        allow_recycling=campaign.allow_recycling,
        max_allocation_per_idea=campaign.max_allocation_per_idea,
        min_allocation_amount=campaign.min_allocation_amount,
        pricing=campaign.pricing,
    )


# Grants and rewards ---------------------------------------------------------------------------------------


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


async def reward(
    session: AsyncSession, *, campaign_id: UUID, user_id: UUID, amount: int, reason: str, idea_id: int | None
) -> bool:
    """Reward coins (e.g. for submitting an idea); members without a balance yet get nothing."""
    if amount <= 0:
        return False
    await lock_campaign_shared(session, campaign_id)
    updated = await session.execute(
        text(
            "UPDATE coin_balances SET granted = granted + :amount, available = available + :amount, "
            "updated_at = now() WHERE campaign_id = :campaign AND user_id = :user RETURNING user_id"
        ),
        {"amount": amount, "campaign": campaign_id, "user": user_id},
    )
    if updated.first() is None:
        return False
    session.add(
        LedgerEntry(
            campaign_id=campaign_id, user_id=user_id, kind=Kind.REWARD.value, amount=amount, reason=reason,
            idea_id=idea_id,
        )
    )  # fmt: skip
    return True


# A member's own operations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberResult:
    balance: dict[str, int]
    replayed: bool


def fingerprint(operation: str, **values: object) -> str:
    """What a request asked for, so a reused Idempotency-Key with a different request is refused."""
    payload = json.dumps({"op": operation, **values}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class MemberCoins:
    """Allocate, release and reallocate for one member, applied by `coin_member_move` in one statement."""

    def __init__(self, gateway: CoinGateway) -> None:
        self.gateway = gateway

    async def allocate(
        self,
        campaign: Any,
        *,
        user_id: UUID,
        idea_id: int,
        amount: int,
        key: str | None,
        stamp: int | None = None,
    ) -> MemberResult:
        return await self._run(campaign, user_id, key, stamp, "allocate", take=None, put=idea_id, amount=amount)

    async def release(
        self,
        campaign: Any,
        *,
        user_id: UUID,
        idea_id: int,
        amount: int,
        key: str | None,
        stamp: int | None = None,
    ) -> MemberResult:
        return await self._run(campaign, user_id, key, stamp, "release", take=idea_id, put=None, amount=amount)

    async def reallocate(
        self,
        campaign: Any,
        *,
        user_id: UUID,
        from_idea_id: int,
        to_idea_id: int,
        amount: int,
        key: str | None,
        stamp: int | None = None,
    ) -> MemberResult:
        if from_idea_id == to_idea_id:
            raise CoinError("VALIDATION_001", "Choose two different ideas to move coins between.")
        return await self._run(
            campaign, user_id, key, stamp, "reallocate", take=from_idea_id, put=to_idea_id, amount=amount
        )

    async def _price_quadratic(
        self,
        params: dict[str, Any],
        policy: Policy,
        user_id: UUID,
        *,
        take: int | None,
        put: int | None,
        amount: int,
    ) -> None:
        """Quadratic prices depend on the current allocation; the database insists it is still unchanged."""
        if take is not None:
            now = await self.gateway.current_coins(take, user_id)
            release = ledger.plan_release(policy, amount=amount, current_coins=now)
            params.update(take_coins=release.coins, take_expected=now, take_after=release.coins_after,
                          take_votes=release.votes_after)  # fmt: skip
        if put is not None:
            now = await self.gateway.current_coins(put, user_id)
            allocation = ledger.plan_allocation(policy, amount=amount, current_coins=now)
            params.update(put_coins=allocation.coins, put_expected=now, put_after=allocation.coins_after,
                          put_votes=allocation.votes_after)  # fmt: skip

    async def _run(
        self,
        campaign: Any,
        user_id: UUID,
        key: str | None,
        stamp: int | None,
        operation: str,
        *,
        take: int | None,
        put: int | None,
        amount: int,
    ) -> MemberResult:
        for _ in range(MAX_STALE_RETRIES):
            policy = policy_of(campaign)
            linear = policy.pricing == "linear"
            try:
                if take is not None:
                    ledger.check_release(policy, amount)
                if put is not None:
                    ledger.check_allocation(policy, amount)
                params: dict[str, Any] = {
                    "campaign": campaign.id, "user": user_id, "actor": user_id, "key": key,
                    "fingerprint": (
                        fingerprint(operation, campaign=campaign.id, take=take, put=put, amount=amount) if key else None
                    ),
                    "linear": linear, "max_coins": policy.max_allocation_per_idea,
                    "take_idea": take, "take_coins": amount if take is not None else None,
                    "take_expected": None, "take_after": None, "take_votes": None,
                    "put_idea": put, "put_coins": amount if put is not None else None,
                    "put_expected": None, "put_after": None, "put_votes": None,
                    "stamp": stamp, "policy_version": getattr(campaign, "updated_at", None),
                }  # fmt: skip
                if not linear:
                    await self._price_quadratic(params, policy, user_id, take=take, put=put, amount=amount)
            except RuleViolation as violation:
                raise CoinError(violation.code, violation.message) from None
            try:
                replayed, response = await self.gateway.move(params)
            except asyncpg.RaiseError as exc:
                code, message = _split_message(str(exc))
                if code == "STALE":
                    continue
                if code == "STALE_POLICY":
                    campaign = await self.gateway.campaign(campaign.slug, fresh=True) or campaign
                    continue
                if not code:
                    raise
                raise CoinError(code, message) from None
            except asyncpg.CheckViolationError:
                raise CoinError("COIN_001", "Not enough coins.") from None
            except (OSError, asyncpg.InterfaceError, asyncpg.ConnectionDoesNotExistError) as exc:
                logger.warning("coin operation could not reach the database: %s", exc)
                raise CoinError(
                    "SYSTEM_003", "The database is unavailable; try again (with the same Idempotency-Key)."
                ) from None
            if "error" in response:
                # A refusal recorded under this Idempotency-Key (now, or by the original request).
                code, message = _split_message(str(response["error"]))
                raise CoinError(code, message, details={"replayed": replayed})
            return MemberResult(balance=response, replayed=replayed)
        raise CoinError("COIN_005", "Your allocation on this idea kept changing; try again.")


def _split_message(text_: str) -> tuple[str, str]:
    """'COIN_001: not enough coins' -> ('COIN_001', 'Not enough coins'); ('', text) if there is no code."""
    head, _, rest = text_.strip().partition(": ")
    if head.isupper() and ("_" in head or head == "STALE"):
        return head, (rest[:1].upper() + rest[1:]) if rest else head
    return "", text_


# An idea's fate -----------------------------------------------------------------------------------------


async def _lock_supporters(session: AsyncSession, campaign_id: UUID, idea_id: int) -> None:
    """Lock the idea's allocations, then their owners' balances in user order (no deadlocks), in SQL only:
    an idea backed by ten thousand members must not become ten thousand Python objects."""
    await session.execute(_LOCK_ALLOCATIONS, {"idea": idea_id})
    await session.execute(_LOCK_BALANCES, {"idea": idea_id, "campaign": campaign_id})


async def close_idea(
    session: AsyncSession,
    *,
    campaign: Any,
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
    kind = ledger.closing_kind(policy_of(campaign), outcome)
    await _require_campaign_exclusive(session, campaign.id)
    await _lock_supporters(session, campaign.id, idea_id)
    parameters = {"idea": idea_id, "campaign": campaign.id}
    await session.execute(_RECYCLE if kind == Kind.RECYCLE else _EXPEND, parameters)
    # The ledger rows come straight from the allocations they settle, in one statement.
    settled = await session.execute(
        _SETTLE_LEDGER,
        {**parameters, "actor": actor_id, "kind": kind.value, "reason": f"idea {outcome}"},
    )
    total = int(settled.scalar_one() or 0)
    if kind != Kind.EXPEND:
        await session.execute(text("DELETE FROM coin_allocations WHERE idea_id = :idea"), {"idea": idea_id})
        await session.execute(text("UPDATE ideas SET coins = 0, supporters = 0 WHERE id = :idea"), {"idea": idea_id})
    return kind, total


async def move_on_merge(
    session: AsyncSession, *, campaign: Any, source_id: int, target_id: int, actor_id: UUID | None
) -> int:
    """Move every allocation of a merged idea onto its target; balances do not change. Returns coins moved.

    The caller holds the campaign's advisory lock exclusively and has locked both ideas (ascending id).  The
    merged allocation of each member is a rule (`ledger.merged_allocation`: under quadratic pricing the votes
    follow from the combined coins), so it is computed here and written back in two batched statements.
    """
    policy = policy_of(campaign)
    await _require_campaign_exclusive(session, campaign.id)
    sources = list(
        await session.execute(
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
        for row in await session.execute(
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
    common = {"campaign": campaign.id, "idea": target_id, "source": source_id, "actor": actor_id}
    await session.execute(_MERGE_INTO_TARGET, [{**common, **row} for row in merged])
    await session.execute(_MERGE_LEDGER, [{**common, **row} for row in merged])
    moved = int(sum(row["moved"] for row in merged))
    await session.execute(text("DELETE FROM coin_allocations WHERE idea_id = :idea"), {"idea": source_id})
    await session.execute(
        text(
            "UPDATE ideas SET coins = coins + :moved, supporters = "
            "(SELECT count(*) FROM coin_allocations WHERE idea_id = :target) WHERE id = :target"
        ),
        {"moved": moved, "target": target_id},
    )
    await session.execute(text("UPDATE ideas SET coins = 0, supporters = 0 WHERE id = :idea"), {"idea": source_id})
    return moved


# Reading ------------------------------------------------------------------------------------------------


async def balance_of(session: AsyncSession, *, campaign_id: UUID, user_id: UUID) -> CoinBalance:
    """The member's balance; all zeros before their first grant (a draft campaign)."""
    balance = await session.get(CoinBalance, (campaign_id, user_id))
    if balance is None:
        return CoinBalance(campaign_id=campaign_id, user_id=user_id, granted=0, available=0, allocated=0, expended=0)
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


async def allocations_of(session: AsyncSession, *, campaign_id: UUID, user_id: UUID) -> list[Any]:
    """The member's coins on each idea, with the idea's title and status (for "my coins")."""
    from coins.ideas.models import Idea

    rows = await session.execute(
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
