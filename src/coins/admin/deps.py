"""The admin domain's services, provided to every controller (collected by `coins.routes`)."""

from __future__ import annotations

from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from coins.admin.services import Outbox


def provide_outbox(db_session: NamedDependency[AsyncSession]) -> Outbox:
    return Outbox(db_session)


ADMIN_DEPENDENCIES = {
    "outbox": Provide(provide_outbox, sync_to_thread=False),
}
