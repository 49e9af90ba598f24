"""A campaign's dashboard: participation, coins spent per member, spent and unspent coins, how concentrated
the coins are, the top ideas, allocations over time, the idea status funnel and the tags.

Definitions:
- Members are current members (`left_at IS NULL`), managers included (they hold coins too).
- Participation: invited = distinct addresses ever invited; joined = members; submitted = members who
  authored at least one idea; allocated = members with at least one `allocate` ledger entry.
- Coins spent = allocated + expended (on ideas, or used up by accepted ideas); unspent = available.
- Concentration is over the ideas that compete or competed and still hold their coins (competing,
  accepted, in progress, complete). Gini = 2·Σ(i·x₍ᵢ₎) / (n·Σx) - (n+1)/n with x ascending and i from 1;
  the top 10 % are the ceil(n/10) ideas with most coins.
- Idea status funnel: submitted → approved (reached competing, even if merged or withdrawn since) →
  accepted → in progress → complete (later stages include the ideas that went further).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coins.analytics.services.numbers import as_float, ratio
from coins.campaigns.models import Campaign

# Ideas whose coins count in distribution figures: competing now, or accepted and beyond.
# Figures over ideas that hold coins use: competing, accepted, in_progress, complete (written out in SQL).
# The histogram has ten buckets.
TOP_IDEAS = 10


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
        return ratio(self.spent, self.granted)


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
        return ratio(self.allocated, self.members)


def _funnel(pairs: list[tuple[str, int]]) -> list[Stage]:
    first = pairs[0][1] if pairs else 0
    return [Stage(label, count, ratio(count, first)) for label, count in pairs]


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


class CampaignDashboards:
    """A campaign's dashboard figures, in a few queries whatever the campaign's size."""

    def __init__(self, session: AsyncSession) -> None:
        self.db = session

    async def compute(self, campaign: Campaign) -> CampaignDashboard:
        params = {"c": campaign.id}
        part = (await self.db.execute(_PARTICIPATION, params)).one()
        histogram = [Bucket(int(r.low), int(r.high), int(r.members)) for r in await self.db.execute(_HISTOGRAM, params)]
        totals = (await self.db.execute(_COIN_TOTALS, params)).one()
        conc = (await self.db.execute(_CONCENTRATION, params)).one()
        top = [
            TopIdea(r.id, r.title, r.status, r.coins, r.supporters, as_float(r.share))
            for r in await self.db.execute(_TOP_IDEAS, {**params, "limit": TOP_IDEAS})
        ]
        days = [
            DayActivity(r.day, int(r.allocated), int(r.released), int(r.allocations), int(r.members), int(r.on_ideas))
            for r in await self.db.execute(_OVER_TIME, params)
        ]
        funnel = (await self.db.execute(_STATUS_FUNNEL, params)).one()
        tags = [
            TagFigures(r.name, r.colour, r.is_active, int(r.ideas), int(r.coins))
            for r in await self.db.execute(_TAGS, params)
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
                gini=as_float(conc.gini),
                top_count=int(conc.top_count),
                top_share=as_float(conc.top_share),
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
