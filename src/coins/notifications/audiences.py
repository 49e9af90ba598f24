"""Who hears of an event: recipient queries that a request can count and a fan-out job can re-run in batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import and_, func, literal, select, union_all
from sqlalchemy.sql import Select

from coins.accounts.models import User
from coins.campaigns.models import CampaignMember
from coins.coins.models import CoinAllocation, LedgerEntry
from coins.notifications.catalog import EventType
from coins.notifications.models import NotificationPreference


@dataclass(frozen=True)
class Audience:
    """A recipient query: kind (+ campaign or idea), extra users, users left out.

    kinds: users (just `users`), campaign_members, campaign_managers, idea_supporters (coins on the idea
    now), idea_settled (coins expended, recycled or forfeited when it closed), idea_merged (coins moved
    away by its merge).  Each row is (user_id, coins), coins being the user's coins concerned.
    """

    kind: str
    campaign_id: UUID | None = None
    idea_id: int | None = None
    users: tuple[UUID, ...] = ()
    exclude: tuple[UUID, ...] = ()

    def without(self, *user_ids: UUID | None) -> Audience:
        extra = tuple(u for u in user_ids if u is not None)
        return Audience(self.kind, self.campaign_id, self.idea_id, self.users, self.exclude + extra)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "campaign_id": str(self.campaign_id) if self.campaign_id else None,
            "idea_id": self.idea_id,
            "users": [str(u) for u in self.users],
            "exclude": [str(u) for u in self.exclude],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        return cls(
            kind=data["kind"],
            campaign_id=UUID(data["campaign_id"]) if data.get("campaign_id") else None,
            idea_id=data.get("idea_id"),
            users=tuple(UUID(u) for u in data.get("users", [])),
            exclude=tuple(UUID(u) for u in data.get("exclude", [])),
        )

    def query(self) -> Select[Any]:
        """SELECT user_id, coins: one row per recipient."""
        parts: list[Any] = []  # selects of (user_id, coins)
        zero = literal(0).label("coins")
        if self.kind in {"campaign_members", "campaign_managers"}:
            members = select(CampaignMember.user_id.label("user_id"), zero).where(
                CampaignMember.campaign_id == self.campaign_id, CampaignMember.left_at.is_(None)
            )
            if self.kind == "campaign_managers":
                members = members.where(CampaignMember.role == "manager")
            parts.append(members)
        elif self.kind == "idea_supporters":
            parts.append(
                select(CoinAllocation.user_id.label("user_id"), CoinAllocation.coins.label("coins")).where(
                    CoinAllocation.idea_id == self.idea_id, CoinAllocation.coins > 0
                )
            )
        elif self.kind == "idea_settled":
            parts.append(
                select(LedgerEntry.user_id.label("user_id"), func.sum(LedgerEntry.amount).label("coins"))
                .where(
                    LedgerEntry.idea_id == self.idea_id,
                    LedgerEntry.kind.in_(("expend", "recycle", "forfeit")),
                )
                .group_by(LedgerEntry.user_id)
            )
        elif self.kind == "idea_merged":
            parts.append(
                select(LedgerEntry.user_id.label("user_id"), func.sum(LedgerEntry.amount).label("coins"))
                .where(
                    LedgerEntry.from_idea_id == self.idea_id,
                    LedgerEntry.kind == "move",
                    LedgerEntry.reason == "merge",
                )
                .group_by(LedgerEntry.user_id)
            )
        elif self.kind != "users":
            raise ValueError(f"unknown audience kind {self.kind!r}")
        if self.users:
            parts.append(select(User.id.label("user_id"), zero).where(User.id.in_(self.users)))
        if not parts:
            parts.append(select(User.id.label("user_id"), zero).where(literal(False)))
        combined = parts[0].subquery() if len(parts) == 1 else union_all(*parts).subquery()
        query = select(combined.c.user_id.label("user_id"), func.max(combined.c.coins).label("coins")).group_by(
            combined.c.user_id
        )
        if self.exclude:
            query = query.where(combined.c.user_id.not_in(self.exclude))
        return query


def recipients_query(
    audience: Audience, event: EventType, *, after: UUID | None = None, limit: int | None = None
) -> Select[Any]:
    """The audience's active users with their email, name and effective preference for `event`, in user
    order (after the user id `after`, at most `limit`: the batches of a fan-out)."""
    people = audience.query().subquery("audience")
    pref = NotificationPreference
    query = select(
        people.c.user_id,
        people.c.coins,
        User.email,
        User.full_name,
        func.coalesce(pref.in_app, event.in_app).label("in_app"),
        func.coalesce(pref.email_mode, event.email_mode).label("email_mode"),
    ).select_from(
        people.join(User, and_(User.id == people.c.user_id, User.is_active.is_(True))).outerjoin(
            pref, and_(pref.user_id == people.c.user_id, pref.event == event.key)
        )
    )
    if after is not None:
        query = query.where(people.c.user_id > after)
    query = query.order_by(people.c.user_id)
    return query.limit(limit) if limit is not None else query
