"""`/api/platforms`: administrators register platforms, rotate and revoke their keys."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from coins.accounts.auth import admin_required, require_user
from coins.platforms.api.reads import (
    PLATFORM_SECURITY,
    Limit,
    Offset,
    key_read,
    platform_read,
    webhook_read,
)
from coins.platforms.identity import (
    platform_required,
    require_platform,
)
from coins.platforms.schemas import (
    PlatformCreate,
    PlatformKeyRead,
    PlatformList,
    PlatformPatch,
    PlatformRead,
    PlatformSelf,
    WebhookList,
)
from coins.platforms.services.registry import PlatformService
from coins.platforms.webhooks.endpoints import WebhookService


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
