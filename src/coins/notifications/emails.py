"""A notification's email: personal text, its unsubscribe link and headers (RFC 2369 + RFC 8058)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from uuid_utils.compat import uuid7

from coins.mail.models import EmailMessage
from coins.notifications.catalog import EventType
from coins.notifications.tokens import make_unsubscribe_token

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from coins.notifications.notify import Notifier

COINS = "{coins}"  # replaced per recipient in titles and bodies (their coins on the idea)


def unsubscribe_url(notifier: Notifier, user_id: UUID, event: str) -> str:
    token = make_unsubscribe_token(notifier.mailer.settings.app.secret_key, user_id, event)
    return notifier.links.url("notifications.unsubscribe", token=token)


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
        "link_url": notifier.links.absolute(link),
        "coins": coins or 0,
        "event_label": event.label,
        "unsubscribe_url": url,
        "preferences_url": notifier.links.url("notifications.preferences"),
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
