"""Links by route name, for what leaves the process: emails, notifications, webhooks and permalinks.

Pages build their links with `url_for` (templates) and `request.url_for` (handlers).  Code that runs outside a
request (listeners, jobs, commands) holds a `Links` instead: the route table's reversal, bound once per process
by whoever owns the routes (the app factory, or the worker and CLI entry points), and the public URL in front.
So a route's path is written once, in its handler, and an email can never point at a path that no longer exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Reverse = Callable[..., str]


class LinksNotBound(RuntimeError):
    """A link was asked for before the process bound its route table (a wiring mistake, never user input)."""


class Links:
    """`table` builds the reversal on first use (a worker that sends no email never builds it); the app factory
    binds its own app's `route_reverse` instead, so the web process keeps a single route table."""

    def __init__(self, public_url: str, table: Callable[[], Reverse] | None = None) -> None:
        self.public_url = public_url.rstrip("/")
        self._table = table
        self._reverse: Reverse | None = None

    def bind(self, reverse: Reverse) -> None:
        self._reverse = reverse

    def prepare(self) -> None:
        """Build the route table now, at process start: it takes a few hundred milliseconds, which the first
        link would otherwise pay inside a request or a transaction."""
        if self._reverse is None and self._table is not None:
            self._reverse = self._table()

    def path(self, name: str, **params: Any) -> str:
        """The path of route `name` with its parameters (`/ideas/42`)."""
        if self._reverse is None:
            if self._table is None:
                raise LinksNotBound(f"no route table bound: cannot build a link to {name!r}")
            self._reverse = self._table()
        return self._reverse(name, **params)

    def url(self, name: str, **params: Any) -> str:
        """The absolute URL of route `name`, for emails and webhooks (`https://coins.example.org/ideas/42`)."""
        return self.public_url + self.path(name, **params)

    def absolute(self, link: str) -> str:
        """A stored link made absolute: paths get the public URL, anything else is kept as it is."""
        return self.public_url + link if link.startswith("/") else link
