"""What an email address, a name and a new password must look like (one place for forms, API and commands)."""

from __future__ import annotations

import re

from coins.accounts.passwords import describe_password_problems, password_problems
from coins.lib.bounds import has_control_characters

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def normalise_email(raw: str) -> str:
    return raw.strip().lower()


def validate_email(raw: str) -> str | None:
    email = normalise_email(raw)
    if not email:
        return "Enter your email address."
    if len(email) > 320 or not EMAIL_RE.match(email):
        return "Enter a valid email address, like name@example.org."
    return None


def validate_full_name(raw: str) -> str | None:
    name = raw.strip()
    if not name:
        return "Enter your name."
    if len(name) > 200:
        return "Keep your name under 200 characters."
    if has_control_characters(name):
        # A name goes into email headers (To:), where a line break would start a header of its own.
        return "Write your name on one line, without line breaks or control characters."
    return None


def validate_new_password(password: str) -> str | None:
    problems = password_problems(password)
    return describe_password_problems(problems) if problems else None
