"""`create_app(settings)`: the one place where routes, plugins, middleware and handlers are registered.

Production (granian's factory), `coins serve`, and the tests all build the application here, so what is
tested is what runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.template.config import TemplateConfig
from sqlalchemy import text

from coins.accounts.auth import bearer_token_resolver, session_resolver
from coins.analytics.system import install_error_buffer
from coins.coins.gateway import CoinGateway
from coins.lib import live
from coins.lib.auth import AuthenticationMiddleware
from coins.lib.bounds import InputBoundsMiddleware
from coins.lib.edge import EdgeMiddleware
from coins.lib.errors import exception_handlers
from coins.lib.gate import RateLimits, RequestGateMiddleware
from coins.lib.health import ReadyCheck
from coins.lib.htmx import HTMXPagesPlugin
from coins.lib.logging import configure_logging
from coins.lib.sessions import SessionMiddleware, SessionStore
from coins.lib.telemetry import litestar_plugins, shutdown_tracing
from coins.lib.templating import make_template_engine
from coins.platforms.identity import platform_key_resolver
from coins.routes import DEPENDENCIES, route_handlers
from coins.search import opensearch_ready_check
from coins.settings import Settings, load_settings
from coins.wiring import Runtime, build_runtime, tracing_options
from coins.worker import make_worker

logger = logging.getLogger("coins.app")

# Each shutdown step's bound: eight steps at most 5 s each stay inside granian's 30 s worker kill timeout
# (and Kubernetes' default grace period), so a hung dependency can't turn a stop into a kill.
SHUTDOWN_STEP_SECONDS = 5.0


async def _bounded_shutdown_step(step: Callable[[], Awaitable[object]]) -> None:
    try:
        await asyncio.wait_for(step(), timeout=SHUTDOWN_STEP_SECONDS)
    except TimeoutError:
        logger.warning("while shutting down: %s took over %.0f s, left behind", _step_name(step), SHUTDOWN_STEP_SECONDS)
    except Exception as exc:
        logger.warning("while shutting down: %s: %s", _step_name(step), exc)


def _step_name(step: Callable[[], Awaitable[object]]) -> str:
    return getattr(step, "__qualname__", repr(step))


def ready_checks(runtime: Runtime) -> dict[str, ReadyCheck]:
    """What /ready asks: PostgreSQL and Valkey always, OpenSearch when it is configured."""

    async def database() -> None:
        async with runtime.db.get_engine().connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def valkey() -> None:
        await runtime.valkey.ping()

    checks: dict[str, ReadyCheck] = {"database": database, "valkey": valkey}
    if runtime.settings.opensearch.url:
        checks["opensearch"] = opensearch_ready_check(runtime.settings.opensearch)
    return checks


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    configure_logging(settings.logging.level, settings.logging.format)

    runtime = build_runtime(settings)
    db_config, valkey, queue = runtime.db, runtime.valkey, runtime.queue
    media_path = settings.media_path
    media_path.mkdir(parents=True, exist_ok=True)
    coin_gateway = CoinGateway(settings.database.url, pool_size=settings.database.coin_pool_size)
    state = State(
        {
            "runtime": runtime,
            "settings": settings,
            "version": settings.app.version,
            "valkey": valkey,
            "queue": queue,
            "events": runtime.events,
            "coin_gateway": coin_gateway,
            "templates": runtime.templates,
            "mailer": runtime.mailer,
            "session_store": SessionStore(valkey, settings.security.session_max_age),
            "ready_checks": ready_checks(runtime),
            # Live ranking and bells: one subscription per process feeds the event streams (coins.lib.live).
            "live_hub": live.TopicHub(valkey),
        }
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.db_engine = db_config.get_engine()
        app.state.db_config = db_config
        await coin_gateway.start()
        await queue.connect()
        worker = (
            make_worker(settings, queue, shared=runtime, handle_signals=False) if settings.worker.in_process else None
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

            async def stop_worker() -> None:
                if worker is not None and worker_task is not None:
                    await worker.stop()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker_task

            # Shutting down must work while Valkey is down (that may be why we are stopping), and must end
            # well inside the server's kill timeout: each step gets a bound, a step that hangs is logged.
            steps: list[Callable[[], Awaitable[object]]] = [
                stop_worker,
                app.state.live_hub.close,
                lambda: live.close_publisher(valkey),
                queue.disconnect,
                runtime.valkey.aclose,
                runtime.search_client.close,
                coin_gateway.close,
                shutdown_tracing,
            ]
            for step in steps:
                await _bounded_shutdown_step(step)

    app = Litestar(
        route_handlers=route_handlers(settings),
        plugins=[SQLAlchemyPlugin(config=db_config), HTMXPagesPlugin(), *litestar_plugins(tracing_options(settings))],
        # Each domain provides its own services; routes.py collects them (one DI style everywhere).
        dependencies=DEPENDENCIES,
        middleware=[
            DefineMiddleware(SessionMiddleware, secure=settings.security.secure_cookies),
            # Who is calling: a platform's key, a person's bearer token, or a browser session (in that order).
            DefineMiddleware(
                AuthenticationMiddleware,
                resolvers=[
                    platform_key_resolver(settings.security.platform_rate_limit_per_minute),
                    bearer_token_resolver(settings.security),
                    session_resolver,
                ],
            ),
            DefineMiddleware(
                RequestGateMiddleware,
                limits=RateLimits(
                    per_minute=settings.security.rate_limit_per_minute,
                    auth_per_minute=settings.security.auth_rate_limit_per_minute,
                    trusted_proxy_count=settings.security.trusted_proxy_count,
                ),
            ),
            # After the rate limit (refused input still counts), before any handler reads a value.
            InputBoundsMiddleware,
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
        template_config=TemplateConfig(instance=make_template_engine(runtime.templates)),
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
    # Emails, notifications and webhooks sent from this process link through this app's own route table.
    runtime.links.bind(app.route_reverse)
    return app
