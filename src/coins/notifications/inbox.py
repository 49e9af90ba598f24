"""The notification centre: unread counts, the list, marking read (and telling the user's other open pages)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coins.notifications import live
from coins.notifications.models import Notification

if TYPE_CHECKING:
    from valkey.asyncio import Valkey

_VISIBLE = (Notification.in_app.is_(True),)


class Inbox:
    """A user's notification centre: what they were told, and what they have read."""

    def __init__(self, session: AsyncSession, valkey: Valkey | None = None) -> None:
        self.db = session
        self.valkey = valkey

    async def unread_count(self, user_id: UUID) -> int:
        return int(
            await self.db.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.user_id == user_id, Notification.read_at.is_(None), *_VISIBLE)
            )
            or 0
        )

    async def page(
        self, user_id: UUID, *, unread_only: bool = False, limit: int = 20, offset: int = 0
    ) -> tuple[list[Notification], int]:
        condition = [Notification.user_id == user_id, *_VISIBLE]
        if unread_only:
            condition.append(Notification.read_at.is_(None))
        total = int(await self.db.scalar(select(func.count()).select_from(Notification).where(*condition)) or 0)
        rows = await self.db.scalars(
            select(Notification)
            .where(*condition)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [*rows], total

    async def mark_read(self, user_id: UUID, *, ids: Sequence[int] = (), everything: bool = False) -> int:
        """Mark the user's notifications read (only theirs); commits, and tells their other open pages."""
        statement = (
            update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=func.now())
        )
        if not everything:
            if not ids:
                return 0
            statement = statement.where(Notification.id.in_([*ids]))
        result = await self.db.execute(statement.returning(Notification.id))
        updated = len(result.all())
        await self.db.commit()
        if updated:
            await live.publish(self.valkey, [user_id])
        return updated

    async def open(self, user_id: UUID, notification_id: int) -> str | None:
        """The link of the user's notification (marking it read), or None when it is not theirs."""
        link = await self.db.scalar(
            select(Notification.link).where(Notification.id == notification_id, Notification.user_id == user_id)
        )
        if link is None:
            return None
        await self.mark_read(user_id, ids=[notification_id])
        return link
