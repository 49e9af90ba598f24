"""The executive dashboard as a report."""

from __future__ import annotations

from coins.analytics.reports.base import Chart, Column, Figure, Report, Section, Series, Table, fmt
from coins.analytics.services.executive_dashboard import ExecutiveDashboard


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
