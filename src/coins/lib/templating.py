"""The Jinja environment shared by pages and emails, and the helpers every page template uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine

from coins.settings import Settings


def make_jinja_env(settings: Settings) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(settings.templates_path)),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        undefined=StrictUndefined if settings.app.environment == "test" else _lenient_undefined(),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=settings.app.environment == "development",
    )
    env.globals.update(
        app_name="Coins for Change",
        public_url=settings.public_url,
        environment=settings.app.environment,
    )
    return env


def _lenient_undefined() -> type:
    from jinja2 import ChainableUndefined

    return ChainableUndefined


def _request(ctx: Mapping[str, Any]) -> Any:
    return ctx.get("request")


def _current_user(ctx: Mapping[str, Any]) -> Any:
    request = _request(ctx)
    return request.scope.get("user") if request is not None else None


def _flashes(ctx: Mapping[str, Any]) -> list[dict[str, str]]:
    request = _request(ctx)
    if request is None:
        return []
    session = request.scope.get("state", {}).get("session")
    return session.pop_flashes() if session is not None else []


def _is_htmx(ctx: Mapping[str, Any]) -> bool:
    request = _request(ctx)
    return bool(request is not None and request.headers.get("hx-request"))


def make_template_engine(env: Environment) -> JinjaTemplateEngine:
    engine = JinjaTemplateEngine.from_environment(env)
    engine.register_template_callable("current_user", _current_user)
    engine.register_template_callable("get_flashes", _flashes)
    engine.register_template_callable("is_htmx", _is_htmx)
    return engine
