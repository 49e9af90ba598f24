"""Reading the outbox (emails kept locally when no SMTP server is configured)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.lib.errors import NotFound
from coins.mail.models import EmailMessage


@dataclass(frozen=True)
class OutboxPage:
    items: list[EmailMessage]
    total: int


class Outbox:
    def __init__(self, session: AsyncSession) -> None:
        self.db = session

    async def search(self, *, to: str = "", limit: int = 50, offset: int = 0) -> OutboxPage:
        """The newest emails first, narrowed to the addresses containing `to`."""
        statement = select(EmailMessage)
        if to.strip():
            statement = statement.where(EmailMessage.to_address.like(f"%{to.strip().lower()}%"))
        total = await self.db.scalar(select(func.count()).select_from(statement.subquery())) or 0
        rows = await self.db.scalars(statement.order_by(EmailMessage.created_at.desc()).limit(limit).offset(offset))
        return OutboxPage(items=list(rows), total=total)

    async def get(self, message_id: UUID) -> EmailMessage:
        message = await self.db.get(EmailMessage, message_id)
        if message is None:
            raise NotFound("No such email.")
        return message
