"""JSON shapes of the ideas API (SPEC.md "JSON API": `id`, `status`, `coins`, `supporters` are fixed names).

Length limits here are generous on purpose: the service checks the real ones (title 1-255 characters
after trimming, description 1-5,000) and answers with a message per field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

IdeaStatus = Literal["pending", "competing", "rejected", "accepted", "in_progress", "complete", "withdrawn", "merged"]
TargetStatus = Literal["competing", "rejected", "accepted", "in_progress", "complete", "withdrawn", "merged"]
ContextId = Annotated[str, msgspec.Meta(max_length=200)]


class IdeaCreate(msgspec.Struct, kw_only=True):
    title: Annotated[str, msgspec.Meta(max_length=1_000, examples=["More bike racks at the north entrance"])]
    description: Annotated[str, msgspec.Meta(max_length=20_000, description="Markdown, at most 5,000 characters")]
    tag_ids: list[UUID] = msgspec.field(default_factory=list)
    context_id: ContextId | None = None


class IdeaPatch(msgspec.Struct, kw_only=True):
    """Absent fields stay as they are. Authors edit title, description and tags; managers also the context."""

    title: Annotated[str, msgspec.Meta(max_length=1_000)] | None = None
    description: Annotated[str, msgspec.Meta(max_length=20_000)] | None = None
    tag_ids: list[UUID] | None = None
    # Absent: unchanged; null: no context.
    context_id: ContextId | msgspec.UnsetType | None = msgspec.UNSET


class StatusChangeRequest(msgspec.Struct, kw_only=True):
    status: TargetStatus
    reason: Annotated[str, msgspec.Meta(max_length=1_000, description="Required when rejecting")] = ""
    merged_into: int | None = msgspec.field(default=None)


class TagRef(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    colour: str
    is_active: bool


class PersonRef(msgspec.Struct, kw_only=True):
    id: UUID | None
    name: str | None


class IdeaRead(msgspec.Struct, kw_only=True):
    id: int
    campaign_slug: str
    title: str
    # The title ready to put into HTML (escaped); `title` itself is plain text, never interpreted.
    title_html: str
    description: str
    description_html: str
    status: IdeaStatus
    coins: int
    supporters: int
    tags: list[TagRef]
    author: PersonRef | None
    context_id: str | None
    source: str
    rejection_reason: str
    merged_into_id: int | None
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime


class IdeaList(msgspec.Struct, kw_only=True):
    items: list[IdeaRead]
    total: int
    limit: int
    offset: int


class StatusChangeRead(msgspec.Struct, kw_only=True):
    from_status: IdeaStatus | None
    to_status: IdeaStatus
    actor: PersonRef | None
    reason: str
    details: dict[str, Any]
    created_at: datetime


class VersionSummary(msgspec.Struct, kw_only=True):
    number: int
    editor: PersonRef | None
    created_at: datetime
    changed: list[str]


class IdeaRef(msgspec.Struct, kw_only=True):
    id: int
    title: str
    status: IdeaStatus


class IdeaDetailRead(IdeaRead, kw_only=True):
    status_history: list[StatusChangeRead]
    versions: list[VersionSummary]
    merged_into: IdeaRef | None
    merged_from: list[IdeaRef]
    # What the caller may do now (for buttons; the server checks again on every request).
    can_edit: bool
    allowed_statuses: list[TargetStatus]


class VersionRead(msgspec.Struct, kw_only=True):
    number: int
    editor: PersonRef | None
    created_at: datetime
    title: str
    description: str
    tags: list[str]
    changed: list[str]
    # Field -> unified diff (difflib) against the previous version; empty for version 1.
    diff: dict[str, str]


class VersionList(msgspec.Struct, kw_only=True):
    items: list[VersionRead]
    total: int
    limit: int
    offset: int


class SimilarRead(msgspec.Struct, kw_only=True):
    id: int
    title: str
    status: IdeaStatus
    coins: int
    supporters: int
    score: Annotated[float, msgspec.Meta(ge=0, le=1)]


class SimilarList(msgspec.Struct, kw_only=True):
    items: list[SimilarRead]
    total: int
    limit: int
    offset: int
