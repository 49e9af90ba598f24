"""The notifications part of the JSON API: your notifications, marking them read, your preferences."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from coins.accounts.auth import login_required, require_user
from coins.lib.errors import InvalidInput
from coins.notifications.inbox import Inbox
from coins.notifications.models import Notification
from coins.notifications.preferences import Preference, PreferenceError, Preferences
from coins.notifications.schemas import (
    MarkReadRequest,
    MarkReadResult,
    NotificationPage,
    NotificationRead,
    PreferenceList,
    PreferenceRead,
    PreferenceUpdate,
)


def notification_read(row: Notification) -> NotificationRead:
    return NotificationRead(
        id=row.id,
        event=row.event,
        title=row.title,
        body=row.body,
        link=row.link,
        campaign_id=row.campaign_id,
        idea_id=row.idea_id,
        created_at=row.created_at,
        read_at=row.read_at,
        read=row.read_at is not None,
        data=dict(row.data or {}),
    )


def preference_list(preferences: list[Preference]) -> PreferenceList:
    return PreferenceList(
        items=[
            PreferenceRead(
                event=p.event,
                label=p.label,
                description=p.description,
                in_app=p.in_app,
                email_mode=p.email_mode,  # type: ignore[arg-type]
            )
            for p in preferences
        ]
    )


class NotificationApiController(Controller):
    path = "/api/notifications"
    tags = ["notifications"]
    guards = [login_required]

    @get("/", summary="Your notifications, newest first")
    async def list_notifications(
        self,
        request: Request[Any, Any, Any],
        inbox: NamedDependency[Inbox],
        unread: Annotated[bool, QueryParameter(description="Only unread ones")] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> NotificationPage:
        user = require_user(request)
        rows, total = await inbox.page(user.id, unread_only=unread, limit=limit, offset=offset)
        return NotificationPage(
            items=[notification_read(row) for row in rows],
            total=total,
            limit=limit,
            offset=offset,
            unread=total if unread else await inbox.unread_count(user.id),
        )

    @post("/read", status_code=200, summary="Mark notifications read: `ids`, or `all: true`")
    async def mark_read(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[MarkReadRequest],
        inbox: NamedDependency[Inbox],
    ) -> MarkReadResult:
        user = require_user(request)
        if not data.all and not data.ids:
            raise InvalidInput("Give the ids to mark read, or all: true.", fields={"ids": "required"})
        updated = await inbox.mark_read(user.id, ids=data.ids, everything=data.all)
        return MarkReadResult(updated=updated, unread=await inbox.unread_count(user.id))

    @get("/preferences", summary="Your channels for each event type")
    async def preferences(
        self, request: Request[Any, Any, Any], preferences: NamedDependency[Preferences]
    ) -> PreferenceList:
        return preference_list(await preferences.of(require_user(request).id))

    @put("/preferences", summary="Change your channels for some event types")
    async def update_preferences(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PreferenceUpdate],
        preferences: NamedDependency[Preferences],
    ) -> PreferenceList:
        user = require_user(request)
        try:
            result = await preferences.change(
                user.id, [(item.event, item.in_app, item.email_mode) for item in data.items]
            )
        except PreferenceError as error:
            raise InvalidInput("Unknown event types or email modes.", fields=error.problems) from None
        return preference_list(result)
