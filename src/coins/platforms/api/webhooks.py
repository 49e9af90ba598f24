"""`/api/webhooks`: a platform's endpoints and their delivery log (administrators read too)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from coins.platforms.api.reads import (
    EITHER_SECURITY,
    PLATFORM_SECURITY,
    Limit,
    Offset,
    delivery_read,
    webhook_fields,
    webhook_read,
)
from coins.platforms.identity import (
    current_platform,
    platform_or_admin_required,
    platform_required,
    require_platform,
)
from coins.platforms.schemas import (
    DeliveryList,
    DeliveryRead,
    WebhookCreate,
    WebhookList,
    WebhookPatch,
    WebhookRead,
    WebhookSecretRead,
)
from coins.platforms.webhooks.endpoints import EndpointInput, WebhookService


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
