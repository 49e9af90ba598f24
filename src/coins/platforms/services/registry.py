"""Registration of platforms, their keys and the campaigns they may enter: for administrators only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import CurrentUser
from coins.accounts.services.validation import normalise_email, validate_email
from coins.campaigns.models import Campaign
from coins.lib import audit
from coins.lib.bounds import has_control_characters
from coins.lib.db import commit, flush_unique, rollback
from coins.lib.errors import AppError, Conflict, InvalidInput, PermissionDenied
from coins.lib.pages import Page
from coins.platforms.identity import hash_api_key, key_hint, new_api_key
from coins.platforms.models import Platform, PlatformCampaign

NAME_MAX = 100


class PlatformNotFound(AppError):
    error_code = "PLATFORM_001"
    default_message = "No such platform."


class PlatformRevoked(AppError):
    error_code = "PLATFORM_002"
    default_message = "This platform is revoked: register a new one instead."


@dataclass(frozen=True)
class IssuedKey:
    """A platform with its key in clear: shown once, right after it is made, and never again."""

    platform: Platform
    api_key: str


@dataclass(frozen=True)
class PlatformView:
    platform: Platform
    campaigns: list[Campaign]


def _platform_snapshot(platform: Platform, slugs: list[str]) -> dict[str, Any]:
    return {
        "name": platform.name,
        "owner_email": platform.owner_email,
        "key_hint": platform.key_hint,
        "campaigns": sorted(slugs),
        "revoked": platform.revoked_at is not None,
    }


class PlatformService:
    """Administration of platforms: every method here is for admins only."""

    def __init__(self, session: AsyncSession) -> None:
        self.db = session

    @staticmethod
    def _require_admin(actor: CurrentUser) -> None:
        if not actor.is_admin:
            raise PermissionDenied("Only administrators manage platforms.")

    async def _campaigns(self, slugs: Sequence[str]) -> list[Campaign]:
        wanted = list(dict.fromkeys(s.strip() for s in slugs if s.strip()))
        if not wanted:
            return []
        found = {c.slug: c for c in await self.db.scalars(select(Campaign).where(Campaign.slug.in_(wanted)))}
        unknown = [s for s in wanted if s not in found]
        if unknown:
            raise InvalidInput(
                "Please correct the highlighted fields.",
                fields={"campaigns": f"No such campaign: {', '.join(unknown)}."},
            )
        return [found[s] for s in wanted]

    @staticmethod
    def _field_problems(name: str | None, owner_email: str | None) -> dict[str, str]:
        problems: dict[str, str] = {}
        if name is not None and not 1 <= len(name.strip()) <= NAME_MAX:
            problems["name"] = f"Give the platform a name of 1 to {NAME_MAX} characters."
        elif name is not None and has_control_characters(name):
            problems["name"] = "Write the name on one line, without line breaks or control characters."
        if owner_email is not None and (problem := validate_email(owner_email)):
            problems["owner_email"] = problem
        return problems

    async def register(self, actor: CurrentUser, *, name: str, owner_email: str, campaigns: Sequence[str]) -> IssuedKey:
        self._require_admin(actor)
        problems = self._field_problems(name, owner_email)
        if problems:
            raise InvalidInput("Please correct the highlighted fields.", fields=problems)
        allowed = await self._campaigns(campaigns)
        key = new_api_key()
        platform = Platform(
            name=name.strip(),
            owner_email=normalise_email(owner_email),
            key_hash=hash_api_key(key),
            key_hint=key_hint(key),
            created_by_id=actor.id,
        )
        self.db.add(platform)
        if not await flush_unique(self.db):
            raise Conflict(
                "A platform with this name exists already.",
                details={"fields": {"name": "Another platform has this name: choose another."}},
            )
        self.db.add_all(PlatformCampaign(platform_id=platform.id, campaign_id=c.id) for c in allowed)
        audit.record(
            self.db,
            actor_id=actor.id,
            action="platform.registered",
            entity_type="platform",
            entity_id=platform.id,
            after=_platform_snapshot(platform, [c.slug for c in allowed]),
        )
        await commit(self.db)
        return IssuedKey(platform=platform, api_key=key)

    async def _platform(self, platform_id: UUID, *, lock: bool = False) -> Platform:
        query = select(Platform).where(Platform.id == platform_id)
        if lock:
            query = query.with_for_update()
        platform = await self.db.scalar(query.execution_options(populate_existing=True))
        if platform is None:
            raise PlatformNotFound()
        return platform

    async def allowed_campaigns(self, platform_id: UUID) -> list[Campaign]:
        return list(
            await self.db.scalars(
                select(Campaign)
                .join(PlatformCampaign, PlatformCampaign.campaign_id == Campaign.id)
                .where(PlatformCampaign.platform_id == platform_id)
                .order_by(Campaign.slug)
            )
        )

    async def get(self, platform_id: UUID) -> PlatformView:
        platform = await self._platform(platform_id)
        return PlatformView(platform=platform, campaigns=await self.allowed_campaigns(platform_id))

    async def list_all(self, *, limit: int = 50, offset: int = 0) -> Page[PlatformView]:
        total = await self.db.scalar(select(func.count()).select_from(Platform)) or 0
        platforms = list(
            await self.db.scalars(
                select(Platform).order_by(Platform.revoked_at.is_not(None), func.lower(Platform.name))
                .limit(limit).offset(offset)
            )
        )  # fmt: skip
        campaigns: dict[UUID, list[Campaign]] = {p.id: [] for p in platforms}
        if platforms:
            rows = await self.db.execute(
                select(PlatformCampaign.platform_id, Campaign)
                .join(Campaign, Campaign.id == PlatformCampaign.campaign_id)
                .where(PlatformCampaign.platform_id.in_(list(campaigns)))
                .order_by(Campaign.slug)
            )
            for platform_id, campaign in rows:
                campaigns[platform_id].append(campaign)
        return Page(items=[PlatformView(p, campaigns[p.id]) for p in platforms], total=total)

    async def update(
        self,
        actor: CurrentUser,
        platform_id: UUID,
        *,
        name: str | None = None,
        owner_email: str | None = None,
        campaigns: Sequence[str] | None = None,
    ) -> PlatformView:
        self._require_admin(actor)
        problems = self._field_problems(name, owner_email)
        if problems:
            raise InvalidInput("Please correct the highlighted fields.", fields=problems)
        platform = await self._platform(platform_id, lock=True)
        before = _platform_snapshot(platform, [c.slug for c in await self.allowed_campaigns(platform_id)])
        if name is not None:
            platform.name = name.strip()
        if owner_email is not None:
            platform.owner_email = normalise_email(owner_email)
        if campaigns is not None:
            allowed = await self._campaigns(campaigns)
            await self.db.execute(delete(PlatformCampaign).where(PlatformCampaign.platform_id == platform_id))
            self.db.add_all(PlatformCampaign(platform_id=platform_id, campaign_id=c.id) for c in allowed)
        if not await flush_unique(self.db):
            raise Conflict(
                "A platform with this name exists already.",
                details={"fields": {"name": "Another platform has this name: choose another."}},
            )
        view = await self.get(platform_id)
        audit.record(
            self.db,
            actor_id=actor.id,
            action="platform.updated",
            entity_type="platform",
            entity_id=platform_id,
            before=before,
            after=_platform_snapshot(view.platform, [c.slug for c in view.campaigns]),
        )
        await commit(self.db)
        return view

    async def rotate_key(self, actor: CurrentUser, platform_id: UUID) -> IssuedKey:
        """A new key, shown once; the old one stops working with this commit."""
        self._require_admin(actor)
        platform = await self._platform(platform_id, lock=True)
        if platform.revoked_at is not None:
            await rollback(self.db)
            raise PlatformRevoked()
        key = new_api_key()
        before = platform.key_hint
        platform.key_hash = hash_api_key(key)
        platform.key_hint = key_hint(key)
        platform.key_rotated_at = datetime.now(UTC)
        audit.record(
            self.db,
            actor_id=actor.id,
            action="platform.key_rotated",
            entity_type="platform",
            entity_id=platform_id,
            before={"key_hint": before},
            after={"key_hint": platform.key_hint},
        )
        await commit(self.db)
        return IssuedKey(platform=platform, api_key=key)

    async def revoke(self, actor: CurrentUser, platform_id: UUID) -> Platform:
        """The key stops working and no more webhooks go out; permalinks keep working for people."""
        self._require_admin(actor)
        platform = await self._platform(platform_id, lock=True)
        if platform.revoked_at is None:
            platform.revoked_at = datetime.now(UTC)
            audit.record(
                self.db,
                actor_id=actor.id,
                action="platform.revoked",
                entity_type="platform",
                entity_id=platform_id,
                before={"revoked": False},
                after={"revoked": True},
            )
        await commit(self.db)
        return platform

    async def for_campaign(self, campaign_id: UUID) -> list[Platform]:
        """Platforms (not revoked) allowed into a campaign: the choice on the managers' permalink form."""
        return list(
            await self.db.scalars(
                select(Platform)
                .join(PlatformCampaign, PlatformCampaign.platform_id == Platform.id)
                .where(PlatformCampaign.campaign_id == campaign_id, Platform.revoked_at.is_(None))
                .order_by(func.lower(Platform.name))
            )
        )
