"""Webhooks: endpoints a platform registers, the events they receive, signed delivery and its log.

Events (`type` in the body): `idea.submitted` and `idea.status_changed` for ideas that came in through the
platform's permalinks, `idea.coins_threshold` when such an idea first reaches an endpoint's threshold, and
`webhook.test` on request.  Each event for each endpoint is a `webhook_deliveries` row, written in the
transaction of the change and sent by the worker (`deliver_webhook`) once it has committed; the row is the
delivery log (status, attempts, response code, last error, timestamps).

Signature: header `Coins-Signature: t=<unix seconds>,v1=<hex>` where the hex is
HMAC-SHA256(key=the endpoint's secret, message=f"{t}.".encode() + raw body), computed afresh at every
attempt; the body (and its `id`, the same on every attempt) never changes.  Receivers compare in constant
time and refuse timestamps older than a few minutes.

Secrets: an endpoint's secret is HMAC-SHA256(SECRET_KEY, "coins-webhook-secret:" + salt), the salt being
random and stored with the endpoint.  The secret itself is shown once and stored nowhere, so a copy of the
database alone cannot forge deliveries.  Changing SECRET_KEY changes every secret: roll them afterwards
(`POST /api/webhooks/{id}/secret`) and hand the new ones to the platforms.

Retries: SAQ retries a failed attempt with exponential backoff and full jitter (TASK_OPTIONS
"deliver_webhook": 2 s doubling up to an hour, 60 attempts, about a day).  An endpoint whose attempts have
all failed for 24 hours (no success since its first failure) is disabled at its next failed attempt, its
waiting deliveries are marked failed, and the platform's owner gets an email.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import UUID

import aiohttp
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coins.lib import audit
from coins.lib.db import commit, rollback
from coins.lib.errors import AppError, InvalidInput
from coins.lib.jobs import TASK_OPTIONS
from coins.lib.pages import Page
from coins.platforms.hooks import queue_event
from coins.platforms.identity import PlatformIdentity
from coins.platforms.models import (
    WEBHOOK_EVENTS,
    Platform,
    WebhookDelivery,
    WebhookEndpoint,
)
from coins.platforms.netguard import AddressRefused, GuardedResolver, literal_refusal, url_problem

if TYPE_CHECKING:
    from saq.queue import Queue

    from coins.mail.mailer import Mailer
    from coins.settings import Settings

logger = logging.getLogger("coins.webhooks")

SIGNATURE_HEADER = "Coins-Signature"
TEST_EVENT = "webhook.test"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
MAX_ENDPOINTS = 10
REQUEST_TIMEOUT = 10.0
FAILING_DAY = timedelta(hours=24)
MAX_ATTEMPTS = TASK_OPTIONS["deliver_webhook"].retries


class WebhookNotFound(AppError):
    error_code = "WEBHOOK_001"
    default_message = "No such webhook endpoint."


class WebhookDisabled(AppError):
    error_code = "WEBHOOK_002"
    default_message = "This endpoint is disabled: enable it first."


# Signing ----------------------------------------------------------------------------------------------------


def endpoint_secret(secret_key: str, salt: str) -> str:
    digest = hmac.new(secret_key.encode(), f"coins-webhook-secret:{salt}".encode(), hashlib.sha256).digest()
    return SECRET_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


# Endpoints (the platform's API; admins read too) ------------------------------------------------------------


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

    def _problems(self, url: str, events: Sequence[str], threshold: int | None) -> dict[str, str]:
        problems: dict[str, str] = {}
        if problem := url_problem(url, allow_private=self.settings.security.webhook_allow_private_networks):
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
        problems = self._problems(url, events, coins_threshold)
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
        _audit(self.db, "webhook.created", endpoint, after=_endpoint_snapshot(endpoint), by=f"platform {platform.id}")
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
        before = _endpoint_snapshot(endpoint)
        url = data.url.strip() if data.url is not None else endpoint.url
        events = list(dict.fromkeys(data.events)) if data.events is not None else list(endpoint.events)
        threshold = None if data.clear_threshold else (data.coins_threshold or endpoint.coins_threshold)
        if "idea.coins_threshold" not in events and data.coins_threshold is None:
            threshold = None
        problems = self._problems(url, events, threshold)
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
        _audit(
            self.db, "webhook.updated", endpoint, before=before, after=_endpoint_snapshot(endpoint),
            by=f"platform {owner.id}" if owner else "admin", actor_id=admin_id,
        )  # fmt: skip
        await commit(self.db)
        return endpoint

    async def roll_secret(self, owner: PlatformIdentity, endpoint_id: UUID) -> tuple[WebhookEndpoint, str]:
        """A new secret, shown once; deliveries signed from now on use it (the old one stops verifying)."""
        endpoint = await self.get(owner, endpoint_id)
        secret = self._new_salt(endpoint)
        _audit(self.db, "webhook.secret_rolled", endpoint, after={"secret_hint": endpoint.secret_hint},
               by=f"platform {owner.id}")  # fmt: skip
        await commit(self.db)
        return endpoint, secret

    async def delete(self, owner: PlatformIdentity, endpoint_id: UUID) -> None:
        endpoint = await self.get(owner, endpoint_id)
        _audit(self.db, "webhook.deleted", endpoint, before=_endpoint_snapshot(endpoint), by=f"platform {owner.id}")
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


# Delivery (the worker) --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """succeeded, retry (failed; SAQ tries again), failed (for good) or skipped (nothing to do)."""

    status: str
    error: str = ""
    response_code: int | None = None


def _refusal_in(exc: BaseException) -> AddressRefused | None:
    seen: list[BaseException | None] = [exc, getattr(exc, "os_error", None), exc.__cause__, exc.__context__]
    for candidate in seen:
        if isinstance(candidate, AddressRefused):
            return candidate
    return None


async def post_signed(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool) -> tuple[int | None, str]:
    """POST once, no redirects, to checked addresses only; (status code or None, error or '')."""
    host = urlsplit(url).hostname or ""
    if refusal := literal_refusal(host, allow_private=allow_private):
        return None, f"refused: {refusal}"
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(allow_private=allow_private),
        use_dns_cache=False,
        force_close=True,
        family=socket.AF_UNSPEC,
    )
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    try:
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as http,
            http.post(url, data=body, headers=headers, allow_redirects=False) as response,
        ):
            await response.content.read(4096)  # a little of the answer; the rest is dropped with the connection
            if 200 <= response.status < 300:
                return response.status, ""
            reason = (
                f"redirect to {response.headers.get('Location', '?')} (not followed)"
                if 300 <= response.status < 400
                else ""
            )
            return response.status, f"HTTP {response.status}" + (f": {reason}" if reason else "")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        if refused := _refusal_in(exc):
            return None, f"refused: {refused}"
        return None, f"{type(exc).__name__}: {exc}"[:2000] or type(exc).__name__


async def deliver(
    session: AsyncSession, settings: Settings, mailer: Mailer, delivery_id: UUID, *, final_attempt: bool
) -> Outcome:
    """One attempt at one delivery; the row records it before and after the request."""
    claimed = (
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending")
            .values(attempts=WebhookDelivery.attempts + 1, last_attempt_at=func.now())
            .returning(WebhookDelivery.endpoint_id, WebhookDelivery.payload, WebhookDelivery.attempts)
        )
    ).first()
    if claimed is None:
        await rollback(session)
        return Outcome("skipped")
    endpoint = await session.get_one(WebhookEndpoint, claimed.endpoint_id, populate_existing=True)
    platform = await session.get_one(Platform, endpoint.platform_id, populate_existing=True)
    if endpoint.disabled_at is not None or platform.revoked_at is not None:
        reason = "the endpoint is disabled" if endpoint.disabled_at is not None else "the platform is revoked"
        await _finish(session, delivery_id, "failed", None, f"not sent: {reason}")
        await commit(session)
        return Outcome("failed", reason)
    await commit(session)  # the attempt counts even if this process dies during the request

    body = claimed.payload.encode()
    secret = endpoint_secret(settings.app.secret_key, endpoint.secret_salt)
    event = json.loads(body).get("type", "")
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "CoinsForChange-Webhooks/1.0",
        "Coins-Event": event,
        "Coins-Delivery": str(delivery_id),
        SIGNATURE_HEADER: signature_header(secret, timestamp, body),
    }
    code, error = await post_signed(
        endpoint.url, body, headers, allow_private=settings.security.webhook_allow_private_networks
    )
    if not error:
        await _finish(session, delivery_id, "succeeded", code, "")
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint.id)
            .values(consecutive_failures=0, failing_since=None, last_success_at=func.now())
        )
        await commit(session)
        return Outcome("succeeded", response_code=code)

    disabled = await _record_failure(session, endpoint, platform, mailer, error)
    # A job re-sent by the sweeper starts SAQ's count afresh: the row's count is the one that holds.
    final = final_attempt or disabled or claimed.attempts >= MAX_ATTEMPTS
    await _finish(session, delivery_id, "failed" if final else "pending", code, error)
    await commit(session)
    logger.info("webhook delivery %s failed: %s", delivery_id, error)
    return Outcome("failed" if final else "retry", error, code)


async def _finish(session: AsyncSession, delivery_id: UUID, status: str, code: int | None, error: str) -> None:
    values: dict[str, Any] = {"status": status, "response_code": code, "last_error": error[:2000]}
    if status == "succeeded":
        values["delivered_at"] = func.now()
    await session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values))


def _endpoint_snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "platform_id": str(endpoint.platform_id),
        "url": endpoint.url,
        "events": list(endpoint.events),
        "coins_threshold": endpoint.coins_threshold,
        "enabled": endpoint.disabled_at is None,
    }


def _audit(
    session: AsyncSession,
    action: str,
    endpoint: WebhookEndpoint,
    *,
    by: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor_id: UUID | None = None,
) -> None:
    """Endpoints are changed by platforms (no user: `by` names the platform) and by administrators."""
    audit.record(
        session,
        actor_id=actor_id,
        action=action,
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        before=before,
        after={**(after or {}), "by": by},
    )


async def _record_failure(
    session: AsyncSession, endpoint: WebhookEndpoint, platform: Platform, mailer: Mailer, error: str
) -> bool:
    """Count the failure; after a day of nothing but failures disable the endpoint (once) and tell the
    platform's owner.  True when this attempt disabled it."""
    expired = await session.scalar(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint.id)
        .values(
            consecutive_failures=WebhookEndpoint.consecutive_failures + 1,
            last_failure_at=func.now(),
            failing_since=func.coalesce(WebhookEndpoint.failing_since, func.now()),
        )
        .returning(WebhookEndpoint.failing_since <= func.now() - FAILING_DAY)
    )
    if not expired:
        return False
    reason = f"Every delivery failed for more than 24 hours; the last error: {error}"[:500]
    disabled = await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint.id, WebhookEndpoint.disabled_at.is_(None))
        .values(disabled_at=func.now(), disabled_reason=reason)
        .returning(WebhookEndpoint.failing_since, WebhookEndpoint.consecutive_failures)
    )
    row = disabled.first()
    if row is None:
        return True  # disabled meanwhile by another attempt
    _audit(session, "webhook.disabled", endpoint, after={"disabled_reason": reason}, by="delivery failures")
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
        .values(status="failed", last_error="not sent: the endpoint was disabled after a day of failures")
    )
    mailer.send(
        session,
        to=platform.owner_email,
        template="webhook_disabled",
        context={
            "platform_name": platform.name,
            "url": endpoint.url,
            "failing_since": row.failing_since,
            "failures": row.consecutive_failures,
            "last_error": error,
            "docs_url": f"{mailer.settings.public_url}/docs/integrators#webhooks",
        },
    )
    logger.warning("webhook endpoint %s disabled after a day of failures", endpoint.id)
    return True


async def stalled_deliveries(session: AsyncSession, *, older_than: timedelta, limit: int = 500) -> list[UUID]:
    """Pending deliveries nobody has tried for longer than any retry waits: their job was lost."""
    cutoff = func.now() - older_than
    return list(
        await session.scalars(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.created_at < cutoff,
                (WebhookDelivery.last_attempt_at.is_(None)) | (WebhookDelivery.last_attempt_at < cutoff),
            )
            .order_by(WebhookDelivery.created_at)
            .limit(limit)
        )
    )
