"""Webhook endpoints: what a platform registers (its API; admins read too)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.lib.db import commit
from coins.lib.errors import AppError, InvalidInput
from coins.lib.pages import Page
from coins.platforms.hooks import queue_event
from coins.platforms.identity import PlatformIdentity
from coins.platforms.models import (
    WEBHOOK_EVENTS,
    Platform,
    WebhookDelivery,
    WebhookEndpoint,
)
from coins.platforms.netguard import registration_problem

if TYPE_CHECKING:
    from saq.queue import Queue

    from coins.settings import Settings
from coins.platforms.webhooks.changes import endpoint_snapshot, record_change
from coins.platforms.webhooks.signing import SECRET_PREFIX, endpoint_secret

TEST_EVENT = "webhook.test"


MAX_ENDPOINTS = 10


class WebhookNotFound(AppError):
    error_code = "WEBHOOK_001"
    default_message = "No such webhook endpoint."


class WebhookDisabled(AppError):
    error_code = "WEBHOOK_002"
    default_message = "This endpoint is disabled: enable it first."


@dataclass(frozen=True)
class EndpointInput:
    url: str | None = None
    events: Sequence[str] | None = None
    coins_threshold: int | None = None
    clear_threshold: bool = False
    enabled: bool | None = None


class WebhookService:
    def __init__(self, session: AsyncSession, settings: Settings, queue: Queue | None) -> None:
        self.db = session
        self.settings = settings
        self.queue = queue

    def _secret(self, endpoint: WebhookEndpoint) -> str:
        return endpoint_secret(self.settings.app.secret_key, endpoint.secret_salt)

    async def _problems(self, url: str, events: Sequence[str], threshold: int | None) -> dict[str, str]:
        problems: dict[str, str] = {}
        allow_private = self.settings.security.webhook_allow_private_networks
        if problem := await registration_problem(url, allow_private=allow_private):
            problems["url"] = problem
        unknown = [e for e in events if e not in WEBHOOK_EVENTS]
        if not events or unknown:
            problems["events"] = f"Choose one or more of {', '.join(WEBHOOK_EVENTS)}."
        if "idea.coins_threshold" in events and (threshold is None or threshold < 1):
            problems["coins_threshold"] = "Give the number of coins (1 or more) that triggers idea.coins_threshold."
        if threshold is not None and "idea.coins_threshold" not in events:
            problems["coins_threshold"] = "A threshold only applies to the idea.coins_threshold event."
        return problems

    def _new_salt(self, endpoint: WebhookEndpoint) -> str:
        endpoint.secret_salt = secrets.token_hex(16)
        secret = self._secret(endpoint)
        endpoint.secret_hint = secret[: len(SECRET_PREFIX) + 4]
        return secret

    async def create(
        self, platform: PlatformIdentity, *, url: str, events: Sequence[str], coins_threshold: int | None = None
    ) -> tuple[WebhookEndpoint, str]:
        """A new endpoint and its signing secret (shown once)."""
        url = url.strip()
        events = list(dict.fromkeys(events))
        problems = await self._problems(url, events, coins_threshold)
        count = await self.db.scalar(
            select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.platform_id == platform.id)
        )
        if (count or 0) >= MAX_ENDPOINTS:
            problems["url"] = f"A platform has at most {MAX_ENDPOINTS} endpoints: delete one first."
        if problems:
            raise InvalidInput("Please correct the highlighted fields.", fields=problems)
        endpoint = WebhookEndpoint(
            platform_id=platform.id, url=url, events=events, coins_threshold=coins_threshold, consecutive_failures=0
        )
        secret = self._new_salt(endpoint)
        self.db.add(endpoint)
        await self.db.flush()
        record_change(
            self.db, "webhook.created", endpoint, after=endpoint_snapshot(endpoint), by=f"platform {platform.id}"
        )
        await commit(self.db)
        return endpoint, secret

    async def get(self, owner: PlatformIdentity | None, endpoint_id: UUID) -> WebhookEndpoint:
        """The endpoint if `owner` has it (None: an administrator, who sees every platform's)."""
        query = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
        if owner is not None:
            query = query.where(WebhookEndpoint.platform_id == owner.id)
        endpoint = await self.db.scalar(query.execution_options(populate_existing=True))
        if endpoint is None:
            raise WebhookNotFound()
        return endpoint

    async def list_for_platform(self, platform_id: UUID, *, limit: int = 50, offset: int = 0) -> Page[WebhookEndpoint]:
        base = select(WebhookEndpoint).where(WebhookEndpoint.platform_id == platform_id)
        total = await self.db.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = await self.db.scalars(base.order_by(WebhookEndpoint.created_at).limit(limit).offset(offset))
        return Page(items=list(rows), total=total)

    async def update(
        self,
        owner: PlatformIdentity | None,
        endpoint_id: UUID,
        data: EndpointInput,
        *,
        admin_id: UUID | None = None,
    ) -> WebhookEndpoint:
        """Change an endpoint: its platform (`owner`), or an administrator (`owner` None, `admin_id`)."""
        endpoint = await self.get(owner, endpoint_id)
        before = endpoint_snapshot(endpoint)
        url = data.url.strip() if data.url is not None else endpoint.url
        events = list(dict.fromkeys(data.events)) if data.events is not None else list(endpoint.events)
        threshold = None if data.clear_threshold else (data.coins_threshold or endpoint.coins_threshold)
        if "idea.coins_threshold" not in events and data.coins_threshold is None:
            threshold = None
        problems = await self._problems(url, events, threshold)
        if problems:
            raise InvalidInput("Please correct the highlighted fields.", fields=problems)
        endpoint.url, endpoint.events, endpoint.coins_threshold = url, events, threshold
        if data.enabled is True and endpoint.disabled_at is not None:
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
            endpoint.failing_since = None
            endpoint.consecutive_failures = 0
        elif data.enabled is False and endpoint.disabled_at is None:
            endpoint.disabled_at = datetime.now(UTC)
            endpoint.disabled_reason = "Disabled by the platform."
        record_change(
            self.db, "webhook.updated", endpoint, before=before, after=endpoint_snapshot(endpoint),
            by=f"platform {owner.id}" if owner else "admin", actor_id=admin_id,
        )  # fmt: skip
        await commit(self.db)
        return endpoint

    async def roll_secret(self, owner: PlatformIdentity, endpoint_id: UUID) -> tuple[WebhookEndpoint, str]:
        """A new secret, shown once; deliveries signed from now on use it (the old one stops verifying)."""
        endpoint = await self.get(owner, endpoint_id)
        secret = self._new_salt(endpoint)
        record_change(self.db, "webhook.secret_rolled", endpoint, after={"secret_hint": endpoint.secret_hint},
               by=f"platform {owner.id}")  # fmt: skip
        await commit(self.db)
        return endpoint, secret

    async def delete(self, owner: PlatformIdentity, endpoint_id: UUID) -> None:
        endpoint = await self.get(owner, endpoint_id)
        record_change(
            self.db, "webhook.deleted", endpoint, before=endpoint_snapshot(endpoint), by=f"platform {owner.id}"
        )
        await self.db.delete(endpoint)
        await commit(self.db)

    async def deliveries(
        self,
        owner: PlatformIdentity | None,
        endpoint_id: UUID,
        *,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[WebhookDelivery]:
        endpoint = await self.get(owner, endpoint_id)
        base = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
        if status:
            base = base.where(WebhookDelivery.status == status)
        total = await self.db.scalar(select(func.count()).select_from(base.subquery())) or 0
        rows = await self.db.scalars(
            base.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit).offset(offset)
        )
        return Page(items=list(rows), total=total)

    async def send_test(self, owner: PlatformIdentity | None, endpoint_id: UUID) -> WebhookDelivery:
        endpoint = await self.get(owner, endpoint_id)
        if endpoint.disabled_at is not None:
            raise WebhookDisabled()
        platform = await self.db.get_one(Platform, endpoint.platform_id)
        if platform.revoked_at is not None:
            raise WebhookDisabled("This platform is revoked: nothing is sent to its endpoints.")
        data = {"message": "A test event from Coins for Change: your endpoint and signature check work."}
        deliveries = await queue_event(
            self.db,
            platform_id=endpoint.platform_id,
            event=TEST_EVENT,
            data=data,
            endpoint_ids=[endpoint.id],
            queue=self.queue,
        )
        await commit(self.db)
        return deliveries[0]
