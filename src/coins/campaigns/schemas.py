from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

Slug = Annotated[
    str,
    msgspec.Meta(min_length=3, max_length=64, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", examples=["green-office-2026"]),
]
CampaignType = Literal["open", "mediated", "closed"]
Pricing = Literal["linear", "quadratic"]
NonNegative = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
Positive = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


class CoinPolicy(msgspec.Struct, kw_only=True):
    initial_allocation: NonNegative = 100
    idea_submission_reward: NonNegative = 0
    allow_reallocation: bool = True
    allow_recycling: bool = True
    max_allocation_per_idea: Positive | None = None
    min_allocation_amount: Positive = 1
    pricing: Pricing = "linear"


class CoinPolicyPatch(msgspec.Struct, kw_only=True):
    initial_allocation: NonNegative | None = None
    idea_submission_reward: NonNegative | None = None
    allow_reallocation: bool | None = None
    allow_recycling: bool | None = None
    # Absent: unchanged; null: no limit.
    max_allocation_per_idea: Positive | msgspec.UnsetType | None = msgspec.UNSET
    min_allocation_amount: Positive | None = None
    pricing: Pricing | None = None


class CampaignCreate(msgspec.Struct, kw_only=True):
    slug: Slug
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Greener office"])]
    description: Annotated[str, msgspec.Meta(max_length=20_000)] = ""
    campaign_type: CampaignType = "open"
    starts_at: datetime
    ends_at: datetime
    coin_policy: CoinPolicy = msgspec.field(default_factory=CoinPolicy)
    manager_emails: list[Annotated[str, msgspec.Meta(max_length=320)]] = msgspec.field(default_factory=list)


class CampaignPatch(msgspec.Struct, kw_only=True):
    slug: Slug | None = None
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    description: Annotated[str, msgspec.Meta(max_length=20_000)] | None = None
    campaign_type: CampaignType | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    coin_policy: CoinPolicyPatch | None = None
    cost_cents: NonNegative | None = None


class CampaignRead(msgspec.Struct, kw_only=True):
    id: UUID
    slug: str
    title: str
    description: str
    description_html: str
    campaign_type: CampaignType
    status: Literal["draft", "active", "completed", "archived"]
    starts_at: datetime
    ends_at: datetime
    coin_policy: CoinPolicy
    banner_url: str | None
    icon_url: str | None
    my_role: Literal["member", "manager"] | None
    created_at: datetime
    activated_at: datetime | None
    completed_at: datetime | None


class CampaignList(msgspec.Struct, kw_only=True):
    items: list[CampaignRead]
    total: int
    limit: int
    offset: int


class MemberRead(msgspec.Struct, kw_only=True):
    user_id: UUID
    email: str
    full_name: str
    role: Literal["member", "manager"]
    joined_at: datetime


class MemberList(msgspec.Struct, kw_only=True):
    items: list[MemberRead]
    total: int
    limit: int
    offset: int


class InviteRequest(msgspec.Struct, kw_only=True):
    emails: list[Annotated[str, msgspec.Meta(max_length=320)]]
    role: Literal["member", "manager"] = "member"


class InviteResult(msgspec.Struct, kw_only=True):
    invited: list[str]
    resent: list[str]
    already_members: list[str]
    invalid: list[str]


class InvitationRead(msgspec.Struct, kw_only=True):
    id: UUID
    email: str
    role: Literal["member", "manager"]
    status: Literal["pending", "accepted", "expired", "revoked"]
    sent_at: datetime
    expires_at: datetime
    send_count: int
    accepted_at: datetime | None


class InvitationList(msgspec.Struct, kw_only=True):
    items: list[InvitationRead]
    total: int
    limit: int
    offset: int


class AcceptInvitation(msgspec.Struct, kw_only=True):
    token: Annotated[str, msgspec.Meta(max_length=200)]


class ManagerAssignment(msgspec.Struct, kw_only=True):
    emails: list[Annotated[str, msgspec.Meta(max_length=320)]]


TagKind = Literal["category", "feature", "priority", "platform"]
Colour = Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$", examples=["#1f6feb"])]


class TagCreate(msgspec.Struct, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
    description: Annotated[str, msgspec.Meta(max_length=500)] = ""
    colour: Colour = "#8a5a00"
    kind: TagKind = "category"
    parent_id: UUID | None = None


class TagPatch(msgspec.Struct, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=50)] | None = None
    description: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    colour: Colour | None = None
    kind: TagKind | None = None
    parent_id: UUID | msgspec.UnsetType | None = msgspec.UNSET
    is_active: bool | None = None


class TagRead(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    description: str
    colour: str
    kind: TagKind
    parent_id: UUID | None
    is_active: bool


class TagList(msgspec.Struct, kw_only=True):
    items: list[TagRead]
    total: int
    limit: int
    offset: int
