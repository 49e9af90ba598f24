"""Recording an email: rendered from templates/emails/, written in the caller's transaction, delivered later.

Services record emails with the change that causes them; with SMTP configured a delivery job is enqueued once
the transaction commits (`coins.mail.delivery` sends it), without SMTP the row stays in the outbox that admins
read in the admin section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from uuid_utils.compat import uuid7

from coins.lib.jobs import enqueue, enqueue_after_commit
from coins.mail.models import EmailMessage

if TYPE_CHECKING:
    from jinja2 import Environment
    from saq.queue import Queue
    from sqlalchemy.ext.asyncio import AsyncSession

    from coins.lib.links import Links
    from coins.settings import Settings

# Emails per delivery job when many are sent at once (one SMTP connection each).
DELIVERY_BATCH = 100


@dataclass(frozen=True)
class Mailer:
    """What a service needs to send mail: settings, templates, the queue, and links by route name."""

    settings: Settings
    templates: Environment
    queue: Queue | None
    links: Links

    def render(self, template: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """Return (subject, text, html) from templates/emails/<template>.{subject,txt,html}."""
        # `link_to(route, **params)` in email templates: absolute links by route name, as `url_for` in pages.
        full = {"public_url": self.settings.public_url, "link_to": self.links.url, **context}
        subject = self.templates.get_template(f"emails/{template}.subject.txt").render(full).strip()
        text = self.templates.get_template(f"emails/{template}.txt").render(full)
        html = self.templates.get_template(f"emails/{template}.html").render(full)
        return subject, text, html

    @property
    def initial_status(self) -> str:
        return "pending" if self.settings.smtp.host else "outbox"

    def send(
        self,
        session: AsyncSession,
        *,
        to: str,
        template: str,
        context: dict[str, Any],
        user_id: UUID | None = None,
        headers: dict[str, str] | None = None,
        enqueue_delivery: bool = True,
    ) -> EmailMessage:
        """Record an email in the caller's transaction; its delivery job goes out after the commit.

        `enqueue_delivery=False` leaves enqueueing to the caller (see `enqueue_deliveries`), which sends
        many emails in a few jobs instead of one job each.
        """
        subject, text, html = self.render(template, context)
        message = EmailMessage(
            id=uuid7(),
            to_address=to,
            user_id=user_id,
            kind=template,
            subject=subject[:300],
            body_text=text,
            body_html=html,
            headers=headers or {},
            status=self.initial_status,
        )
        session.add(message)
        if message.status == "pending" and enqueue_delivery:
            enqueue_after_commit(session, self.queue, "deliver_email", message_id=str(message.id))
        return message

    def enqueue_deliveries_after_commit(self, session: AsyncSession, message_ids: list[UUID]) -> None:
        """One delivery job per DELIVERY_BATCH messages, sent once the transaction has committed."""
        if not self.settings.smtp.host or not message_ids:
            return
        for start in range(0, len(message_ids), DELIVERY_BATCH):
            chunk = [str(m) for m in message_ids[start : start + DELIVERY_BATCH]]
            enqueue_after_commit(session, self.queue, "deliver_email_batch", message_ids=chunk)

    async def enqueue_deliveries(self, message_ids: list[UUID]) -> None:
        """As above, for work that has committed already (the fan-out and digest jobs)."""
        if not self.settings.smtp.host or not message_ids or self.queue is None:
            return
        for start in range(0, len(message_ids), DELIVERY_BATCH):
            chunk = [str(m) for m in message_ids[start : start + DELIVERY_BATCH]]
            await enqueue(self.queue, "deliver_email_batch", message_ids=chunk)
