"""JSON shapes of the platforms API: platforms (admins), permalinks, contexts and webhooks (platform keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

IdeaStatus = Literal["pending", "competing", "rejected", "accepted", "in_progress", "complete", "withdrawn", "merged"]
WebhookEvent = Literal["idea.submitted", "idea.status_changed", "idea.coins_threshold"]
DeliveryStatus = Literal["pending", "succeeded", "failed"]


class PlatformCreate(msgspec.Struct, kw_only=True):
    name: Annotated[str, msgspec.Meta(max_length=200, examples=["Intranet wiki"])]
    owner_email: Annotated[str, msgspec.Meta(max_length=320, description="Told when a webhook endpoint is disabled")]
    campaigns: list[str] = msgspec.field(default_factory=list)


class PlatformPatch(msgspec.Struct, kw_only=True):
    """Absent fields stay as they are; `campaigns` replaces the whole list."""

    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    owner_email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    campaigns: list[str] | None = None


class PlatformRead(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    owner_email: str
    campaigns: list[str]
    key_hint: str
    revoked: bool
    created_at: datetime
    key_rotated_at: datetime | None
    revoked_at: datetime | None


class PlatformKeyRead(PlatformRead, kw_only=True):
    """Answer of registration and key rotation: the only time the key is ever shown."""

    api_key: Annotated[str, msgspec.Meta(description="Shown once; only its SHA-256 is kept")]


class PlatformList(msgspec.Struct, kw_only=True):
    items: list[PlatformRead]
    total: int
    limit: int
    offset: int


class PlatformSelf(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    campaigns: list[str]


class PermalinkCreate(msgspec.Struct, kw_only=True):
    campaign: Annotated[str, msgspec.Meta(max_length=64, description="The campaign's slug")]
    context_id: Annotated[
        str, msgspec.Meta(max_length=200, description="Letters, digits and . _ ~ : @ + = -", examples=["page-4711"])
    ]
    tags: Annotated[list[str], msgspec.Meta(description="Tag names or ids, chosen in advance")] = msgspec.field(
        default_factory=list
    )
    title: Annotated[str, msgspec.Meta(max_length=1_000)] = ""
    description: Annotated[str, msgspec.Meta(max_length=20_000)] = ""
    return_url: Annotated[str, msgspec.Meta(max_length=2_000, description="http(s); gets ?idea_id=<id>")] | None = None


class TagRef(msgspec.Struct, kw_only=True):
    id: UUID
    name: str


class PermalinkRead(msgspec.Struct, kw_only=True):
    id: UUID
    url: str
    campaign: str
    context_id: str
    tags: list[TagRef]
    title: str
    description: str
    return_url: str | None
    platform: str | None
    created_at: datetime


class PermalinkList(msgspec.Struct, kw_only=True):
    items: list[PermalinkRead]
    total: int
    limit: int
    offset: int


class ContextIdeaRead(msgspec.Struct, kw_only=True):
    id: int
    title: str
    status: IdeaStatus
    coins: int
    supporters: int
    url: str
    campaign: str
    context_id: str | None
    created_at: datetime
    status_changed_at: datetime


class ContextIdeaList(msgspec.Struct, kw_only=True):
    items: list[ContextIdeaRead]
    total: int
    limit: int
    offset: int


class WebhookCreate(msgspec.Struct, kw_only=True):
    url: Annotated[str, msgspec.Meta(max_length=2_000, examples=["https://wiki.example.org/hooks/coins"])]
    events: list[WebhookEvent]
    coins_threshold: Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)] | None = None


class WebhookPatch(msgspec.Struct, kw_only=True):
    url: Annotated[str, msgspec.Meta(max_length=2_000)] | None = None
    events: list[WebhookEvent] | None = None
    # Absent: unchanged; null: none.
    coins_threshold: Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)] | msgspec.UnsetType | None = msgspec.UNSET
    enabled: bool | None = None


class WebhookRead(msgspec.Struct, kw_only=True):
    id: UUID
    url: str
    events: list[str]
    coins_threshold: int | None
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str
    secret_hint: str
    consecutive_failures: int
    failing_since: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    created_at: datetime


class WebhookSecretRead(WebhookRead, kw_only=True):
    secret: Annotated[str, msgspec.Meta(description="Shown once: the HMAC-SHA256 key of Coins-Signature")]


class WebhookList(msgspec.Struct, kw_only=True):
    items: list[WebhookRead]
    total: int
    limit: int
    offset: int


class DeliveryRead(msgspec.Struct, kw_only=True):
    id: UUID
    event: str
    status: DeliveryStatus
    attempts: int
    response_code: int | None
    last_error: str
    idea_id: int | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    payload: str


class DeliveryList(msgspec.Struct, kw_only=True):
    items: list[DeliveryRead]
    total: int
    limit: int
    offset: int
