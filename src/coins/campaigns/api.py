"""The campaigns part of the JSON API: campaigns, lifecycle, members and invitations, tags, images."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from coins.accounts.auth import current_user, login_required, require_user
from coins.campaigns.access import CampaignAccess
from coins.campaigns.models import Campaign, Invitation, Tag
from coins.campaigns.schemas import (
    AcceptInvitation,
    CampaignCreate,
    CampaignList,
    CampaignPatch,
    CampaignRead,
    CoinPolicy,
    InvitationList,
    InvitationRead,
    InviteRequest,
    InviteResult,
    ManagerAssignment,
    MemberList,
    MemberRead,
    TagCreate,
    TagList,
    TagPatch,
    TagRead,
)
from coins.campaigns.services import CampaignFields, CampaignService, InviteOutcome
from coins.lib.errors import InvalidInput
from coins.settings import Settings

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (at most 100)")]
Offset = Annotated[int, QueryParameter(ge=0)]


def media_url(path: str | None) -> str | None:
    return f"/media/{path}" if path else None


def campaign_read(campaign: Campaign, role: str | None) -> CampaignRead:
    return CampaignRead(
        id=campaign.id,
        slug=campaign.slug,
        title=campaign.title,
        description=campaign.description,
        description_html=campaign.description_html,
        campaign_type=campaign.campaign_type,  # type: ignore[arg-type]
        status=campaign.status,  # type: ignore[arg-type]
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        coin_policy=CoinPolicy(
            initial_allocation=campaign.initial_allocation,
            idea_submission_reward=campaign.idea_submission_reward,
            allow_reallocation=campaign.allow_reallocation,
            allow_recycling=campaign.allow_recycling,
            max_allocation_per_idea=campaign.max_allocation_per_idea,
            min_allocation_amount=campaign.min_allocation_amount,
            pricing=campaign.pricing,  # type: ignore[arg-type]
        ),
        banner_url=media_url(campaign.banner_path),
        icon_url=media_url(campaign.icon_path),
        my_role=role,  # type: ignore[arg-type]
        created_at=campaign.created_at,
        activated_at=campaign.activated_at,
        completed_at=campaign.completed_at,
    )


def fields_from_create(data: CampaignCreate) -> CampaignFields:
    policy = data.coin_policy
    return CampaignFields(
        slug=data.slug,
        title=data.title,
        description=data.description,
        campaign_type=data.campaign_type,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        initial_allocation=policy.initial_allocation,
        idea_submission_reward=policy.idea_submission_reward,
        allow_reallocation=policy.allow_reallocation,
        allow_recycling=policy.allow_recycling,
        max_allocation_per_idea=policy.max_allocation_per_idea,
        min_allocation_amount=policy.min_allocation_amount,
        pricing=policy.pricing,
    )


def fields_from_patch(data: CampaignPatch) -> CampaignFields:
    policy = data.coin_policy
    max_given = policy is not None and policy.max_allocation_per_idea is not msgspec.UNSET
    maximum = policy.max_allocation_per_idea if policy is not None and max_given else None
    return CampaignFields(
        slug=data.slug,
        title=data.title,
        description=data.description,
        campaign_type=data.campaign_type,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        initial_allocation=policy.initial_allocation if policy else None,
        idea_submission_reward=policy.idea_submission_reward if policy else None,
        allow_reallocation=policy.allow_reallocation if policy else None,
        allow_recycling=policy.allow_recycling if policy else None,
        max_allocation_per_idea=maximum if isinstance(maximum, int) else None,
        clear_max_allocation=max_given and maximum is None,
        min_allocation_amount=policy.min_allocation_amount if policy else None,
        pricing=policy.pricing if policy else None,
        cost_cents=data.cost_cents,
    )


def invite_result(outcome: InviteOutcome) -> InviteResult:
    return InviteResult(
        invited=outcome.invited,
        resent=outcome.resent,
        already_members=outcome.already_members,
        invalid=outcome.invalid,
    )


def invitation_read(invitation: Invitation) -> InvitationRead:
    return InvitationRead(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role,  # type: ignore[arg-type]
        status=invitation.status,  # type: ignore[arg-type]
        sent_at=invitation.sent_at,
        expires_at=invitation.expires_at,
        send_count=invitation.send_count,
        accepted_at=invitation.accepted_at,
    )


def tag_read(tag: Tag) -> TagRead:
    return TagRead(
        id=tag.id,
        name=tag.name,
        description=tag.description,
        colour=tag.colour,
        kind=tag.kind,  # type: ignore[arg-type]
        parent_id=tag.parent_id,
        is_active=tag.is_active,
    )


async def uploaded_file(request: Request[Any, Any, Any], field: str = "file") -> bytes:
    form = await request.form()
    upload = form.get(field)
    if not isinstance(upload, UploadFile):
        raise InvalidInput("Send the image as multipart/form-data in a field named 'file'.", fields={field: "Missing."})
    return await upload.read()


class CampaignApiController(Controller):
    path = "/api/campaigns"
    tags = ["campaigns"]

    @get("/", summary="Campaigns you may see (public ones, plus your own)")
    async def list_campaigns(
        self,
        request: Request[Any, Any, Any],
        campaigns: NamedDependency[CampaignService],
        status: Annotated[str | None, QueryParameter()] = None,
        mine: Annotated[bool, QueryParameter()] = False,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> CampaignList:
        page = await campaigns.list_visible(current_user(request), status=status, mine=mine, limit=limit, offset=offset)
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
        campaigns: NamedDependency[CampaignService],
    ) -> CampaignRead:
        campaign = await campaigns.create(require_user(request), fields_from_create(data), data.manager_emails)
        access = await campaigns.visible(campaign.slug, require_user(request))
        return campaign_read(campaign, access.role)

    @get("/{slug:str}", summary="One campaign")
    async def get_campaign(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
    ) -> CampaignRead:
        access = await campaigns.visible(slug, current_user(request))
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
        campaigns: NamedDependency[CampaignService],
    ) -> CampaignRead:
        access = await campaigns.access(slug, require_user(request))
        campaign = await campaigns.update(access, fields_from_patch(data))
        return campaign_read(campaign, access.role)

    async def _transition(
        self, request: Request[Any, Any, Any], slug: str, campaigns: CampaignService, target: str
    ) -> CampaignRead:
        viewer = require_user(request)
        campaign = await campaigns.transition(slug, viewer, target)
        access = await campaigns.visible(campaign.slug, viewer)
        return campaign_read(campaign, access.role)

    @post("/{slug:str}/activate", status_code=HTTP_200_OK, guards=[login_required], summary="draft -> active")
    async def activate(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
    ) -> CampaignRead:
        return await self._transition(request, slug, campaigns, "active")

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
        campaigns: NamedDependency[CampaignService],
    ) -> CampaignRead:
        return await self._transition(request, slug, campaigns, "completed")

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
        campaigns: NamedDependency[CampaignService],
    ) -> CampaignRead:
        return await self._transition(request, slug, campaigns, "archived")

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
        campaigns: NamedDependency[CampaignService],
    ) -> CampaignRead:
        access = await campaigns.join(slug, require_user(request))
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
        campaigns: NamedDependency[CampaignService],
    ) -> CampaignRead:
        viewer = require_user(request)
        await campaigns.leave(slug, viewer)
        access = await campaigns.access(slug, viewer)
        return campaign_read(access.campaign, None)

    @get(
        "/{slug:str}/members",
        guards=[login_required],
        summary="Members and their roles (managers, sponsors, admins)",
    )
    async def members(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> MemberList:
        access = await campaigns.access(slug, require_user(request))
        page = await campaigns.members(access, limit=limit, offset=offset)
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
        campaigns: NamedDependency[CampaignService],
    ) -> InviteResult:
        access = await campaigns.access(slug, require_user(request))
        return invite_result(await campaigns.invite(access, data.emails, data.role))

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
        campaigns: NamedDependency[CampaignService],
    ) -> InviteResult:
        access = await campaigns.access(slug, require_user(request))
        return invite_result(await campaigns.assign_managers(access, data.emails))

    @get("/{slug:str}/invitations", guards=[login_required], summary="Invitations and their status (managers)")
    async def invitations(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> InvitationList:
        access = await campaigns.access(slug, require_user(request))
        page = await campaigns.invitations(access, limit=limit, offset=offset)
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
        campaigns: NamedDependency[CampaignService],
        settings: NamedDependency[Settings],
    ) -> CampaignRead:
        access = await campaigns.access(slug, require_user(request))
        campaign = await campaigns.set_image(access, "banner", await uploaded_file(request), settings.media_path)
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
        campaigns: NamedDependency[CampaignService],
        settings: NamedDependency[Settings],
    ) -> CampaignRead:
        access = await campaigns.access(slug, require_user(request))
        campaign = await campaigns.set_image(access, "icon", await uploaded_file(request), settings.media_path)
        return campaign_read(campaign, access.role)

    @get("/{slug:str}/tags", summary="The campaign's tags (retired ones too, marked)")
    async def list_tags(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaigns: NamedDependency[CampaignService],
        active: Annotated[bool | None, QueryParameter()] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> TagList:
        access = await campaigns.visible(slug, current_user(request))
        tags = await campaigns.tags(access, include_retired=not active)
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
        campaigns: NamedDependency[CampaignService],
    ) -> TagRead:
        access = await campaigns.access(slug, require_user(request))
        tag = await campaigns.save_tag(
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
        campaigns: NamedDependency[CampaignService],
    ) -> TagRead:
        access = await campaigns.access(slug, require_user(request))
        parent_given = data.parent_id is not msgspec.UNSET
        tag = await campaigns.save_tag(
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


class InvitationApiController(Controller):
    path = "/api/invitations"
    tags = ["campaigns"]
    guards = [login_required]

    @post("/accept", status_code=HTTP_200_OK, summary="Accept an invitation with the token from its link")
    async def accept(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[AcceptInvitation],
        campaigns: NamedDependency[CampaignService],
    ) -> CampaignRead:
        viewer = require_user(request)
        campaign = await campaigns.accept(data.token, viewer)
        access: CampaignAccess = await campaigns.visible(campaign.slug, viewer)
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
        campaigns: NamedDependency[CampaignService],
    ) -> InvitationRead:
        return invitation_read(await campaigns.resend(invitation_id, require_user(request)))

    @post(
        "/{invitation_id:uuid}/revoke",
        status_code=HTTP_200_OK,
        summary="Revoke a pending invitation (managers)",
    )
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        invitation_id: FromPath[UUID],
        campaigns: NamedDependency[CampaignService],
    ) -> InvitationRead:
        return invitation_read(await campaigns.revoke(invitation_id, require_user(request)))
