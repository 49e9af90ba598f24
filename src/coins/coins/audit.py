"""The ledger audit: re-derive every balance, allocation and idea total from the ledger and compare.

The ledger is the truth; balances, allocations and the ideas' `coins`/`supporters` columns are caches of
it that the coin operations keep in step.  Any difference means a coin was created, lost or spent twice,
so the audit reports each one precisely.  It runs in one REPEATABLE READ transaction: a consistent
snapshot, even while the app keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# Per member: what the ledger says the balance must be.  `move` changes no balance.
_BALANCES = text(
    """
    WITH derived AS (
        SELECT campaign_id, user_id,
               sum(amount) FILTER (WHERE kind IN ('grant', 'reward')) AS granted,
               sum(CASE kind WHEN 'allocate' THEN amount
                             WHEN 'release' THEN -amount WHEN 'recycle' THEN -amount
                             WHEN 'expend' THEN -amount WHEN 'forfeit' THEN -amount ELSE 0 END) AS allocated,
               sum(amount) FILTER (WHERE kind IN ('expend', 'forfeit')) AS expended
        FROM coin_ledger GROUP BY campaign_id, user_id
    )
    SELECT coalesce(d.campaign_id, b.campaign_id) AS campaign_id, coalesce(d.user_id, b.user_id) AS user_id,
           coalesce(d.granted, 0) AS want_granted,
           coalesce(d.granted, 0) - coalesce(d.allocated, 0) - coalesce(d.expended, 0) AS want_available,
           coalesce(d.allocated, 0) AS want_allocated, coalesce(d.expended, 0) AS want_expended,
           b.granted, b.available, b.allocated, b.expended
    FROM derived d FULL OUTER JOIN coin_balances b ON b.campaign_id = d.campaign_id AND b.user_id = d.user_id
    WHERE b.user_id IS NULL
       OR coalesce(d.granted, 0) <> b.granted
       OR coalesce(d.allocated, 0) <> b.allocated
       OR coalesce(d.expended, 0) <> b.expended
       OR coalesce(d.granted, 0) - coalesce(d.allocated, 0) - coalesce(d.expended, 0) <> b.available
       OR b.available < 0 OR b.allocated < 0 OR b.expended < 0
    """
)

# Per member and idea: coins the ledger put on the idea and did not take back (expended coins stay on the
# allocation as the record of who paid for an accepted idea).
_ALLOCATIONS = text(
    """
    WITH flows AS (
        SELECT idea_id, user_id,
               CASE kind WHEN 'allocate' THEN amount WHEN 'move' THEN amount
                         WHEN 'release' THEN -amount WHEN 'recycle' THEN -amount WHEN 'forfeit' THEN -amount
                         ELSE 0 END AS delta
        FROM coin_ledger WHERE idea_id IS NOT NULL
        UNION ALL
        SELECT from_idea_id, user_id, -amount FROM coin_ledger
        WHERE kind = 'move' AND from_idea_id IS NOT NULL
    ), derived AS (
        SELECT idea_id, user_id, sum(delta) AS coins FROM flows GROUP BY idea_id, user_id
    )
    SELECT coalesce(d.idea_id, a.idea_id) AS idea_id, coalesce(d.user_id, a.user_id) AS user_id,
           coalesce(d.coins, 0) AS want_coins, a.coins
    FROM derived d FULL OUTER JOIN coin_allocations a ON a.idea_id = d.idea_id AND a.user_id = d.user_id
    WHERE coalesce(d.coins, 0) <> coalesce(a.coins, 0) OR coalesce(a.coins, 0) < 0
    """
)

_IDEAS = text(
    """
    SELECT i.id, i.coins, i.supporters,
           coalesce(sum(a.coins), 0) AS want_coins,
           count(a.user_id) FILTER (WHERE a.coins > 0) AS want_supporters
    FROM ideas i LEFT JOIN coin_allocations a ON a.idea_id = i.id
    GROUP BY i.id
    HAVING i.coins <> coalesce(sum(a.coins), 0) OR i.supporters <> count(a.user_id) FILTER (WHERE a.coins > 0)
    """
)

# A member's `allocated` is exactly their coins on ideas still competing (accepted ideas' coins are expended).
_ALLOCATED_MATCHES_IDEAS = text(
    """
    SELECT b.campaign_id, b.user_id, b.allocated,
           coalesce(sum(a.coins) FILTER (WHERE i.status NOT IN ('accepted', 'in_progress', 'complete')), 0)
               AS on_open_ideas
    FROM coin_balances b
    LEFT JOIN coin_allocations a ON a.campaign_id = b.campaign_id AND a.user_id = b.user_id
    LEFT JOIN ideas i ON i.id = a.idea_id
    GROUP BY b.campaign_id, b.user_id, b.allocated
    HAVING b.allocated <> coalesce(
        sum(a.coins) FILTER (WHERE i.status NOT IN ('accepted', 'in_progress', 'complete')), 0)
    """
)

_TOTALS = text(
    """
    SELECT count(*) AS entries,
           (SELECT count(*) FROM coin_balances) AS balances,
           (SELECT count(*) FROM coin_allocations) AS allocations,
           (SELECT coalesce(sum(granted), 0) FROM coin_balances) AS coins
    FROM coin_ledger
    """
)


@dataclass
class AuditReport:
    entries: int = 0
    balances: int = 0
    allocations: int = 0
    coins: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        head = (
            f"Checked {self.entries} ledger entries, {self.balances} balances, "
            f"{self.allocations} allocations ({self.coins} coins granted in all)."
        )
        if self.clean:
            return head + " No differences."
        return head + f" {len(self.problems)} difference(s):\n" + "\n".join(f"  - {p}" for p in self.problems)


def _member(campaign_id: UUID, user_id: UUID) -> str:
    return f"campaign {campaign_id} member {user_id}"


async def run_audit(engine: AsyncEngine, *, limit: int = 1000) -> AuditReport:
    report = AuditReport()
    async with engine.connect() as plain:
        conn = await plain.execution_options(isolation_level="REPEATABLE READ")
        totals = (await conn.execute(_TOTALS)).one()
        report.entries, report.balances, report.allocations, report.coins = (
            int(totals.entries), int(totals.balances), int(totals.allocations), int(totals.coins)
        )  # fmt: skip
        for row in (await conn.execute(_BALANCES)).all()[:limit]:
            report.problems.append(_balance_problem(row))
        for row in (await conn.execute(_ALLOCATIONS)).all()[:limit]:
            report.problems.append(
                f"idea {row.idea_id} member {row.user_id}: allocation holds {row.coins}, ledger says {row.want_coins}"
            )
        for row in (await conn.execute(_IDEAS)).all()[:limit]:
            report.problems.append(
                f"idea {row.id}: shows {row.coins} coins from {row.supporters} supporters, allocations say "
                f"{row.want_coins} from {row.want_supporters}"
            )
        for row in (await conn.execute(_ALLOCATED_MATCHES_IDEAS)).all()[:limit]:
            report.problems.append(
                f"{_member(row.campaign_id, row.user_id)}: allocated {row.allocated}, but holds "
                f"{row.on_open_ideas} on ideas still open"
            )
        await conn.rollback()
    return report


def _balance_problem(row: Any) -> str:
    who = _member(row.campaign_id, row.user_id)
    if row.granted is None:
        return f"{who}: ledger entries but no balance"
    return (
        f"{who}: balance granted/available/allocated/expended = "
        f"{row.granted}/{row.available}/{row.allocated}/{row.expended}, ledger says "
        f"{row.want_granted}/{row.want_available}/{row.want_allocated}/{row.want_expended}"
    )
