from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

EmailMode = Literal["immediate", "digest", "never"]


class NotificationRead(msgspec.Struct, kw_only=True):
    id: int
    event: str
    title: str
    body: str
    link: str
    campaign_id: UUID | None
    idea_id: int | None
    created_at: datetime
    read_at: datetime | None
    read: bool
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class NotificationPage(msgspec.Struct, kw_only=True):
    items: list[NotificationRead]
    total: int
    limit: int
    offset: int
    unread: int


class MarkReadRequest(msgspec.Struct, kw_only=True):
    """Either `ids` (your notifications to mark read) or `all: true`."""

    ids: Annotated[list[int], msgspec.Meta(max_length=1000)] = msgspec.field(default_factory=list)
    all: bool = False


class MarkReadResult(msgspec.Struct, kw_only=True):
    updated: int
    unread: int


class PreferenceRead(msgspec.Struct, kw_only=True):
    event: str
    label: str
    description: str
    in_app: bool
    email_mode: EmailMode


class PreferenceList(msgspec.Struct, kw_only=True):
    items: list[PreferenceRead]


class PreferenceChange(msgspec.Struct, kw_only=True):
    event: Annotated[str, msgspec.Meta(max_length=32, examples=["idea_accepted"])]
    in_app: bool | None = None
    email_mode: EmailMode | None = None


class PreferenceUpdate(msgspec.Struct, kw_only=True):
    """Only the event types listed change; a missing field keeps its current value."""

    items: Annotated[list[PreferenceChange], msgspec.Meta(max_length=64)]
