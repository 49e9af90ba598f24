"""The integrators' documentation page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.response import Template

from coins.settings import Settings


class IntegratorDocs(Controller):
    path = "/docs"
    include_in_schema = False

    @get("/integrators", name="docs.integrators")
    async def integrators(self, request: Request[Any, Any, Any], state: State) -> Template:
        settings: Settings = state.settings
        host = settings.app.base_url.rstrip("/") if settings.app.base_url else str(request.base_url).rstrip("/")
        return Template(
            "docs/integrators.html",
            context={
                "host": host,
                "rate_limit": settings.security.platform_rate_limit_per_minute,
                # The OpenAPI routes are Litestar's own (no route names): their path comes from the config.
                "schema_url": request.app.openapi_config.path if request.app.openapi_config else "",
            },
        )
