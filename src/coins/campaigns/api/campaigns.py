"""Campaigns: list, create, read, change; the lifecycle; joining and leaving."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from coins.accounts.auth import current_user, login_required, require_user
from coins.campaigns.api.readers import (
    Limit,
    Offset,
    campaign_read,
    fields_from_create,
    fields_from_patch,
)
from coins.campaigns.schemas import (
    CampaignCreate,
    CampaignList,
    CampaignPatch,
    CampaignRead,
)
from coins.campaigns.services.configuration import CampaignConfiguration
from coins.campaigns.services.lifecycle import CampaignLifecycle
from coins.campaigns.services.membership import Membership
from coins.campaigns.services.reading import CampaignReader


class CampaignApiController(Controller):
    path = "/api/campaigns"
    tags = ["campaigns"]

    @get("/", summary="Campaigns you may see (public ones, plus your own)")
    async def list_campaigns(
        self,
        request: Request[Any, Any, Any],
        campaign_reader: NamedDependency[CampaignReader],
        status: Annotated[str | None, QueryParameter()] = None,
        mine: Annotated[bool, QueryParameter()] = False,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> CampaignList:
        page = await campaign_reader.list_visible(
            current_user(request), status=status, mine=mine, limit=limit, offset=offset
        )
        return CampaignList(
            items=[campaign_read(c, role) for c, role in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @post("/", status_code=HTTP_201_CREATED, guards=[login_required], summary="Create a campaign (admins)")
    async def create_campaign(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CampaignCreate],
        campaign_configuration: NamedDependency[CampaignConfiguration],
        campaign_reader: NamedDependency[CampaignReader],
    ) -> CampaignRead:
        campaign = await campaign_configuration.create(
            require_user(request), fields_from_create(data), data.manager_emails
        )
        access = await campaign_reader.visible(campaign.slug, require_user(request))
        return campaign_read(campaign, access.role)

    @get("/{slug:str}", summary="One campaign")
    async def get_campaign(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
    ) -> CampaignRead:
        access = await campaign_reader.visible(slug, current_user(request))
        return campaign_read(access.campaign, access.role)

    @patch(
        "/{slug:str}",
        guards=[login_required],
        summary="Change settings (managers; core settings frozen once active)",
    )
    async def update_campaign(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        data: JSONBody[CampaignPatch],
        campaign_reader: NamedDependency[CampaignReader],
        campaign_configuration: NamedDependency[CampaignConfiguration],
    ) -> CampaignRead:
        access = await campaign_reader.access(slug, require_user(request))
        campaign = await campaign_configuration.update(access, fields_from_patch(data))
        return campaign_read(campaign, access.role)

    async def _transition(
        self,
        request: Request[Any, Any, Any],
        slug: str,
        lifecycle: CampaignLifecycle,
        reader: CampaignReader,
        target: str,
    ) -> CampaignRead:
        viewer = require_user(request)
        campaign = await lifecycle.transition(slug, viewer, target)
        access = await reader.visible(campaign.slug, viewer)
        return campaign_read(campaign, access.role)

    @post("/{slug:str}/activate", status_code=HTTP_200_OK, guards=[login_required], summary="draft -> active")
    async def activate(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_lifecycle: NamedDependency[CampaignLifecycle],
        campaign_reader: NamedDependency[CampaignReader],
    ) -> CampaignRead:
        return await self._transition(request, slug, campaign_lifecycle, campaign_reader, "active")

    @post(
        "/{slug:str}/complete",
        status_code=HTTP_200_OK,
        guards=[login_required],
        summary="active -> completed",
    )
    async def complete(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_lifecycle: NamedDependency[CampaignLifecycle],
        campaign_reader: NamedDependency[CampaignReader],
    ) -> CampaignRead:
        return await self._transition(request, slug, campaign_lifecycle, campaign_reader, "completed")

    @post(
        "/{slug:str}/archive",
        status_code=HTTP_200_OK,
        guards=[login_required],
        summary="completed -> archived",
    )
    async def archive(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_lifecycle: NamedDependency[CampaignLifecycle],
        campaign_reader: NamedDependency[CampaignReader],
    ) -> CampaignRead:
        return await self._transition(request, slug, campaign_lifecycle, campaign_reader, "archived")

    @post(
        "/{slug:str}/join",
        status_code=HTTP_200_OK,
        guards=[login_required],
        summary="Join an open or mediated campaign",
    )
    async def join(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        membership: NamedDependency[Membership],
    ) -> CampaignRead:
        access = await membership.join(slug, require_user(request))
        return campaign_read(access.campaign, access.role)

    @post(
        "/{slug:str}/leave",
        status_code=HTTP_200_OK,
        guards=[login_required],
        summary="Leave (your coins stay where they are)",
    )
    async def leave(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        membership: NamedDependency[Membership],
    ) -> CampaignRead:
        viewer = require_user(request)
        await membership.leave(slug, viewer)
        access = await campaign_reader.access(slug, viewer)
        return campaign_read(access.campaign, None)
