"""The composition root: the parts a process runs with, built from its settings, and every listener connected.

The app factory, the worker and the command line all build their parts here, so a change made by a request,
a job or a command reaches the same listeners in the same order:

1. coins (settles an idea's coins, grants, rewards: part of the change itself, so first),
2. notifications, 3. platforms (webhooks), 4. search indexing, 5. live board updates,
6. the audit trail (last: it records what the others noted).

Nothing below this module builds these parts itself: lib takes plain values, domains take their collaborators.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from saq.queue.redis import RedisQueue

from coins.analytics import listeners as audit_trail
from coins.coins import listeners as coin_listeners
from coins.ideas import listeners as idea_listeners
from coins.lib.db import DatabaseOptions, make_sqlalchemy_config
from coins.lib.events import EventBus
from coins.lib.links import Links
from coins.lib.telemetry import TracingOptions
from coins.lib.templating import make_jinja_env
from coins.lib.valkey import make_valkey
from coins.mail.mailer import Mailer
from coins.notifications import listeners as notification_listeners
from coins.notifications.notify import Notifier
from coins.notifications.triggers.coins_received import RaisedHere
from coins.platforms import listeners as platform_listeners
from coins.routes import route_reverser
from coins.search import SearchClient, make_backend
from coins.search import listeners as search_listeners
from coins.settings import Settings, asyncpg_url, project_root

if TYPE_CHECKING:
    from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
    from jinja2 import Environment
    from saq.queue import Queue
    from sqlalchemy.ext.asyncio import AsyncSession
    from valkey.asyncio import Valkey

    from coins.ideas.search import IdeaSearch

logger = logging.getLogger("coins.wiring")


def database_config(settings: Settings) -> SQLAlchemyAsyncConfig:
    database = settings.database
    return make_sqlalchemy_config(
        DatabaseOptions(
            url=asyncpg_url(database.url),
            pool_size=database.pool_size,
            max_overflow=database.max_overflow,
            pool_timeout=database.pool_timeout,
            echo=database.echo,
            migrations=project_root() / "migrations",
        )
    )


def template_env(settings: Settings) -> Environment:
    return make_jinja_env(settings.templates_path, public_url=settings.public_url, environment=settings.app.environment)


def valkey_client(settings: Settings) -> Valkey:
    return make_valkey(
        settings.redis.url, max_connections=settings.redis.max_connections, socket_timeout=settings.redis.socket_timeout
    )


def job_queue(settings: Settings) -> Queue:
    return RedisQueue.from_url(settings.saq_url, name=settings.worker.queue_name)


def tracing_options(settings: Settings) -> TracingOptions:
    return TracingOptions(
        otlp_endpoint=settings.telemetry.otlp_endpoint,
        service_name=settings.telemetry.service_name,
        version=settings.app.version,
        environment=settings.app.environment,
    )


@dataclass
class Runtime:
    """One process's parts (the web app keeps them in its state, the worker in its job context)."""

    settings: Settings
    db: SQLAlchemyAsyncConfig
    valkey: Valkey
    queue: Queue
    templates: Environment
    mailer: Mailer
    search_client: SearchClient
    events: EventBus = field(default_factory=EventBus)
    # Per process: which ideas' coins-received jobs are known to be scheduled (see RaisedHere).
    raised_here: RaisedHere = field(default_factory=RaisedHere)

    @property
    def links(self) -> Links:
        return self.mailer.links

    @property
    def notifier(self) -> Notifier:
        return Notifier(self.mailer, self.valkey)

    def idea_search(self, session: AsyncSession) -> IdeaSearch:
        """The configured search backend for the idea services (OpenSearch when set, else PostgreSQL)."""
        return make_backend(session, self.search_client)

    async def close(self) -> None:
        """Shutting down must work while Valkey or OpenSearch is down (that may be why we are stopping)."""
        for close in (self.valkey.aclose, self.search_client.close, self.db.get_engine().dispose):
            try:
                await close()
            except Exception as exc:
                logger.warning("while shutting down: %s", exc)


def make_mailer(settings: Settings, templates: Environment, queue: Queue | None) -> Mailer:
    """The mailer, with links by route name (the route table is built on the first link a process sends)."""
    return Mailer(settings, templates, queue, Links(settings.public_url, lambda: route_reverser(settings)))


def connect_listeners(runtime: Runtime) -> EventBus:
    """Subscribe every domain's listeners to `runtime.events`, in the order the module docstring gives."""
    bus = runtime.events
    coin_listeners.connect(bus, valkey=runtime.valkey)
    notification_listeners.connect(bus, runtime.notifier, raised_here=runtime.raised_here)
    platform_listeners.connect(bus, links=runtime.links, queue=runtime.queue)
    search_listeners.connect(bus, queue=runtime.queue, indexing=runtime.search_client.configured)
    idea_listeners.connect(bus, valkey=runtime.valkey)
    audit_trail.connect(bus)
    return bus


def build_runtime(
    settings: Settings, *, db: SQLAlchemyAsyncConfig | None = None, queue: Queue | None = None
) -> Runtime:
    """Every part from the settings (or the database config and queue given), listeners connected."""
    templates = template_env(settings)
    queue = queue or job_queue(settings)
    runtime = Runtime(
        settings=settings,
        db=db or database_config(settings),
        valkey=valkey_client(settings),
        queue=queue,
        templates=templates,
        mailer=make_mailer(settings, templates, queue),
        search_client=SearchClient(settings.opensearch),
    )
    connect_listeners(runtime)
    return runtime


@contextlib.asynccontextmanager
async def standalone(settings: Settings) -> AsyncIterator[Runtime]:
    """The parts for a command or a script outside the app and the worker, closed afterwards."""
    runtime = build_runtime(settings)
    try:
        yield runtime
    finally:
        await runtime.close()
