"""The platforms domain's services, declared on its controllers (not in the app-wide dependencies)."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from coins.platforms.services.contexts import ContextService
from coins.platforms.services.permalinks import PermalinkService
from coins.platforms.services.registry import PlatformService
from coins.platforms.webhooks.endpoints import WebhookService


def provide_platforms(db_session: NamedDependency[AsyncSession]) -> PlatformService:
    return PlatformService(db_session)


def provide_permalinks(db_session: NamedDependency[AsyncSession]) -> PermalinkService:
    return PermalinkService(db_session)


def provide_contexts(db_session: NamedDependency[AsyncSession]) -> ContextService:
    return ContextService(db_session)


def provide_webhooks(db_session: NamedDependency[AsyncSession], state: State) -> WebhookService:
    return WebhookService(db_session, state.settings, state.queue)


PLATFORM_DEPENDENCIES = {
    "platforms": Provide(provide_platforms, sync_to_thread=False),
    "permalinks": Provide(provide_permalinks, sync_to_thread=False),
    "contexts": Provide(provide_contexts, sync_to_thread=False),
    "webhooks": Provide(provide_webhooks, sync_to_thread=False),
}
