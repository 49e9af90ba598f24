"""A campaign's tags."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from coins.accounts.auth import current_user, login_required, require_user
from coins.campaigns.api.readers import (
    Limit,
    Offset,
    tag_read,
)
from coins.campaigns.schemas import (
    TagCreate,
    TagList,
    TagPatch,
    TagRead,
)
from coins.campaigns.services.reading import CampaignReader
from coins.campaigns.services.tags import CampaignTags


class CampaignTagApiController(Controller):
    path = "/api/campaigns"
    tags = ["campaigns"]

    @get("/{slug:str}/tags", summary="The campaign's tags (retired ones too, marked)")
    async def list_tags(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_tags: NamedDependency[CampaignTags],
        campaign_reader: NamedDependency[CampaignReader],
        active: Annotated[bool | None, QueryParameter()] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> TagList:
        access = await campaign_reader.visible(slug, current_user(request))
        tags = await campaign_tags.of_campaign(access, include_retired=not active)
        page = tags[offset : offset + limit]
        return TagList(items=[tag_read(t) for t in page], total=len(tags), limit=limit, offset=offset)

    @post(
        "/{slug:str}/tags",
        status_code=HTTP_201_CREATED,
        guards=[login_required],
        summary="Create a tag (managers)",
    )
    async def create_tag(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        data: JSONBody[TagCreate],
        campaign_reader: NamedDependency[CampaignReader],
        campaign_tags: NamedDependency[CampaignTags],
    ) -> TagRead:
        access = await campaign_reader.access(slug, require_user(request))
        tag = await campaign_tags.save(
            access,
            tag_id=None,
            name=data.name,
            description=data.description,
            colour=data.colour.lower(),
            kind=data.kind,
            parent_id=data.parent_id,
        )
        return tag_read(tag)

    @patch("/{slug:str}/tags/{tag_id:uuid}", guards=[login_required], summary="Edit or retire a tag (managers)")
    async def update_tag(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        tag_id: FromPath[UUID],
        data: JSONBody[TagPatch],
        campaign_reader: NamedDependency[CampaignReader],
        campaign_tags: NamedDependency[CampaignTags],
    ) -> TagRead:
        access = await campaign_reader.access(slug, require_user(request))
        parent_given = data.parent_id is not msgspec.UNSET
        tag = await campaign_tags.save(
            access,
            tag_id=tag_id,
            name=data.name,
            description=data.description,
            colour=data.colour.lower() if data.colour else None,
            kind=data.kind,
            parent_id=data.parent_id if parent_given and isinstance(data.parent_id, UUID) else None,
            clear_parent=parent_given and data.parent_id is None,
            is_active=data.is_active,
        )
        return tag_read(tag)
