"""A campaign's tags: name unique in the campaign, colour, kind, optional parent (no cycles), active or retired
(retired tags stay on old ideas but cannot be picked).  Tags may change at any time."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.campaigns.access import CampaignAccess
from coins.campaigns.events import TagSaved
from coins.campaigns.models import TAG_KINDS, Tag
from coins.lib.bounds import has_control_characters
from coins.lib.db import commit, flush_unique
from coins.lib.errors import InvalidInput, NotFound
from coins.lib.events import EventBus

COLOUR_RE = re.compile(r"^#[0-9a-f]{6}$")


class CampaignTags:
    def __init__(self, session: AsyncSession, events: EventBus) -> None:
        self.db = session
        self.events = events

    async def of_campaign(self, access: CampaignAccess, *, include_retired: bool = True) -> list[Tag]:
        access.require_view()
        query = select(Tag).where(Tag.campaign_id == access.campaign.id)
        if not include_retired:
            query = query.where(Tag.is_active.is_(True))
        return list(await self.db.scalars(query.order_by(Tag.is_active.desc(), Tag.kind, func.lower(Tag.name))))

    async def save(
        self,
        access: CampaignAccess,
        *,
        tag_id: UUID | None,
        name: str | None,
        description: str | None = None,
        colour: str | None = None,
        kind: str | None = None,
        parent_id: UUID | None = None,
        clear_parent: bool = False,
        is_active: bool | None = None,
    ) -> Tag:
        """Create (tag_id None) or edit a tag; retiring is `is_active=False` (the tag stays on old ideas)."""
        access.require_manage()
        campaign = access.campaign
        tag = None
        if tag_id is not None:
            tag = await self.db.scalar(select(Tag).where(Tag.id == tag_id, Tag.campaign_id == campaign.id))
            if tag is None:
                raise NotFound("No such tag in this campaign.")
        problems: dict[str, str] = {}
        final_name = (name if name is not None else (tag.name if tag else "")).strip()
        if not final_name or len(final_name) > 50:
            problems["name"] = "Give the tag a name of at most 50 characters."
        elif has_control_characters(final_name):
            problems["name"] = "Write the name on one line, without line breaks or control characters."
        final_colour = (colour if colour is not None else (tag.colour if tag else "#8a5a00")).lower()
        if not COLOUR_RE.match(final_colour):
            problems["colour"] = "Use a colour like #1f6feb."
        final_kind = kind if kind is not None else (tag.kind if tag else "category")
        if final_kind not in TAG_KINDS:
            problems["kind"] = "Choose category, feature, priority or platform."
        if description is not None and len(description) > 500:
            problems["description"] = "Keep the description under 500 characters."
        final_parent = (
            None if clear_parent else (parent_id if parent_id is not None else (tag.parent_id if tag else None))
        )
        if final_parent is not None:
            problems.update(await self._parent_problems(campaign.id, tag, final_parent))
        if problems:
            raise InvalidInput("Please correct the highlighted fields.", fields=problems)
        before = _tag_snapshot(tag) if tag else {}
        if tag is None:
            tag = Tag(campaign_id=campaign.id)
            self.db.add(tag)
        tag.name = final_name
        tag.colour = final_colour
        tag.kind = final_kind
        tag.parent_id = final_parent
        if description is not None:
            tag.description = description.strip()
        elif tag_id is None:
            tag.description = ""
        if is_active is not None:
            tag.is_active = is_active
        elif tag_id is None:
            tag.is_active = True
        if not await flush_unique(self.db):
            raise InvalidInput(
                "Please correct the highlighted fields.",
                fields={"name": "Another tag of this campaign already has this name."},
            )
        actor_id = access.viewer.id if access.viewer else None
        await self.events.publish(
            self.db, TagSaved(tag=tag, actor_id=actor_id, before=before, after=_tag_snapshot(tag))
        )
        await commit(self.db)
        return tag

    async def _parent_problems(self, campaign_id: UUID, tag: Tag | None, parent_id: UUID) -> dict[str, str]:
        parent = await self.db.scalar(select(Tag).where(Tag.id == parent_id, Tag.campaign_id == campaign_id))
        if parent is None:
            return {"parent_id": "Choose a parent tag of this campaign."}
        # Walk up from the parent: reaching the tag itself would make a cycle.
        seen: set[UUID] = set()
        current: Tag | None = parent
        while current is not None and current.id not in seen:
            if tag is not None and current.id == tag.id:
                return {"parent_id": "A tag cannot sit under itself or one of its own sub-tags."}
            seen.add(current.id)
            current = await self.db.get(Tag, current.parent_id) if current.parent_id else None
        return {}


def _tag_snapshot(tag: Tag) -> dict[str, Any]:
    return {
        "name": tag.name,
        "colour": tag.colour,
        "kind": tag.kind,
        "parent_id": str(tag.parent_id) if tag.parent_id else None,
        "is_active": tag.is_active,
    }
