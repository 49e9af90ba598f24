"""HTML form helpers: read a form, answer with the form again (422, messages in place) or redirect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from litestar import Request
from litestar.response import Redirect, Template

from coins.lib.errors import AppError, InvalidInput


async def form_data(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


async def form_values_and_list(
    request: Request[Any, Any, Any], repeated: str = "tag_ids"
) -> tuple[dict[str, str], list[str]]:
    """The form's single values, and every value of the repeated field (a group of checkboxes)."""
    form = await request.form()
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    return values, [str(v) for v in form.getall(repeated)] if repeated in form else []


def form_errors(error: AppError) -> dict[str, str]:
    """Field messages for the template; anything not tied to a field goes under `_form`."""
    fields = error.fields if isinstance(error, InvalidInput) else dict(error.details.get("fields", {}))
    errors = dict(fields)
    if not fields or not isinstance(error, InvalidInput):
        errors.setdefault("_form", error.message)
    return errors


def render_form(
    template: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    **context: Any,
) -> Template:
    return Template(
        template_name=template,
        context={"values": values or {}, "errors": errors or {}, **context},
        status_code=status_code,
    )


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: an open redirect after log-in is a phishing tool."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def url_path(
    request: Request[Any, Any, Any],
    name: str,
    /,
    query: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
    **path_parameters: Any,
) -> str:
    """The path of a named route (what `url_for` gives templates), with an optional query string.

    A path, not `request.url_for`'s absolute URL: that one is built from the request's scheme and Host,
    which behind Envoy are the inner hop's, and a same-site path is all a redirect or a link needs.
    """
    path = request.app.route_reverse(name, **path_parameters)
    encoded = urlencode(query) if query else ""
    return f"{path}?{encoded}" if encoded else path


def redirect(path: str) -> Redirect:
    return Redirect(path=path, status_code=303)


def redirect_to(
    request: Request[Any, Any, Any],
    name: str,
    /,
    query: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
    **path_parameters: Any,
) -> Redirect:
    """Post, flash, redirect: a 303 to a named route."""
    return redirect(url_path(request, name, query, **path_parameters))
