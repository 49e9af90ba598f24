"""Delivery of webhook events by the worker: the signed POST, its log, retries and disabling."""

from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import UUID

import aiohttp
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coins.lib.db import commit, rollback
from coins.lib.jobs import TASK_OPTIONS
from coins.platforms.models import (
    Platform,
    WebhookDelivery,
    WebhookEndpoint,
)
from coins.platforms.netguard import AddressRefused, GuardedResolver, literal_refusal

if TYPE_CHECKING:
    from coins.mail.mailer import Mailer
    from coins.settings import Settings
from coins.platforms.webhooks.changes import record_change
from coins.platforms.webhooks.signing import SIGNATURE_HEADER, endpoint_secret, signature_header

logger = logging.getLogger("coins.webhooks")
REQUEST_TIMEOUT = 10.0


FAILING_DAY = timedelta(hours=24)


MAX_ATTEMPTS = TASK_OPTIONS["deliver_webhook"].retries


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
    record_change(session, "webhook.disabled", endpoint, after={"disabled_reason": reason}, by="delivery failures")
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
            "docs_url": mailer.links.url("docs.integrators") + "#webhooks",
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
