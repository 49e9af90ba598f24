"""The accounts part of the JSON API against real PostgreSQL and Valkey."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.accounts.models import User
from coins.mail.models import EmailMessage
from tests.conftest import PASSWORD, register, token_for
from tests.support.servers import unique_email

ERROR_KEYS = {"error_code", "message", "details", "timestamp", "request_id"}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["error_code"] == code, body
    assert body["request_id"] == response.headers["x-request-id"]
    datetime.fromisoformat(body["timestamp"])
    return body


async def test_register_then_token_then_me(client: AsyncTestClient[Litestar]) -> None:
    email = unique_email("ada")
    created = await register(client, email=email.upper(), name="  Ada Lovelace ")
    assert created["email"] == email  # stored lower-case
    assert created["full_name"] == "Ada Lovelace"
    assert "password" not in str(created).lower()

    token_response = await client.post("/api/auth/token", json={"email": email, "password": PASSWORD})
    assert token_response.status_code == 200
    token = token_response.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 3600

    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == created["id"]


async def test_register_refuses_duplicates_and_weak_passwords(client: AsyncTestClient[Litestar]) -> None:
    email = unique_email()
    await register(client, email=email)
    duplicate = await client.post(
        "/api/auth/register", json={"email": email.upper(), "password": PASSWORD, "full_name": "Twin"}
    )
    assert_error(duplicate, 409, "ACCOUNT_001")

    for weak, missing in [
        ("short1A", "at least 8"),
        ("alllowercase1", "upper-case"),
        ("ALLUPPER1", "lower-case"),
        ("NoDigitsHere", "digit"),
    ]:
        response = await client.post(
            "/api/auth/register", json={"email": unique_email(), "password": weak, "full_name": "Weak"}
        )
        body = assert_error(response, 422, "VALIDATION_001")
        assert missing in body["details"]["fields"]["password"]


async def test_bad_bodies_get_the_error_body(client: AsyncTestClient[Litestar]) -> None:
    not_json = await client.post(
        "/api/auth/register", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(not_json, 400, "VALIDATION_001")
    missing = await client.post("/api/auth/register", json={"email": "x@example.org"})
    assert_error(missing, 422, "VALIDATION_001")
    bad_email = await client.post(
        "/api/auth/register", json={"email": "nobody", "password": PASSWORD, "full_name": "N"}
    )
    assert "email" in assert_error(bad_email, 422, "VALIDATION_001")["details"]["fields"]


async def test_unknown_route_and_missing_auth(client: AsyncTestClient[Litestar]) -> None:
    assert_error(await client.get("/api/nothing-here"), 404, "RESOURCE_001")
    assert_error(await client.get("/api/auth/me"), 401, "AUTH_001")
    assert_error(await client.get("/api/auth/me", headers={"Authorization": "Bearer not-a-token"}), 401, "AUTH_001")


async def test_wrong_password_then_lockout_after_five(
    client: AsyncTestClient[Litestar], db_engine: AsyncEngine
) -> None:
    email = unique_email()
    await register(client, email=email)
    for attempt in range(1, 5):
        response = await client.post("/api/auth/token", json={"email": email, "password": "Wrong-Pass-1"})
        body = assert_error(response, 401, "AUTH_001")
        if attempt >= 3:
            assert "left before the account is locked" in body["message"]
    fifth = await client.post("/api/auth/token", json={"email": email, "password": "Wrong-Pass-1"})
    locked = assert_error(fifth, 403, "AUTH_003")
    assert "locked until" in locked["message"]
    until = datetime.fromisoformat(locked["details"]["locked_until"])
    assert 14 * 60 < (until - datetime.now(UTC)).total_seconds() <= 15 * 60

    # Even the right password is refused while locked.
    right = await client.post("/api/auth/token", json={"email": email, "password": PASSWORD})
    assert_error(right, 403, "AUTH_003")

    # Once the lock has expired, the right password works and the counter starts again.
    async with db_engine.begin() as conn:
        await conn.execute(
            update(User).where(User.email == email).values(locked_until=datetime(2000, 1, 1, tzinfo=UTC))
        )
    assert (await client.post("/api/auth/token", json={"email": email, "password": PASSWORD})).status_code == 200
    async with db_engine.connect() as conn:
        row = (await conn.execute(select(User.failed_login_count, User.locked_until).where(User.email == email))).one()
    assert row.failed_login_count == 0
    assert row.locked_until is None


async def test_unknown_email_looks_like_wrong_password(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post("/api/auth/token", json={"email": unique_email(), "password": PASSWORD})
    assert assert_error(response, 401, "AUTH_001")["message"] == "Wrong email or password."


async def test_password_reset_through_outbox(client: AsyncTestClient[Litestar], db_engine: AsyncEngine) -> None:
    email = unique_email()
    await register(client, email=email)
    old_token = await token_for(client, email)

    asked = await client.post("/api/auth/password-reset", json={"email": email})
    assert asked.status_code == 202
    # Unknown addresses get the same answer and no email.
    assert (await client.post("/api/auth/password-reset", json={"email": unique_email()})).status_code == 202

    async with db_engine.connect() as conn:
        rows = (
            (await conn.execute(select(EmailMessage))).scalars().all()
            if False
            else (
                await conn.execute(select(EmailMessage.to_address, EmailMessage.body_text, EmailMessage.status))
            ).all()
        )
    assert [r.to_address for r in rows] == [email]
    assert rows[0].status == "outbox"  # no SMTP configured in this test
    token = re.search(r"/password/reset/([\w-]+)", rows[0].body_text).group(1)

    weak = await client.post("/api/auth/password-reset/confirm", json={"token": token, "password": "weak"})
    assert_error(weak, 422, "VALIDATION_001")
    done = await client.post("/api/auth/password-reset/confirm", json={"token": token, "password": "Brand-New-Pass-7"})
    assert done.status_code == 200
    again = await client.post("/api/auth/password-reset/confirm", json={"token": token, "password": "Other-Pass-77"})
    assert_error(again, 400, "ACCOUNT_002")  # single use

    # The old password and every token issued before the reset are dead.
    assert (await client.post("/api/auth/token", json={"email": email, "password": PASSWORD})).status_code == 401
    stale = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {old_token}"})
    assert_error(stale, 401, "AUTH_001")
    assert (
        await client.post("/api/auth/token", json={"email": email, "password": "Brand-New-Pass-7"})
    ).status_code == 200


async def test_reset_token_expires_after_an_hour(client: AsyncTestClient[Litestar], db_engine: AsyncEngine) -> None:
    from coins.accounts.models import PasswordResetToken

    email = unique_email()
    await register(client, email=email)
    await client.post("/api/auth/password-reset", json={"email": email})
    async with db_engine.connect() as conn:
        body = (await conn.execute(select(EmailMessage.body_text))).scalar_one()
        expires_at, created_at = (
            await conn.execute(select(PasswordResetToken.expires_at, PasswordResetToken.created_at))
        ).one()
    assert abs((expires_at - created_at).total_seconds() - 3600) < 5
    token = re.search(r"/password/reset/([\w-]+)", body).group(1)
    async with db_engine.begin() as conn:
        await conn.execute(update(PasswordResetToken).values(expires_at=datetime(2000, 1, 1, tzinfo=UTC)))
    expired = await client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "password": "Brand-New-Pass-7"}
    )
    assert_error(expired, 400, "ACCOUNT_002")


async def test_change_password_returns_new_token_and_kills_old(client: AsyncTestClient[Litestar]) -> None:
    email = unique_email()
    await register(client, email=email)
    old = await token_for(client, email)
    wrong = await client.post(
        "/api/auth/password",
        json={"current_password": "Not-The-One-1", "new_password": "Newer-Pass-88"},
        headers={"Authorization": f"Bearer {old}"},
    )
    assert "current_password" in assert_error(wrong, 422, "VALIDATION_001")["details"]["fields"]
    changed = await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "Newer-Pass-88"},
        headers={"Authorization": f"Bearer {old}"},
    )
    assert changed.status_code == 200
    new = changed.json()["access_token"]
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {old}"})).status_code == 401
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {new}"})).status_code == 200


async def test_profile_update(client: AsyncTestClient[Litestar]) -> None:
    email, other = unique_email(), unique_email()
    await register(client, email=email)
    await register(client, email=other)
    auth = {"Authorization": f"Bearer {await token_for(client, email)}"}
    renamed = await client.patch("/api/auth/me", json={"full_name": "Ada King"}, headers=auth)
    assert renamed.json()["full_name"] == "Ada King"
    taken = await client.patch("/api/auth/me", json={"email": other}, headers=auth)
    assert "email" in assert_error(taken, 422, "VALIDATION_001")["details"]["fields"]
