"""Domain events of ideas: submitted, edited, approved, rejected, accepted, started, completed, withdrawn,
merged.

`record` is called by the idea service inside the transaction of the change, after the change itself,
and fans the event out: the audit record and the in-app notifications are rows in the same transaction
(SPEC.md "Notifications": submitter and supporters hear of approvals, rejections, acceptance, merges and
major edits; managers of mediated campaigns hear of submissions); emails, webhooks and the live ranking go
out only after the commit, so nobody is told of a change that then rolled back.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import CurrentUser
from coins.ideas.models import Idea
from coins.lib import audit, live
from coins.notifications.triggers import notify_idea_event
from coins.platforms import hooks as platform_hooks

EVENTS = frozenset(
    {"submitted", "edited", "approved", "rejected", "accepted", "started", "completed", "withdrawn", "merged"}
)


async def record(
    session: AsyncSession,
    event_name: str,
    idea: Idea,
    actor: CurrentUser | UUID | None,
    details: dict[str, Any],
    *,
    before: dict[str, Any] | None = None,
) -> None:
    """Record that `event_name` happened to `idea` (see the module docstring for what plugs in here)."""
    if event_name not in EVENTS:
        raise ValueError(f"unknown idea event {event_name!r}")
    actor_id = actor.id if isinstance(actor, CurrentUser) else actor
    audit.record(
        session,
        actor_id=actor_id,
        action=f"idea.{event_name}",
        entity_type="idea",
        entity_id=idea.id,
        before=before or {},
        after={"campaign_id": str(idea.campaign_id), **details},
    )
    # Boards watching the campaign refresh their ranking once this commits (coalesced; no I/O here).
    live.campaign_changed_after_commit(session, idea.campaign_id)
    # Notifications: in-app rows in this transaction, emails and live counts after it commits.
    await notify_idea_event(session, event_name, idea, actor_id, details)
    # Platforms: ideas that came through a permalink, and their webhooks (nothing for other ideas).
    await platform_hooks.on_idea_event(session, event_name, idea, details, before)
