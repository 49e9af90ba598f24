"""Email delivery over SMTP, run by the worker.

The `email_messages` row is the source of truth (recorded by `coins.mail.mailer.Mailer`).  With SMTP
configured it starts `pending` and a job is enqueued after commit; the job claims the row, sends it and
marks it `sent`.  A sweeper re-enqueues
rows whose job was lost (Valkey restarted, enqueue failed).  Without SMTP the row stays in the `outbox`
that admins read in the admin section.

Delivery is at least once, and exactly once in every case but one: a worker that dies after the SMTP
server accepted a message and before the row says `sent`.  Its claim (`sending`) is freed by the sweeper
only when it is older than any delivery attempt can last, and the message is sent again; the receiving
side can drop the copy by its Message-ID, which is derived from the row and so identical on every attempt.
A job that is merely retried finds the row `sent` (or `sending`) and sends nothing.
"""

from __future__ import annotations

import contextlib
import email.generator
import email.policy
import io
import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any
from uuid import UUID

import aiosmtplib
from sqlalchemy import or_, select, text, update

from coins.lib.jobs import enqueue
from coins.mail.mailer import DELIVERY_BATCH
from coins.mail.models import EmailMessage

if TYPE_CHECKING:
    from saq.queue import Queue
    from sqlalchemy.ext.asyncio import AsyncSession

    from coins.settings import SmtpSettings

logger = logging.getLogger("coins.mail")

# Emails per delivery job when many are sent at once (one SMTP connection each), claimed this many at a time.
CLAIM_CHUNK = 20
# A claim older than this belongs to a worker that died: no attempt lasts this long (SMTP timeout 30 s,
# job timeouts of minutes).
STALE_CLAIM = timedelta(minutes=15)
# After this many attempts the sweeper stops re-enqueueing a message (it stays visible in the outbox).
MAX_ATTEMPTS = 20


def message_id_header(message: EmailMessage, sender: str) -> str:
    """The same Message-ID on every attempt: a receiving server can drop a repeated delivery."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "coins.local"
    return f"<{message.id}@{domain}>"


# RFC 5322's line limit instead of the email package's 78: a long header without spaces (List-Unsubscribe's
# URL) would otherwise be folded into RFC 2047 encoded words, which no mail client reads as a URL.  Messages
# are flattened here with it (aiosmtplib's own flattening would use the 78-character SMTP policy).
MIME_POLICY = email.policy.default.clone(max_line_length=998, cte_type="7bit")
WIRE_POLICY = email.policy.SMTP.clone(max_line_length=998)


def build_mime(message: EmailMessage, sender: str) -> MimeMessage:
    mime = MimeMessage(policy=MIME_POLICY)
    mime["From"] = sender
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Message-ID"] = message_id_header(message, sender)
    for name, value in (message.headers or {}).items():
        mime[name] = value
    mime.set_content(message.body_text)
    if message.body_html:
        mime.add_alternative(message.body_html, subtype="html")
    return mime


def wire_bytes(mime: MimeMessage) -> bytes:
    """The message as sent: CRLF line ends, long headers kept on one line."""
    with io.BytesIO() as buffer:
        email.generator.BytesGenerator(buffer, policy=WIRE_POLICY).flatten(mime)
        return buffer.getvalue()


def smtp_options(smtp: SmtpSettings) -> dict[str, Any]:
    """aiosmtplib's connection options from the settings.

    A username without a password means an open relay that needs no log-in (aiosmtplib would otherwise
    try AUTH with an empty password, which such servers refuse).  STARTTLS and implicit TLS are used
    exactly as configured, so a plain local server works with both off.
    """
    login = bool(smtp.username and smtp.password)
    return {
        "hostname": smtp.host,
        "port": smtp.port,
        "username": smtp.username if login else None,
        "password": smtp.password if login else None,
        "start_tls": smtp.starttls,
        "use_tls": smtp.use_tls,
        "timeout": smtp.timeout,
    }


def envelope(mime: MimeMessage) -> tuple[str, list[str]]:
    return parseaddr(str(mime["From"]))[1], [parseaddr(str(mime["To"]))[1]]


async def smtp_send(smtp: SmtpSettings, mime: MimeMessage) -> None:
    sender, recipients = envelope(mime)
    await aiosmtplib.send(wire_bytes(mime), sender=sender, recipients=recipients, **smtp_options(smtp))


def _permanent(exc: Exception) -> bool:
    """A 5xx answer about this message (not the connection): retrying it would only fail again."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= refusal.code < 600 for refusal in exc.recipients)
    if isinstance(exc, (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError)):
        return 500 <= exc.code < 600
    return False


async def _claim(session: AsyncSession, message_ids: list[UUID]) -> list[EmailMessage]:
    """Claim the still-pending ones of `message_ids` (one statement, one commit), in the given order."""
    if not message_ids:
        return []
    result = await session.execute(
        update(EmailMessage)
        .where(EmailMessage.id.in_(message_ids), EmailMessage.status == "pending")
        .values(status="sending", attempts=EmailMessage.attempts + 1, claimed_at=datetime.now(UTC))
        .returning(EmailMessage)
        .execution_options(populate_existing=True)
    )
    claimed = {message.id: message for message in result.scalars()}
    await session.commit()
    return [claimed[m] for m in message_ids if m in claimed]


# The notifications that carried this email read as sent too (the notification centre shows it).
_SENT = text(
    "WITH sent AS (UPDATE email_messages SET status = 'sent', sent_at = now(), last_error = '', "
    "claimed_at = NULL WHERE id = :id RETURNING id) "
    "UPDATE notifications SET emailed = 'sent' WHERE email_message_id IN (SELECT id FROM sent) "
    "AND emailed = 'pending'"
)


async def _sent(session: AsyncSession, message_id: UUID) -> None:
    """Marked right after the server took it (one statement, one commit): the at-least-once window."""
    await session.execute(_SENT, {"id": message_id})
    await session.commit()


async def _release(session: AsyncSession, message_ids: list[UUID], status: str, error: str) -> None:
    if message_ids:
        await session.execute(
            update(EmailMessage)
            .where(EmailMessage.id.in_(message_ids), EmailMessage.status == "sending")
            .values(status=status, last_error=error[:2000], claimed_at=None)
        )
    await session.commit()


async def deliver_many(session: AsyncSession, smtp: SmtpSettings, message_ids: list[UUID]) -> dict[str, int]:
    """Deliver messages over one SMTP connection, claiming CLAIM_CHUNK at a time.

    Each message is marked `sent` as soon as the server has taken it.  A connection problem or a temporary
    refusal puts the message and the rest of its chunk back to `pending` and raises, so the job retries
    with backoff: messages already sent stay sent.  A permanent refusal (5xx) marks only that message
    `failed` and goes on.
    """
    counts = {"sent": 0, "skipped": 0, "failed": 0}
    client: aiosmtplib.SMTP | None = None
    try:
        for start in range(0, len(message_ids), CLAIM_CHUNK):
            chunk = message_ids[start : start + CLAIM_CHUNK]
            claimed = await _claim(session, chunk)
            counts["skipped"] += len(chunk) - len(claimed)
            for index, message in enumerate(claimed):
                try:
                    if client is None:
                        client = aiosmtplib.SMTP(**smtp_options(smtp))
                        await client.connect()
                    mime = build_mime(message, smtp.from_address)
                    sender, recipients = envelope(mime)
                    await client.sendmail(sender, recipients, wire_bytes(mime))
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    if _permanent(exc):
                        await _release(session, [message.id], "failed", error)
                        counts["failed"] += 1
                        logger.error("email %s refused for good: %s", message.id, exc)
                        continue
                    unsent = [m.id for m in claimed[index:]]
                    await _release(session, unsent, "pending", error)
                    logger.warning("email %s not delivered yet: %s", message.id, exc)
                    raise
                await _sent(session, message.id)
                counts["sent"] += 1
    finally:
        if client is not None and client.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.quit()
    return counts


async def deliver(session: AsyncSession, smtp: SmtpSettings, message_id: UUID) -> str:
    """Deliver one message; raise on SMTP failure so the job retries with backoff."""
    counts = await deliver_many(session, smtp, [message_id])
    return "sent" if counts["sent"] else ("failed" if counts["failed"] else "skipped")


async def requeue_stalled(session: AsyncSession, queue: Queue, *, older_than: timedelta) -> int:
    """Re-enqueue pending messages whose job went missing, and free claims of workers that died.

    A `sending` row is freed only when its claim is older than STALE_CLAIM, never while a delivery could
    still be in progress (see the module docstring for the one case that then sends twice).
    """
    now = datetime.now(UTC)
    await session.execute(
        update(EmailMessage)
        .where(
            EmailMessage.status == "sending",
            or_(
                EmailMessage.claimed_at < now - STALE_CLAIM,
                EmailMessage.claimed_at.is_(None) & (EmailMessage.created_at < now - STALE_CLAIM),
            ),
        )
        .values(status="pending", claimed_at=None, last_error="freed: the delivering worker stopped")
    )
    await session.commit()
    rows = await session.execute(
        select(EmailMessage.id)
        .where(
            EmailMessage.status == "pending",
            EmailMessage.created_at < now - older_than,
            EmailMessage.attempts < MAX_ATTEMPTS,
        )
        .order_by(EmailMessage.created_at)
        .limit(2000)
    )
    ids = [str(row.id) for row in rows]
    for start in range(0, len(ids), DELIVERY_BATCH):
        await enqueue(queue, "deliver_email_batch", message_ids=ids[start : start + DELIVERY_BATCH])
    return len(ids)
