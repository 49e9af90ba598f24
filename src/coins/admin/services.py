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


async def list_outbox(session: AsyncSession, *, to: str = "", limit: int = 50, offset: int = 0) -> OutboxPage:
    statement = select(EmailMessage)
    if to.strip():
        statement = statement.where(EmailMessage.to_address.like(f"%{to.strip().lower()}%"))
    total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = await session.scalars(statement.order_by(EmailMessage.created_at.desc()).limit(limit).offset(offset))
    return OutboxPage(items=list(rows), total=total)


async def get_email(session: AsyncSession, message_id: UUID) -> EmailMessage:
    message = await session.get(EmailMessage, message_id)
    if message is None:
        raise NotFound("No such email.")
    return message
