"""The dashboards' figures, each computed by PostgreSQL (aggregates and window functions), never by
loading rows into Python: a campaign with a million ledger entries costs the same few round trips as a
small one.

Definitions (the tests check them against hand-computed fixtures):
- Members are current members (`left_at IS NULL`), managers included (they hold coins too).
- Participation: invited = distinct addresses ever invited; joined = members; submitted = members who
  authored at least one idea; allocated = members with at least one `allocate` ledger entry.
- Coins spent = allocated + expended (on ideas, or used up by accepted ideas); unspent = available.
- Concentration is over the ideas that compete or competed and still hold their coins (competing,
  accepted, in progress, complete). Gini = 2·Σ(i·x₍ᵢ₎) / (n·Σx) - (n+1)/n with x ascending and i from 1;
  the top 10 % are the ceil(n/10) ideas with most coins.
- Idea status funnel: submitted → approved (reached competing, even if merged or withdrawn since) →
  accepted → in progress → complete (later stages include the ideas that went further).
- Executive: completion rate = completed or archived campaigns / campaigns launched (not draft);
  implementation rate = complete ideas / ideas ever accepted (accepted, in progress, complete);
  engagement = members who allocated / members; cost per engaged member = cost / engaged members, over
  the campaigns whose cost an admin entered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import CurrentUser
from coins.analytics.access import require_outcome_writer
from coins.analytics.models import IdeaOutcome
from coins.campaigns.access import CampaignAccess
from coins.campaigns.models import Campaign, CampaignMember
from coins.ideas.access import IdeaNotFound
from coins.ideas.models import Idea
from coins.lib import audit
from coins.lib.db import commit
from coins.lib.errors import AppError, InvalidInput

# Ideas whose coins count in distribution figures: competing now, or accepted and beyond.
# Figures over ideas that hold coins use: competing, accepted, in_progress, complete (written out in SQL).
# The histogram has ten buckets; trends cover twelve months.
TOP_IDEAS = 10


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# Campaign dashboard ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    label: str
    count: int
    # Share of the funnel's first stage (None when that is 0).
    of_first: float | None


@dataclass(frozen=True)
class Bucket:
    low: int
    high: int
    members: int

    @property
    def label(self) -> str:
        return f"{self.low}\u2013{self.high}" if self.high != self.low else str(self.low)


@dataclass(frozen=True)
class CoinTotals:
    granted: int
    available: int
    allocated: int
    expended: int

    @property
    def spent(self) -> int:
        return self.allocated + self.expended

    @property
    def spent_share(self) -> float | None:
        return _ratio(self.spent, self.granted)


@dataclass(frozen=True)
class Concentration:
    ideas: int
    coins: int
    gini: float | None
    top_count: int
    top_share: float | None


@dataclass(frozen=True)
class TopIdea:
    id: int
    title: str
    status: str
    coins: int
    supporters: int
    share: float | None


@dataclass(frozen=True)
class DayActivity:
    day: date
    allocated: int
    released: int
    allocations: int
    members: int
    # Coins on ideas at the end of the day: allocations less releases, recycling and forfeits so far.
    on_ideas: int


@dataclass(frozen=True)
class TagFigures:
    name: str
    colour: str
    is_active: bool
    ideas: int
    coins: int


@dataclass(frozen=True)
class CampaignDashboard:
    slug: str
    title: str
    status: str
    invited: int
    invitations_accepted: int
    members: int
    submitted: int
    allocated: int
    participation: list[Stage]
    histogram: list[Bucket]
    coins: CoinTotals
    concentration: Concentration
    top_ideas: list[TopIdea]
    over_time: list[DayActivity]
    status_funnel: list[Stage]
    statuses: dict[str, int]
    tags: list[TagFigures]
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def engagement(self) -> float | None:
        return _ratio(self.allocated, self.members)


def _funnel(pairs: list[tuple[str, int]]) -> list[Stage]:
    first = pairs[0][1] if pairs else 0
    return [Stage(label, count, _ratio(count, first)) for label, count in pairs]


_PARTICIPATION = text(
    """
    WITH members AS (
        SELECT user_id FROM campaign_members WHERE campaign_id = :c AND left_at IS NULL
    )
    SELECT
        (SELECT count(DISTINCT lower(email)) FROM invitations WHERE campaign_id = :c) AS invited,
        (SELECT count(*) FROM invitations WHERE campaign_id = :c AND status = 'accepted') AS accepted,
        (SELECT count(*) FROM members) AS members,
        (SELECT count(DISTINCT i.author_id) FROM ideas i JOIN members m ON m.user_id = i.author_id
          WHERE i.campaign_id = :c) AS submitted,
        (SELECT count(DISTINCT l.user_id) FROM coin_ledger l JOIN members m ON m.user_id = l.user_id
          WHERE l.campaign_id = :c AND l.kind = 'allocate') AS allocated
    """
)

# Members by coins spent (allocated + expended), in ten equal buckets up to the largest grant; empty
# buckets are kept (generate_series) so the histogram's shape is honest.
_HISTOGRAM = text(
    """
    WITH b AS (
        SELECT allocated + expended AS spent, granted FROM coin_balances WHERE campaign_id = :c
    ), w AS (
        SELECT greatest(1, ceil(greatest(coalesce(max(granted), 0), coalesce(max(spent), 0))
                                / 10.0))::int AS width,
               greatest(coalesce(max(granted), 0), coalesce(max(spent), 0)) AS top
        FROM b
    )
    SELECT s.bucket, s.bucket * w.width AS low,
           CASE WHEN s.bucket = 9 THEN greatest(w.top, (s.bucket + 1) * w.width - 1)
                ELSE (s.bucket + 1) * w.width - 1 END AS high,
           count(b.spent) AS members
    FROM w CROSS JOIN generate_series(0, 9) AS s(bucket)
    LEFT JOIN b ON least(b.spent / w.width, 9) = s.bucket
    GROUP BY s.bucket, w.width, w.top
    ORDER BY s.bucket
    """
)

_COIN_TOTALS = text(
    """
    SELECT coalesce(sum(granted), 0) AS granted, coalesce(sum(available), 0) AS available,
           coalesce(sum(allocated), 0) AS allocated, coalesce(sum(expended), 0) AS expended
    FROM coin_balances WHERE campaign_id = :c
    """
)

_CONCENTRATION = text(
    """
    WITH x AS (
        SELECT coins,
               row_number() OVER (ORDER BY coins ASC, id) AS ascending,
               row_number() OVER (ORDER BY coins DESC, id) AS descending,
               count(*) OVER () AS n,
               sum(coins) OVER () AS total
        FROM ideas WHERE campaign_id = :c AND status IN ('competing', 'accepted', 'in_progress', 'complete')
    )
    SELECT coalesce(max(n), 0) AS ideas,
           coalesce(max(total), 0) AS coins,
           CASE WHEN coalesce(max(total), 0) = 0 THEN NULL
                ELSE 2.0 * sum(ascending * coins) / (max(n) * max(total)) - (max(n) + 1.0) / max(n) END AS gini,
           coalesce(ceil(max(n) / 10.0), 0)::int AS top_count,
           CASE WHEN coalesce(max(total), 0) = 0 THEN NULL
                ELSE sum(coins) FILTER (WHERE descending <= ceil(n / 10.0))::numeric / max(total) END AS top_share
    FROM x
    """
)

_TOP_IDEAS = text(
    """
    SELECT id, title, status, coins, supporters,
           coins::numeric / nullif(sum(coins) OVER (), 0) AS share
    FROM ideas WHERE campaign_id = :c AND status IN ('competing', 'accepted', 'in_progress', 'complete')
    ORDER BY coins DESC, supporters DESC, id
    LIMIT :limit
    """
)

# Per day (UTC) from the ledger, every day between the first and the last activity (empty days as 0),
# with the running total of coins on ideas.
_OVER_TIME = text(
    """
    WITH daily AS (
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day,
               coalesce(sum(amount) FILTER (WHERE kind = 'allocate'), 0) AS allocated,
               coalesce(sum(amount) FILTER (WHERE kind IN ('release', 'recycle', 'forfeit')), 0) AS released,
               count(*) FILTER (WHERE kind = 'allocate') AS allocations,
               count(DISTINCT user_id) FILTER (WHERE kind IN ('allocate', 'move', 'release')) AS members
        FROM coin_ledger
        WHERE campaign_id = :c AND kind IN ('allocate', 'release', 'recycle', 'forfeit', 'move')
        GROUP BY 1
    ), span AS (
        SELECT min(day) AS first, max(day) AS last FROM daily
    )
    SELECT d::date AS day, coalesce(daily.allocated, 0) AS allocated, coalesce(daily.released, 0) AS released,
           coalesce(daily.allocations, 0) AS allocations, coalesce(daily.members, 0) AS members,
           sum(coalesce(daily.allocated, 0) - coalesce(daily.released, 0)) OVER (ORDER BY d) AS on_ideas
    FROM span
    CROSS JOIN LATERAL generate_series(span.first::timestamp, span.last::timestamp, interval '1 day') AS d
    LEFT JOIN daily ON daily.day = d::date
    WHERE span.first IS NOT NULL
    ORDER BY d
    """
)

_STATUS_FUNNEL = text(
    """
    SELECT count(*) AS submitted,
           count(*) FILTER (
               WHERE status IN ('competing', 'accepted', 'in_progress', 'complete')
                  OR EXISTS (SELECT 1 FROM idea_status_changes c WHERE c.idea_id = i.id AND c.to_status = 'competing')
                  OR status = 'merged'
           ) AS approved,
           count(*) FILTER (WHERE status IN ('accepted', 'in_progress', 'complete')) AS accepted,
           count(*) FILTER (WHERE status IN ('in_progress', 'complete')) AS in_progress,
           count(*) FILTER (WHERE status = 'complete') AS complete,
           count(*) FILTER (WHERE status = 'pending') AS now_pending,
           count(*) FILTER (WHERE status = 'competing') AS now_competing,
           count(*) FILTER (WHERE status = 'accepted') AS now_accepted,
           count(*) FILTER (WHERE status = 'in_progress') AS now_in_progress,
           count(*) FILTER (WHERE status = 'complete') AS now_complete,
           count(*) FILTER (WHERE status = 'rejected') AS now_rejected,
           count(*) FILTER (WHERE status = 'withdrawn') AS now_withdrawn,
           count(*) FILTER (WHERE status = 'merged') AS now_merged
    FROM ideas i WHERE campaign_id = :c
    """
)

_TAGS = text(
    """
    SELECT t.name, t.colour, t.is_active, count(i.id) AS ideas, coalesce(sum(i.coins), 0) AS coins
    FROM tags t
    LEFT JOIN idea_tags it ON it.tag_id = t.id
    LEFT JOIN ideas i ON i.id = it.idea_id AND i.status IN ('competing', 'accepted', 'in_progress', 'complete')
    WHERE t.campaign_id = :c
    GROUP BY t.id, t.name, t.colour, t.is_active
    ORDER BY coins DESC, ideas DESC, lower(t.name)
    """
)

STATUS_LABELS = {
    "pending": "Pending",
    "competing": "Competing",
    "accepted": "Accepted",
    "in_progress": "In progress",
    "complete": "Complete",
    "rejected": "Rejected",
    "withdrawn": "Withdrawn",
    "merged": "Merged",
}


async def campaign_dashboard(db: AsyncSession, campaign: Campaign) -> CampaignDashboard:
    params = {"c": campaign.id}
    part = (await db.execute(_PARTICIPATION, params)).one()
    histogram = [Bucket(int(r.low), int(r.high), int(r.members)) for r in await db.execute(_HISTOGRAM, params)]
    totals = (await db.execute(_COIN_TOTALS, params)).one()
    conc = (await db.execute(_CONCENTRATION, params)).one()
    top = [
        TopIdea(r.id, r.title, r.status, r.coins, r.supporters, _float(r.share))
        for r in await db.execute(_TOP_IDEAS, {**params, "limit": TOP_IDEAS})
    ]
    days = [
        DayActivity(r.day, int(r.allocated), int(r.released), int(r.allocations), int(r.members), int(r.on_ideas))
        for r in await db.execute(_OVER_TIME, params)
    ]
    funnel = (await db.execute(_STATUS_FUNNEL, params)).one()
    tags = [
        TagFigures(r.name, r.colour, r.is_active, int(r.ideas), int(r.coins)) for r in await db.execute(_TAGS, params)
    ]
    return CampaignDashboard(
        slug=campaign.slug,
        title=campaign.title,
        status=campaign.status,
        invited=part.invited,
        invitations_accepted=part.accepted,
        members=part.members,
        submitted=part.submitted,
        allocated=part.allocated,
        participation=_funnel(
            [
                ("Invited", part.invited),
                ("Joined", part.members),
                ("Submitted an idea", part.submitted),
                ("Allocated coins", part.allocated),
            ]
        )
        if part.invited
        else _funnel(
            [("Joined", part.members), ("Submitted an idea", part.submitted), ("Allocated coins", part.allocated)]
        ),
        histogram=histogram,
        coins=CoinTotals(int(totals.granted), int(totals.available), int(totals.allocated), int(totals.expended)),
        concentration=Concentration(
            ideas=int(conc.ideas),
            coins=int(conc.coins),
            gini=_float(conc.gini),
            top_count=int(conc.top_count),
            top_share=_float(conc.top_share),
        ),
        top_ideas=top,
        over_time=days,
        status_funnel=_funnel(
            [
                ("Submitted", funnel.submitted),
                ("Approved", funnel.approved),
                ("Accepted", funnel.accepted),
                ("In progress", funnel.in_progress),
                ("Complete", funnel.complete),
            ]
        ),
        statuses={status: int(getattr(funnel, f"now_{status}")) for status in STATUS_LABELS},
        tags=tags,
    )


# Executive dashboard --------------------------------------------------------------------------------------


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
class OutcomeRow:
    id: UUID
    campaign_slug: str
    campaign_title: str
    idea_id: int
    idea_title: str
    note: str
    metric_name: str
    metric_value: Decimal
    metric_unit: str
    recorded_by: str | None
    recorded_at: datetime


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

_OUTCOMES = """
    SELECT o.id, c.slug AS campaign_slug, c.title AS campaign_title, i.id AS idea_id, i.title AS idea_title,
           o.note, o.metric_name, o.metric_value, o.metric_unit, u.full_name AS recorded_by, o.recorded_at
    FROM idea_outcomes o
    JOIN ideas i ON i.id = o.idea_id
    JOIN campaigns c ON c.id = o.campaign_id
    LEFT JOIN users u ON u.id = o.recorded_by_id
"""


def _outcome(row: Any) -> OutcomeRow:
    return OutcomeRow(
        id=row.id,
        campaign_slug=row.campaign_slug,
        campaign_title=row.campaign_title,
        idea_id=row.idea_id,
        idea_title=row.idea_title,
        note=row.note,
        metric_name=row.metric_name,
        metric_value=row.metric_value,
        metric_unit=row.metric_unit,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


async def executive_dashboard(db: AsyncSession, *, outcome_limit: int = 50) -> ExecutiveDashboard:
    rows = await db.execute(_CAMPAIGN_ROWS)
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
            gini=_float(r.gini),
            engagement=_float(r.engagement),
            implementation_rate=_float(r.implementation_rate),
            cost_per_engaged_cents=_float(r.cost_per_engaged_cents),
        )
        for r in rows
    ]
    t = (await db.execute(_TOTALS)).one()
    totals = ExecutiveTotals(
        campaigns=int(t.campaigns),
        completed=int(t.completed),
        completion_rate=_float(t.completion_rate),
        ideas_accepted=int(t.accepted),
        ideas_implemented=int(t.implemented),
        implementation_rate=_float(t.implementation_rate),
        members=int(t.members),
        engaged=int(t.engaged),
        engagement=_float(t.engagement),
        cost_cents=int(t.cost_cents),
        engaged_with_cost=int(t.engaged_with_cost),
        cost_per_engaged_cents=_float(t.cost_per_engaged_cents),
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
        for r in await db.execute(_TRENDS)
    ]
    outcome_rows = await db.execute(
        text(_OUTCOMES + " ORDER BY o.recorded_at DESC LIMIT :limit"), {"limit": outcome_limit}
    )
    return ExecutiveDashboard(
        totals=totals, campaigns=campaigns, trends=trends, outcomes=[_outcome(r) for r in outcome_rows]
    )


# Outcomes ---------------------------------------------------------------------------------------------------

NOTE_MAX = 2000
METRIC_NAME_MAX = 100
METRIC_UNIT_MAX = 32
METRIC_LIMIT = Decimal("99999999999999")  # numeric(18, 4)


class IdeaNotComplete(AppError):
    error_code = "IDEA_006"
    default_message = "Outcomes are recorded on completed ideas only."


@dataclass(frozen=True)
class OutcomeInput:
    note: str
    metric_name: str
    metric_value: str | float | int | Decimal
    metric_unit: str = ""


def validate_outcome(data: OutcomeInput) -> tuple[str, str, Decimal, str]:
    problems: dict[str, str] = {}
    note = data.note.replace("\x00", "").strip()
    name = " ".join(data.metric_name.split())
    unit = " ".join(data.metric_unit.split())
    if not 1 <= len(note) <= NOTE_MAX:
        problems["note"] = f"Describe the outcome in 1 to {NOTE_MAX:,} characters."
    if not 1 <= len(name) <= METRIC_NAME_MAX:
        problems["metric_name"] = f"Name the metric in 1 to {METRIC_NAME_MAX} characters."
    if len(unit) > METRIC_UNIT_MAX:
        problems["metric_unit"] = f"Keep the unit under {METRIC_UNIT_MAX} characters."
    value = Decimal(0)
    try:
        value = Decimal(str(data.metric_value).strip().replace(",", ""))
        if not value.is_finite() or abs(value) >= METRIC_LIMIT:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        problems["metric_value"] = "Enter a number, like 12 or -3.5."
    if problems:
        raise InvalidInput("Please correct the highlighted fields.", fields=problems)
    return note, name, value.quantize(Decimal("0.0001")), unit


async def completed_ideas(db: AsyncSession, campaign_id: UUID) -> list[tuple[int, str]]:
    rows = await db.execute(
        select(Idea.id, Idea.title)
        .where(Idea.campaign_id == campaign_id, Idea.status == "complete")
        .order_by(Idea.status_changed_at.desc(), Idea.id)
    )
    return [(r.id, r.title) for r in rows]


async def campaign_outcomes(db: AsyncSession, campaign_id: UUID) -> list[OutcomeRow]:
    rows = await db.execute(
        text(_OUTCOMES + " WHERE o.campaign_id = :c ORDER BY o.recorded_at DESC"), {"c": campaign_id}
    )
    return [_outcome(r) for r in rows]


async def idea_outcomes(db: AsyncSession, idea_id: int) -> list[OutcomeRow]:
    rows = await db.execute(text(_OUTCOMES + " WHERE o.idea_id = :i ORDER BY o.recorded_at DESC"), {"i": idea_id})
    return [_outcome(r) for r in rows]


async def idea_campaign_access(
    db: AsyncSession, idea_id: int, viewer: CurrentUser, *, lock: bool = True
) -> tuple[Idea, CampaignAccess]:
    """The idea (locked for a write) and the viewer's standing in its campaign; IDEA_001 if it does not exist."""
    if not 0 < idea_id < 2**63:
        raise IdeaNotFound()
    query = select(Idea).where(Idea.id == idea_id)
    idea = await db.scalar(query.with_for_update() if lock else query)
    if idea is None:
        raise IdeaNotFound()
    campaign = await db.get_one(Campaign, idea.campaign_id)
    role = await db.scalar(
        select(CampaignMember.role).where(
            CampaignMember.campaign_id == campaign.id,
            CampaignMember.user_id == viewer.id,
            CampaignMember.left_at.is_(None),
        )
    )
    return idea, CampaignAccess(campaign=campaign, viewer=viewer, role=role)


async def record_outcome(db: AsyncSession, idea_id: int, viewer: CurrentUser, data: OutcomeInput) -> OutcomeRow:
    idea, access = await idea_campaign_access(db, idea_id, viewer)
    try:
        require_outcome_writer(access)
    except AppError as error:
        # Someone who may not see the campaign's analytics learns nothing about its ideas either.
        raise IdeaNotFound() if error.status_code == 404 else error from None
    if idea.status != "complete":
        raise IdeaNotComplete(details={"status": idea.status})
    note, name, value, unit = validate_outcome(data)
    outcome = IdeaOutcome(
        idea_id=idea.id,
        campaign_id=idea.campaign_id,
        note=note,
        metric_name=name,
        metric_value=value,
        metric_unit=unit,
        recorded_by_id=viewer.id,
    )
    db.add(outcome)
    await db.flush()
    audit.record(
        db,
        actor_id=viewer.id,
        action="idea.outcome_recorded",
        entity_type="idea",
        entity_id=idea.id,
        after={
            "campaign_id": str(idea.campaign_id),
            "outcome_id": str(outcome.id),
            "note": note,
            "metric_name": name,
            "metric_value": str(value),
            "metric_unit": unit,
        },
    )
    await commit(db)
    await db.refresh(outcome)
    return OutcomeRow(
        id=outcome.id,
        campaign_slug=access.campaign.slug,
        campaign_title=access.campaign.title,
        idea_id=idea.id,
        idea_title=idea.title,
        note=note,
        metric_name=name,
        metric_value=value,
        metric_unit=unit,
        recorded_by=viewer.full_name,
        recorded_at=outcome.recorded_at,
    )
