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
from coins.campaigns.api import CampaignApiController, InvitationApiController
from coins.campaigns.views import CampaignPages, InvitationPages
from coins.coins.api import CoinApiController
from coins.coins.gateway import CoinGateway
from coins.coins.views import CoinPages
from coins.home.views import HomePages
from coins.lib.db import make_sqlalchemy_config
from coins.lib.deps import dependencies
from coins.lib.edge import EdgeMiddleware
from coins.lib.errors import exception_handlers
from coins.lib.gate import RequestGateMiddleware
from coins.lib.health import HealthController
from coins.lib.logging import configure_logging
from coins.lib.sessions import SessionMiddleware, SessionStore
from coins.lib.templating import make_jinja_env, make_template_engine
from coins.lib.valkey import make_valkey
from coins.notifications.mail import Mailer
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
    state = State(
        {
            "settings": settings,
            "valkey": valkey,
            "queue": queue,
            "coin_gateway": coin_gateway,
            "templates": templates,
            "mailer": Mailer(settings, templates, queue),
            "session_store": SessionStore(valkey, settings.security.session_max_age),
        }
    )

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
        try:
            yield
        finally:
            if worker is not None and worker_task is not None:
                await worker.stop()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker_task
            # Shutting down must work while Valkey is down (that may be why we are stopping).
            for close in (queue.disconnect, valkey.aclose, coin_gateway.close):
                try:
                    await close()
                except Exception as exc:
                    logger.warning("while shutting down: %s", exc)

    app = Litestar(
        route_handlers=[
            HealthController,
            AuthApiController,
            AdminApiController,
            CampaignApiController,
            InvitationApiController,
            CoinApiController,
            HomePages,
            AccountPages,
            AdminPages,
            CampaignPages,
            InvitationPages,
            CoinPages,
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
        plugins=[SQLAlchemyPlugin(config=db_config)],
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
            exclude=["^/api/", "^/health", "^/ready", "^/metrics"],
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
                "Scripts authenticate with `Authorization: Bearer <token>` from `POST /api/auth/token`. "
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
                    )
                }
            ),
            security=[{"BearerToken": []}],
        ),
        state=state,
        lifespan=[lifespan],
        debug=False,
    )
    app.asgi_handler = EdgeMiddleware(app.asgi_handler, hsts=settings.is_production)
    return app
