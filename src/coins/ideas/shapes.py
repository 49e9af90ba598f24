"""What goes into and comes out of the idea services: limits, cleaned text, inputs and views."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from coins.campaigns.models import Tag
from coins.ideas.models import Idea

TITLE_MAX = 255
DESCRIPTION_MAX = 5_000
CONTEXT_MAX = 200
REASON_MAX = 1_000
MAX_TAGS = 10
PAGE_MAX = 100
SIMILAR_MAX = 20
SOURCES = ("web", "api", "permalink")
# The board shows these unless asked for others; pending ideas only to managers and their authors.
BOARD_DEFAULT = ("competing", "accepted", "in_progress", "complete")
# Ideas that could be what someone is about to submit again (not withdrawn, rejected or merged).
SIMILAR_STATUSES = ("pending", "competing", "accepted", "in_progress", "complete")
BIGINT_MAX = 2**63 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def clean_title(raw: str) -> str:
    """Plain text on one line: control characters and runs of white space become one space."""
    return " ".join(_CONTROL.sub(" ", raw).split())


def clean_description(raw: str) -> str:
    return raw.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").strip()


def field_diff(name: str, before: str, after: str, old: int, new: int) -> str:
    """A unified diff of one field between two versions ('' when equal)."""
    lines = difflib.unified_diff(
        before.splitlines(),
        after.splitlines(),
        fromfile=f"v{old}/{name}",
        tofile=f"v{new}/{name}",
        lineterm="",
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class IdeaInput:
    title: str
    description: str
    tag_ids: Sequence[UUID] = ()
    context_id: str | None = None


@dataclass(frozen=True)
class IdeaChanges:
    """An edit; None leaves a field as it is (`clear_context` removes the context)."""

    title: str | None = None
    description: str | None = None
    tag_ids: Sequence[UUID] | None = None
    context_id: str | None = None
    clear_context: bool = False


@dataclass(frozen=True)
class BoardQuery:
    tags: Sequence[str] = ()  # tag ids or names; an idea must carry all of them
    statuses: Sequence[str] = ()
    min_coins: int | None = None
    max_coins: int | None = None
    text: str | None = None
    sort: str = "coins"
    limit: int = 50
    offset: int = 0
    context_id: str | None = None


@dataclass(frozen=True)
class IdeaView:
    idea: Idea
    campaign_slug: str
    tags: list[Tag]
    author_name: str | None


@dataclass(frozen=True)
class StatusEntry:
    from_status: str | None
    to_status: str
    actor_id: UUID | None
    actor_name: str | None
    reason: str
    details: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class VersionEntry:
    number: int
    editor_id: UUID | None
    editor_name: str | None
    created_at: datetime
    title: str
    description: str
    tag_names: list[str]
    changed: list[str]
    # Field name -> unified diff against the version before (empty for the first version).
    diff: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IdeaRef:
    id: int
    title: str
    status: str


@dataclass(frozen=True)
class IdeaDetail:
    view: IdeaView
    history: list[StatusEntry]
    versions: list[VersionEntry]
    merged_into: IdeaRef | None
    merged_from: list[IdeaRef]
    can_edit: bool
    allowed_statuses: list[str]


@dataclass(frozen=True)
class SimilarIdea:
    id: int
    title: str
    status: str
    coins: int
    supporters: int
    score: float
