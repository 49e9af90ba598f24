"""Domain events: a domain says what happened, listeners elsewhere react, inside the same transaction.

A domain service publishes an event after making its change and before committing
(`await bus.publish(session, IdeaStatusChanged(...))`).  Handlers run at once, in registration order, on the
same session, so what they write (coin settlements, audit rows, in-app notifications) commits or rolls back
with the change itself.  Anything that leaves the process (emails, webhooks, index updates, live updates)
is queued by the handler with `coins.lib.db.after_commit`, so nobody hears of a change that then rolled back.

An event published by a handler (a settlement's own event, say) is dispatched after the handlers of the event
being dispatched have all run, so listeners always see events in the order they happened.

Changes that commit outside any session (a member's coin operation is one database statement on the coin
pool) are announced with `announce(event)` after their commit, to handlers subscribed with `on_committed`.

Handlers subscribe to an event class or to a base class (the audit trail subscribes to `Event` and keeps
whatever `audit()` describes).  The bus knows no domain: the wiring module connects the listeners.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from uuid import UUID

    from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger("coins.events")

E = TypeVar("E", bound="Event")
Handler = Callable[["AsyncSession", E], Awaitable[None]]
CommittedHandler = Callable[[E], Awaitable[None]]
_DISPATCHING = "coins.events.dispatching"


@dataclass(frozen=True)
class AuditEntry:
    """What the audit trail keeps of an event: who did what to which entity, and the values before and after."""

    action: str
    entity_type: str
    entity_id: object
    actor_id: UUID | None
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every domain event (frozen dataclasses, declared in `<domain>/events.py`).

    Listeners that take part in the change report what they did with `note` (the coins settled on an idea,
    the people told of a campaign's end); later listeners and the publisher read `notes`.
    """

    notes: dict[str, Any] = field(default_factory=dict, compare=False)

    def note(self, **values: Any) -> None:
        self.notes.update(values)

    def audit(self) -> AuditEntry | None:
        """The event's entry in the audit trail, or None when it is not a state change worth one."""
        return None


class EventBus:
    def __init__(self) -> None:
        self._handlers: list[tuple[type[Event], Handler[Any]]] = []
        self._committed: list[tuple[type[Event], CommittedHandler[Any]]] = []

    def subscribe(self, event_type: type[E], handler: Handler[E]) -> None:
        self._handlers.append((event_type, handler))

    def on_committed(self, event_type: type[E], handler: CommittedHandler[E]) -> None:
        self._committed.append((event_type, handler))

    def handlers_for(self, event: Event) -> list[Handler[Any]]:
        return [handler for kind, handler in self._handlers if isinstance(event, kind)]

    async def publish(self, session: AsyncSession, event: Event) -> None:
        """Run every handler of `event` on `session`, in registration order; a handler's error propagates
        (the caller rolls the whole change back)."""
        pending: list[Event] | None = session.info.get(_DISPATCHING)
        if pending is not None:  # published by a handler: after the current event's handlers
            pending.append(event)
            return
        queue = [event]
        session.info[_DISPATCHING] = queue
        try:
            while queue:
                current = queue.pop(0)
                for handler in self.handlers_for(current):
                    await handler(session, current)
        finally:
            session.info.pop(_DISPATCHING, None)

    async def announce(self, event: Event) -> None:
        """Tell the `on_committed` handlers about a change that has committed already; their failures are
        logged, never raised (nothing can undo the change)."""
        for kind, handler in self._committed:
            if isinstance(event, kind):
                try:
                    await handler(event)
                except Exception:
                    logger.exception("handler of committed %s failed", type(event).__name__)
