"""Endpoint changes in the audit trail: what changed, by whom, before and after."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from coins.lib import audit
from coins.platforms.models import WebhookEndpoint


def endpoint_snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "platform_id": str(endpoint.platform_id),
        "url": endpoint.url,
        "events": list(endpoint.events),
        "coins_threshold": endpoint.coins_threshold,
        "enabled": endpoint.disabled_at is None,
    }


def record_change(
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
