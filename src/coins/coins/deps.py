"""The coins domain's services, provided to every controller (collected by the app factory)."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from coins.coins.services.member import MemberCoins
from coins.coins.services.reading import CoinReader
from coins.coins.widgets import CoinStanding


def provide_coin_reader(db_session: NamedDependency[AsyncSession]) -> CoinReader:
    return CoinReader(db_session)


def provide_standing(db_session: NamedDependency[AsyncSession]) -> CoinStanding:
    return CoinStanding(db_session)


def provide_member_coins(state: State) -> MemberCoins:
    return MemberCoins(state.coin_gateway, state.events)


COIN_DEPENDENCIES = {
    "coin_reader": Provide(provide_coin_reader, sync_to_thread=False),
    "member_coins": Provide(provide_member_coins, sync_to_thread=False),
    # The viewer's coins for pages of other domains (campaign header, idea board and page).
    "standing": Provide(provide_standing, sync_to_thread=False),
}
