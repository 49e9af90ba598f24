"""The executive dashboard: every launched campaign compared, their totals, twelve months of trends and the
latest outcomes of implemented ideas.

Definitions: completion rate = completed or archived campaigns / campaigns launched (not draft);
implementation rate = complete ideas / ideas ever accepted (accepted, in progress, complete);
engagement = members who allocated / members; cost per engaged member = cost / engaged members, over
the campaigns whose cost an admin entered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coins.analytics.services.numbers import as_float
from coins.analytics.services.outcomes import OutcomeRow, Outcomes


@dataclass(frozen=True)
class CampaignComparison:
    slug: str
    title: str
    status: str
    campaign_type: str
    starts_at: datetime
    ends_at: datetime
    members: int
    engaged: int
    ideas: int
    accepted: int
    implemented: int
    coins_granted: int
    coins_spent: int
    cost_cents: int | None
    gini: float | None
    engagement: float | None
    implementation_rate: float | None
    cost_per_engaged_cents: float | None


@dataclass(frozen=True)
class ExecutiveTotals:
    campaigns: int
    completed: int
    completion_rate: float | None
    ideas_accepted: int
    ideas_implemented: int
    implementation_rate: float | None
    members: int
    engaged: int
    engagement: float | None
    cost_cents: int
    engaged_with_cost: int
    cost_per_engaged_cents: float | None


@dataclass(frozen=True)
class MonthTrend:
    month: date
    campaigns_started: int
    campaigns_completed: int
    members_joined: int
    ideas_submitted: int
    ideas_implemented: int
    coins_allocated: int
    allocators: int


@dataclass(frozen=True)
class ExecutiveDashboard:
    totals: ExecutiveTotals
    campaigns: list[CampaignComparison]
    trends: list[MonthTrend]
    outcomes: list[OutcomeRow]
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


# One row per launched campaign; the totals are the same CTE summed, so they can never disagree.
_PER_CAMPAIGN = """
    WITH members AS (
        SELECT campaign_id, count(*) AS members FROM campaign_members WHERE left_at IS NULL GROUP BY campaign_id
    ), engaged AS (
        SELECT l.campaign_id, count(DISTINCT l.user_id) AS engaged
        FROM coin_ledger l
        JOIN campaign_members m ON m.campaign_id = l.campaign_id AND m.user_id = l.user_id AND m.left_at IS NULL
        WHERE l.kind = 'allocate'
        GROUP BY l.campaign_id
    ), idea_figures AS (
        SELECT campaign_id, count(*) AS ideas,
               count(*) FILTER (WHERE status IN ('accepted', 'in_progress', 'complete')) AS accepted,
               count(*) FILTER (WHERE status = 'complete') AS implemented
        FROM ideas GROUP BY campaign_id
    ), concentration AS (
        SELECT campaign_id,
               CASE WHEN sum(coins) = 0 THEN NULL
                    ELSE 2.0 * sum(r * coins) / (count(*) * sum(coins)) - (count(*) + 1.0) / count(*) END AS gini
        FROM (SELECT campaign_id, coins, row_number() OVER (PARTITION BY campaign_id ORDER BY coins, id) AS r
              FROM ideas WHERE status IN ('competing', 'accepted', 'in_progress', 'complete')) ranked
        GROUP BY campaign_id
    ), coins AS (
        SELECT campaign_id, sum(granted) AS granted, sum(allocated + expended) AS spent
        FROM coin_balances GROUP BY campaign_id
    ), per_campaign AS (
        SELECT c.id, c.slug, c.title, c.status, c.campaign_type, c.starts_at, c.ends_at, c.cost_cents,
               coalesce(m.members, 0) AS members, coalesce(e.engaged, 0) AS engaged,
               coalesce(f.ideas, 0) AS ideas, coalesce(f.accepted, 0) AS accepted,
               coalesce(f.implemented, 0) AS implemented,
               coalesce(k.granted, 0) AS coins_granted, coalesce(k.spent, 0) AS coins_spent, g.gini
        FROM campaigns c
        LEFT JOIN members m ON m.campaign_id = c.id
        LEFT JOIN engaged e ON e.campaign_id = c.id
        LEFT JOIN idea_figures f ON f.campaign_id = c.id
        LEFT JOIN concentration g ON g.campaign_id = c.id
        LEFT JOIN coins k ON k.campaign_id = c.id
        WHERE c.status <> 'draft'
    )
"""

_CAMPAIGN_ROWS = text(
    _PER_CAMPAIGN  # noqa: S608 - two constant strings
    + """
    SELECT *, engaged::numeric / nullif(members, 0) AS engagement,
           implemented::numeric / nullif(accepted, 0) AS implementation_rate,
           cost_cents::numeric / nullif(engaged, 0) AS cost_per_engaged_cents
    FROM per_campaign ORDER BY starts_at DESC, slug
    """
)

_TOTALS = text(
    _PER_CAMPAIGN  # noqa: S608 - two constant strings
    + """
    SELECT count(*) AS campaigns,
           count(*) FILTER (WHERE status IN ('completed', 'archived')) AS completed,
           count(*) FILTER (WHERE status IN ('completed', 'archived'))::numeric
             / nullif(count(*), 0) AS completion_rate,
           coalesce(sum(accepted), 0) AS accepted, coalesce(sum(implemented), 0) AS implemented,
           sum(implemented)::numeric / nullif(sum(accepted), 0) AS implementation_rate,
           coalesce(sum(members), 0) AS members, coalesce(sum(engaged), 0) AS engaged,
           sum(engaged)::numeric / nullif(sum(members), 0) AS engagement,
           coalesce(sum(cost_cents) FILTER (WHERE cost_cents IS NOT NULL), 0) AS cost_cents,
           coalesce(sum(engaged) FILTER (WHERE cost_cents IS NOT NULL), 0) AS engaged_with_cost,
           sum(cost_cents) FILTER (WHERE cost_cents IS NOT NULL)::numeric
             / nullif(sum(engaged) FILTER (WHERE cost_cents IS NOT NULL), 0) AS cost_per_engaged_cents
    FROM per_campaign
    """
)

# The last twelve calendar months (UTC), each source grouped by month once and joined to the series.
_TRENDS = text(
    """
    WITH months AS (
        SELECT generate_series(
            date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months',
            date_trunc('month', now() AT TIME ZONE 'UTC'),
            interval '1 month'
        )::date AS month
    ), started AS (
        SELECT date_trunc('month', coalesce(activated_at, starts_at) AT TIME ZONE 'UTC')::date AS month, count(*) AS n
        FROM campaigns WHERE status <> 'draft' GROUP BY 1
    ), completed AS (
        SELECT date_trunc('month', completed_at AT TIME ZONE 'UTC')::date AS month, count(*) AS n
        FROM campaigns WHERE completed_at IS NOT NULL GROUP BY 1
    ), joined AS (
        SELECT date_trunc('month', joined_at AT TIME ZONE 'UTC')::date AS month, count(*) AS n
        FROM campaign_members GROUP BY 1
    ), submitted AS (
        SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date AS month, count(*) AS n FROM ideas GROUP BY 1
    ), implemented AS (
        SELECT date_trunc('month', status_changed_at AT TIME ZONE 'UTC')::date AS month, count(*) AS n
        FROM ideas WHERE status = 'complete' GROUP BY 1
    ), allocated AS (
        SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date AS month, sum(amount) AS coins,
               count(DISTINCT user_id) AS allocators
        FROM coin_ledger
        WHERE kind = 'allocate'
          AND created_at >= (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '11 months')
                            AT TIME ZONE 'UTC'
        GROUP BY 1
    )
    SELECT months.month,
           coalesce(started.n, 0) AS campaigns_started, coalesce(completed.n, 0) AS campaigns_completed,
           coalesce(joined.n, 0) AS members_joined, coalesce(submitted.n, 0) AS ideas_submitted,
           coalesce(implemented.n, 0) AS ideas_implemented, coalesce(allocated.coins, 0) AS coins_allocated,
           coalesce(allocated.allocators, 0) AS allocators
    FROM months
    LEFT JOIN started USING (month) LEFT JOIN completed USING (month) LEFT JOIN joined USING (month)
    LEFT JOIN submitted USING (month) LEFT JOIN implemented USING (month) LEFT JOIN allocated USING (month)
    ORDER BY months.month
    """
)


class ExecutiveDashboards:
    """The executive dashboard's figures; its outcomes come from `Outcomes` (the rows the outcome pages show)."""

    def __init__(self, session: AsyncSession, outcomes: Outcomes) -> None:
        self.db = session
        self.outcomes = outcomes

    async def compute(self, *, outcome_limit: int = 50) -> ExecutiveDashboard:
        rows = await self.db.execute(_CAMPAIGN_ROWS)
        campaigns = [
            CampaignComparison(
                slug=r.slug,
                title=r.title,
                status=r.status,
                campaign_type=r.campaign_type,
                starts_at=r.starts_at,
                ends_at=r.ends_at,
                members=int(r.members),
                engaged=int(r.engaged),
                ideas=int(r.ideas),
                accepted=int(r.accepted),
                implemented=int(r.implemented),
                coins_granted=int(r.coins_granted),
                coins_spent=int(r.coins_spent),
                cost_cents=r.cost_cents,
                gini=as_float(r.gini),
                engagement=as_float(r.engagement),
                implementation_rate=as_float(r.implementation_rate),
                cost_per_engaged_cents=as_float(r.cost_per_engaged_cents),
            )
            for r in rows
        ]
        t = (await self.db.execute(_TOTALS)).one()
        totals = ExecutiveTotals(
            campaigns=int(t.campaigns),
            completed=int(t.completed),
            completion_rate=as_float(t.completion_rate),
            ideas_accepted=int(t.accepted),
            ideas_implemented=int(t.implemented),
            implementation_rate=as_float(t.implementation_rate),
            members=int(t.members),
            engaged=int(t.engaged),
            engagement=as_float(t.engagement),
            cost_cents=int(t.cost_cents),
            engaged_with_cost=int(t.engaged_with_cost),
            cost_per_engaged_cents=as_float(t.cost_per_engaged_cents),
        )
        trends = [
            MonthTrend(
                month=r.month,
                campaigns_started=int(r.campaigns_started),
                campaigns_completed=int(r.campaigns_completed),
                members_joined=int(r.members_joined),
                ideas_submitted=int(r.ideas_submitted),
                ideas_implemented=int(r.ideas_implemented),
                coins_allocated=int(r.coins_allocated),
                allocators=int(r.allocators),
            )
            for r in await self.db.execute(_TRENDS)
        ]
        return ExecutiveDashboard(
            totals=totals, campaigns=campaigns, trends=trends, outcomes=await self.outcomes.latest(outcome_limit)
        )
