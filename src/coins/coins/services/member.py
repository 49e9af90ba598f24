"""A member's own coin operations: allocate, release and reallocate, each one statement of the coin function.

`coin_member_move` (coins/coins/sql/coin_member_move.sql) applies a `ledger.MemberMove` in one round trip,
guarded by row locks and conditional updates, so no interleaving of requests can overspend, and a repeated
Idempotency-Key replays the first answer (success or refusal).  Once an operation has committed it is
counted and announced (`CoinsMoved`): the boards re-rank and the receiving idea's author hears of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from coins.coins import ledger
from coins.coins.errors import CoinError, split_message
from coins.coins.events import CoinsMoved
from coins.coins.gateway import CampaignPolicy, CoinGateway
from coins.coins.ledger import RuleViolation
from coins.lib.events import EventBus
from coins.lib.metrics import COIN_ALLOCATIONS

logger = logging.getLogger("coins.coins")

# Quadratic prices depend on the member's allocation; when it changes between pricing and applying, price again.
MAX_STALE_RETRIES = 5


@dataclass(frozen=True)
class MemberResult:
    balance: dict[str, int]
    replayed: bool


def fingerprint(operation: str, **values: object) -> str:
    """What a request asked for, so a reused Idempotency-Key with a different request is refused."""
    payload = json.dumps({"op": operation, **values}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class MemberCoins:
    """Allocate, release and reallocate for one member, through the coin gateway's pool."""

    def __init__(self, gateway: CoinGateway, events: EventBus) -> None:
        self.gateway = gateway
        self.events = events

    async def allocate(
        self, campaign: CampaignPolicy, *, user_id: UUID, idea_id: int, amount: int, key: str | None,
        stamp: int | None = None,
    ) -> MemberResult:  # fmt: skip
        return await self._run(campaign, user_id, key, stamp, "allocate", take=None, put=idea_id, amount=amount)

    async def release(
        self, campaign: CampaignPolicy, *, user_id: UUID, idea_id: int, amount: int, key: str | None,
        stamp: int | None = None,
    ) -> MemberResult:  # fmt: skip
        return await self._run(campaign, user_id, key, stamp, "release", take=idea_id, put=None, amount=amount)

    async def reallocate(
        self, campaign: CampaignPolicy, *, user_id: UUID, from_idea_id: int, to_idea_id: int, amount: int,
        key: str | None, stamp: int | None = None,
    ) -> MemberResult:  # fmt: skip
        if from_idea_id == to_idea_id:
            raise CoinError("VALIDATION_001", "Choose two different ideas to move coins between.")
        return await self._run(
            campaign, user_id, key, stamp, "reallocate", take=from_idea_id, put=to_idea_id, amount=amount
        )

    async def _plan(
        self, campaign: CampaignPolicy, user_id: UUID, *, take: int | None, put: int | None, amount: int
    ) -> tuple[ledger.Side | None, ledger.Side | None]:
        """Both sides of the operation; under quadratic pricing priced from the member's current allocations
        (the rules are checked first, so a refusal costs no round trip)."""
        policy = campaign.policy
        if take is not None:
            ledger.check_release(policy, amount)
        if put is not None:
            ledger.check_allocation(policy, amount)
        quadratic = policy.pricing != "linear"

        async def side(idea_id: int | None, *, taking: bool) -> ledger.Side | None:
            if idea_id is None:
                return None
            current = await self.gateway.current_coins(idea_id, user_id) if quadratic else None
            return ledger.plan_side(policy, idea_id=idea_id, amount=amount, taking=taking, current_coins=current)

        return await side(take, taking=True), await side(put, taking=False)

    async def _run(
        self,
        campaign: CampaignPolicy,
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
            try:
                take_side, put_side = await self._plan(campaign, user_id, take=take, put=put, amount=amount)
            except RuleViolation as violation:
                raise CoinError(violation.code, violation.message) from None
            move = ledger.MemberMove(
                campaign_id=campaign.id,
                user_id=user_id,
                policy=campaign.policy,
                take=take_side,
                put=put_side,
                key=key,
                fingerprint=(
                    fingerprint(operation, campaign=campaign.id, take=take, put=put, amount=amount) if key else None
                ),
                stamp=stamp,
                policy_version=campaign.updated_at,
            )
            try:
                replayed, response = await self.gateway.move(move)
            except asyncpg.RaiseError as exc:
                code, message = split_message(str(exc))
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
                code, message = split_message(str(response["error"]))
                raise CoinError(code, message, details={"replayed": replayed})
            if not replayed:
                await self._announce(campaign, user_id, operation, put)
            return MemberResult(balance=response, replayed=replayed)
        raise CoinError("COIN_005", "Your allocation on this idea kept changing; try again.")

    async def _announce(self, campaign: CampaignPolicy, user_id: UUID, operation: str, receiving: int | None) -> None:
        """After the commit: nothing here can undo the operation (listeners' failures are logged)."""
        COIN_ALLOCATIONS.labels(operation).inc()
        await self.events.announce(
            CoinsMoved(campaign_id=campaign.id, user_id=user_id, operation=operation, receiving_idea_id=receiving)
        )
