"""Permalinks: a link a platform (or a manager) hands out that opens the idea form of one campaign, with a context."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.campaigns.access import CampaignAccess, CampaignNotFound
from coins.campaigns.errors import CampaignNotActive
from coins.campaigns.models import Campaign, Tag
from coins.ideas.shapes import DESCRIPTION_MAX, MAX_TAGS, TITLE_MAX
from coins.lib import audit
from coins.lib.db import commit
from coins.lib.errors import AppError, InvalidInput
from coins.lib.links import Links
from coins.lib.pages import Page
from coins.platforms.identity import PlatformIdentity
from coins.platforms.models import Permalink, Platform, PlatformCampaign, PlatformIdea
from coins.platforms.services.registry import PlatformService

CONTEXT_RE = re.compile(r"^[A-Za-z0-9._~:@+=-]{1,200}$")


CONTEXT_RULE = "1 to 200 letters, digits and . _ ~ : @ + = - (it goes into URLs as it is)."


RETURN_URL_MAX = 2000


# 12 random bytes: 16 url-safe characters, 96 bits; unguessable, and short enough to share.
TOKEN_BYTES = 12


PERMALINK_CAMPAIGN_STATUSES = ("draft", "active")


class PermalinkNotFound(AppError):
    error_code = "PERMALINK_001"
    default_message = "No such permalink."


@dataclass(frozen=True)
class PermalinkInput:
    campaign: str
    context_id: str
    tags: Sequence[str] = ()
    title: str = ""
    description: str = ""
    return_url: str | None = None


@dataclass(frozen=True)
class PermalinkView:
    permalink: Permalink
    campaign: Campaign
    platform_name: str | None
    tags: list[Tag]


def return_url_problem(url: str) -> str | None:
    if len(url) > RETURN_URL_MAX:
        return f"Use an address of at most {RETURN_URL_MAX} characters."
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "Use an address without spaces."
    try:
        parts = urlsplit(url)
    except ValueError:
        return "This is not a valid address."
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return "Use an http:// or https:// address."
    return None


def return_url_with_idea(url: str | None, idea_id: int) -> str | None:
    """Where to send the person back to, with `idea_id=<id>` added; None unless it is an http(s) URL."""
    if not url or return_url_problem(url) is not None:
        return None
    parts = urlsplit(url)
    query = f"{parts.query}&idea_id={idea_id}" if parts.query else f"idea_id={idea_id}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def permalink_url(links: Links, permalink: Permalink) -> str:
    return links.url("permalink", token=permalink.token)


class PermalinkService:
    def __init__(self, session: AsyncSession) -> None:
        self.db = session

    # Creating -------------------------------------------------------------------------------------------

    async def create_for_platform(self, platform: PlatformIdentity, data: PermalinkInput) -> PermalinkView:
        campaign = await self.db.scalar(
            select(Campaign)
            .join(PlatformCampaign, PlatformCampaign.campaign_id == Campaign.id)
            .where(Campaign.slug == data.campaign, PlatformCampaign.platform_id == platform.id)
        )
        if campaign is None:
            # Unknown and not allowed look the same: a key learns nothing about other campaigns.
            raise CampaignNotFound("No such campaign for this platform.")
        return await self._create(campaign, data, platform_id=platform.id, platform_name=platform.name)

    async def create_for_manager(
        self, access: CampaignAccess, data: PermalinkInput, *, platform_id: UUID | None
    ) -> PermalinkView:
        access.require_manage()
        platform_name = None
        if platform_id is not None:
            allowed = {p.id: p for p in await PlatformService(self.db).for_campaign(access.campaign.id)}
            if platform_id not in allowed:
                raise InvalidInput(
                    "Please correct the highlighted fields.",
                    fields={"platform_id": "Choose a platform allowed into this campaign, or none."},
                )
            platform_name = allowed[platform_id].name
        creator = access.viewer.id if access.viewer else None
        return await self._create(
            access.campaign, data, platform_id=platform_id, platform_name=platform_name, creator_id=creator
        )

    async def _tags(self, campaign_id: UUID, wanted: Sequence[str]) -> tuple[list[Tag], str | None]:
        """Tags by id or name (any case): active tags of the campaign, at most MAX_TAGS."""
        names = [w.strip() for w in wanted if w.strip()]
        if len(names) > MAX_TAGS:
            return [], f"Choose at most {MAX_TAGS} tags."
        if not names:
            return [], None
        tags = list(await self.db.scalars(select(Tag).where(Tag.campaign_id == campaign_id, Tag.is_active)))
        by_id = {str(t.id): t for t in tags}
        by_name = {t.name.lower(): t for t in tags}
        chosen: dict[UUID, Tag] = {}
        unknown = []
        for name in names:
            tag = by_id.get(name.lower()) or by_name.get(name.lower())
            if tag is None:
                unknown.append(name)
            else:
                chosen[tag.id] = tag
        if unknown:
            return [], f"Not an active tag of this campaign: {', '.join(unknown)}."
        return list(chosen.values()), None

    async def _create(
        self,
        campaign: Campaign,
        data: PermalinkInput,
        *,
        platform_id: UUID | None,
        platform_name: str | None,
        creator_id: UUID | None = None,
    ) -> PermalinkView:
        if campaign.status not in PERMALINK_CAMPAIGN_STATUSES:
            raise CampaignNotActive(
                f"Permalinks lead into draft or active campaigns; this one is {campaign.status}.",
                details={"campaign_status": campaign.status},
            )
        problems: dict[str, str] = {}
        context_id = data.context_id.strip()
        if not CONTEXT_RE.match(context_id):
            problems["context_id"] = CONTEXT_RULE
        title = " ".join(data.title.split())
        if len(title) > TITLE_MAX:
            problems["title"] = f"At most {TITLE_MAX} characters."
        description = data.description.replace("\r\n", "\n").strip()
        if len(description) > DESCRIPTION_MAX:
            problems["description"] = f"At most {DESCRIPTION_MAX:,} characters."
        return_url = (data.return_url or "").strip() or None
        if return_url is not None and (problem := return_url_problem(return_url)):
            problems["return_url"] = problem
        tags, tag_problem = await self._tags(campaign.id, data.tags)
        if tag_problem:
            problems["tags"] = tag_problem
        if problems:
            raise InvalidInput("Please correct the highlighted fields.", fields=problems)
        permalink = Permalink(
            token=secrets.token_urlsafe(TOKEN_BYTES),
            platform_id=platform_id,
            campaign_id=campaign.id,
            context_id=context_id,
            tag_ids=[t.id for t in tags],
            title=title,
            description=description,
            return_url=return_url,
            created_by_id=creator_id,
        )
        self.db.add(permalink)
        await self.db.flush()
        audit.record(
            self.db,
            actor_id=creator_id,
            action="permalink.created",
            entity_type="permalink",
            entity_id=permalink.id,
            after={
                "platform_id": str(platform_id) if platform_id else None,
                "campaign": campaign.slug,
                "context_id": context_id,
            },
        )
        await commit(self.db)
        return PermalinkView(permalink=permalink, campaign=campaign, platform_name=platform_name, tags=tags)

    # Reading --------------------------------------------------------------------------------------------

    async def _views(self, rows: Sequence[tuple[Permalink, Campaign, str | None]]) -> list[PermalinkView]:
        tag_ids = {tag_id for permalink, _, _ in rows for tag_id in permalink.tag_ids}
        tags = {t.id: t for t in await self.db.scalars(select(Tag).where(Tag.id.in_(tag_ids)))} if tag_ids else {}
        return [
            PermalinkView(
                permalink=permalink,
                campaign=campaign,
                platform_name=name,
                tags=[tags[t] for t in permalink.tag_ids if t in tags],
            )
            for permalink, campaign, name in rows
        ]

    def _query(self, *, allowed_only: bool = True) -> Any:
        """Permalinks with their campaign and platform name.  A platform's permalink works only while the
        platform is allowed into its campaign: taking the campaign away from a platform closes its links."""
        query = (
            select(Permalink, Campaign, Platform.name)
            .join(Campaign, Campaign.id == Permalink.campaign_id)
            .outerjoin(Platform, Platform.id == Permalink.platform_id)
        )
        if allowed_only:
            query = query.where(
                or_(
                    Permalink.platform_id.is_(None),
                    exists().where(
                        PlatformCampaign.platform_id == Permalink.platform_id,
                        PlatformCampaign.campaign_id == Permalink.campaign_id,
                    ),
                )
            )
        return query

    async def list_for_platform(
        self, platform: PlatformIdentity, *, limit: int = 50, offset: int = 0, campaign: str | None = None
    ) -> Page[PermalinkView]:
        query = self._query().where(Permalink.platform_id == platform.id)
        if campaign:
            query = query.where(Campaign.slug == campaign)
        total = await self.db.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = await self.db.execute(query.order_by(Permalink.created_at.desc()).limit(limit).offset(offset))
        return Page(items=await self._views([(r[0], r[1], r[2]) for r in rows]), total=total)

    async def list_for_campaign(self, access: CampaignAccess) -> list[PermalinkView]:
        access.require_manage()
        rows = await self.db.execute(
            # Managers see every link of their campaign, closed ones too, so they can delete them.
            self._query(allowed_only=False)
            .where(Permalink.campaign_id == access.campaign.id)
            .order_by(Permalink.created_at.desc())
        )
        return await self._views([(r[0], r[1], r[2]) for r in rows])

    async def get_for_platform(self, platform: PlatformIdentity, permalink_id: UUID) -> PermalinkView:
        row = (
            await self.db.execute(
                self._query().where(Permalink.id == permalink_id, Permalink.platform_id == platform.id)
            )
        ).first()
        if row is None:
            raise PermalinkNotFound()
        return (await self._views([(row[0], row[1], row[2])]))[0]

    async def came_through(self, idea_id: int, permalink_id: UUID) -> bool:
        """Whether the idea was submitted through this permalink."""
        found = await self.db.scalar(
            select(PlatformIdea.idea_id).where(
                PlatformIdea.idea_id == idea_id, PlatformIdea.permalink_id == permalink_id
            )
        )
        return found is not None

    async def resolve(self, token: str) -> PermalinkView:
        """The permalink behind a /p/<token> link (anyone may open one)."""
        if not 10 <= len(token) <= 32:
            raise PermalinkNotFound("This link is not valid (any more).")
        row = (await self.db.execute(self._query().where(Permalink.token == token))).first()
        if row is None:
            raise PermalinkNotFound("This link is not valid (any more).")
        return (await self._views([(row[0], row[1], row[2])]))[0]

    # Deleting -------------------------------------------------------------------------------------------

    async def _delete(self, permalink: Permalink, actor_id: UUID | None) -> None:
        await self.db.delete(permalink)
        audit.record(
            self.db,
            actor_id=actor_id,
            action="permalink.deleted",
            entity_type="permalink",
            entity_id=permalink.id,
            before={"context_id": permalink.context_id, "token_hint": permalink.token[:4]},
        )
        await commit(self.db)

    async def delete_for_platform(self, platform: PlatformIdentity, permalink_id: UUID) -> None:
        """The link stops working; ideas that came through it keep their context and stay the platform's."""
        view = await self.get_for_platform(platform, permalink_id)
        await self._delete(view.permalink, None)

    async def delete_for_manager(self, access: CampaignAccess, permalink_id: UUID) -> Permalink:
        access.require_manage()
        permalink = await self.db.scalar(
            select(Permalink).where(Permalink.id == permalink_id, Permalink.campaign_id == access.campaign.id)
        )
        if permalink is None:
            raise PermalinkNotFound()
        await self._delete(permalink, access.viewer.id if access.viewer else None)
        return permalink
