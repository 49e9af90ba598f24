"""What happens to ideas: submitted, edited, and each step of the workflow (approved, rejected, accepted,
started, completed, withdrawn, merged).

The idea services publish these inside the transaction of the change, after the change itself.  Listeners
that take part in the change (the coin settlement of an accepted, withdrawn, rejected or merged idea, the
reward for an idea that competes) record what they did with `note()`: it lands in the event's details, which
later listeners read (notifications tell supporters what happened to their coins, the audit trail keeps it),
and in the idea's status-history row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from coins.ideas.models import Idea, IdeaStatusChange
from coins.lib.events import AuditEntry, Event


@dataclass(frozen=True, kw_only=True)
class IdeaEvent(Event):
    idea: Idea
    actor_id: UUID | None
    # What the change was; listeners add what they did through `note`.
    details: dict[str, Any]
    before: dict[str, Any] = field(default_factory=dict)
    # The idea's status-history row written with the change (workflow steps), which keeps the notes too.
    record: IdeaStatusChange | None = None

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def campaign_id(self) -> UUID:
        return self.idea.campaign_id

    def note(self, **values: Any) -> None:
        super().note(**values)
        self.details.update(values)
        if self.record is not None:
            self.record.details = {**(self.record.details or {}), **values}

    def audit(self) -> AuditEntry:
        return AuditEntry(
            action=f"idea.{self.name}",
            entity_type="idea",
            entity_id=self.idea.id,
            actor_id=self.actor_id,
            before=self.before,
            after={"campaign_id": str(self.idea.campaign_id), **self.details},
        )


@dataclass(frozen=True, kw_only=True)
class IdeaSubmitted(IdeaEvent):
    # Who brought the idea, when not the idea form itself (a platform's permalink): opaque to the ideas
    # domain, read by the listener that put it there.
    origin: object | None = None

    @property
    def name(self) -> str:
        return "submitted"


@dataclass(frozen=True, kw_only=True)
class IdeaEdited(IdeaEvent):
    @property
    def name(self) -> str:
        return "edited"


@dataclass(frozen=True, kw_only=True)
class IdeaStatusChanged(IdeaEvent):
    # The workflow step (`coins.ideas.access.TRANSITIONS`: approved, rejected, accepted, started, ...).
    step: str = ""
    from_status: str = ""
    to_status: str = ""
    merged_into: int | None = None

    @property
    def name(self) -> str:
        return self.step
