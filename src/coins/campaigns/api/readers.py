"""What the campaign API reads and answers: request bodies to service inputs, rows to response structs."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile
from litestar.params import QueryParameter

from coins.campaigns.fields import CampaignFields
from coins.campaigns.models import Campaign, Invitation, Tag
from coins.campaigns.schemas import (
    CampaignCreate,
    CampaignPatch,
    CampaignRead,
    CoinPolicy,
    InvitationRead,
    InviteResult,
    TagRead,
)
from coins.campaigns.services.invitations import InviteOutcome
from coins.lib.errors import InvalidInput

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
