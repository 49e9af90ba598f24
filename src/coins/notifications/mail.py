"""Email: recorded with the change that causes it, delivered by the worker (or kept in the local outbox).

The `email_messages` row is the source of truth.  With SMTP configured it starts `pending` and a job is
enqueued after commit; the job claims the row, sends it and marks it `sent`.  A sweeper re-enqueues
rows whose job was lost (Valkey restarted, enqueue failed).  Without SMTP the row stays in the `outbox`
that admins read in the admin section.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any
from uuid import UUID

import aiosmtplib
from sqlalchemy import select, update
from uuid_utils.compat import uuid7

from coins.lib.jobs import enqueue, enqueue_after_commit
from coins.notifications.models import EmailMessage

if TYPE_CHECKING:
    from jinja2 import Environment
    from saq.queue import Queue
    from sqlalchemy.ext.asyncio import AsyncSession

    from coins.settings import Settings, SmtpSettings

logger = logging.getLogger("coins.mail")


@dataclass(frozen=True)
class Mailer:
    """What a service needs to send mail: settings, templates and the queue."""

    settings: Settings
    templates: Environment
    queue: Queue | None

    def render(self, template: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """Return (subject, text, html) from templates/emails/<template>.{subject,txt,html}."""
        full = {"public_url": self.settings.public_url, **context}
        subject = self.templates.get_template(f"emails/{template}.subject.txt").render(full).strip()
        text = self.templates.get_template(f"emails/{template}.txt").render(full)
        html = self.templates.get_template(f"emails/{template}.html").render(full)
        return subject, text, html

    def send(
        self,
        session: AsyncSession,
        *,
        to: str,
        template: str,
        context: dict[str, Any],
        user_id: UUID | None = None,
    ) -> EmailMessage:
        subject, text, html = self.render(template, context)
        message = EmailMessage(
            id=uuid7(),
            to_address=to,
            user_id=user_id,
            kind=template,
            subject=subject,
            body_text=text,
            body_html=html,
            status="pending" if self.settings.smtp.host else "outbox",
        )
        session.add(message)
        if message.status == "pending":
            enqueue_after_commit(session, self.queue, "deliver_email", message_id=str(message.id))
        return message


def build_mime(message: EmailMessage, sender: str) -> MimeMessage:
    mime = MimeMessage()
    mime["From"] = sender
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    # Stable per row: a receiving server can drop a duplicate if a delivery is ever repeated.
    mime["Message-ID"] = make_msgid(idstring=str(message.id), domain="coins.local")
    mime.set_content(message.body_text)
    if message.body_html:
        mime.add_alternative(message.body_html, subtype="html")
    return mime


async def smtp_send(smtp: SmtpSettings, mime: MimeMessage) -> None:
    await aiosmtplib.send(
        mime,
        hostname=smtp.host,
        port=smtp.port,
        username=smtp.username or None,
        password=smtp.password or None,
        start_tls=smtp.starttls,
        use_tls=smtp.use_tls,
        timeout=smtp.timeout,
    )


async def deliver(session: AsyncSession, settings: Settings, message_id: UUID) -> str:
    """Deliver one message; raise on SMTP failure so the job retries with backoff."""
    claimed = await session.execute(
        update(EmailMessage)
        .where(EmailMessage.id == message_id, EmailMessage.status == "pending")
        .values(status="sending", attempts=EmailMessage.attempts + 1)
        .returning(EmailMessage.id)
    )
    if claimed.first() is None:
        await session.rollback()
        return "skipped"  # already sent, in flight elsewhere, or an outbox message
    await session.commit()
    message = await session.get_one(EmailMessage, message_id)
    try:
        await smtp_send(settings.smtp, build_mime(message, settings.smtp.from_address))
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        await session.execute(
            update(EmailMessage)
            .where(EmailMessage.id == message_id)
            .values(status="pending", last_error=f"{type(exc).__name__}: {exc}"[:2000])
        )
        await session.commit()
        logger.warning("email %s not delivered yet: %s", message_id, exc)
        raise
    await session.execute(
        update(EmailMessage)
        .where(EmailMessage.id == message_id)
        .values(status="sent", sent_at=datetime.now(UTC), last_error="")
    )
    await session.commit()
    return "sent"


async def requeue_stalled(session: AsyncSession, queue: Queue, *, older_than: timedelta) -> int:
    """Re-enqueue pending messages whose job went missing, and free ones stuck in `sending`."""
    cutoff = datetime.now(UTC) - older_than
    await session.execute(
        update(EmailMessage)
        .where(EmailMessage.status == "sending", EmailMessage.created_at < cutoff)
        .values(status="pending")
    )
    await session.commit()
    rows = await session.execute(
        select(EmailMessage.id)
        .where(EmailMessage.status == "pending", EmailMessage.created_at < cutoff)
        .limit(500)
    )
    ids = [str(row.id) for row in rows]
    for message_id in ids:
        await enqueue(queue, "deliver_email", key=f"deliver_email:{message_id}", message_id=message_id)
    return len(ids)
