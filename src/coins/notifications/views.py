"""Notification pages: the centre, the bell's count and live stream, preferences, one-click unsubscribe."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, ServerSentEvent, Template
from litestar.response.sse import ServerSentEventMessage
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.accounts.auth import current_user, login_required, require_user
from coins.lib.errors import NotFound
from coins.lib.forms import form_data, redirect, redirect_to, render_form, safe_next, url_path
from coins.lib.live import TopicHub
from coins.lib.sessions import flash
from coins.notifications.catalog import DIGEST, EMAIL_MODE_LABELS, EVENTS
from coins.notifications.inbox import Inbox
from coins.notifications.live import topic
from coins.notifications.models import EMAIL_MODES, Notification
from coins.notifications.preferences import PreferenceError, Preferences
from coins.notifications.tokens import BadToken, read_unsubscribe_token
from coins.settings import Settings

PAGE_SIZE = 25
# An event stream ends after this many seconds and the browser reconnects: no stream outlives a deploy
# by long, and a replica that went away is left within a minute.
STREAM_LIFETIME = 55.0
KEEPALIVE = 15.0


async def count_for(engine: AsyncEngine, user_id: Any) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(
                select(func.count())
                .select_from(Notification)
                .where(
                    Notification.user_id == user_id,
                    Notification.read_at.is_(None),
                    Notification.in_app.is_(True),
                )
            )
            or 0
        )


def render_count(request: Request[Any, Any, Any], count: int) -> str:
    template = request.app.state.templates.get_template("notifications/_count.html")
    return str(template.render(count=count)).strip()


class NotificationPages(Controller):
    include_in_schema = False

    @get("/notifications", name="notifications", guards=[login_required])
    async def index(
        self,
        request: Request[Any, Any, Any],
        inbox: NamedDependency[Inbox],
        page: FromQuery[int] = 1,
        show: FromQuery[str] = "all",
    ) -> Template:
        user = require_user(request)
        page = max(1, page)
        unread_only = show == "unread"
        rows, total = await inbox.page(user.id, unread_only=unread_only, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        return render_form(
            "notifications/index.html",
            notifications=rows,
            total=total,
            unread=await inbox.unread_count(user.id),
            page=page,
            pages=max(1, -(-total // PAGE_SIZE)),
            show="unread" if unread_only else "all",
            labels={key: kind.label for key, kind in EVENTS.items()},
        )

    @get("/notifications/count", name="notifications.count", cache=False)
    async def count(self, request: Request[Any, Any, Any]) -> Response[str]:
        """The bell's badge (a fragment); empty for visitors, so a page left open after log-out is quiet."""
        user = current_user(request)
        count = await count_for(request.app.state.db_engine, user.id) if user is not None else 0
        return Response(
            render_count(request, count),
            media_type="text/html",
            headers={"Cache-Control": "no-store", "Vary": "Cookie"},
        )

    @get("/events/notifications", name="notifications.events", guards=[login_required])
    async def events(self, request: Request[Any, Any, Any]) -> ServerSentEvent:
        """The bell's live count: a `count` event now and whenever the user's notifications change."""
        user = require_user(request)
        hub: TopicHub = request.app.state.live_hub
        engine: AsyncEngine = request.app.state.db_engine

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + STREAM_LIFETIME
            async with hub.listen(topic(user.id)) as changes:
                yield ServerSentEventMessage(
                    event="count", data=render_count(request, await count_for(engine, user.id))
                )
                while (left := deadline - loop.time()) > 0:
                    try:
                        message = await asyncio.wait_for(changes.get(), timeout=min(KEEPALIVE, left))
                    except TimeoutError:
                        yield ServerSentEventMessage(comment="keep-alive")
                        continue
                    while message is not None and not changes.empty():
                        message = changes.get_nowait()  # a burst of changes: one count
                    if message is None:  # the process is shutting down
                        return
                    yield ServerSentEventMessage(
                        event="count", data=render_count(request, await count_for(engine, user.id))
                    )

        return ServerSentEvent(
            stream(), retry_duration=3000, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )

    @get("/notifications/{notification_id:int}/open", name="notifications.open", guards=[login_required])
    async def open(
        self,
        request: Request[Any, Any, Any],
        notification_id: FromPath[int],
        inbox: NamedDependency[Inbox],
    ) -> Redirect:
        """Click-through: mark read, then go where the notification points."""
        link = await inbox.open(require_user(request).id, notification_id)
        if link is None:
            raise NotFound("No such notification.")
        return redirect(safe_next(link, url_path(request, "notifications")))

    @post("/notifications/{notification_id:int}/read", name="notifications.read", guards=[login_required])
    async def read_one(
        self,
        request: Request[Any, Any, Any],
        notification_id: FromPath[int],
        inbox: NamedDependency[Inbox],
    ) -> Redirect:
        await inbox.mark_read(require_user(request).id, ids=[notification_id])
        values = await form_data(request)
        return redirect(safe_next(values.get("next"), url_path(request, "notifications")))

    @post("/notifications/read-all", name="notifications.read_all", guards=[login_required])
    async def read_all(self, request: Request[Any, Any, Any], inbox: NamedDependency[Inbox]) -> Redirect:
        updated = await inbox.mark_read(require_user(request).id, everything=True)
        flash(request, "All notifications are marked read." if updated else "Nothing unread.", "success")
        return redirect_to(request, "notifications")

    # Preferences ----------------------------------------------------------------------------------------

    @get("/account/notifications", name="notifications.preferences", guards=[login_required])
    async def preferences(self, request: Request[Any, Any, Any], preferences: NamedDependency[Preferences]) -> Template:
        rows = await preferences.of(require_user(request).id)
        return render_form("notifications/preferences.html", preferences=rows, modes=EMAIL_MODE_LABELS)

    @post("/account/notifications", name="notifications.preferences.save", guards=[login_required])
    async def save_preferences(
        self, request: Request[Any, Any, Any], preferences: NamedDependency[Preferences]
    ) -> Redirect:
        values = await form_data(request)
        changes = [
            (
                key,
                values.get(f"in_app:{key}") == "on",
                mode if (mode := values.get(f"email:{key}")) in EMAIL_MODES else None,
            )
            for key in EVENTS
        ]
        await preferences.change(require_user(request).id, changes)
        flash(request, "Your notification settings are saved.", "success")
        return redirect_to(request, "notifications.preferences")

    # One-click unsubscribe (no log-in: the signed token is the authority) --------------------------------

    @get("/notifications/unsubscribe/{token:str}", name="notifications.unsubscribe")
    async def unsubscribe_link(
        self,
        token: FromPath[str],
        settings: NamedDependency[Settings],
        preferences: NamedDependency[Preferences],
    ) -> Template:
        return await self._unsubscribe(token, settings, preferences)

    @post("/notifications/unsubscribe/{token:str}", name="notifications.unsubscribe.post", status_code=200)
    async def unsubscribe_post(
        self,
        token: FromPath[str],
        settings: NamedDependency[Settings],
        preferences: NamedDependency[Preferences],
    ) -> Template:
        """RFC 8058: mail clients POST `List-Unsubscribe=One-Click` here, with no cookie and no CSRF token."""
        return await self._unsubscribe(token, settings, preferences)

    async def _unsubscribe(self, token: str, settings: Settings, preferences: Preferences) -> Template:
        try:
            user_id, event = read_unsubscribe_token(settings.app.secret_key, token)
        except BadToken:
            return render_form("notifications/unsubscribed.html", valid=False, status_code=400)
        if event != DIGEST and event not in EVENTS:
            return render_form("notifications/unsubscribed.html", valid=False, status_code=400)
        previous = await preferences.unsubscribe(user_id, event)
        return render_form(
            "notifications/unsubscribed.html",
            valid=True,
            token=token,
            digest=event == DIGEST,
            label=EVENTS[event].label if event in EVENTS else "the daily digest",
            labels=[EVENTS[key].label for key in previous],
            previous=previous,
            undone=False,
        )

    @post("/notifications/unsubscribe/{token:str}/undo", name="notifications.unsubscribe.undo")
    async def undo_unsubscribe(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        settings: NamedDependency[Settings],
        preferences: NamedDependency[Preferences],
    ) -> Template:
        """Put back the email settings the link changed (the form carries what they were)."""
        try:
            user_id, event = read_unsubscribe_token(settings.app.secret_key, token)
        except BadToken:
            return render_form("notifications/unsubscribed.html", valid=False, status_code=400)
        values = await form_data(request)
        restore = []
        for key, mode in values.items():
            name = key.removeprefix("mode:")
            allowed = name in EVENTS and event in {DIGEST, name}
            if key.startswith("mode:") and allowed and mode in EMAIL_MODES:
                restore.append((name, None, mode))
        if restore:
            with contextlib.suppress(PreferenceError):
                await preferences.change(user_id, restore)
        return render_form(
            "notifications/unsubscribed.html",
            valid=True,
            token=token,
            digest=event == DIGEST,
            label=EVENTS[event].label if event in EVENTS else "the daily digest",
            labels=[EVENTS[name].label for name, _, _ in restore],
            previous={},
            undone=True,
        )
