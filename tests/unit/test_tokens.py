"""Bearer tokens: a verified token's claims are kept, but never past its expiry or under another secret."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from coins.accounts.tokens import InvalidToken, issue_access_token, read_access_token
from coins.settings import SecuritySettings

SECRET = "unit-test-secret-that-is-long-enough-0123456789"


def security(**overrides: object) -> SecuritySettings:
    return SecuritySettings(**{"jwt_secret_key": SECRET, **overrides})  # type: ignore[arg-type]


def test_a_token_reads_back_the_same_every_time() -> None:
    user = uuid.uuid4()
    token = issue_access_token(security(), user_id=user, stamp=7)
    assert read_access_token(security(), token) == (user, 7)
    assert read_access_token(security(), token) == (user, 7)  # the kept result


def test_a_kept_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = issue_access_token(security(jwt_expiration=60), user_id=uuid.uuid4(), stamp=0)
    read_access_token(security(), token)  # verified once: kept
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(InvalidToken, match="expired"):
        read_access_token(security(), token)


def test_a_kept_token_is_refused_after_the_secret_changes() -> None:
    token = issue_access_token(security(), user_id=uuid.uuid4(), stamp=0)
    read_access_token(security(), token)
    with pytest.raises(InvalidToken):
        read_access_token(security(jwt_secret_key="another-secret-that-is-long-enough-9876543210"), token)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": str(uuid.uuid4()), "typ": "refresh"},  # not an access token
        {"typ": "access"},  # no subject
        {"sub": "not-a-uuid", "typ": "access"},
    ],
)
def test_bad_claims_are_refused_every_time(claims: dict[str, object]) -> None:
    now = int(time.time())
    token = jwt.encode({"iat": now, "exp": now + 60, **claims}, SECRET, algorithm="HS256")
    for _ in range(2):  # a failure is not kept as a success
        with pytest.raises(InvalidToken):
            read_access_token(security(), token)


def test_a_forged_signature_is_refused() -> None:
    token = issue_access_token(security(), user_id=uuid.uuid4(), stamp=0)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    with pytest.raises(InvalidToken):
        read_access_token(security(), forged)
