"""The audit trail: every event that describes itself for it (`Event.audit`) becomes a row in the same
transaction as the change.  Connected last, so it sees what earlier listeners noted (coins settled, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from coins.lib import audit
from coins.lib.events import Event

if TYPE_CHECKING:
    from coins.lib.events import EventBus


async def record(session: AsyncSession, event: Event) -> None:
    entry = event.audit()
    if entry is not None:
        audit.record(
            session,
            actor_id=entry.actor_id,
            action=entry.action,
            entity_type=entry.entity_type,
            entity_id=entry.entity_id,
            before=entry.before,
            after=entry.after,
        )


def connect(bus: EventBus) -> None:
    bus.subscribe(Event, record)
