"""The accounts domain's services, provided to every controller (collected by the app factory)."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.services.administration import UserAdministration
from coins.accounts.services.login import LogIn
from coins.accounts.services.passwords import Passwords
from coins.accounts.services.profile import Profiles
from coins.accounts.services.registration import Registration


def provide_registration(db_session: NamedDependency[AsyncSession], state: State) -> Registration:
    return Registration(db_session, state.events)


def provide_login(db_session: NamedDependency[AsyncSession], state: State) -> LogIn:
    return LogIn(db_session, state.events, state.settings.security)


def provide_passwords(db_session: NamedDependency[AsyncSession], state: State) -> Passwords:
    return Passwords(db_session, state.events, state.settings.security, state.mailer)


def provide_profiles(db_session: NamedDependency[AsyncSession], state: State) -> Profiles:
    return Profiles(db_session, state.events)


def provide_user_admin(db_session: NamedDependency[AsyncSession], state: State) -> UserAdministration:
    return UserAdministration(db_session, state.events)


ACCOUNT_DEPENDENCIES = {
    "registration": Provide(provide_registration, sync_to_thread=False),
    "login": Provide(provide_login, sync_to_thread=False),
    "passwords": Provide(provide_passwords, sync_to_thread=False),
    "profiles": Provide(provide_profiles, sync_to_thread=False),
    "user_admin": Provide(provide_user_admin, sync_to_thread=False),
}
