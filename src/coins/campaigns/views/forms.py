"""The campaign settings form: parsing what it sends, filling it from a campaign."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request

from coins.accounts.auth import CurrentUser, require_user
from coins.campaigns.fields import CampaignFields
from coins.lib.errors import PermissionDenied

PAGE_SIZE = 25
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
POLICY_INTS = ("initial_allocation", "idea_submission_reward", "min_allocation_amount")


def _parse_datetime(raw: str) -> datetime | None:
    """`<input type="datetime-local">` sends local wall time without a zone; the form says UTC."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def fields_from_form(values: dict[str, str], *, include_slug: bool) -> tuple[CampaignFields, dict[str, str]]:
    """Turn the settings form into CampaignFields, collecting messages for values that don't parse."""
    problems: dict[str, str] = {}
    numbers: dict[str, int | None] = {}
    for name in (*POLICY_INTS, "max_allocation_per_idea", "cost"):
        raw = values.get(name, "").strip()
        if not raw:
            numbers[name] = None
            continue
        try:
            numbers[name] = int(raw)
        except ValueError:
            problems[name] = "Enter a whole number."
    starts_at, ends_at = (
        _parse_datetime(values.get("starts_at", "")),
        _parse_datetime(values.get("ends_at", "")),
    )
    if values.get("starts_at") and starts_at is None:
        problems["starts_at"] = "Enter a date and time."
    if values.get("ends_at") and ends_at is None:
        problems["ends_at"] = "Enter a date and time."
    cost = numbers.get("cost")
    data = CampaignFields(
        slug=values.get("slug", "").strip().lower() if include_slug else None,
        title=values.get("title"),
        description=values.get("description"),
        campaign_type=values.get("campaign_type") or None,
        starts_at=starts_at,
        ends_at=ends_at,
        initial_allocation=numbers.get("initial_allocation"),
        idea_submission_reward=numbers.get("idea_submission_reward"),
        allow_reallocation=values.get("allow_reallocation") == "on" if "policy_form" in values else None,
        allow_recycling=values.get("allow_recycling") == "on" if "policy_form" in values else None,
        max_allocation_per_idea=numbers.get("max_allocation_per_idea"),
        clear_max_allocation="policy_form" in values and numbers.get("max_allocation_per_idea") is None,
        min_allocation_amount=numbers.get("min_allocation_amount"),
        pricing=values.get("pricing") or None,
        cost_cents=cost * 100 if cost is not None else None,
    )
    return data, problems


def form_values(campaign: Any) -> dict[str, str]:
    return {
        "slug": campaign.slug,
        "title": campaign.title,
        "description": campaign.description,
        "campaign_type": campaign.campaign_type,
        "starts_at": campaign.starts_at.strftime(DATETIME_FORMAT),
        "ends_at": campaign.ends_at.strftime(DATETIME_FORMAT),
        "initial_allocation": str(campaign.initial_allocation),
        "idea_submission_reward": str(campaign.idea_submission_reward),
        "allow_reallocation": "on" if campaign.allow_reallocation else "",
        "allow_recycling": "on" if campaign.allow_recycling else "",
        "max_allocation_per_idea": str(campaign.max_allocation_per_idea or ""),
        "min_allocation_amount": str(campaign.min_allocation_amount),
        "pricing": campaign.pricing,
        "cost": str(campaign.cost_cents // 100) if campaign.cost_cents is not None else "",
    }


def require_admin(request: Request[Any, Any, Any]) -> CurrentUser:
    viewer = require_user(request)
    if not viewer.is_admin:
        raise PermissionDenied("Only administrators create campaigns.")
    return viewer
