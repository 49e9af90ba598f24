"""Notifications: who hears about what, in the notification centre and by email.

`notify()` is the one entry point.  It runs inside the transaction of the change it reports, so nobody is
told about something that then rolls back:

- up to FANOUT_THRESHOLD recipients, it writes the in-app rows and records the immediate emails right
  there (delivery jobs and live updates go out after the commit);
- above that, it writes one `notification_fanouts` row and a job (after the commit) inserts the rows in
  batches with INSERT ... SELECT over the recipient query, resumable and duplicate-free.

Each recipient's preference for the event type decides the channels (catalog.py has the defaults): the
centre on or off, and email immediately, in the daily digest, or never.  Every email carries a one-click
unsubscribe link for its event type.

Services find the mailer and the Valkey client on the session (`Notifier`, bound to every session by
`create_app` and the worker), so a domain hook that only has a session can notify.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import (
    String,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from uuid_utils.compat import uuid7

from coins.accounts.models import User
from coins.campaigns.models import CampaignMember
from coins.coins.models import CoinAllocation, LedgerEntry
from coins.lib import audit
from coins.lib.db import after_commit
from coins.lib.jobs import make_job
from coins.notifications import live
from coins.notifications.catalog import DIGEST, EVENT_TYPES, EVENTS, EventType, event_type
from coins.notifications.mail import Mailer
from coins.notifications.models import (
    EMAIL_MODES,
    EmailMessage,
    Notification,
    NotificationFanout,
    NotificationPreference,
)
from coins.notifications.tokens import make_unsubscribe_token

if TYPE_CHECKING:
    from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
    from saq.queue import Queue
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.sql import Select
    from valkey.asyncio import Valkey

logger = logging.getLogger("coins.notifications")

NOTIFIER_KEY = "coins.notifier"
# Above this many recipients the request records one fan-out row and a job does the rest.
FANOUT_THRESHOLD = 200
FANOUT_BATCH = 500
# A fan-out job touches its heartbeat after every batch; SAQ retries it when the worker died.
FANOUT_HEARTBEAT = 60
EMAILED_FOR_MODE = {"immediate": "pending", "digest": "digest", "never": "none"}
COINS = "{coins}"  # replaced per recipient in titles and bodies (their coins on the idea)


# The runtime: what notifying needs besides the session -----------------------------------------------------


@dataclass(frozen=True)
class Notifier:
    mailer: Mailer
    valkey: Valkey | None = None

    @property
    def public_url(self) -> str:
        return self.mailer.settings.public_url

    @property
    def queue(self) -> Queue | None:
        return self.mailer.queue


class NotifierMissing(RuntimeError):
    """The session carries no Notifier: bind one to its database config with `bind_notifier`."""


def bind_notifier(config: SQLAlchemyAsyncConfig, notifier: Notifier) -> None:
    """Make every session of `config` carry `notifier` (call before the first session is made)."""
    info = config.session_config.info
    if not isinstance(info, dict):
        info = {}
        config.session_config.info = info
    info[NOTIFIER_KEY] = notifier


def notifier_of(config: SQLAlchemyAsyncConfig) -> Notifier | None:
    info = config.session_config.info
    bound = info.get(NOTIFIER_KEY) if isinstance(info, dict) else None
    return bound if isinstance(bound, Notifier) else None


def notifier_for(session: AsyncSession, mailer: Mailer | None = None) -> Notifier:
    bound: Notifier | None = session.info.get(NOTIFIER_KEY)
    if mailer is not None:
        return Notifier(mailer, bound.valkey if bound is not None else None)
    if bound is None:
        raise NotifierMissing(
            "This session has no Notifier: bind one to its database config with "
            "bind_notifier(config, Notifier(mailer, valkey)) (create_app and the worker do), "
            "or pass mailer= explicitly."
        )
    return bound


# Who: audiences that a request can count and a job can re-run in batches --------------------------------


@dataclass(frozen=True)
class Audience:
    """A recipient query: kind (+ campaign or idea), extra users, users left out.

    kinds: users (just `users`), campaign_members, campaign_managers, idea_supporters (coins on the idea
    now), idea_settled (coins expended, recycled or forfeited when it closed), idea_merged (coins moved
    away by its merge).  Each row is (user_id, coins), coins being the user's coins concerned.
    """

    kind: str
    campaign_id: UUID | None = None
    idea_id: int | None = None
    users: tuple[UUID, ...] = ()
    exclude: tuple[UUID, ...] = ()

    def without(self, *user_ids: UUID | None) -> Audience:
        extra = tuple(u for u in user_ids if u is not None)
        return Audience(self.kind, self.campaign_id, self.idea_id, self.users, self.exclude + extra)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "campaign_id": str(self.campaign_id) if self.campaign_id else None,
            "idea_id": self.idea_id,
            "users": [str(u) for u in self.users],
            "exclude": [str(u) for u in self.exclude],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        return cls(
            kind=data["kind"],
            campaign_id=UUID(data["campaign_id"]) if data.get("campaign_id") else None,
            idea_id=data.get("idea_id"),
            users=tuple(UUID(u) for u in data.get("users", [])),
            exclude=tuple(UUID(u) for u in data.get("exclude", [])),
        )

    def query(self) -> Select[Any]:
        """SELECT user_id, coins: one row per recipient."""
        parts: list[Any] = []  # selects of (user_id, coins)
        zero = literal(0).label("coins")
        if self.kind in {"campaign_members", "campaign_managers"}:
            members = select(CampaignMember.user_id.label("user_id"), zero).where(
                CampaignMember.campaign_id == self.campaign_id, CampaignMember.left_at.is_(None)
            )
            if self.kind == "campaign_managers":
                members = members.where(CampaignMember.role == "manager")
            parts.append(members)
        elif self.kind == "idea_supporters":
            parts.append(
                select(CoinAllocation.user_id.label("user_id"), CoinAllocation.coins.label("coins")).where(
                    CoinAllocation.idea_id == self.idea_id, CoinAllocation.coins > 0
                )
            )
        elif self.kind == "idea_settled":
            parts.append(
                select(LedgerEntry.user_id.label("user_id"), func.sum(LedgerEntry.amount).label("coins"))
                .where(
                    LedgerEntry.idea_id == self.idea_id,
                    LedgerEntry.kind.in_(("expend", "recycle", "forfeit")),
                )
                .group_by(LedgerEntry.user_id)
            )
        elif self.kind == "idea_merged":
            parts.append(
                select(LedgerEntry.user_id.label("user_id"), func.sum(LedgerEntry.amount).label("coins"))
                .where(
                    LedgerEntry.from_idea_id == self.idea_id,
                    LedgerEntry.kind == "move",
                    LedgerEntry.reason == "merge",
                )
                .group_by(LedgerEntry.user_id)
            )
        elif self.kind != "users":
            raise ValueError(f"unknown audience kind {self.kind!r}")
        if self.users:
            parts.append(select(User.id.label("user_id"), zero).where(User.id.in_(self.users)))
        if not parts:
            parts.append(select(User.id.label("user_id"), zero).where(literal(False)))
        combined = parts[0].subquery() if len(parts) == 1 else union_all(*parts).subquery()
        query = select(combined.c.user_id.label("user_id"), func.max(combined.c.coins).label("coins")).group_by(
            combined.c.user_id
        )
        if self.exclude:
            query = query.where(combined.c.user_id.not_in(self.exclude))
        return query


def recipients_query(
    audience: Audience, event: EventType, *, after: UUID | None = None, limit: int | None = None
) -> Select[Any]:
    """The audience's active users with their email, name and effective preference for `event`, in user
    order (after the user id `after`, at most `limit`: the batches of a fan-out)."""
    people = audience.query().subquery("audience")
    pref = NotificationPreference
    query = select(
        people.c.user_id,
        people.c.coins,
        User.email,
        User.full_name,
        func.coalesce(pref.in_app, event.in_app).label("in_app"),
        func.coalesce(pref.email_mode, event.email_mode).label("email_mode"),
    ).select_from(
        people.join(User, and_(User.id == people.c.user_id, User.is_active.is_(True))).outerjoin(
            pref, and_(pref.user_id == people.c.user_id, pref.event == event.key)
        )
    )
    if after is not None:
        query = query.where(people.c.user_id > after)
    query = query.order_by(people.c.user_id)
    return query.limit(limit) if limit is not None else query


# Emails -------------------------------------------------------------------------------------------------


def unsubscribe_url(notifier: Notifier, user_id: UUID, event: str) -> str:
    token = make_unsubscribe_token(notifier.mailer.settings.app.secret_key, user_id, event)
    return f"{notifier.public_url}/notifications/unsubscribe/{token}"


def unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 2369 + RFC 8058: mail clients show an Unsubscribe button that POSTs to the link."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def personal(text_: str, coins: int | None) -> str:
    return text_.replace(COINS, str(coins or 0)) if COINS in text_ else text_


def email_context(
    notifier: Notifier,
    *,
    event: EventType,
    user_id: UUID,
    name: str,
    title: str,
    body: str,
    link: str,
    coins: int | None,
    context: dict[str, Any] | None,
) -> tuple[dict[str, Any], str]:
    """The template context of one recipient's email, and its unsubscribe link."""
    url = unsubscribe_url(notifier, user_id, event.key)
    return {
        **(context or {}),
        "name": name,
        "title": title,
        "body": body,
        "link_url": f"{notifier.public_url}{link}" if link.startswith("/") else link,
        "coins": coins or 0,
        "event_label": event.label,
        "unsubscribe_url": url,
        "preferences_url": f"{notifier.public_url}/account/notifications",
    }, url


def record_email(
    session: AsyncSession,
    notifier: Notifier,
    *,
    event: EventType,
    template: str,
    user_id: UUID,
    email: str,
    name: str,
    title: str,
    body: str,
    link: str,
    coins: int | None,
    context: dict[str, Any] | None,
) -> EmailMessage:
    """One recipient's email, in the session's transaction (its delivery is enqueued by the caller)."""
    full, url = email_context(
        notifier,
        event=event,
        user_id=user_id,
        name=name,
        title=title,
        body=body,
        link=link,
        coins=coins,
        context=context,
    )
    return notifier.mailer.send(
        session,
        to=email,
        user_id=user_id,
        template=template,
        context=full,
        headers=unsubscribe_headers(url),
        enqueue_delivery=False,
    )


def email_row(
    notifier: Notifier,
    *,
    event: EventType,
    template: str,
    user_id: UUID,
    email: str,
    name: str,
    title: str,
    body: str,
    link: str,
    coins: int | None,
    context: dict[str, Any] | None,
) -> dict[str, Any]:
    """The same email as a plain row, for bulk inserts by the fan-out job."""
    full, url = email_context(
        notifier,
        event=event,
        user_id=user_id,
        name=name,
        title=title,
        body=body,
        link=link,
        coins=coins,
        context=context,
    )
    subject, text_body, html = notifier.mailer.render(template, full)
    return {
        "id": uuid7(),
        "to_address": email,
        "user_id": user_id,
        "kind": template,
        "subject": subject[:300],
        "body_text": text_body,
        "body_html": html,
        "headers": unsubscribe_headers(url),
        "status": notifier.mailer.initial_status,
        "attempts": 0,
        "last_error": "",
    }


# notify() -------------------------------------------------------------------------------------------------


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
    mailer: Mailer | None = None,
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
    notifier = notifier_for(session, mailer)
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


def fanout_job(fanout_id: int, *, key: str | None = None) -> Any:
    job = make_job("fan_out_notifications", key=key, fanout_id=fanout_id)
    job.heartbeat = FANOUT_HEARTBEAT
    return job


# The fan-out job ------------------------------------------------------------------------------------------


@dataclass
class FanoutProgress:
    batches: int = 0
    notified: int = 0
    emails: int = 0
    done: bool = False
    message_ids: list[UUID] = field(default_factory=list)


async def run_fanout(
    session: AsyncSession,
    notifier: Notifier,
    fanout_id: int,
    *,
    batch_size: int = FANOUT_BATCH,
    after_batch: Callable[[], Awaitable[Any]] | None = None,
) -> FanoutProgress:
    """Insert a fan-out's notifications and emails batch by batch until every recipient has theirs.

    Each batch is one transaction: lock the fan-out row (a second job for the same fan-out waits, then
    continues from the cursor), INSERT ... SELECT the next `batch_size` recipients after the cursor with
    ON CONFLICT DO NOTHING, record emails for the rows actually inserted, move the cursor, commit.
    Delivery jobs and live updates for a batch go out after its commit.  Killed at any point, the job
    resumes where the last commit left it and nobody gets anything twice.
    """
    progress = FanoutProgress()
    while True:
        fanout = (
            await session.execute(
                select(NotificationFanout)
                .where(NotificationFanout.id == fanout_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        if fanout is None or fanout.status == "done":
            await session.rollback()
            progress.done = True
            return progress
        kind = event_type(fanout.event)
        batch = await _fanout_batch(session, notifier, fanout, kind, batch_size)
        inserted = [row for row in batch if row.id is not None]
        emails = [
            email_row(
                notifier,
                event=kind,
                template=fanout.template,
                user_id=row.user_id,
                email=row.email,
                name=row.full_name,
                title=personal(fanout.title, row.coins)[:300],
                body=personal(fanout.body, row.coins),
                link=fanout.link,
                coins=row.coins,
                context=fanout.context,
            )
            for row in inserted
            if row.emailed == "pending"
        ]
        if emails:
            await session.execute(pg_insert(EmailMessage), emails)
            by_user = {row.user_id: row.id for row in inserted}
            await session.execute(
                text(
                    "UPDATE notifications n SET email_message_id = v.message_id "
                    "FROM unnest(CAST(:ids AS bigint[]), CAST(:messages AS uuid[])) AS v(id, message_id) "
                    "WHERE n.id = v.id"
                ),
                {"ids": [by_user[e["user_id"]] for e in emails], "messages": [e["id"] for e in emails]},
            )
        done = len(batch) < batch_size
        now = datetime.now(UTC)
        await session.execute(
            update(NotificationFanout)
            .where(NotificationFanout.id == fanout_id)
            .values(
                cursor=batch[-1].user_id if batch else fanout.cursor,
                notified=NotificationFanout.notified + len(inserted),
                emails=NotificationFanout.emails + len(emails),
                batches=NotificationFanout.batches + 1,
                status="done" if done else "running",
                started_at=func.coalesce(NotificationFanout.started_at, now),
                finished_at=now if done else None,
                updated_at=now,
            )
        )
        await session.commit()
        progress.batches += 1
        progress.notified += len(inserted)
        progress.emails += len(emails)
        message_ids = [e["id"] for e in emails]
        progress.message_ids.extend(message_ids)
        try:
            await notifier.mailer.enqueue_deliveries(message_ids)
        except Exception as exc:  # the sweeper re-enqueues pending emails
            logger.warning("fan-out %s: delivery jobs not enqueued (%s)", fanout_id, exc)
        await live.publish(notifier.valkey, [row.user_id for row in inserted if row.in_app])
        if after_batch is not None:
            await after_batch()
        if done:
            progress.done = True
            logger.info("fan-out %s done: %s notifications", fanout_id, progress.notified)
            return progress


async def _fanout_batch(
    session: AsyncSession, notifier: Notifier, fanout: NotificationFanout, kind: EventType, size: int
) -> list[Any]:
    """One INSERT ... SELECT: the next recipients after the cursor, and which of them got a new row."""
    audience = Audience.from_json(fanout.audience)
    batch = recipients_query(audience, kind, after=fanout.cursor, limit=size).cte("batch")
    wanted = batch.c.in_app | (batch.c.email_mode != "never")
    coins_text = cast(batch.c.coins, String)
    inserted = (
        pg_insert(Notification)
        .from_select(
            [
                "user_id",
                "event",
                "campaign_id",
                "idea_id",
                "actor_id",
                "title",
                "body",
                "link",
                "in_app",
                "emailed",
                "dedupe_key",
                "data",
            ],
            select(
                batch.c.user_id,
                literal(kind.key),
                literal(fanout.campaign_id, type_=Notification.campaign_id.type),
                literal(fanout.idea_id, type_=Notification.idea_id.type),
                literal(fanout.actor_id, type_=Notification.actor_id.type),
                func.left(func.replace(literal(fanout.title), COINS, coins_text), 300),
                func.replace(literal(fanout.body), COINS, coins_text),
                literal(fanout.link),
                batch.c.in_app,
                case(
                    (batch.c.email_mode == "immediate", "pending"),
                    (batch.c.email_mode == "digest", "digest"),
                    else_="none",
                ),
                literal(f"fanout:{fanout.id}"),
                case(
                    (batch.c.coins > 0, func.jsonb_build_object("coins", batch.c.coins)),
                    else_=text("'{}'::jsonb"),
                ),
            ).where(wanted),
        )
        .on_conflict_do_nothing(constraint="uq_notifications_user_dedupe")
        .returning(Notification.id, Notification.user_id, Notification.emailed, Notification.in_app)
        .cte("inserted")
    )
    rows = await session.execute(
        select(
            batch.c.user_id,
            batch.c.coins,
            batch.c.email,
            batch.c.full_name,
            inserted.c.id,
            inserted.c.emailed,
            func.coalesce(inserted.c.in_app, False).label("in_app"),
        )
        .select_from(batch.outerjoin(inserted, inserted.c.user_id == batch.c.user_id))
        .order_by(batch.c.user_id)
    )
    return list(rows)


# The notification centre ----------------------------------------------------------------------------------

_VISIBLE = (Notification.in_app.is_(True),)


async def unread_count(session: AsyncSession, user_id: UUID) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None), *_VISIBLE)
        )
        or 0
    )


async def list_notifications(
    session: AsyncSession, user_id: UUID, *, unread_only: bool = False, limit: int = 20, offset: int = 0
) -> tuple[list[Notification], int]:
    condition = [Notification.user_id == user_id, *_VISIBLE]
    if unread_only:
        condition.append(Notification.read_at.is_(None))
    total = int(await session.scalar(select(func.count()).select_from(Notification).where(*condition)) or 0)
    rows = await session.scalars(
        select(Notification)
        .where(*condition)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


async def mark_read(
    session: AsyncSession,
    user_id: UUID,
    *,
    ids: Sequence[int] = (),
    everything: bool = False,
    valkey: Valkey | None = None,
) -> int:
    """Mark the user's notifications read (only theirs); commits, and tells their other open pages."""
    statement = (
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=func.now())
    )
    if not everything:
        if not ids:
            return 0
        statement = statement.where(Notification.id.in_(list(ids)))
    result = await session.execute(statement.returning(Notification.id))
    updated = len(result.all())
    await session.commit()
    if updated:
        await live.publish(valkey, [user_id])
    return updated


async def open_notification(
    session: AsyncSession, user_id: UUID, notification_id: int, *, valkey: Valkey | None = None
) -> str | None:
    """The link of the user's notification (marking it read), or None when it is not theirs."""
    link = await session.scalar(
        select(Notification.link).where(Notification.id == notification_id, Notification.user_id == user_id)
    )
    if link is None:
        return None
    await mark_read(session, user_id, ids=[notification_id], valkey=valkey)
    return link


# Preferences ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preference:
    event: str
    label: str
    description: str
    group: str
    in_app: bool
    email_mode: str


async def preferences_of(session: AsyncSession, user_id: UUID) -> list[Preference]:
    """Every event type with the user's choice (or the default)."""
    stored = {
        row.event: row
        for row in await session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user_id)
        )
    }
    result = []
    for kind in EVENT_TYPES:
        row = stored.get(kind.key)
        result.append(
            Preference(
                event=kind.key,
                label=kind.label,
                description=kind.description,
                group=kind.group,
                in_app=row.in_app if row is not None else kind.in_app,
                email_mode=row.email_mode if row is not None else kind.email_mode,
            )
        )
    return result


class PreferenceError(ValueError):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


async def set_preferences(
    session: AsyncSession,
    user_id: UUID,
    changes: Sequence[tuple[str, bool | None, str | None]],
    *,
    via: str = "settings",
) -> list[Preference]:
    """Apply (event, in_app, email_mode) changes; None leaves that half as it is.  Commits, with what changed
    in the audit trail (`via`: the settings page or API, or an email's unsubscribe link)."""
    problems: dict[str, str] = {}
    for event, _, mode in changes:
        if event not in EVENTS:
            problems[event] = "Unknown event type."
        elif mode is not None and mode not in EMAIL_MODES:
            problems[event] = "Email must be immediate, digest or never."
    if problems:
        raise PreferenceError(problems)
    current = {p.event: p for p in await preferences_of(session, user_id)}
    rows: list[dict[str, Any]] = []
    for event, in_app, mode in changes:
        now = current[event]
        rows.append(
            {
                "user_id": user_id,
                "event": event,
                "in_app": now.in_app if in_app is None else in_app,
                "email_mode": now.email_mode if mode is None else mode,
            }
        )
    changed = {
        row["event"]: row
        for row in rows
        if (row["in_app"], row["email_mode"]) != (current[row["event"]].in_app, current[row["event"]].email_mode)
    }
    if changed:
        audit.record(
            session,
            actor_id=user_id,
            action="notification.preferences_updated",
            entity_type="user",
            entity_id=user_id,
            before={e: {"in_app": current[e].in_app, "email": current[e].email_mode} for e in changed},
            after={
                **{e: {"in_app": row["in_app"], "email": row["email_mode"]} for e, row in changed.items()},
                "via": via,
            },
        )
    if rows:
        statement = pg_insert(NotificationPreference).values(rows)
        await session.execute(
            statement.on_conflict_do_update(
                constraint="pk_notification_preferences",
                set_={
                    "in_app": statement.excluded.in_app,
                    "email_mode": statement.excluded.email_mode,
                    "updated_at": func.now(),
                },
            )
        )
    await session.commit()
    return await preferences_of(session, user_id)


async def unsubscribe(session: AsyncSession, user_id: UUID, event: str) -> dict[str, str]:
    """Email off for `event` (or, for the digest's link, every event the user gets in the digest).

    Returns {event: previous mode} for what changed, so the confirmation page can offer to undo it.
    """
    user = await session.get(User, user_id)
    if user is None:
        return {}
    current = {p.event: p for p in await preferences_of(session, user_id)}
    if event == DIGEST:
        targets = [key for key, p in current.items() if p.email_mode == "digest"]
    elif event in current:
        targets = [event] if current[event].email_mode != "never" else []
    else:
        return {}
    previous = {key: current[key].email_mode for key in targets}
    if targets:
        await set_preferences(session, user_id, [(key, None, "never") for key in targets], via="unsubscribe link")
        # Nothing still waiting for a digest goes out for these event types either.
        await session.execute(
            update(Notification)
            .where(
                Notification.user_id == user_id,
                Notification.emailed == "digest",
                Notification.event.in_(targets),
            )
            .values(emailed="suppressed")
        )
        await session.commit()
    return previous
