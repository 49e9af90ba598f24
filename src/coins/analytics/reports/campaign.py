"""A campaign's dashboard as a report."""

from __future__ import annotations

from coins.analytics.reports.base import Chart, Column, Figure, Report, Section, Series, Table
from coins.analytics.services.campaign_dashboard import STATUS_LABELS, CampaignDashboard


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
