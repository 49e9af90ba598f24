"""The hot path to the coin function: a plain asyncpg pool and a short-lived cache of campaign policies.

A member's coin operation is one database statement (`coin_member_move`), so it needs no ORM session, no
explicit BEGIN/COMMIT round trips and no per-checkout ping: the statement runs on a pooled asyncpg
connection in autocommit mode and is its own transaction.  Campaign policies are cached for a few seconds
per process; the function compares the cached version (`updated_at`) with the row and answers STALE_POLICY
when an administrator changed the policy meanwhile, so a stale cache can never apply an old rule.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from coins.coins.ledger import MemberMove, Policy

POLICY_TTL_SECONDS = 5.0
COIN_POOL_NAME = "coins-coin-path"
# Operations per idea and process at the database at once (IdeaGates): measured on the benchmark's one hot
# idea, 3 gave ~15% more allocations per second than no gate, 1 gave less (nothing overlaps the commit).
IDEA_GATE_WIDTH = 3
BROKEN_CONNECTION = (
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    OSError,
)

_MOVE = """
SELECT was_replayed, result FROM coin_member_move(
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19
)
"""  # the arguments: `MemberMove.arguments()`
_CAMPAIGN = """
SELECT id, slug, campaign_type, status, updated_at, initial_allocation, idea_submission_reward,
       allow_reallocation, allow_recycling, max_allocation_per_idea, min_allocation_amount, pricing
FROM campaigns WHERE slug = $1
"""
_CURRENT = "SELECT coins FROM coin_allocations WHERE idea_id = $1 AND user_id = $2"


@dataclass(frozen=True)
class CampaignPolicy:
    """What a coin operation needs to know about its campaign (read by slug, cached briefly): its identity,
    status, and the coin policy with its version (`updated_at`, compared by the coin function)."""

    id: UUID
    slug: str
    campaign_type: str
    status: str
    updated_at: datetime
    policy: Policy

    @classmethod
    def of(cls, campaign: Any) -> CampaignPolicy:
        """From a campaign row (the pages have it loaded already) or the gateway's own query."""
        return cls(
            id=campaign.id,
            slug=campaign.slug,
            campaign_type=campaign.campaign_type,
            status=campaign.status,
            updated_at=campaign.updated_at,
            policy=Policy.of(campaign),
        )


def plain_dsn(url: str) -> str:
    """asyncpg wants postgresql://, SQLAlchemy's URL says postgresql+asyncpg://."""
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


class CoinGateway:
    def __init__(self, database_url: str, *, pool_size: int) -> None:
        self.dsn = plain_dsn(database_url)
        self.size = pool_size
        self.pool: asyncpg.Pool | None = None
        self._policies: dict[str, tuple[float, CampaignPolicy]] = {}
        self._idea_gates = IdeaGates(IDEA_GATE_WIDTH)

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(
            self.dsn,
            min_size=1,
            max_size=self.size,
            max_inactive_connection_lifetime=300,
            command_timeout=30,
            init=_codecs,
            server_settings={"application_name": COIN_POOL_NAME},  # tells its sessions apart in pg_stat_activity
            # The coin statements leave no session state behind (no LISTEN, SET or session-level locks), so
            # asyncpg's reset query on every release would only cost a round trip.
            reset=_no_reset,
        )

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    def _pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("the coin gateway is not started")
        return self.pool

    async def campaign(self, slug: str, *, fresh: bool = False) -> CampaignPolicy | None:
        cached = self._policies.get(slug)
        if cached is not None and not fresh and time.monotonic() - cached[0] < POLICY_TTL_SECONDS:
            return cached[1]
        row = await self._fetchrow(_CAMPAIGN, slug)
        if row is None:
            self._policies.pop(slug, None)
            return None
        policy = CampaignPolicy.of(SimpleNamespace(**row))
        self._policies[slug] = (time.monotonic(), policy)
        return policy

    async def current_coins(self, idea_id: int, user_id: UUID) -> int:
        row = await self._fetchrow(_CURRENT, idea_id, user_id)
        return int(row["coins"]) if row is not None else 0

    async def move(self, move: MemberMove) -> tuple[bool, dict[str, Any]]:
        """Apply a member's operation: (replayed, the new balance or the recorded refusal)."""
        ideas = (move.take.idea_id if move.take else None, move.put.idea_id if move.put else None)
        async with self._idea_gates.enter(*ideas):
            row = await self._fetchrow(_MOVE, *move.arguments())
        assert row is not None
        return bool(row["was_replayed"]), dict(row["result"])

    async def _fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        async with self._pool().acquire() as connection:
            try:
                return await connection.fetchrow(query, *args)
            except BROKEN_CONNECTION:
                # PostgreSQL went away under this connection (a restart sends FATAL to idle sessions, which
                # leaves the protocol mid-error). Without asyncpg's reset query nothing else would notice, so
                # close it here: the pool replaces it, and the caller's error handler answers 503.
                connection.terminate()
                raise


class IdeaGates:
    """At most `width` of this process's operations on one idea are at the database at a time.

    Operations on one idea serialize on its counter row anyway (from the row's update to the commit).  With
    many in flight, the others would queue in PostgreSQL's lock manager, where each waiter holds a connection
    and a backend and every handover wakes processes; here they wait as cheap asyncio tasks instead, and the
    pool's connections stay free for operations on other ideas.  A few (not one) go through so that each
    operation's own work before the counter update overlaps with the previous one's commit.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self._gates: dict[int, asyncio.Semaphore] = {}
        self._users: dict[int, int] = {}

    @asynccontextmanager
    async def enter(self, *ideas: int | None) -> AsyncIterator[None]:
        ordered = sorted({idea for idea in ideas if idea is not None})  # one order: no cycle between two ideas
        for idea in ordered:
            self._users[idea] = self._users.get(idea, 0) + 1
            if idea not in self._gates:
                self._gates[idea] = asyncio.Semaphore(self.width)
        entered: list[int] = []
        try:
            for idea in ordered:
                await self._gates[idea].acquire()
                entered.append(idea)
            yield
        finally:
            for idea in entered:
                self._gates[idea].release()
            for idea in ordered:
                self._users[idea] -= 1
                if not self._users[idea]:  # nobody holds or waits: forget the idea
                    del self._users[idea], self._gates[idea]


async def _no_reset(connection: asyncpg.Connection) -> None:
    return None


async def _codecs(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec("jsonb", encoder=_encode, decoder=msgspec.json.decode, schema="pg_catalog")


def _encode(value: Any) -> str:
    return msgspec.json.encode(value).decode()
