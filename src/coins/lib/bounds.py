"""Bounds at the boundary: values no column can hold are refused before any handler sees them.

PostgreSQL refuses a NUL character in text and an integer past 64 bits in a bigint; left to the database,
either becomes a 500 in whatever route passed it on.  This middleware runs after routing and reads the
route's own declarations, so a route added tomorrow is covered without doing anything: a NUL anywhere (path,
query, JSON or urlencoded body), an integer past 64 bits in an `int` query parameter (as the handler
declares them) or anywhere in a JSON body, is answered with the SPEC error body (400 for the path and
query, 422 for the body, `VALIDATION_001`, the field named) and nothing runs; such an id in the path is
"not found", as any id without a row.  A free-text parameter (a search for a 25-digit number) stays free:
only what the handler declares `int` is bounded.  Single-line fields (names that end up in email headers)
refuse CR/LF in their own validators; `has_control_characters` is the shared test.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import msgspec
from litestar.enums import ScopeType
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_422_UNPROCESSABLE_ENTITY

from coins.lib.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Bodies larger than this pass unchecked (Litestar's own body limit and the services still apply): checking
# means holding the body in memory once more.
CHECKED_BODY_MAX = 1024 * 1024
_WHOLE_NUMBER = re.compile(r"^[+-]?\d+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
NUL_MESSAGE = "Remove the NUL character (\\0): it cannot be stored."
RANGE_MESSAGE = f"Use a whole number between {INT64_MIN} and {INT64_MAX}."


def has_control_characters(value: str) -> bool:
    """True when `value` holds a line break or another control character (for one-line fields)."""
    return _CONTROL.search(value) is not None


def _out_of_range(value: str) -> bool:
    return _WHOLE_NUMBER.match(value.strip()) is not None and not INT64_MIN <= int(value) <= INT64_MAX


_INT_PARAMETERS: dict[int, frozenset[str]] = {}


def int_query_parameters(handler: Any) -> frozenset[str]:
    """The query keys a handler declares as integers (`int`, `int | None`, `list[int]`), once per handler."""
    known = _INT_PARAMETERS.get(id(handler))
    if known is None:
        names: set[str] = set()
        for name, field in handler.parsed_fn_signature.parameters.items():
            if field.is_subclass_of(bool) or not (field.is_subclass_of(int) or field.has_inner_subclass_of(int)):
                continue
            kwarg = field.kwarg_definition
            names.add(getattr(kwarg, "query", None) or name)
        known = _INT_PARAMETERS[id(handler)] = frozenset(names)
    return known


def _json_problems(value: Any, where: str, found: dict[str, str]) -> None:
    """Walk a decoded JSON document: NUL in any string (keys too), integers outside 64 bits."""
    if len(found) >= 10:
        return
    if isinstance(value, str):
        if "\x00" in value:
            found[where or "body"] = NUL_MESSAGE
    elif isinstance(value, bool | float) or value is None:
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            found[where or "body"] = RANGE_MESSAGE
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                found[where or "body"] = NUL_MESSAGE
                continue
            _json_problems(item, f"{where}.{key}" if where else key, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _json_problems(item, f"{where}[{index}]" if where else f"[{index}]", found)


def _pairs_problems(pairs: list[tuple[str, str]], integers: frozenset[str] = frozenset()) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            found[key.replace("\x00", "") or "query"] = NUL_MESSAGE
        elif key in integers and _out_of_range(value):
            found[key] = RANGE_MESSAGE
    return found


def path_problems(path: str) -> dict[str, str]:
    return {"path": NUL_MESSAGE} if "\x00" in path else {}


def path_names_nothing(path_params: dict[str, Any]) -> bool:
    """An id in the path past 64 bits: no row can have it, so the answer is "not found", as for any id."""
    return any(
        isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX
        for value in path_params.values()
    )


def query_problems(query_string: bytes, integers: frozenset[str]) -> dict[str, str]:
    if not query_string:
        return {}
    try:
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        return {"query": "The query string is not valid UTF-8."}
    return _pairs_problems(pairs, integers)


def body_problems(content_type: str, body: bytes) -> dict[str, str]:
    if content_type.startswith("application/json") or content_type.endswith("+json"):
        try:
            document = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return {}  # not JSON: the handler's own decoding answers that, with its own message
        found: dict[str, str] = {}
        _json_problems(document, "", found)
        return found
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
        except (UnicodeDecodeError, ValueError):
            return {}
        return _pairs_problems(pairs)
    return {}


def _refuse(found: dict[str, str], status: int) -> InvalidInput:
    error = InvalidInput("Some values cannot be accepted.", fields=found)
    error.status_code = status
    return error


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1").lower()
    return ""


class InputBoundsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        handler = scope.get("route_handler")
        integers = int_query_parameters(handler) if handler is not None else frozenset()
        found = path_problems(scope["path"]) or query_problems(scope.get("query_string", b""), integers)
        if found:
            raise _refuse(found, HTTP_400_BAD_REQUEST)
        if path_names_nothing(scope.get("path_params") or {}):
            raise NotFound()
        content_type = _header(scope, b"content-type")
        length = _header(scope, b"content-length")
        if scope["method"] in {"GET", "HEAD", "OPTIONS"} or not length.isdigit() or int(length) > CHECKED_BODY_MAX:
            await self.app(scope, receive, send)
            return
        if not content_type.startswith(("application/json", "application/x-www-form-urlencoded")):
            await self.app(scope, receive, send)
            return
        messages: list[ReceiveMessage] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        found = body_problems(content_type, b"".join(chunks))
        if found:
            raise _refuse(found, HTTP_422_UNPROCESSABLE_ENTITY)

        async def replay() -> ReceiveMessage:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
