"""htmx through Litestar's plugin: what an htmx request asks for, and the one place that says answers vary by it.

Every request is an `HTMXRequest` (the plugin makes it the app's request class), so handlers read
`request.htmx` (`bool(request.htmx)`, `.target`, `.trigger`, `.boosted`, `.history_restore_request`,
`.current_url`) instead of HX-* headers, and answer with the plugin's response types (`HTMXTemplate`,
`ClientRedirect`, ...) instead of spelling response headers.

Partials by target (STYLE.md, pattern 7): one URL answers a whole page or a fragment of it.  Only an htmx
request that swaps part of a page gets a fragment; a boosted page change and a history restore (Back or
reload after htmx's history cache missed, and we keep no cache: `historyCacheSize: 0`) get the whole
page.  Because the answer depends on those headers, every HTML answer says `Vary: HX-Request, HX-Target`;
the plugin below adds it to all of them, error pages and 404s included, so no handler can forget it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar.datastructures import MutableScopeHeaders
from litestar.plugins.htmx import HTMXDetails, HTMXHeaders, HTMXPlugin, HTMXRequest

if TYPE_CHECKING:
    from litestar import Request
    from litestar.config.app import AppConfig
    from litestar.types import Message, Scope

VARY = (HTMXHeaders.REQUEST.value, HTMXHeaders.TARGET.value)

# Events the server raises with `HX-Trigger`; each has a listener in the templates (`hx-trigger="<event>
# from:body"`), which tests/unit/test_htmx_events.py checks.
COINS_CHANGED = "coinsChanged"  # a member's coins moved: "My coins" re-reads its ledger and move form
SERVER_EVENTS = (COINS_CHANGED,)


def htmx_of(request: Request[Any, Any, Any]) -> HTMXDetails:
    """The request's htmx details; a plain `Request` (a unit test's, a middleware's) gets them too."""
    return request.htmx if isinstance(request, HTMXRequest) else HTMXDetails(request)


def is_partial(request: Request[Any, Any, Any]) -> bool:
    """An htmx request that swaps part of a page: not a boosted page change, not a history restore."""
    htmx = htmx_of(request)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def wants_fragment(request: Request[Any, Any, Any], target: str) -> bool:
    """An htmx request for the element with id `target` alone (anything else gets the whole page)."""
    return is_partial(request) and htmx_of(request).target == target


def trigger(event: str) -> dict[str, str]:
    """Response headers that raise `event` in the browser once the answer arrives.

    The bare event name, which htmx reads exactly like the JSON form `{"coinsChanged": {}}` that the
    plugin's `TriggerEvent`/`HTMXTemplate(trigger_event=...)` would send; clients and tests read the
    header as the event's name, so it stays that.
    """
    if event not in SERVER_EVENTS:
        raise ValueError(f"{event!r} has no listener: add it to SERVER_EVENTS and listen for it in a template")
    return {HTMXHeaders.TRIGGER_EVENT.value: event}


async def vary_by_htmx(message: Message, scope: Scope) -> None:
    """`before_send` hook: every HTML answer, and every answer carrying htmx instructions, varies by the
    htmx request headers (merged with any Vary the handler set, such as `Cookie`)."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    html = headers.get("content-type", "").startswith("text/html")
    if not html and not any(name.lower().startswith("hx-") for name in headers):
        return
    present = [token.strip() for value in headers.getall("vary", []) for token in value.split(",") if token.strip()]
    if "*" in present:
        return
    known = {token.lower() for token in present}
    merged = present + [name for name in VARY if name.lower() not in known]
    del headers["vary"]
    headers.add("vary", ", ".join(merged))


class HTMXPagesPlugin(HTMXPlugin):
    """Litestar's HTMX plugin (`HTMXRequest` for every request, its response types in signatures), plus the
    app-wide `Vary` above."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        # The plugin replaces the signature types rather than adding to them: keep any that another plugin set.
        earlier = list(app_config.signature_types)
        app_config = super().on_app_init(app_config)
        app_config.signature_types = [*earlier, *app_config.signature_types]
        app_config.before_send.append(vary_by_htmx)
        return app_config
