"""Reading the audit trail: filters, a page of events, and the statement the exports stream.

Admins read every domain (and may narrow to one campaign); a campaign's managers, sponsors and admins read
the events whose entity is the campaign (settings, lifecycle, members joining and leaving, invitations
sent), its ideas (every workflow step, edits, outcomes), its tags and its invitations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Select, String, and_, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from coins.accounts.models import User
from coins.campaigns.models import Campaign, Invitation, Tag
from coins.ideas.models import Idea
from coins.lib.audit import AuditEvent

ENTITY_TYPES = ("campaign", "idea", "invitation", "tag", "user")
PAGE_SIZE = 50


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip()) if raw and raw.strip() else None
    except ValueError:
        return None


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    action: str = ""
    entity_type: str = ""
    since: date | None = None
    until: date | None = None
    campaign: str = ""

    @classmethod
    def parse(
        cls,
        *,
        actor: str = "",
        action: str = "",
        entity_type: str = "",
        since: str = "",
        until: str = "",
        campaign: str = "",
    ) -> AuditFilters:
        """Filters from a query string; anything that does not parse is ignored rather than refused."""
        return cls(
            actor=actor.strip().lower()[:320],
            action=action.strip()[:64],
            entity_type=entity_type if entity_type in ENTITY_TYPES else "",
            since=_date(since),
            until=_date(until),
            campaign=campaign.strip().lower()[:64],
        )

    def query(self, *, include_campaign: bool) -> dict[str, str]:
        """The filters as query parameters (for pagination and export links)."""
        values = {
            "actor": self.actor,
            "action": self.action,
            "entity_type": self.entity_type,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        if include_campaign:
            values["campaign"] = self.campaign
        return {k: v for k, v in values.items() if v}


def campaign_scope(campaign_id: UUID) -> ColumnElement[bool]:
    """Events about the campaign itself, its ideas, its tags and its invitations."""
    ideas = select(cast(Idea.id, String)).where(Idea.campaign_id == campaign_id)
    tags = select(cast(Tag.id, String)).where(Tag.campaign_id == campaign_id)
    invitations = select(cast(Invitation.id, String)).where(Invitation.campaign_id == campaign_id)
    return or_(
        and_(AuditEvent.entity_type == "campaign", AuditEvent.entity_id == str(campaign_id)),
        and_(AuditEvent.entity_type == "idea", AuditEvent.entity_id.in_(ideas)),
        and_(AuditEvent.entity_type == "tag", AuditEvent.entity_id.in_(tags)),
        and_(AuditEvent.entity_type == "invitation", AuditEvent.entity_id.in_(invitations)),
    )


def audit_statement(filters: AuditFilters, *, campaign_id: UUID | None) -> Select[Any]:
    """Events matching the filters, newest first, with the actor's email and name."""
    statement = select(
        AuditEvent.id,
        AuditEvent.occurred_at,
        User.email.label("actor_email"),
        User.full_name.label("actor_name"),
        AuditEvent.action,
        AuditEvent.entity_type,
        AuditEvent.entity_id,
        AuditEvent.before,
        AuditEvent.after,
        AuditEvent.request_id,
    ).outerjoin(User, User.id == AuditEvent.actor_id)
    if campaign_id is not None:
        statement = statement.where(campaign_scope(campaign_id))
    if filters.actor:
        statement = statement.where(User.email.contains(filters.actor, autoescape=True))
    if filters.action:
        statement = statement.where(AuditEvent.action.startswith(filters.action, autoescape=True))
    if filters.entity_type:
        statement = statement.where(AuditEvent.entity_type == filters.entity_type)
    if filters.since:
        statement = statement.where(AuditEvent.occurred_at >= datetime.combine(filters.since, time(), UTC))
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time(), UTC)
        statement = statement.where(AuditEvent.occurred_at < end)
    return statement.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())


async def resolve_campaign(db: AsyncSession, filters: AuditFilters) -> tuple[UUID | None, bool]:
    """The campaign an admin narrowed to: (its id, whether the slug was found)."""
    if not filters.campaign:
        return None, True
    campaign_id = await db.scalar(select(Campaign.id).where(Campaign.slug == filters.campaign))
    return campaign_id, campaign_id is not None


def nothing(statement: Select[Any]) -> Select[Any]:
    return statement.where(literal(False))


@dataclass(frozen=True)
class AuditRow:
    occurred_at: datetime
    actor_email: str | None
    actor_name: str | None
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any]
    after: dict[str, Any]
    request_id: str

    @property
    def changes(self) -> list[tuple[str, str, str]]:
        """(field, before, after) for each value that differs, so a page shows what changed at a glance."""
        keys = list(dict.fromkeys([*self.before, *self.after]))
        return [
            (key, _show(self.before.get(key)), _show(self.after.get(key)))
            for key in keys
            if self.before.get(key) != self.after.get(key)
        ]


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        text = ", ".join(map(str, value))
    elif isinstance(value, dict):
        text = ", ".join(f"{k}={v}" for k, v in value.items())
    else:
        text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    page: int
    pages: int


async def audit_page(db: AsyncSession, statement: Select[Any], page: int) -> AuditPage:
    total = int(await db.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    result = await db.execute(statement.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))
    rows = [
        AuditRow(
            occurred_at=r.occurred_at,
            actor_email=r.actor_email,
            actor_name=r.actor_name,
            action=r.action,
            entity_type=r.entity_type,
            entity_id=r.entity_id,
            before=r.before or {},
            after=r.after or {},
            request_id=r.request_id,
        )
        for r in result
    ]
    return AuditPage(rows=rows, total=total, page=page, pages=pages)
