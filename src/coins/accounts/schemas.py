from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

Email = Annotated[str, msgspec.Meta(max_length=320, examples=["ada@example.org"])]
Password = Annotated[str, msgspec.Meta(max_length=128, examples=["Correct-Horse-9"])]


class RegisterRequest(msgspec.Struct, kw_only=True):
    email: Email
    password: Password
    full_name: Annotated[str, msgspec.Meta(max_length=200, examples=["Ada Lovelace"])]


class TokenRequest(msgspec.Struct, kw_only=True):
    email: Email
    password: Password


class TokenResponse(msgspec.Struct, kw_only=True):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


class UserRead(msgspec.Struct, kw_only=True):
    id: UUID
    email: str
    full_name: str
    is_admin: bool = False
    is_sponsor: bool = False
    created_at: datetime | None = None


class ProfileUpdate(msgspec.Struct, kw_only=True):
    full_name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    email: Email | None = None


class PasswordChange(msgspec.Struct, kw_only=True):
    current_password: Password
    new_password: Password


class PasswordResetRequest(msgspec.Struct, kw_only=True):
    email: Email


class PasswordResetConfirm(msgspec.Struct, kw_only=True):
    token: Annotated[str, msgspec.Meta(max_length=200)]
    password: Password


class RoleChange(msgspec.Struct, kw_only=True):
    role: Literal["admin", "sponsor"]
    granted: bool


class ActiveChange(msgspec.Struct, kw_only=True):
    is_active: bool


class UserList(msgspec.Struct, kw_only=True):
    items: list[UserRead]
    total: int
    limit: int
    offset: int
