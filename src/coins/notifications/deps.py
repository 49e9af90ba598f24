"""The notifications domain's services, provided to every controller (collected by the app factory)."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from coins.notifications.inbox import Inbox
from coins.notifications.preferences import Preferences


def provide_inbox(db_session: NamedDependency[AsyncSession], state: State) -> Inbox:
    return Inbox(db_session, state.valkey)


def provide_preferences(db_session: NamedDependency[AsyncSession]) -> Preferences:
    return Preferences(db_session)


NOTIFICATION_DEPENDENCIES = {
    "inbox": Provide(provide_inbox, sync_to_thread=False),
    "preferences": Provide(provide_preferences, sync_to_thread=False),
}
