"""What every change to an idea checks and takes first: the campaign's locks and status, text and tags."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.campaigns.errors import CampaignNotActive
from coins.campaigns.locks import lock_campaign_exclusive, lock_campaign_shared
from coins.campaigns.models import Campaign, Tag
from coins.ideas.shapes import DESCRIPTION_MAX, MAX_TAGS, TITLE_MAX


async def lock_campaign(
    session: AsyncSession, campaign: Campaign, allowed: Sequence[str], action: str, *, exclusive: bool = False
) -> None:
    """The campaign's locks in the coin order, then its status re-read under them.

    The advisory lock first (shared, or exclusive for a status change: settling an idea's coins locks the idea
    before many members' rows, the opposite of a member's own operation, so the two must never overlap), then
    the campaign's row FOR SHARE, so completing the campaign waits for us or we see it completed.
    """
    if exclusive:
        # Coin operations in the campaign wait until this status change commits (a few ms; an accept
        # with 10,000 supporters about half a second).
        await lock_campaign_exclusive(session, campaign.id)
    else:
        await lock_campaign_shared(session, campaign.id)
    status = await session.scalar(select(Campaign.status).where(Campaign.id == campaign.id).with_for_update(read=True))
    if status not in allowed:
        raise CampaignNotActive(
            f"Ideas can be {action} only while the campaign is {' or '.join(allowed)} (it is {status}).",
            details={"campaign_status": status},
        )


def text_problems(title: str | None, description: str | None) -> dict[str, str]:
    problems: dict[str, str] = {}
    if title is not None and not 1 <= len(title) <= TITLE_MAX:
        problems["title"] = f"Give the idea a title of 1 to {TITLE_MAX} characters."
    if description is not None and not 1 <= len(description) <= DESCRIPTION_MAX:
        problems["description"] = f"Describe the idea in 1 to {DESCRIPTION_MAX:,} characters."
    return problems


async def choosable_tags(
    session: AsyncSession, campaign_id: UUID, tag_ids: Sequence[UUID], *, keep: Sequence[UUID] = ()
) -> tuple[list[Tag], str | None]:
    """The chosen tags if all are active tags of the campaign (or already on the idea: `keep`)."""
    ids = list(dict.fromkeys(tag_ids))
    if len(ids) > MAX_TAGS:
        return [], f"Choose at most {MAX_TAGS} tags."
    if not ids:
        return [], None
    found = {
        tag.id: tag for tag in await session.scalars(select(Tag).where(Tag.campaign_id == campaign_id, Tag.id.in_(ids)))
    }
    unknown = [str(i) for i in ids if i not in found]
    if unknown:
        return [], f"Choose tags of this campaign; not one of its tags: {', '.join(unknown)}."
    retired = [found[i].name for i in ids if not found[i].is_active and i not in keep]
    if retired:
        return [], f"Retired tags cannot be chosen: {', '.join(retired)}."
    return [found[i] for i in ids], None
