"""Members, invitations by email, managers by email (administrators), and the campaign's images."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from coins.accounts.auth import login_required, require_user
from coins.campaigns.api.readers import (
    Limit,
    Offset,
    campaign_read,
    invitation_read,
    invite_result,
    uploaded_file,
)
from coins.campaigns.schemas import (
    CampaignRead,
    InvitationList,
    InviteRequest,
    InviteResult,
    ManagerAssignment,
    MemberList,
    MemberRead,
)
from coins.campaigns.services.configuration import CampaignConfiguration
from coins.campaigns.services.invitations import Invitations
from coins.campaigns.services.reading import CampaignReader
from coins.settings import Settings


class CampaignMemberApiController(Controller):
    path = "/api/campaigns"
    tags = ["campaigns"]

    @get(
        "/{slug:str}/members",
        guards=[login_required],
        summary="Members and their roles (managers, sponsors, admins)",
    )
    async def members(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> MemberList:
        access = await campaign_reader.access(slug, require_user(request))
        page = await campaign_reader.members(access, limit=limit, offset=offset)
        return MemberList(
            items=[
                MemberRead(user_id=r.id, email=r.email, full_name=r.full_name, role=r.role, joined_at=r.joined_at)
                for r in page.items
            ],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    @post(
        "/{slug:str}/members",
        status_code=HTTP_200_OK,
        guards=[login_required],
        summary="Invite people by email",
    )
    async def invite(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        data: JSONBody[InviteRequest],
        campaign_reader: NamedDependency[CampaignReader],
        invitations: NamedDependency[Invitations],
    ) -> InviteResult:
        access = await campaign_reader.access(slug, require_user(request))
        return invite_result(await invitations.invite(access, data.emails, data.role))

    @post(
        "/{slug:str}/managers",
        status_code=HTTP_200_OK,
        guards=[login_required],
        summary="Assign managers by email (admins)",
    )
    async def assign_managers(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        data: JSONBody[ManagerAssignment],
        campaign_reader: NamedDependency[CampaignReader],
        invitations: NamedDependency[Invitations],
    ) -> InviteResult:
        access = await campaign_reader.access(slug, require_user(request))
        return invite_result(await invitations.assign_managers(access, data.emails))

    @get("/{slug:str}/invitations", guards=[login_required], summary="Invitations and their status (managers)")
    async def invitations(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        invitations: NamedDependency[Invitations],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> InvitationList:
        access = await campaign_reader.access(slug, require_user(request))
        page = await invitations.invitations(access, limit=limit, offset=offset)
        return InvitationList(
            items=[invitation_read(i) for i in page.items], total=page.total, limit=limit, offset=offset
        )

    @post(
        "/{slug:str}/banner",
        status_code=HTTP_200_OK,
        guards=[login_required],
        summary="Upload the banner (multipart, field 'file')",
    )
    async def upload_banner(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        campaign_configuration: NamedDependency[CampaignConfiguration],
        settings: NamedDependency[Settings],
    ) -> CampaignRead:
        access = await campaign_reader.access(slug, require_user(request))
        campaign = await campaign_configuration.set_image(
            access, "banner", await uploaded_file(request), settings.media_path
        )
        return campaign_read(campaign, access.role)

    @post(
        "/{slug:str}/icon",
        status_code=HTTP_200_OK,
        guards=[login_required],
        summary="Upload the icon (multipart, field 'file')",
    )
    async def upload_icon(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        campaign_configuration: NamedDependency[CampaignConfiguration],
        settings: NamedDependency[Settings],
    ) -> CampaignRead:
        access = await campaign_reader.access(slug, require_user(request))
        campaign = await campaign_configuration.set_image(
            access, "icon", await uploaded_file(request), settings.media_path
        )
        return campaign_read(campaign, access.role)
