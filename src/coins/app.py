"""`create_app(settings)`: the one place where routes, plugins, middleware and handlers are registered.

Production (granian's factory), `coins serve`, and the tests all build the application here, so what is
tested is what runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader, State
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from coins.accounts.api import AuthApiController
from coins.accounts.auth import AuthenticationMiddleware
from coins.accounts.views import AccountPages
from coins.admin.api import AdminApiController
from coins.admin.views import AdminPages
from coins.analytics.api import AnalyticsApiController
from coins.analytics.system import install_error_buffer
from coins.analytics.views import CampaignAnalyticsPages, DashboardPages, SystemPages
from coins.campaigns.api import CampaignApiController, InvitationApiController
from coins.campaigns.views import CampaignPages, InvitationPages
from coins.coins.api import CoinApiController
from coins.coins.gateway import CoinGateway
from coins.coins.views import CoinPages
from coins.home.views import HomePages
from coins.ideas.api import CampaignIdeaApiController, IdeaApiController
from coins.ideas.views import IdeaLinks, IdeaPages
from coins.lib import live
from coins.lib.db import make_sqlalchemy_config
from coins.lib.deps import dependencies
from coins.lib.edge import EdgeMiddleware
from coins.lib.errors import exception_handlers
from coins.lib.gate import RequestGateMiddleware
from coins.lib.health import HealthController
from coins.lib.logging import configure_logging
from coins.lib.sessions import SessionMiddleware, SessionStore
from coins.lib.telemetry import litestar_plugins, shutdown_tracing
from coins.lib.templating import make_jinja_env, make_template_engine
from coins.lib.valkey import make_valkey
from coins.notifications.api import NotificationApiController
from coins.notifications.mail import Mailer
from coins.notifications.services import Notifier, bind_notifier
from coins.notifications.triggers import RaisedHere
from coins.notifications.views import NotificationPages
from coins.platforms.api import (
    ContextApiController,
    PermalinkApiController,
    PlatformAdminApiController,
    WebhookApiController,
)
from coins.platforms.views import CampaignPermalinkPages, IntegratorDocs, PermalinkPages, PlatformAdminPages
from coins.search import SearchClient
from coins.settings import Settings, load_settings
from coins.worker import make_queue, make_worker

logger = logging.getLogger("coins.app")


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    configure_logging(settings.logging.level, settings.logging.format)

    db_config = make_sqlalchemy_config(settings)
    media_path = settings.media_path
    media_path.mkdir(parents=True, exist_ok=True)
    valkey = make_valkey(settings)
    queue = make_queue(settings)
    templates = make_jinja_env(settings)
    coin_gateway = CoinGateway(settings)
    search_client = SearchClient(settings.opensearch)
    state = State(
        {
            "settings": settings,
            "valkey": valkey,
            "queue": queue,
            "coin_gateway": coin_gateway,
            "templates": templates,
            "mailer": Mailer(settings, templates, queue),
            "session_store": SessionStore(valkey, settings.security.session_max_age),
            "search_client": search_client,
            "coins_received_raised_here": RaisedHere(),
        }
    )
    # Every database session carries the mailer and Valkey, so a domain hook holding only a session can
    # notify (the bells' live counts ride on the live hub below, a topic per user).
    bind_notifier(db_config, Notifier(state.mailer, valkey))
    # Live ranking: sessions publish campaign changes after their commit; one subscription per process
    # feeds the boards' event streams (coins.lib.live).
    live.bind(db_config, valkey)
    state.live_hub = live.TopicHub(valkey)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.db_engine = db_config.get_engine()
        app.state.db_config = db_config
        await coin_gateway.start()
        await queue.connect()
        worker = (
            make_worker(settings, queue, shared_db=db_config, handle_signals=False)
            if settings.worker.in_process
            else None
        )
        worker_task = asyncio.create_task(worker.start()) if worker else None

        async def end_event_streams() -> None:
            await app.state.live_hub.close()

        # Event streams end as soon as a stop is asked for, or the server would wait for them to finish.
        undo_termination_hook = live.on_termination(end_event_streams)
        try:
            yield
        finally:
            undo_termination_hook()
            if worker is not None and worker_task is not None:
                await worker.stop()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker_task
            await app.state.live_hub.close()
            await live.close_publisher(valkey)
            # Shutting down must work while Valkey is down (that may be why we are stopping).
            for close in (queue.disconnect, valkey.aclose, search_client.close, coin_gateway.close):
                try:
                    await close()
                except Exception as exc:
                    logger.warning("while shutting down: %s", exc)
            await shutdown_tracing()

    app = Litestar(
        route_handlers=[
            HealthController,
            AuthApiController,
            AdminApiController,
            CampaignApiController,
            InvitationApiController,
            CoinApiController,
            NotificationApiController,
            CampaignIdeaApiController,
            IdeaApiController,
            AnalyticsApiController,
            PlatformAdminApiController,
            PermalinkApiController,
            ContextApiController,
            WebhookApiController,
            HomePages,
            AccountPages,
            AdminPages,
            CampaignPages,
            InvitationPages,
            CoinPages,
            IdeaPages,
            IdeaLinks,
            NotificationPages,
            CampaignAnalyticsPages,
            DashboardPages,
            SystemPages,
            PermalinkPages,
            CampaignPermalinkPages,
            PlatformAdminPages,
            IntegratorDocs,
            create_static_files_router(
                path="/media",
                directories=[media_path],
                cache_control=CacheControlHeader(max_age=86400, public=True),
                include_in_schema=False,
            ),
            create_static_files_router(
                path="/static",
                directories=[settings.static_path],
                cache_control=CacheControlHeader(max_age=3600, public=True),
                include_in_schema=False,
            ),
        ],
        plugins=[SQLAlchemyPlugin(config=db_config), *litestar_plugins(settings)],
        dependencies=dependencies(),
        middleware=[
            DefineMiddleware(SessionMiddleware, secure=settings.security.secure_cookies),
            AuthenticationMiddleware,
            RequestGateMiddleware,
        ],
        csrf_config=CSRFConfig(
            secret=settings.app.secret_key,
            cookie_name="coins_csrf",
            header_name="x-csrftoken",
            cookie_secure=settings.security.secure_cookies,
            cookie_samesite="lax",
            # The JSON API authenticates unsafe requests by bearer token only, never by cookie.
            # One-click unsubscribe: mail clients POST there with no cookie (RFC 8058); the signed token in
            # the path is the authority.
            exclude=["^/api/", "^/health", "^/ready", "^/metrics", "^/notifications/unsubscribe/"],
        ),
        cors_config=CORSConfig(
            allow_origins=settings.security.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"],
        )
        if settings.security.cors_origins
        else None,
        template_config=TemplateConfig(instance=make_template_engine(templates)),
        exception_handlers=exception_handlers(),
        openapi_config=OpenAPIConfig(
            title="Coins for Change API",
            version=settings.app.version,
            description=(
                "Scripts authenticate with `Authorization: Bearer <token>` from `POST /api/auth/token`; "
                "platforms with their API key (`Authorization: Bearer cfc_...` or `X-API-Key: cfc_...`, "
                "see /docs/integrators). "
                "Every error has the body `{error_code, message, details, timestamp, request_id}`."
            ),
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT",
                        description="From POST /api/auth/token",
                    ),
                    # Platforms (see /docs/integrators): the same key in either header.
                    "PlatformKey": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="cfc_ API key",
                        description="A platform's API key: `Authorization: Bearer cfc_...`",
                    ),
                    "PlatformKeyHeader": SecurityScheme(
                        type="apiKey",
                        name="X-API-Key",
                        security_scheme_in="header",
                        description="A platform's API key: `X-API-Key: cfc_...`",
                    ),
                }
            ),
            security=[{"BearerToken": []}],
        ),
        state=state,
        lifespan=[lifespan],
        debug=False,
        # Our own logging (configure_logging above: JSON or text, request ids) stays in charge.
        logging_config=None,
    )
    app.asgi_handler = EdgeMiddleware(app.asgi_handler, hsts=settings.is_production)
    install_error_buffer()  # the system dashboard's recent errors
    return app
