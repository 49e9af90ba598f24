"""How platforms, keys, permalinks and webhooks read in the API, and the shared parameters."""

from __future__ import annotations

from typing import Annotated, Any

from litestar.params import QueryParameter

from coins.lib.links import Links
from coins.platforms.models import Platform, WebhookDelivery, WebhookEndpoint
from coins.platforms.schemas import (
    DeliveryRead,
    PermalinkRead,
    PlatformKeyRead,
    PlatformRead,
    TagRef,
    WebhookRead,
)
from coins.platforms.services.permalinks import PermalinkView, permalink_url
from coins.platforms.services.registry import IssuedKey, PlatformView

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (at most 100)")]


Offset = Annotated[int, QueryParameter(ge=0)]


PLATFORM_SECURITY: list[dict[str, list[str]]] = [{"PlatformKey": []}, {"PlatformKeyHeader": []}]


EITHER_SECURITY: list[dict[str, list[str]]] = [*PLATFORM_SECURITY, {"BearerToken": []}]


def platform_fields(platform: Platform, campaigns: list[str]) -> dict[str, Any]:
    return {
        "id": platform.id,
        "name": platform.name,
        "owner_email": platform.owner_email,
        "campaigns": campaigns,
        "key_hint": platform.key_hint,
        "revoked": platform.revoked_at is not None,
        "created_at": platform.created_at,
        "key_rotated_at": platform.key_rotated_at,
        "revoked_at": platform.revoked_at,
    }


def platform_read(view: PlatformView) -> PlatformRead:
    return PlatformRead(**platform_fields(view.platform, [c.slug for c in view.campaigns]))


def key_read(issued: IssuedKey, campaigns: list[str]) -> PlatformKeyRead:
    return PlatformKeyRead(**platform_fields(issued.platform, campaigns), api_key=issued.api_key)


def permalink_read(view: PermalinkView, links: Links) -> PermalinkRead:
    permalink = view.permalink
    return PermalinkRead(
        id=permalink.id,
        url=permalink_url(links, permalink),
        campaign=view.campaign.slug,
        context_id=permalink.context_id,
        tags=[TagRef(id=t.id, name=t.name) for t in view.tags],
        title=permalink.title,
        description=permalink.description,
        return_url=permalink.return_url,
        platform=view.platform_name,
        created_at=permalink.created_at,
    )


def webhook_fields(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "coins_threshold": endpoint.coins_threshold,
        "enabled": endpoint.disabled_at is None,
        "disabled_at": endpoint.disabled_at,
        "disabled_reason": endpoint.disabled_reason,
        "secret_hint": endpoint.secret_hint,
        "consecutive_failures": endpoint.consecutive_failures,
        "failing_since": endpoint.failing_since,
        "last_success_at": endpoint.last_success_at,
        "last_failure_at": endpoint.last_failure_at,
        "created_at": endpoint.created_at,
    }


def webhook_read(endpoint: WebhookEndpoint) -> WebhookRead:
    return WebhookRead(**webhook_fields(endpoint))


def delivery_read(delivery: WebhookDelivery) -> DeliveryRead:
    return DeliveryRead(
        id=delivery.id,
        event=delivery.event,
        status=delivery.status,  # type: ignore[arg-type]
        attempts=delivery.attempts,
        response_code=delivery.response_code,
        last_error=delivery.last_error,
        idea_id=delivery.idea_id,
        created_at=delivery.created_at,
        last_attempt_at=delivery.last_attempt_at,
        delivered_at=delivery.delivered_at,
        payload=delivery.payload,
    )
