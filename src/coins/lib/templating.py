"""The Jinja environment shared by pages and emails, and the helpers every page template uses.

Page templates link with Litestar's `url_for('route.name', **path_parameters)` (static files:
`url_for('static', file_path='css/app.css')`), never with a written path; tests/unit/test_template_urls.py
keeps it so.  Emails are rendered outside requests and get absolute links in their context instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine

from coins.lib.htmx import is_partial


def make_jinja_env(templates: Path, *, public_url: str, environment: str) -> Environment:
    """Strict about undefined names in tests (a typo fails the test), lenient in production (a page renders)."""
    env = Environment(
        loader=FileSystemLoader(str(templates)),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        undefined=StrictUndefined if environment == "test" else _lenient_undefined(),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=environment == "development",
    )
    env.globals.update(app_name="Coins for Change", public_url=public_url, environment=environment)
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
    """An htmx request that swaps part of the page (not a boosted page change, not a history restore)."""
    request = _request(ctx)
    return request is not None and is_partial(request)


def make_template_engine(env: Environment) -> JinjaTemplateEngine:
    engine = JinjaTemplateEngine.from_environment(env)
    engine.register_template_callable("current_user", _current_user)
    engine.register_template_callable("get_flashes", _flashes)
    engine.register_template_callable("is_htmx", _is_htmx)
    return engine
