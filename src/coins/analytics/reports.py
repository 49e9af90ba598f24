"""Dashboards as reports: key figures and sections, each section a table with (where people would rather
look than read) a chart drawn from the same numbers.

One `Report` feeds the page (charts with their tables as the screen-reader fallback), the PDF (the tables)
and the CSV (every cell in long form), so the three can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

from coins.analytics.services import STATUS_LABELS, CampaignDashboard, ExecutiveDashboard

Format = Literal["text", "id", "int", "pct", "ratio", "money", "num", "date", "datetime"]
Cell = str | int | float | Decimal | date | datetime | None


def fmt(value: Any, kind: str = "text") -> str:  # noqa: PLR0911 - one way out per format
    """A value as people read it (the CSV keeps the raw value)."""
    if value is None:
        return "—"
    match kind:
        case "int":
            return f"{int(value):,}"
        case "id":
            return str(value)
        case "pct":
            return f"{float(value) * 100:.1f} %"
        case "ratio":
            return f"{float(value):.3f}"
        case "money":
            return f"{float(value) / 100:,.2f}"
        case "num":
            number = Decimal(value).normalize()
            return f"{number:,f}" if number == number.to_integral() else f"{number:,}"
        case "date":
            return value.strftime("%d %b %Y") if isinstance(value, date) else str(value)
        case "datetime":
            return value.strftime("%d %b %Y %H:%M UTC") if isinstance(value, datetime) else str(value)
    return str(value)


def raw(value: Any) -> str:
    """A value for a CSV cell: machine-readable, ISO dates, no thousands separators."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else str(value)
    return str(value)


@dataclass(frozen=True)
class Column:
    name: str
    kind: Format = "text"


@dataclass(frozen=True)
class Table:
    columns: list[Column]
    rows: list[list[Cell]]

    def formatted(self) -> list[list[str]]:
        return [[fmt(cell, column.kind) for cell, column in zip(row, self.columns, strict=True)] for row in self.rows]


@dataclass(frozen=True)
class Series:
    label: str
    values: list[float | int | None]
    # Draw this series differently from the chart's kind (a line over bars), on a second axis if asked.
    kind: str | None = None
    axis: Literal["y", "y2"] = "y"


@dataclass(frozen=True)
class Chart:
    kind: Literal["bar", "line", "doughnut"]
    labels: list[str]
    series: list[Series]
    horizontal: bool = False
    stacked: bool = False
    percent: bool = False

    def spec(self) -> dict[str, Any]:
        """What static/js/charts.js reads from the page's JSON block."""
        return {
            "type": self.kind,
            "labels": self.labels,
            "series": [{"label": s.label, "values": s.values, "kind": s.kind, "axis": s.axis} for s in self.series],
            "horizontal": self.horizontal,
            "stacked": self.stacked,
            "percent": self.percent,
        }


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    description: str
    table: Table
    chart: Chart | None = None
    empty: str = "Nothing to show yet."

    @property
    def summary(self) -> str:
        """The chart's accessible name: what it shows and its first figures in words."""
        cells = [f"{row[0]}: {fmt(row[1], self.table.columns[1].kind)}" for row in self.table.rows[:12] if len(row) > 1]
        more = f"; and {len(self.table.rows) - 12} more" if len(self.table.rows) > 12 else ""
        return f"{self.title}. " + ("; ".join(cells) + more if cells else self.empty)


@dataclass(frozen=True)
class Figure:
    label: str
    value: Cell
    kind: Format = "int"
    hint: str = ""

    @property
    def shown(self) -> str:
        return fmt(self.value, self.kind)


@dataclass(frozen=True)
class Report:
    title: str
    subtitle: str
    figures: list[Figure]
    sections: list[Section]
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    notes: list[str] = field(default_factory=list)


# Campaign ---------------------------------------------------------------------------------------------------


def campaign_report(d: CampaignDashboard) -> Report:
    coins = d.coins
    conc = d.concentration
    figures = [
        Figure("Members", d.members),
        Figure("Engaged (allocated coins)", d.engagement, "pct", f"{d.allocated:,} of {d.members:,} members"),
        Figure("Ideas", d.status_funnel[0].count if d.status_funnel else 0),
        Figure("Coins spent", coins.spent_share, "pct", f"{coins.spent:,} of {coins.granted:,} coins granted"),
        Figure("Gini over ideas' coins", conc.gini, "ratio", "0 = spread evenly, 1 = all on one idea"),
        Figure(
            "Held by the top 10 % of ideas",
            conc.top_share,
            "pct",
            f"the top {conc.top_count:,} of {conc.ideas:,} ideas",
        ),
    ]
    stage_columns = [Column("Stage"), Column("People", "int"), Column("Of first stage", "pct")]
    sections = [
        Section(
            "participation",
            "Participation",
            "How many people went from invitation to joining, submitting and allocating coins.",
            Table(stage_columns, [[s.label, s.count, s.of_first] for s in d.participation]),
            Chart(
                "bar",
                [s.label for s in d.participation],
                [Series("People", [s.count for s in d.participation])],
                horizontal=True,
            ),
        ),
        Section(
            "distribution",
            "Coins spent per member",
            "How many members have spent how many coins (allocated plus expended).",
            Table(
                [Column("Coins spent"), Column("Members", "int")],
                [[b.label, b.members] for b in d.histogram] if d.members else [],
            ),
            Chart("bar", [b.label for b in d.histogram], [Series("Members", [b.members for b in d.histogram])])
            if d.members
            else None,
            empty="No member holds coins yet.",
        ),
        Section(
            "spent",
            "Spent and unspent coins",
            "Where the coins granted to members are now.",
            Table(
                [Column("Coins"), Column("Amount", "int"), Column("Share", "pct")],
                [
                    ["On competing ideas (allocated)", coins.allocated, _share(coins.allocated, coins.granted)],
                    ["Expended on accepted ideas", coins.expended, _share(coins.expended, coins.granted)],
                    ["Unspent (available)", coins.available, _share(coins.available, coins.granted)],
                ]
                if coins.granted
                else [],
            ),
            Chart(
                "doughnut",
                ["Allocated", "Expended", "Unspent"],
                [Series("Coins", [coins.allocated, coins.expended, coins.available])],
            )
            if coins.granted
            else None,
            empty="No coins granted yet.",
        ),
        Section(
            "statuses",
            "Ideas by current status",
            "Where every idea stands now.",
            Table(
                [Column("Status"), Column("Ideas", "int")],
                [[STATUS_LABELS[s], n] for s, n in d.statuses.items()],
            ),
        ),
        Section(
            "top-ideas",
            "Top ideas",
            f"The {len(d.top_ideas)} ideas holding the most coins.",
            Table(
                [
                    Column("Idea"),
                    Column("Coins", "int"),
                    Column("Share of coins", "pct"),
                    Column("Supporters", "int"),
                    Column("Status"),
                ],
                [[f"#{i.id} {i.title}", i.coins, i.share, i.supporters, STATUS_LABELS[i.status]] for i in d.top_ideas],
            ),
            empty="No idea is competing yet.",
        ),
        Section(
            "over-time",
            "Allocations over time",
            "Coins allocated and taken back per day (UTC), and the coins on ideas at the end of each day.",
            Table(
                [
                    Column("Day", "date"),
                    Column("Coins allocated", "int"),
                    Column("Coins taken back", "int"),
                    Column("Allocations", "int"),
                    Column("Members active", "int"),
                    Column("Coins on ideas", "int"),
                ],
                [[x.day, x.allocated, x.released, x.allocations, x.members, x.on_ideas] for x in d.over_time],
            ),
            Chart(
                "bar",
                [x.day.strftime("%d %b") for x in d.over_time],
                [
                    Series("Coins allocated", [x.allocated for x in d.over_time]),
                    Series("Coins taken back", [x.released for x in d.over_time]),
                    Series("Coins on ideas", [x.on_ideas for x in d.over_time], kind="line", axis="y2"),
                ],
            )
            if d.over_time
            else None,
            empty="No coins have been allocated yet.",
        ),
        Section(
            "status-funnel",
            "Idea status funnel",
            "How far ideas got: submitted, approved to compete, accepted, started, completed.",
            Table(
                [Column("Stage"), Column("Ideas", "int"), Column("Of submitted", "pct")],
                [[s.label, s.count, s.of_first] for s in d.status_funnel],
            ),
            Chart(
                "bar",
                [s.label for s in d.status_funnel],
                [Series("Ideas", [s.count for s in d.status_funnel])],
                horizontal=True,
            ),
        ),
        Section(
            "tags",
            "Tags",
            "Coins and ideas per tag (ideas competing or accepted and beyond).",
            Table(
                [Column("Tag"), Column("Coins", "int"), Column("Ideas", "int"), Column("Active")],
                [[t.name, t.coins, t.ideas, "yes" if t.is_active else "retired"] for t in d.tags],
            ),
            Chart(
                "bar",
                [t.name for t in d.tags],
                [Series("Coins", [t.coins for t in d.tags]), Series("Ideas", [t.ideas for t in d.tags], axis="y2")],
            )
            if d.tags
            else None,
            empty="This campaign has no tags.",
        ),
    ]
    notes = [
        "Members are current members (managers included). Coins spent = allocated + expended.",
        "Gini and the top 10 % are over ideas that compete or competed (competing, accepted, in progress, "
        "complete). Gini = 2·Σ(i·x_i)/(n·Σx) \u2212 (n+1)/n with coins x in ascending order.",
    ]
    return Report(
        title=f"{d.title}: campaign analytics",
        subtitle=f"Campaign “{d.slug}”, {d.status}",
        figures=figures,
        sections=sections,
        generated_at=d.generated_at,
        notes=notes,
    )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# Executive --------------------------------------------------------------------------------------------------


def executive_report(d: ExecutiveDashboard) -> Report:
    t = d.totals
    figures = [
        Figure("Campaigns completed", t.completion_rate, "pct", f"{t.completed:,} of {t.campaigns:,} launched"),
        Figure(
            "Ideas implemented",
            t.implementation_rate,
            "pct",
            f"{t.ideas_implemented:,} of {t.ideas_accepted:,} accepted ideas complete",
        ),
        Figure("Engagement", t.engagement, "pct", f"{t.engaged:,} of {t.members:,} members allocated coins"),
        Figure(
            "Cost per engaged member",
            t.cost_per_engaged_cents,
            "money",
            f"{fmt(t.cost_cents, 'money')} over {t.engaged_with_cost:,} engaged members (campaigns with a cost)",
        ),
    ]
    months = [m.month.strftime("%b %Y") for m in d.trends]
    sections = [
        Section(
            "trends",
            "Month by month",
            "Activity in each of the last twelve months (UTC).",
            Table(
                [
                    Column("Month"),
                    Column("Ideas submitted", "int"),
                    Column("Ideas implemented", "int"),
                    Column("Coins allocated", "int"),
                    Column("Members allocating", "int"),
                    Column("Members joined", "int"),
                    Column("Campaigns started", "int"),
                    Column("Campaigns completed", "int"),
                ],
                [
                    [
                        label,
                        m.ideas_submitted,
                        m.ideas_implemented,
                        m.coins_allocated,
                        m.allocators,
                        m.members_joined,
                        m.campaigns_started,
                        m.campaigns_completed,
                    ]
                    for label, m in zip(months, d.trends, strict=True)
                ],
            ),
            Chart(
                "line",
                months,
                [
                    Series("Ideas submitted", [m.ideas_submitted for m in d.trends]),
                    Series("Ideas implemented", [m.ideas_implemented for m in d.trends]),
                    Series("Members allocating", [m.allocators for m in d.trends]),
                    Series("Coins allocated", [m.coins_allocated for m in d.trends], kind="bar", axis="y2"),
                ],
            ),
        ),
        Section(
            "engagement",
            "Engagement by campaign",
            "Share of each campaign's members who allocated coins.",
            Table(
                [Column("Campaign"), Column("Engagement", "pct"), Column("Engaged", "int"), Column("Members", "int")],
                [[c.title, c.engagement, c.engaged, c.members] for c in d.campaigns],
            ),
            Chart(
                "bar",
                [c.title for c in d.campaigns],
                [Series("Engagement", [round((c.engagement or 0) * 100, 1) for c in d.campaigns])],
                horizontal=True,
                percent=True,
            )
            if d.campaigns
            else None,
            empty="No campaign has been launched yet.",
        ),
        Section(
            "implementation",
            "Implementation by campaign",
            "Share of each campaign's accepted ideas that are complete.",
            Table(
                [
                    Column("Campaign"),
                    Column("Implementation rate", "pct"),
                    Column("Complete", "int"),
                    Column("Accepted", "int"),
                ],
                [[c.title, c.implementation_rate, c.implemented, c.accepted] for c in d.campaigns],
            ),
            Chart(
                "bar",
                [c.title for c in d.campaigns],
                [Series("Implementation rate", [round((c.implementation_rate or 0) * 100, 1) for c in d.campaigns])],
                horizontal=True,
                percent=True,
            )
            if d.campaigns
            else None,
            empty="No campaign has been launched yet.",
        ),
        Section(
            "comparison",
            "Campaigns compared",
            "Every launched campaign side by side.",
            Table(
                [
                    Column("Campaign"),
                    Column("Status"),
                    Column("Members", "int"),
                    Column("Engagement", "pct"),
                    Column("Ideas", "int"),
                    Column("Implemented", "int"),
                    Column("Implementation rate", "pct"),
                    Column("Coins spent", "int"),
                    Column("Gini", "ratio"),
                    Column("Cost", "money"),
                    Column("Cost per engaged member", "money"),
                ],
                [
                    [
                        c.title,
                        c.status,
                        c.members,
                        c.engagement,
                        c.ideas,
                        c.implemented,
                        c.implementation_rate,
                        c.coins_spent,
                        c.gini,
                        c.cost_cents,
                        c.cost_per_engaged_cents,
                    ]
                    for c in d.campaigns
                ],
            ),
            empty="No campaign has been launched yet.",
        ),
        Section(
            "outcomes",
            "Outcomes of implemented ideas",
            "What completed ideas achieved, as their managers recorded it.",
            Table(
                [
                    Column("Idea"),
                    Column("Campaign"),
                    Column("Metric"),
                    Column("Value", "num"),
                    Column("Unit"),
                    Column("Note"),
                    Column("Recorded", "date"),
                ],
                [
                    [
                        f"#{o.idea_id} {o.idea_title}",
                        o.campaign_title,
                        o.metric_name,
                        o.metric_value,
                        o.metric_unit,
                        o.note,
                        o.recorded_at,
                    ]
                    for o in d.outcomes
                ],
            ),
            empty="No outcome has been recorded yet.",
        ),
    ]
    notes = [
        "Completion rate = completed or archived campaigns / campaigns launched (drafts are not counted).",
        "Implementation rate = complete ideas / ideas accepted (accepted, in progress or complete).",
        "Engagement = members who allocated coins / members. Cost per engaged member counts only the "
        "campaigns whose cost an administrator entered.",
    ]
    return Report(
        title="Executive dashboard",
        subtitle="Every launched campaign",
        figures=figures,
        sections=sections,
        generated_at=d.generated_at,
        notes=notes,
    )
