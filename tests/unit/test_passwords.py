from __future__ import annotations

import pytest

from coins.accounts.passwords import hash_password, needs_rehash, password_problems, verify_password
from coins.accounts.services.validation import normalise_email, validate_email
from coins.lib.forms import safe_next


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        ("Abcdefg1", []),
        ("Abcdef1", ["at least 8 characters"]),
        ("abcdefg1", ["an upper-case letter"]),
        ("ABCDEFG1", ["a lower-case letter"]),
        ("Abcdefgh", ["a digit"]),
        ("", ["at least 8 characters", "an upper-case letter", "a lower-case letter", "a digit"]),
        ("A1" + "a" * 127, ["at most 128 characters"]),
    ],
)
def test_password_rules(password: str, problems: list[str]) -> None:
    assert password_problems(password) == problems


async def test_argon2id_hash_and_verify() -> None:
    hashed = await hash_password("Sturdy-Pass-42")
    assert hashed.startswith("$argon2id$")
    assert await verify_password(hashed, "Sturdy-Pass-42")
    assert not await verify_password(hashed, "sturdy-pass-42")
    assert not await verify_password(None, "Sturdy-Pass-42")
    assert not await verify_password("not a hash", "Sturdy-Pass-42")
    assert not needs_rehash(hashed)


def test_emails() -> None:
    assert normalise_email("  Ada@Example.ORG ") == "ada@example.org"
    assert validate_email("ada@example.org") is None
    for bad in ("", "ada", "ada@", "@example.org", "a b@example.org", "ada@example"):
        assert validate_email(bad) is not None, bad


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account", "/account"),
        ("/admin/users?q=x", "/admin/users?q=x"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        (None, "/"),
        ("", "/"),
    ],
)
def test_next_stays_on_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected
