"""The id of the request (or job) being handled, for responses, error bodies and every log line.

Envoy (or any proxy) may send `X-Request-ID`; the edge middleware keeps it when it looks sane, so one id
follows a request through the proxy's access log and ours.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="-")
HEADER = b"x-request-id"


def current_request_id() -> str:
    return _request_id.get()


def bind_request_id(value: str) -> None:
    """Used by jobs and commands so their log lines carry an id too."""
    _request_id.set(value)


def new_request_id() -> str:
    return uuid.uuid4().hex
