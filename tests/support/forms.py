"""Submitting the app's HTML forms like a browser without JavaScript: fetch the page, reuse its CSRF token."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


async def submit(client: AsyncTestClient[Litestar], page: str, action: str | None = None, **fields: str) -> Any:
    """GET `page`, then POST its form (to `action`, default: the same path) with `fields` and the token."""
    form_page = await client.get(page)
    assert form_page.status_code == 200, form_page.text
    data = {"_csrf_token": csrf_token(form_page.text), **fields}
    return await client.post(action or page, data=data, follow_redirects=False)


async def log_in(client: AsyncTestClient[Litestar], email: str, password: str) -> None:
    response = await submit(client, "/login", email=email, password=password)
    assert response.status_code == 303, response.text
