"""Outcomes of completed ideas: what an implemented idea achieved, as a note and a metric its campaign's
managers (or an admin) recorded; read on the campaign's outcomes page, the idea's API and the executive
dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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


# Every reader appends its own WHERE and ORDER BY, so the pages, the API and the executive dashboard show the
# same columns.
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


class Outcomes:
    """Recording an outcome (managers and admins, completed ideas only) and reading them back."""

    def __init__(self, session: AsyncSession) -> None:
        self.db = session

    async def latest(self, limit: int) -> list[OutcomeRow]:
        rows = await self.db.execute(text(_OUTCOMES + " ORDER BY o.recorded_at DESC LIMIT :limit"), {"limit": limit})
        return [_outcome(r) for r in rows]

    async def completed_ideas(self, campaign_id: UUID) -> list[tuple[int, str]]:
        rows = await self.db.execute(
            select(Idea.id, Idea.title)
            .where(Idea.campaign_id == campaign_id, Idea.status == "complete")
            .order_by(Idea.status_changed_at.desc(), Idea.id)
        )
        return [(r.id, r.title) for r in rows]

    async def of_campaign(self, campaign_id: UUID) -> list[OutcomeRow]:
        rows = await self.db.execute(
            text(_OUTCOMES + " WHERE o.campaign_id = :c ORDER BY o.recorded_at DESC"), {"c": campaign_id}
        )
        return [_outcome(r) for r in rows]

    async def of_idea(self, idea_id: int) -> list[OutcomeRow]:
        rows = await self.db.execute(
            text(_OUTCOMES + " WHERE o.idea_id = :i ORDER BY o.recorded_at DESC"), {"i": idea_id}
        )
        return [_outcome(r) for r in rows]

    async def idea_campaign_access(
        self, idea_id: int, viewer: CurrentUser, *, lock: bool = True
    ) -> tuple[Idea, CampaignAccess]:
        """The idea (locked for a write) and the viewer's standing in its campaign; IDEA_001 if it does not exist."""
        if not 0 < idea_id < 2**63:
            raise IdeaNotFound()
        query = select(Idea).where(Idea.id == idea_id)
        idea = await self.db.scalar(query.with_for_update() if lock else query)
        if idea is None:
            raise IdeaNotFound()
        campaign = await self.db.get_one(Campaign, idea.campaign_id)
        role = await self.db.scalar(
            select(CampaignMember.role).where(
                CampaignMember.campaign_id == campaign.id,
                CampaignMember.user_id == viewer.id,
                CampaignMember.left_at.is_(None),
            )
        )
        return idea, CampaignAccess(campaign=campaign, viewer=viewer, role=role)

    async def record(self, idea_id: int, viewer: CurrentUser, data: OutcomeInput) -> OutcomeRow:
        idea, access = await self.idea_campaign_access(idea_id, viewer)
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
        self.db.add(outcome)
        await self.db.flush()
        audit.record(
            self.db,
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
        await commit(self.db)
        await self.db.refresh(outcome)
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
