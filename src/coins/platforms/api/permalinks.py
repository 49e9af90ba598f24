"""`/api/permalinks` and `/api/contexts`: a platform's own permalinks and what came in through them."""

from __future__ import annotations

from typing import Annotated, Any, cast
from uuid import UUID

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from coins.lib.links import Links
from coins.platforms.api.reads import (
    PLATFORM_SECURITY,
    Limit,
    Offset,
    permalink_read,
)
from coins.platforms.hooks import idea_url
from coins.platforms.identity import (
    platform_required,
    require_platform,
)
from coins.platforms.schemas import (
    ContextIdeaList,
    ContextIdeaRead,
    IdeaStatus,
    PermalinkCreate,
    PermalinkList,
    PermalinkRead,
)
from coins.platforms.services.contexts import ContextService
from coins.platforms.services.permalinks import PermalinkInput, PermalinkService


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
        links: NamedDependency[Links],
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
        return permalink_read(view, links)

    @get("/", summary="This platform's permalinks, newest first")
    async def list_permalinks(
        self,
        request: Request[Any, Any, Any],
        permalinks: NamedDependency[PermalinkService],
        links: NamedDependency[Links],
        campaign: Annotated[str | None, QueryParameter(max_length=64, description="Only this campaign")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> PermalinkList:
        page = await permalinks.list_for_platform(
            require_platform(request), limit=limit, offset=offset, campaign=campaign
        )
        return PermalinkList(
            items=[permalink_read(v, links) for v in page.items],
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
        links: NamedDependency[Links],
    ) -> PermalinkRead:
        view = await permalinks.get_for_platform(require_platform(request), permalink_id)
        return permalink_read(view, links)

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
        links: NamedDependency[Links],
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
                    url=idea_url(links, item.idea.id),
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
