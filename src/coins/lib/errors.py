"""One error shape for every failure.

Scripts get the SPEC.md body `{"error_code", "message", "details", "timestamp", "request_id"}` with the
fitting status; browsers get a friendly page (or, for htmx requests, a message swapped into the page).
No stack trace ever leaves the process: unexpected errors are logged with their request id and the
user sees only that id.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.plugins.htmx import ClientRedirect, HTMXTemplate
from litestar.response import Template
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_405_METHOD_NOT_ALLOWED,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from coins.lib.htmx import htmx_of, is_partial
from coins.lib.requestid import current_request_id

if TYPE_CHECKING:
    from litestar.types import ExceptionHandlersMap

logger = logging.getLogger("coins.errors")

# Every error code the product answers with, and its HTTP status (SPEC.md, "Errors").  The one catalog: error
# classes take their status from here, and so do codes raised by the database (the coin function).
STATUS_OF_CODE: dict[str, int] = {
    "ACCOUNT_001": HTTP_409_CONFLICT,  # an account with this email exists
    "ACCOUNT_002": HTTP_400_BAD_REQUEST,  # reset link invalid
    "AUTH_001": HTTP_401_UNAUTHORIZED,
    "AUTH_002": HTTP_403_FORBIDDEN,
    "AUTH_003": HTTP_403_FORBIDDEN,  # account locked
    "AUTH_004": HTTP_403_FORBIDDEN,  # CSRF
    "AUTH_005": HTTP_403_FORBIDDEN,  # account deactivated
    "CAMPAIGN_001": HTTP_404_NOT_FOUND,
    "CAMPAIGN_002": HTTP_409_CONFLICT,  # not active
    "CAMPAIGN_003": HTTP_409_CONFLICT,  # status change impossible
    "CAMPAIGN_004": HTTP_409_CONFLICT,  # settings frozen
    "CAMPAIGN_005": HTTP_400_BAD_REQUEST,  # invitation link invalid
    "CAMPAIGN_006": HTTP_409_CONFLICT,  # slug taken
    "COIN_001": HTTP_422_UNPROCESSABLE_ENTITY,  # insufficient coins
    "COIN_002": HTTP_422_UNPROCESSABLE_ENTITY,  # already expended
    "COIN_003": HTTP_422_UNPROCESSABLE_ENTITY,  # reallocation not allowed
    "COIN_004": HTTP_422_UNPROCESSABLE_ENTITY,  # above the per-idea maximum
    "COIN_005": HTTP_422_UNPROCESSABLE_ENTITY,  # the allocation kept changing (quadratic repricing)
    "CONTEXT_001": HTTP_404_NOT_FOUND,
    "IDEA_001": HTTP_404_NOT_FOUND,
    "IDEA_002": HTTP_409_CONFLICT,  # status change impossible
    "IDEA_003": HTTP_409_CONFLICT,  # not competing
    "IDEA_004": HTTP_409_CONFLICT,  # already accepted
    "IDEA_005": HTTP_409_CONFLICT,  # locked for editing
    "IDEA_006": HTTP_409_CONFLICT,  # outcome only on completed ideas
    "IDEMPOTENCY_001": HTTP_422_UNPROCESSABLE_ENTITY,  # key reused for another request
    "PERMALINK_001": HTTP_404_NOT_FOUND,
    "PLATFORM_001": HTTP_404_NOT_FOUND,
    "PLATFORM_002": HTTP_409_CONFLICT,  # revoked
    "RATE_001": HTTP_429_TOO_MANY_REQUESTS,
    "REQUEST_001": HTTP_405_METHOD_NOT_ALLOWED,
    "RESOURCE_001": HTTP_404_NOT_FOUND,
    "RESOURCE_002": HTTP_409_CONFLICT,
    "SYSTEM_001": HTTP_500_INTERNAL_SERVER_ERROR,
    "SYSTEM_002": HTTP_503_SERVICE_UNAVAILABLE,  # maintenance
    "SYSTEM_003": HTTP_503_SERVICE_UNAVAILABLE,  # a dependency is unavailable
    "VALIDATION_001": HTTP_422_UNPROCESSABLE_ENTITY,
    "WEBHOOK_001": HTTP_404_NOT_FOUND,
    "WEBHOOK_002": HTTP_409_CONFLICT,  # disabled
}


class AppError(Exception):
    """A failure the user can understand: a code from SPEC.md, its status (from the catalog) and a sentence.

    Subclasses name their `error_code`; their status comes from STATUS_OF_CODE.
    """

    error_code: str = "SYSTEM_001"
    status_code: int = HTTP_500_INTERNAL_SERVER_ERROR
    default_message: str = "Something went wrong."

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.status_code = STATUS_OF_CODE[cls.error_code]

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        error_code: str | None = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        if error_code:
            self.error_code = error_code
            self.status_code = STATUS_OF_CODE.get(error_code, self.status_code)
        if status_code:
            self.status_code = status_code
        self.headers = headers or {}
        super().__init__(self.message)


class AuthenticationFailed(AppError):
    error_code = "AUTH_001"
    default_message = "Authentication failed."


class PermissionDenied(AppError):
    error_code = "AUTH_002"
    default_message = "You do not have permission to do that."


class AccountLocked(AppError):
    error_code = "AUTH_003"
    default_message = "This account is locked after too many failed log-ins."


class CsrfFailed(AppError):
    error_code = "AUTH_004"
    default_message = "The form expired or was not sent from this site. Reload the page and try again."


class AccountInactive(AppError):
    error_code = "AUTH_005"
    default_message = "This account has been deactivated. Contact an administrator."


class Conflict(AppError):
    error_code = "RESOURCE_002"
    default_message = "That conflicts with existing data."


class NotFound(AppError):
    error_code = "RESOURCE_001"
    default_message = "Not found."


class InvalidInput(AppError):
    error_code = "VALIDATION_001"
    default_message = "Some values are not valid."

    def __init__(self, message: str | None = None, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(message, details={"fields": fields or {}})

    @property
    def fields(self) -> dict[str, str]:
        return dict(self.details.get("fields", {}))


class RateLimited(AppError):
    error_code = "RATE_001"
    default_message = "Too many requests. Slow down and try again in a moment."


class Maintenance(AppError):
    error_code = "SYSTEM_002"
    default_message = "Coins for Change is down for maintenance. Please try again shortly."


class ServiceUnavailable(AppError):
    error_code = "SYSTEM_003"
    default_message = "A service we depend on is unavailable. Please try again shortly."


# Litestar's own HTTP errors, mapped to our codes.
_HTTP_CODES: dict[int, tuple[str, str]] = {
    HTTP_400_BAD_REQUEST: ("VALIDATION_001", "The request could not be understood."),
    HTTP_401_UNAUTHORIZED: ("AUTH_001", "Authentication required."),
    HTTP_403_FORBIDDEN: ("AUTH_002", "You do not have permission to do that."),
    HTTP_404_NOT_FOUND: ("RESOURCE_001", "Not found."),
    HTTP_405_METHOD_NOT_ALLOWED: ("REQUEST_001", "That method is not allowed here."),
    HTTP_429_TOO_MANY_REQUESTS: ("RATE_001", "Too many requests."),
    HTTP_503_SERVICE_UNAVAILABLE: ("SYSTEM_003", "Service unavailable."),
}


def error_body(error_code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "error_code": error_code,
        "message": message,
        "details": details or {},
        "timestamp": datetime.now(UTC).isoformat(),
        "request_id": current_request_id(),
    }


def wants_json(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/schema", "/health", "/ready", "/metrics")) or path == "/api":
        return True
    if htmx_of(request):
        return False
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _normalise(exc: Exception) -> AppError:  # noqa: PLR0911 - one branch per kind of error
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, ValidationException):
        fields = _validation_fields(exc.extra)
        status = HTTP_400_BAD_REQUEST if not fields else HTTP_422_UNPROCESSABLE_ENTITY
        error = InvalidInput(_validation_message(exc), fields=fields)
        error.status_code = status
        return error
    if isinstance(exc, NotAuthorizedException):
        return AuthenticationFailed(exc.detail if exc.detail != "Unauthorized" else "Authentication required.")
    if isinstance(exc, PermissionDeniedException):
        return PermissionDenied()
    if isinstance(exc, NotFoundException):
        return NotFound()
    if isinstance(exc, HTTPException):
        code, message = _HTTP_CODES.get(exc.status_code, ("SYSTEM_001", "Something went wrong."))
        return AppError(message, error_code=code, status_code=exc.status_code, headers=dict(exc.headers or {}))
    if sqlstate_of(exc) in VALUE_REFUSED_BY_DATABASE:
        # The last line of defence behind lib/bounds.py (a multipart body, a value a service built): the
        # statement failed, the transaction rolls back, and the caller is told what kind of value it was.
        error = InvalidInput("A value is out of range or holds a character that cannot be stored (such as NUL).")
        error.status_code = HTTP_422_UNPROCESSABLE_ENTITY
        return error
    if dependency_unavailable(exc):
        # PostgreSQL or Valkey is restarting or unreachable: a 503 tells clients (and their retry logic)
        # that trying again shortly is the right move, which a 500 does not.
        return ServiceUnavailable(headers={"Retry-After": "1"})
    return AppError()


# SQLSTATE: numeric value out of range, character not in repertoire (NUL), untranslatable character.
VALUE_REFUSED_BY_DATABASE = frozenset({"22003", "22021", "22P05"})


def sqlstate_of(exc: BaseException) -> str:
    """The PostgreSQL SQLSTATE behind an exception (SQLAlchemy wraps asyncpg's), or ''."""
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            break
        code = getattr(current, "sqlstate", None) or getattr(getattr(current, "orig", None), "sqlstate", None)
        if code:
            return str(code)
        current = current.__cause__ or current.__context__
    return ""


def dependency_unavailable(exc: BaseException) -> bool:
    """A lost or refused connection to PostgreSQL or Valkey, or PostgreSQL shutting down, starting up or out
    of connections: transient, not a bug and not a constraint violation. Follows the exception's causes
    (SQLAlchemy wraps asyncpg's errors; the coin path uses asyncpg directly)."""
    from asyncpg import InterfaceError as PgClosedError
    from asyncpg.exceptions import InternalClientError as PgBrokenProtocol
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    from valkey.exceptions import ConnectionError as ValkeyConnectionError
    from valkey.exceptions import TimeoutError as ValkeyTimeout

    # From the coin path's raw asyncpg pool, which then drops the connection: InternalClientError is a protocol
    # left mid-error by a server that went away; InterfaceError counts only as "connection is closed" (its
    # other messages are misuse, which is a bug).
    transient = (
        ValkeyConnectionError,
        ValkeyTimeout,
        PoolTimeout,
        ConnectionError,
        TimeoutError,
        PgBrokenProtocol,
    )
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen or len(seen) > 20:
            continue
        seen.add(id(current))
        if isinstance(current, transient) or (isinstance(current, PgClosedError) and "closed" in str(current)):
            return True
        if isinstance(current, DBAPIError) and (
            current.connection_invalidated or isinstance(current, OperationalError | InterfaceError)
        ):
            return True
        # SQLSTATE classes 08 (connection exception), 53 (insufficient resources: too many connections)
        # and 57 (operator intervention: shutting down, starting up), as asyncpg reports them.
        if str(getattr(current, "sqlstate", "") or "")[:2] in {"08", "53", "57"}:
            return True
        orig = getattr(current, "orig", None)
        pending.extend([current.__cause__, current.__context__, orig if isinstance(orig, BaseException) else None])
    return False


def _validation_message(exc: ValidationException) -> str:
    detail = str(exc.detail or "")
    if "decode" in detail.lower() or "json" in detail.lower():
        return "The request body is not valid JSON."
    return "Some values are not valid."


def _validation_fields(extra: Any) -> dict[str, str]:
    fields: dict[str, str] = {}
    if isinstance(extra, list):
        for item in extra:
            if isinstance(item, dict):
                key = str(item.get("key") or item.get("source") or "body")
                fields[key] = str(item.get("message", "invalid value"))
    return fields


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    error = _normalise(exc)
    unexpected = not isinstance(exc, AppError) and not (
        isinstance(exc, HTTPException) and exc.status_code < HTTP_500_INTERNAL_SERVER_ERROR
    )
    if error.status_code >= HTTP_500_INTERNAL_SERVER_ERROR and unexpected and not isinstance(error, ServiceUnavailable):
        # A bug (Litestar's own 500s too: a dependency that cannot be built, a response that cannot be
        # serialised): the whole traceback goes to the log, nothing of it to the user.
        logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        error.details = {}
    elif error.status_code >= HTTP_500_INTERNAL_SERVER_ERROR:
        logger.error("%s on %s %s: %s", error.error_code, request.method, request.url.path, error.message)

    headers = dict(error.headers)
    if wants_json(request):
        return Response(
            content=error_body(error.error_code, error.message, error.details),
            status_code=error.status_code,
            media_type=MediaType.JSON,
            headers=headers,
        )
    if isinstance(error, AuthenticationFailed):
        return login_redirect(request)
    return render_error_page(request, error, headers)


def login_redirect(request: Request[Any, Any, Any]) -> Response[Any]:
    """A visitor on a page that needs an account goes to the log-in form and comes back afterwards."""
    htmx = htmx_of(request)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        # After log-in, come back to the page the form was on, not to a POST-only address.
        came_from = htmx.current_url or request.headers.get("referer") or ""
        target = urlsplit(came_from).path or "/"
    location = request.app.route_reverse("login") + "?" + urlencode({"next": target})
    if htmx and not htmx.history_restore_request:
        # htmx would swap the log-in page into a widget; ask it to navigate instead.  (A history restore
        # ignores HX-Redirect and follows a 303.)
        return ClientRedirect(location)
    return Response(content=b"", status_code=303, headers={"Location": location})


def render_error_page(request: Request[Any, Any, Any], error: AppError, headers: dict[str, str]) -> Response[Any]:
    context = {
        "error": error,
        "request_id": current_request_id(),
        "status_code": error.status_code,
    }
    if is_partial(request):
        # A widget failed: show the message in the page's message area instead of the widget's target.
        return HTMXTemplate(
            template_name="errors/_message.html",
            context=context,
            status_code=error.status_code,
            headers=headers,
            re_target="#messages",
            re_swap="innerHTML",
        )
    # A page (a boosted change or a history restore too) gets the whole error page.
    return Template(template_name="errors/error.html", context=context, status_code=error.status_code, headers=headers)


def exception_handlers() -> ExceptionHandlersMap:
    return {Exception: handle_exception}
