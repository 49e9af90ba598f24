"""Password rules and Argon2id hashing (run in a thread: hashing is deliberately slow)."""

from __future__ import annotations

import re

import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's Argon2id recommendation (19 MiB, 2 passes, 1 lane): strong, and ~20 ms on these machines.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)
MIN_LENGTH = 8
MAX_LENGTH = 128  # bounds the cost of hashing an attacker-chosen password

# Verifying against this when the email is unknown keeps the response time the same for both cases.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0A")


def password_problems(password: str) -> list[str]:
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        problems.append(f"at most {MAX_LENGTH} characters")
    if not re.search(r"[A-Z]", password):
        problems.append("an upper-case letter")
    if not re.search(r"[a-z]", password):
        problems.append("a lower-case letter")
    if not re.search(r"[0-9]", password):
        problems.append("a digit")
    return problems


def describe_password_problems(problems: list[str]) -> str:
    return "The password needs " + ", ".join(problems) + "."


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await anyio.to_thread.run_sync(_verify, password_hash or _DUMMY_HASH, password) and bool(password_hash)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
