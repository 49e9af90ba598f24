"""`notify()`: the one way to tell people that something happened, inside the transaction of the change.

Nobody is told about something that then rolls back:

- up to FANOUT_THRESHOLD recipients, it writes the in-app rows and records the immediate emails right there
  (delivery jobs and live updates go out after the commit);
- above that, it writes one `notification_fanouts` row and a job (after the commit) inserts the rows in
  batches with INSERT ... SELECT over the recipient query, resumable and duplicate-free (`fanout`).

Each recipient's preference for the event type decides the channels (catalog.py has the defaults): the
centre on or off, and email immediately, in the daily digest, or never.  Every email carries a one-click
unsubscribe link for its event type.  What notifying needs besides the session travels in a `Notifier`
(the mailer, with its queue and settings, and Valkey for the bells' live counts), given to the listeners
by the wiring and to the jobs by the worker.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import func, select

from coins.lib.db import after_commit
from coins.mail.mailer import Mailer
from coins.notifications import live
from coins.notifications.audiences import Audience, recipients_query
from coins.notifications.catalog import EventType, event_type
from coins.notifications.emails import personal, record_email
from coins.notifications.fanout import EMAILED_FOR_MODE, FANOUT_THRESHOLD, fanout_job
from coins.notifications.models import Notification, NotificationFanout

if TYPE_CHECKING:
    from saq.queue import Queue
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.sql import Select
    from valkey.asyncio import Valkey

    from coins.lib.links import Links

logger = logging.getLogger("coins.notifications")


@dataclass(frozen=True)
class Notifier:
    mailer: Mailer
    valkey: Valkey | None = None

    @property
    def public_url(self) -> str:
        return self.mailer.settings.public_url

    @property
    def links(self) -> Links:
        return self.mailer.links

    @property
    def queue(self) -> Queue | None:
        return self.mailer.queue


@dataclass(frozen=True)
class Notified:
    """What notify() did: how many people it reached (or will reach), and the fan-out row if any."""

    recipients: int
    fanout_id: int | None = None


def _jsonable(context: dict[str, Any] | None) -> dict[str, Any]:
    """A fan-out's template context is stored as JSON: dates become strings, objects are refused."""
    return dict(json.loads(json.dumps(context or {}, default=_json_default)))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"a fan-out's context must be JSON-able; got {type(value).__name__}")


async def notify(
    session: AsyncSession,
    notifier: Notifier,
    *,
    event: str,
    recipients: Sequence[UUID] | Audience,
    title: str,
    body: str = "",
    link: str = "",
    campaign_id: UUID | None = None,
    idea_id: int | None = None,
    context: dict[str, Any] | None = None,
    actor_id: UUID | None = None,
    exclude_actor: bool = True,
    template: str | None = None,
) -> Notified:
    """Tell `recipients` that `event` happened, in the caller's transaction.

    The caller commits with `coins.lib.db.commit`: delivery jobs, the fan-out job and live updates are
    sent by its after-commit callbacks (a plain `session.commit()` records everything but sends nothing
    until the sweepers find it).

    recipients: user ids, or an Audience (needed for large groups: members of a campaign, supporters of
    an idea).  title/body may contain "{coins}" (the recipient's coins on the idea).  link is a path in
    the app.  context goes to the email template (templates/emails/<template or event>.*) beside name,
    title, body, link_url, unsubscribe_url; it must be JSON-able when the group is large.  The actor is
    left out unless exclude_actor=False.  Users who are inactive, or who turned both channels off for the
    event, get nothing.
    """
    kind = event_type(event)
    audience = recipients if isinstance(recipients, Audience) else Audience("users", users=tuple(recipients))
    if exclude_actor and actor_id is not None:
        audience = audience.without(actor_id)
    query = recipients_query(audience, kind)
    rows = (await session.execute(query.limit(FANOUT_THRESHOLD + 1))).all()
    if len(rows) > FANOUT_THRESHOLD:
        return await _start_fanout(
            session,
            notifier,
            kind,
            audience,
            query,
            title=title,
            body=body,
            link=link,
            campaign_id=campaign_id,
            idea_id=idea_id,
            context=context,
            actor_id=actor_id,
            template=template or event,
        )

    told: list[UUID] = []
    message_ids: list[UUID] = []
    reached = 0
    for row in rows:
        if not row.in_app and row.email_mode == "never":
            continue
        reached += 1
        personal_title, personal_body = personal(title, row.coins)[:300], personal(body, row.coins)
        notification = Notification(
            user_id=row.user_id,
            event=event,
            campaign_id=campaign_id,
            idea_id=idea_id,
            actor_id=actor_id,
            title=personal_title,
            body=personal_body,
            link=link,
            in_app=row.in_app,
            emailed=EMAILED_FOR_MODE[row.email_mode],
            data={"coins": row.coins} if row.coins else {},
        )
        if row.email_mode == "immediate":
            message = record_email(
                session,
                notifier,
                event=kind,
                template=template or event,
                user_id=row.user_id,
                email=row.email,
                name=row.full_name,
                title=personal_title,
                body=personal_body,
                link=link,
                coins=row.coins,
                context=context,
            )
            notification.email_message_id = message.id
            message_ids.append(message.id)
        session.add(notification)
        if row.in_app:
            told.append(row.user_id)
    await session.flush()
    notifier.mailer.enqueue_deliveries_after_commit(session, message_ids)
    if told:
        after_commit(session, _publisher(notifier.valkey, told))
    return Notified(recipients=reached)


def _publisher(valkey: Valkey | None, user_ids: list[UUID]) -> Callable[[], Awaitable[None]]:
    async def send() -> None:
        await live.publish(valkey, user_ids)

    return send


async def _start_fanout(
    session: AsyncSession,
    notifier: Notifier,
    kind: EventType,
    audience: Audience,
    query: Select[Any],
    **values: Any,
) -> Notified:
    total = int(await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    fanout = NotificationFanout(
        event=kind.key,
        audience=audience.to_json(),
        recipients=total,
        **{**values, "title": values["title"][:300], "context": _jsonable(values["context"])},
    )
    session.add(fanout)
    await session.flush()
    queue = notifier.queue
    fanout_id = fanout.id

    async def send() -> None:
        if queue is None:
            logger.warning("no job queue: fan-out %s waits for the sweeper", fanout_id)
            return
        await queue.enqueue(fanout_job(fanout_id, key=f"fanout:{fanout_id}"))

    after_commit(session, send)
    logger.info("fan-out %s: %s to %s recipients", fanout_id, kind.key, total)
    return Notified(recipients=total, fanout_id=fanout_id)
