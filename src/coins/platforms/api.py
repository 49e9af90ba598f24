"""The platforms part of the JSON API.

- `/api/platforms`: administrators register platforms, rotate and revoke their keys (bearer token).
- `/api/permalinks`, `/api/contexts`, `/api/webhooks`: a platform with its own key
  (`Authorization: Bearer cfc_...` or `X-API-Key: cfc_...`); administrators may also read an endpoint's
  delivery log and send it a test event.
"""

from __future__ import annotations

from typing import Annotated, Any, cast
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from coins.accounts.auth import admin_required, require_user
from coins.platforms.hooks import idea_url
from coins.platforms.identity import (
    current_platform,
    platform_or_admin_required,
    platform_required,
    require_platform,
)
from coins.platforms.models import Platform, WebhookDelivery, WebhookEndpoint
from coins.platforms.schemas import (
    ContextIdeaList,
    ContextIdeaRead,
    DeliveryList,
    DeliveryRead,
    IdeaStatus,
    PermalinkCreate,
    PermalinkList,
    PermalinkRead,
    PlatformCreate,
    PlatformKeyRead,
    PlatformList,
    PlatformPatch,
    PlatformRead,
    PlatformSelf,
    TagRef,
    WebhookCreate,
    WebhookList,
    WebhookPatch,
    WebhookRead,
    WebhookSecretRead,
)
from coins.platforms.services import (
    ContextService,
    IssuedKey,
    PermalinkInput,
    PermalinkService,
    PermalinkView,
    PlatformService,
    PlatformView,
    permalink_url,
)
from coins.platforms.webhooks import EndpointInput, WebhookService
from coins.settings import Settings

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


def permalink_read(view: PermalinkView, public_url: str) -> PermalinkRead:
    permalink = view.permalink
    return PermalinkRead(
        id=permalink.id,
        url=permalink_url(public_url, permalink),
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


class PlatformAdminApiController(Controller):
    path = "/api/platforms"
    tags = ["platforms"]

    @post("/", status_code=HTTP_201_CREATED, guards=[admin_required], summary="Register a platform (admins)")
    async def register(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PlatformCreate],
        platforms: NamedDependency[PlatformService],
    ) -> PlatformKeyRead:
        issued = await platforms.register(
            require_user(request), name=data.name, owner_email=data.owner_email, campaigns=data.campaigns
        )
        view = await platforms.get(issued.platform.id)
        return key_read(issued, [c.slug for c in view.campaigns])

    @get("/", guards=[admin_required], summary="Every platform (admins)")
    async def list_platforms(
        self, platforms: NamedDependency[PlatformService], limit: Limit = 50, offset: Offset = 0
    ) -> PlatformList:
        page = await platforms.list_all(limit=limit, offset=offset)
        return PlatformList(items=[platform_read(v) for v in page.items], total=page.total, limit=limit, offset=offset)

    @get(
        "/me",
        guards=[platform_required],
        security=PLATFORM_SECURITY,
        summary="The platform the key belongs to, and the campaigns it may link into",
    )
    async def me(self, request: Request[Any, Any, Any], platforms: NamedDependency[PlatformService]) -> PlatformSelf:
        platform = require_platform(request)
        campaigns = await platforms.allowed_campaigns(platform.id)
        return PlatformSelf(id=platform.id, name=platform.name, campaigns=[c.slug for c in campaigns])

    @get("/{platform_id:uuid}", guards=[admin_required], summary="One platform (admins)")
    async def get_platform(
        self, platform_id: FromPath[UUID], platforms: NamedDependency[PlatformService]
    ) -> PlatformRead:
        return platform_read(await platforms.get(platform_id))

    @patch("/{platform_id:uuid}", guards=[admin_required], summary="Rename, change the owner or the campaigns")
    async def update(
        self,
        request: Request[Any, Any, Any],
        platform_id: FromPath[UUID],
        data: JSONBody[PlatformPatch],
        platforms: NamedDependency[PlatformService],
    ) -> PlatformRead:
        view = await platforms.update(
            require_user(request),
            platform_id,
            name=data.name,
            owner_email=data.owner_email,
            campaigns=data.campaigns,
        )
        return platform_read(view)

    @post(
        "/{platform_id:uuid}/rotate-key",
        status_code=HTTP_200_OK,
        guards=[admin_required],
        summary="A new API key, shown once; the old key stops working at once",
    )
    async def rotate_key(
        self, request: Request[Any, Any, Any], platform_id: FromPath[UUID], platforms: NamedDependency[PlatformService]
    ) -> PlatformKeyRead:
        issued = await platforms.rotate_key(require_user(request), platform_id)
        view = await platforms.get(platform_id)
        return key_read(issued, [c.slug for c in view.campaigns])

    @post(
        "/{platform_id:uuid}/revoke",
        status_code=HTTP_200_OK,
        guards=[admin_required],
        summary="Revoke: the key stops working and webhooks stop; permalinks keep working for people",
    )
    async def revoke(
        self, request: Request[Any, Any, Any], platform_id: FromPath[UUID], platforms: NamedDependency[PlatformService]
    ) -> PlatformRead:
        await platforms.revoke(require_user(request), platform_id)
        return platform_read(await platforms.get(platform_id))

    @get("/{platform_id:uuid}/webhooks", guards=[admin_required], summary="A platform's webhook endpoints (admins)")
    async def platform_webhooks(
        self,
        platform_id: FromPath[UUID],
        platforms: NamedDependency[PlatformService],
        webhooks: NamedDependency[WebhookService],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> WebhookList:
        await platforms.get(platform_id)
        page = await webhooks.list_for_platform(platform_id, limit=limit, offset=offset)
        return WebhookList(items=[webhook_read(e) for e in page.items], total=page.total, limit=limit, offset=offset)


class PermalinkApiController(Controller):
    path = "/api/permalinks"
    tags = ["platforms"]
    guards = [platform_required]
    security = PLATFORM_SECURITY

    @post("/", status_code=HTTP_201_CREATED, summary="A permalink into a campaign, carrying a context")
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PermalinkCreate],
        permalinks: NamedDependency[PermalinkService],
        settings: NamedDependency[Settings],
    ) -> PermalinkRead:
        view = await permalinks.create_for_platform(
            require_platform(request),
            PermalinkInput(
                campaign=data.campaign,
                context_id=data.context_id,
                tags=data.tags,
                title=data.title,
                description=data.description,
                return_url=data.return_url,
            ),
        )
        return permalink_read(view, settings.public_url)

    @get("/", summary="This platform's permalinks, newest first")
    async def list_permalinks(
        self,
        request: Request[Any, Any, Any],
        permalinks: NamedDependency[PermalinkService],
        settings: NamedDependency[Settings],
        campaign: Annotated[str | None, QueryParameter(max_length=64, description="Only this campaign")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> PermalinkList:
        page = await permalinks.list_for_platform(
            require_platform(request), limit=limit, offset=offset, campaign=campaign
        )
        return PermalinkList(
            items=[permalink_read(v, settings.public_url) for v in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @get("/{permalink_id:uuid}", summary="One of this platform's permalinks")
    async def get_permalink(
        self,
        request: Request[Any, Any, Any],
        permalink_id: FromPath[UUID],
        permalinks: NamedDependency[PermalinkService],
        settings: NamedDependency[Settings],
    ) -> PermalinkRead:
        view = await permalinks.get_for_platform(require_platform(request), permalink_id)
        return permalink_read(view, settings.public_url)

    @delete(
        "/{permalink_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        summary="The link stops working; ideas that came through it keep their context",
    )
    async def delete_permalink(
        self,
        request: Request[Any, Any, Any],
        permalink_id: FromPath[UUID],
        permalinks: NamedDependency[PermalinkService],
    ) -> None:
        await permalinks.delete_for_platform(require_platform(request), permalink_id)


class ContextApiController(Controller):
    path = "/api/contexts"
    tags = ["platforms"]
    guards = [platform_required]
    security = PLATFORM_SECURITY

    @get(
        "/{context_id:str}/ideas",
        summary="Ideas submitted through this platform's permalinks with this context (any status)",
    )
    async def context_ideas(
        self,
        request: Request[Any, Any, Any],
        context_id: FromPath[str],
        contexts: NamedDependency[ContextService],
        settings: NamedDependency[Settings],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ContextIdeaList:
        page = await contexts.ideas(require_platform(request), context_id, limit=limit, offset=offset)
        return ContextIdeaList(
            items=[
                ContextIdeaRead(
                    id=item.idea.id,
                    title=item.idea.title,
                    status=cast("IdeaStatus", item.idea.status),
                    coins=item.idea.coins,
                    supporters=item.idea.supporters,
                    url=idea_url(settings.public_url, item.idea.id),
                    campaign=item.campaign_slug,
                    context_id=item.idea.context_id,
                    created_at=item.idea.created_at,
                    status_changed_at=item.idea.status_changed_at,
                )
                for item in page.items
            ],
            total=page.total,
            limit=limit,
            offset=offset,
        )


class WebhookApiController(Controller):
    path = "/api/webhooks"
    tags = ["platforms"]
    security = PLATFORM_SECURITY

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        guards=[platform_required],
        summary="Register an endpoint; the answer carries its signing secret, shown once",
    )
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[WebhookCreate], webhooks: NamedDependency[WebhookService]
    ) -> WebhookSecretRead:
        endpoint, secret = await webhooks.create(
            require_platform(request), url=data.url, events=list(data.events), coins_threshold=data.coins_threshold
        )
        return WebhookSecretRead(**webhook_fields(endpoint), secret=secret)

    @get("/", guards=[platform_required], summary="This platform's endpoints")
    async def list_webhooks(
        self,
        request: Request[Any, Any, Any],
        webhooks: NamedDependency[WebhookService],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> WebhookList:
        page = await webhooks.list_for_platform(require_platform(request).id, limit=limit, offset=offset)
        return WebhookList(items=[webhook_read(e) for e in page.items], total=page.total, limit=limit, offset=offset)

    @get(
        "/{endpoint_id:uuid}",
        guards=[platform_or_admin_required],
        security=EITHER_SECURITY,
        summary="One endpoint and its health",
    )
    async def get_webhook(
        self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID], webhooks: NamedDependency[WebhookService]
    ) -> WebhookRead:
        return webhook_read(await webhooks.get(current_platform(request), endpoint_id))

    @patch(
        "/{endpoint_id:uuid}",
        guards=[platform_required],
        summary="Change URL, events or threshold; `enabled: true` re-enables a disabled endpoint",
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        endpoint_id: FromPath[UUID],
        data: JSONBody[WebhookPatch],
        webhooks: NamedDependency[WebhookService],
    ) -> WebhookRead:
        threshold_given = data.coins_threshold is not msgspec.UNSET
        endpoint = await webhooks.update(
            require_platform(request),
            endpoint_id,
            EndpointInput(
                url=data.url,
                events=list(data.events) if data.events is not None else None,
                coins_threshold=data.coins_threshold if isinstance(data.coins_threshold, int) else None,
                clear_threshold=threshold_given and data.coins_threshold is None,
                enabled=data.enabled,
            ),
        )
        return webhook_read(endpoint)

    @delete("/{endpoint_id:uuid}", status_code=HTTP_204_NO_CONTENT, guards=[platform_required], summary="Delete")
    async def delete_webhook(
        self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID], webhooks: NamedDependency[WebhookService]
    ) -> None:
        await webhooks.delete(require_platform(request), endpoint_id)

    @post(
        "/{endpoint_id:uuid}/secret",
        status_code=HTTP_200_OK,
        guards=[platform_required],
        summary="A new signing secret, shown once; the old one stops verifying at once",
    )
    async def roll_secret(
        self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID], webhooks: NamedDependency[WebhookService]
    ) -> WebhookSecretRead:
        endpoint, secret = await webhooks.roll_secret(require_platform(request), endpoint_id)
        return WebhookSecretRead(**webhook_fields(endpoint), secret=secret)

    @get(
        "/{endpoint_id:uuid}/deliveries",
        guards=[platform_or_admin_required],
        security=EITHER_SECURITY,
        summary="The delivery log, newest first: status, attempts, response code, last error, body",
    )
    async def deliveries(
        self,
        request: Request[Any, Any, Any],
        endpoint_id: FromPath[UUID],
        webhooks: NamedDependency[WebhookService],
        status: Annotated[
            str | None, QueryParameter(pattern="^(pending|succeeded|failed)$", description="Only this status")
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> DeliveryList:
        page = await webhooks.deliveries(
            current_platform(request), endpoint_id, status=status, limit=limit, offset=offset
        )
        return DeliveryList(items=[delivery_read(d) for d in page.items], total=page.total, limit=limit, offset=offset)

    @post(
        "/{endpoint_id:uuid}/test",
        status_code=HTTP_202_ACCEPTED,
        guards=[platform_or_admin_required],
        security=EITHER_SECURITY,
        summary="Send a `webhook.test` event now (delivered by the worker like any other)",
    )
    async def send_test(
        self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID], webhooks: NamedDependency[WebhookService]
    ) -> DeliveryRead:
        return delivery_read(await webhooks.send_test(current_platform(request), endpoint_id))
