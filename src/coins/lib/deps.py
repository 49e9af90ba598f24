"""Dependencies shared by every controller, resolved from the application state built in `create_app`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.di import NamedDependency, Provide

from coins.accounts.services import AccountService
from coins.campaigns.services import CampaignService
from coins.ideas.services import IdeaService
from coins.notifications.mail import Mailer
from coins.search import make_backend
from coins.settings import Settings

if TYPE_CHECKING:
    from litestar.datastructures import State
    from sqlalchemy.ext.asyncio import AsyncSession


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_mailer(state: State) -> Mailer:
    mailer: Mailer = state.mailer
    return mailer


def provide_accounts(db_session: NamedDependency[AsyncSession], state: State) -> AccountService:
    return AccountService(db_session, state.settings.security, state.mailer)


def provide_campaigns(db_session: NamedDependency[AsyncSession], state: State) -> CampaignService:
    return CampaignService(db_session, state.mailer)


def provide_ideas(db_session: NamedDependency[AsyncSession], state: State) -> IdeaService:
    search = make_backend(db_session, state.get("search_client"))
    return IdeaService(db_session, state.mailer, state.queue, search)


def dependencies() -> dict[str, Provide]:
    return {
        "settings": Provide(provide_settings, sync_to_thread=False),
        "mailer": Provide(provide_mailer, sync_to_thread=False),
        "accounts": Provide(provide_accounts, sync_to_thread=False),
        "campaigns": Provide(provide_campaigns, sync_to_thread=False),
        "ideas": Provide(provide_ideas, sync_to_thread=False),
    }
