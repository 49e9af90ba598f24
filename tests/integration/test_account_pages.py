"""Account pages as a browser without JavaScript uses them: forms, CSRF, messages in place, redirects."""

from __future__ import annotations

import re

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.accounts.models import User
from coins.mail.models import EmailMessage
from tests.conftest import PASSWORD, register
from tests.support.forms import csrf_token, log_in, submit
from tests.support.servers import unique_email


async def count_users(db_engine: AsyncEngine) -> int:
    async with db_engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(User))).scalar_one())


async def test_signup_form_shows_errors_in_place_and_creates_nothing(
    client: AsyncTestClient[Litestar], db_engine: AsyncEngine
) -> None:
    response = await submit(client, "/signup", full_name="", email="not-an-email", password="short")
    assert response.status_code == 422
    html = response.text
    assert 'id="error-full_name"' in html and "Enter your name." in html
    assert "Enter a valid email address" in html
    assert "The password needs at least 8 characters" in html
    assert 'value="not-an-email"' in html  # what the user typed is kept...
    assert 'value="short"' not in html  # ...except the password
    assert await count_users(db_engine) == 0


async def test_signup_logs_in_and_redirects(client: AsyncTestClient[Litestar], db_engine: AsyncEngine) -> None:
    email = unique_email()
    response = await submit(client, "/signup", full_name="Grace Hopper", email=email, password=PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    home = await client.get("/")
    assert "Welcome, Grace Hopper!" in home.text
    assert "logged in as <strong>Grace Hopper</strong>" in home.text
    assert await count_users(db_engine) == 1
    # The flash message is shown once.
    assert "Welcome, Grace Hopper!" not in (await client.get("/")).text


async def test_form_without_csrf_token_is_refused(client: AsyncTestClient[Litestar], db_engine: AsyncEngine) -> None:
    await client.get("/signup")  # sets the CSRF cookie, but we do not send the token
    response = await client.post(
        "/signup",
        data={"full_name": "X", "email": unique_email(), "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "Traceback" not in response.text
    assert await count_users(db_engine) == 0


async def test_login_errors_then_success_then_logout(client: AsyncTestClient[Litestar]) -> None:
    email = unique_email()
    await register(client, email=email, name="Katherine Johnson")
    wrong = await submit(client, "/login", email=email, password="Wrong-Pass-1")
    assert wrong.status_code == 422
    assert "Wrong email or password." in wrong.text
    assert f'value="{email}"' in wrong.text

    ok = await submit(client, "/login?next=/account", action="/login", email=email, password=PASSWORD, next="/account")
    assert ok.status_code == 303
    assert ok.headers["location"] == "/account"
    account = await client.get("/account")
    assert account.status_code == 200
    assert "Katherine Johnson" in account.text

    out = await client.post("/logout", data={"_csrf_token": csrf_token(account.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert "You are logged out." in (await client.get("/login")).text
    after = await client.get("/account", follow_redirects=False)
    assert after.status_code == 303
    assert after.headers["location"] == "/login?next=%2Faccount"


async def test_login_never_redirects_off_site(client: AsyncTestClient[Litestar]) -> None:
    email = unique_email()
    await register(client, email=email)
    response = await submit(client, "/login", email=email, password=PASSWORD, next="//evil.example/phish")
    assert response.headers["location"] == "/"


async def test_lockout_is_shown_on_the_form(client: AsyncTestClient[Litestar]) -> None:
    email = unique_email()
    await register(client, email=email)
    for _ in range(4):
        await submit(client, "/login", email=email, password="Wrong-Pass-1")
    fifth = await submit(client, "/login", email=email, password="Wrong-Pass-1")
    assert fifth.status_code == 422
    assert re.search(r"locked until \d\d:\d\d UTC", fifth.text)
    right = await submit(client, "/login", email=email, password=PASSWORD)
    assert right.status_code == 422
    assert "locked until" in right.text


async def test_profile_and_password_change_end_other_sessions(client: AsyncTestClient[Litestar]) -> None:
    email = unique_email()
    await register(client, email=email, name="Ada Lovelace")
    # Two browsers of the same person: one test client, two cookie jars.
    await log_in(client, email, PASSWORD)
    first_browser = httpx.Cookies(client.cookies)
    client.cookies = httpx.Cookies()
    await log_in(client, email, PASSWORD)
    other_browser = httpx.Cookies(client.cookies)
    assert (await client.get("/account")).status_code == 200

    client.cookies = first_browser
    renamed = await submit(client, "/account", full_name="Ada King", email=email)
    assert renamed.status_code == 303
    assert 'value="Ada King"' in (await client.get("/account")).text

    bad = await submit(
        client, "/account", action="/account/password", current_password="nope", new_password="Newer-Pass-9"
    )
    assert bad.status_code == 422
    assert "That is not your current password." in bad.text

    changed = await submit(
        client, "/account", action="/account/password", current_password=PASSWORD, new_password="Newer-Pass-9"
    )
    assert changed.status_code == 303
    # This browser stays logged in; the other session is over on its very next request.
    assert (await client.get("/account")).status_code == 200
    client.cookies = other_browser
    kicked = await client.get("/account", follow_redirects=False)
    assert kicked.status_code == 303
    assert kicked.headers["location"].startswith("/login")


async def test_forgot_and_reset_pages(client: AsyncTestClient[Litestar], db_engine: AsyncEngine) -> None:
    email = unique_email()
    await register(client, email=email)
    invalid = await submit(client, "/password/forgot", email="nope")
    assert invalid.status_code == 422
    sent = await submit(client, "/password/forgot", email=email)
    assert sent.status_code == 303
    assert "we have sent it a link" in (await client.get("/login")).text

    async with db_engine.connect() as conn:
        body = (await conn.execute(select(EmailMessage.body_text))).scalar_one()
    link = re.search(r"http://[^/]+(/password/reset/[\w-]+)", body).group(1)
    weak = await submit(client, link, password="weak")
    assert weak.status_code == 422
    assert "The password needs" in weak.text
    done = await submit(client, link, password="Fresh-Pass-123")
    assert done.status_code == 303
    reused = await client.get(link)
    assert reused.status_code == 400
    assert "invalid, already used, or expired" in reused.text
    await log_in(client, email, "Fresh-Pass-123")


async def test_error_pages_are_friendly(client: AsyncTestClient[Litestar]) -> None:
    missing = await client.get("/no/such/page", headers={"Accept": "text/html"})
    assert missing.status_code == 404
    assert "We could not find that page" in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    assert "Traceback" not in missing.text


async def test_security_headers_on_every_response(client: AsyncTestClient[Litestar]) -> None:
    for path in ("/", "/login", "/no/such/page", "/static/css/app.css", "/health"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert len(response.headers["x-request-id"]) >= 8


async def test_request_id_from_proxy_is_kept(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/api/nothing", headers={"X-Request-ID": "envoy-1234567890"})
    assert response.headers["x-request-id"] == "envoy-1234567890"
    assert response.json()["request_id"] == "envoy-1234567890"
    bogus = await client.get("/health", headers={"X-Request-ID": "<script>"})
    assert bogus.headers["x-request-id"] != "<script>"


async def test_htmx_requests_send_the_csrf_token_as_a_header(client: AsyncTestClient[Litestar]) -> None:
    """htmx posts carry the token from `hx-headers` on <body>, not a form field."""
    email = unique_email()
    await register(client, email=email)
    await log_in(client, email, PASSWORD)
    page = await client.get("/account")
    token = re.search(r'hx-headers=\'\{"x-csrftoken": "([^"]+)"\}\'', page.text).group(1)
    assert token == csrf_token(page.text)
    without = await client.post("/logout", headers={"HX-Request": "true"}, follow_redirects=False)
    assert without.status_code == 403
    with_header = await client.post(
        "/logout", headers={"HX-Request": "true", "x-csrftoken": token}, follow_redirects=False
    )
    assert with_header.status_code == 303
