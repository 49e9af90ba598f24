"""Invitation links by token: accept; managers resend and revoke."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from coins.accounts.auth import login_required, require_user
from coins.campaigns.access import CampaignAccess
from coins.campaigns.api.readers import (
    campaign_read,
    invitation_read,
)
from coins.campaigns.schemas import (
    AcceptInvitation,
    CampaignRead,
    InvitationRead,
)
from coins.campaigns.services.invitations import Invitations
from coins.campaigns.services.reading import CampaignReader


class InvitationApiController(Controller):
    path = "/api/invitations"
    tags = ["campaigns"]
    guards = [login_required]

    @post("/accept", status_code=HTTP_200_OK, summary="Accept an invitation with the token from its link")
    async def accept(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[AcceptInvitation],
        invitations: NamedDependency[Invitations],
        campaign_reader: NamedDependency[CampaignReader],
    ) -> CampaignRead:
        viewer = require_user(request)
        campaign = await invitations.accept(data.token, viewer)
        access: CampaignAccess = await campaign_reader.visible(campaign.slug, viewer)
        return campaign_read(campaign, access.role)

    @post(
        "/{invitation_id:uuid}/resend",
        status_code=HTTP_200_OK,
        summary="Send again with a new link (managers)",
    )
    async def resend(
        self,
        request: Request[Any, Any, Any],
        invitation_id: FromPath[UUID],
        invitations: NamedDependency[Invitations],
    ) -> InvitationRead:
        return invitation_read(await invitations.resend(invitation_id, require_user(request)))

    @post(
        "/{invitation_id:uuid}/revoke",
        status_code=HTTP_200_OK,
        summary="Revoke a pending invitation (managers)",
    )
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        invitation_id: FromPath[UUID],
        invitations: NamedDependency[Invitations],
    ) -> InvitationRead:
        return invitation_read(await invitations.revoke(invitation_id, require_user(request)))
