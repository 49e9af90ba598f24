"""A campaign's settings as forms and the API send them, and the rules every complete picture must satisfy."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from coins.campaigns.models import CAMPAIGN_TYPES, PRICING, Campaign
from coins.lib.bounds import has_control_characters

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
CORE_FIELDS = frozenset(
    {
        "campaign_type",
        "starts_at",
        "ends_at",
        "initial_allocation",
        "idea_submission_reward",
        "allow_reallocation",
        "allow_recycling",
        "max_allocation_per_idea",
        "min_allocation_amount",
        "pricing",
    }
)


@dataclass
class CampaignFields:
    """Everything a campaign's settings form or API body may set (None: leave unchanged)."""

    slug: str | None = None
    title: str | None = None
    description: str | None = None
    campaign_type: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    initial_allocation: int | None = None
    idea_submission_reward: int | None = None
    allow_reallocation: bool | None = None
    allow_recycling: bool | None = None
    max_allocation_per_idea: int | None = None
    clear_max_allocation: bool = False
    min_allocation_amount: int | None = None
    pricing: str | None = None
    cost_cents: int | None = None

    def given(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "clear_max_allocation"}
        given = {name: value for name, value in values.items() if value is not None}
        if self.clear_max_allocation:
            given["max_allocation_per_idea"] = None
        return given


def validate_fields(values: dict[str, Any], *, current: Campaign | None) -> dict[str, str]:
    """Field messages for a complete picture of the campaign after the change."""
    problems: dict[str, str] = {}

    def final(name: str) -> Any:
        return values[name] if name in values else (getattr(current, name) if current is not None else None)

    slug = final("slug")
    if slug is None or not (3 <= len(slug) <= 64 and SLUG_RE.match(slug)):
        problems["slug"] = "Use 3 to 64 lower-case letters, digits and single hyphens, like team-ideas-2026."
    title = final("title")
    if title is None or not title.strip() or len(title.strip()) > 200:
        problems["title"] = "Give the campaign a title of at most 200 characters."
    elif has_control_characters(title):
        problems["title"] = "Write the title on one line, without line breaks or control characters."
    if len(final("description") or "") > 20_000:
        problems["description"] = "Keep the description under 20,000 characters."
    if final("campaign_type") not in CAMPAIGN_TYPES:
        problems["campaign_type"] = "Choose open, mediated or closed."
    starts_at, ends_at = final("starts_at"), final("ends_at")
    if starts_at is None:
        problems["starts_at"] = "Choose when the campaign starts."
    if ends_at is None:
        problems["ends_at"] = "Choose when the campaign ends."
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        problems["ends_at"] = "The end must be after the start."
    initial = final("initial_allocation")
    if initial is None or not 0 <= initial <= 1_000_000:
        problems["initial_allocation"] = "Between 0 and 1,000,000 coins."
    reward = final("idea_submission_reward")
    if reward is None or not 0 <= reward <= 100_000:
        problems["idea_submission_reward"] = "Between 0 and 100,000 coins."
    minimum = final("min_allocation_amount")
    if minimum is None or not 1 <= minimum <= 1_000_000:
        problems["min_allocation_amount"] = "At least 1 coin."
    maximum = final("max_allocation_per_idea")
    if maximum is not None and (maximum < 1 or (minimum is not None and maximum < minimum)):
        problems["max_allocation_per_idea"] = "Leave empty for no limit, or at least the minimum allocation."
    if final("pricing") not in PRICING:
        problems["pricing"] = "Choose linear or quadratic."
    cost = final("cost_cents")
    if cost is not None and cost < 0:
        problems["cost_cents"] = "The cost cannot be negative."
    return problems


def campaign_snapshot(campaign: Campaign) -> dict[str, Any]:
    """The audit trail's before/after picture of a campaign's settings."""
    names = ["slug", "title", "status", *sorted(CORE_FIELDS), "cost_cents"]
    snapshot = {name: getattr(campaign, name) for name in names}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in snapshot.items()}
