"""The accounts part of the JSON API: register, token, and the caller's own account."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from coins.accounts.auth import CurrentUser, login_required, require_user
from coins.accounts.models import User
from coins.accounts.schemas import (
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    ProfileUpdate,
    RegisterRequest,
    TokenRequest,
    TokenResponse,
    UserRead,
)
from coins.accounts.services.login import LogIn
from coins.accounts.services.passwords import Passwords
from coins.accounts.services.profile import Profiles
from coins.accounts.services.registration import Registration
from coins.accounts.tokens import issue_access_token
from coins.settings import Settings


def user_read(user: User | CurrentUser) -> UserRead:
    return UserRead(
        id=user.id,
        email=user.email,
        full_name=user.full_name,
        is_admin=user.is_admin,
        is_sponsor=user.is_sponsor,
        created_at=getattr(user, "created_at", None),
    )


class AuthApiController(Controller):
    path = "/api/auth"
    tags = ["auth"]

    @post("/register", status_code=HTTP_201_CREATED, summary="Create an account")
    async def register(self, data: JSONBody[RegisterRequest], registration: NamedDependency[Registration]) -> UserRead:
        user = await registration.register(email=data.email, full_name=data.full_name, password=data.password)
        return user_read(user)

    @post("/token", status_code=HTTP_200_OK, summary="Exchange email and password for a bearer token")
    async def token(
        self,
        data: JSONBody[TokenRequest],
        login: NamedDependency[LogIn],
        settings: NamedDependency[Settings],
    ) -> TokenResponse:
        user = await login.authenticate(email=data.email, password=data.password)
        return TokenResponse(
            access_token=issue_access_token(settings.security, user_id=user.id, stamp=user.security_stamp),
            expires_in=settings.security.jwt_expiration,
        )

    @get("/me", guards=[login_required], summary="The caller's account")
    async def me(self, request: Request[Any, Any, Any], profiles: NamedDependency[Profiles]) -> UserRead:
        return user_read(await profiles.get(require_user(request).id))

    @patch("/me", guards=[login_required], summary="Change name or email")
    async def update_me(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ProfileUpdate],
        profiles: NamedDependency[Profiles],
    ) -> UserRead:
        current = await profiles.get(require_user(request).id)
        user = await profiles.update_profile(
            current.id,
            full_name=data.full_name if data.full_name is not None else current.full_name,
            email=data.email if data.email is not None else current.email,
        )
        return user_read(user)

    @post("/password", guards=[login_required], status_code=HTTP_200_OK, summary="Change password")
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PasswordChange],
        passwords: NamedDependency[Passwords],
        settings: NamedDependency[Settings],
    ) -> TokenResponse:
        """Answers with a fresh token: every older token of the account stops working."""
        user = await passwords.change_password(
            require_user(request).id, current=data.current_password, new=data.new_password
        )
        return TokenResponse(
            access_token=issue_access_token(settings.security, user_id=user.id, stamp=user.security_stamp),
            expires_in=settings.security.jwt_expiration,
        )

    @post("/password-reset", status_code=HTTP_202_ACCEPTED, summary="Email a password reset link")
    async def request_reset(
        self, data: JSONBody[PasswordResetRequest], passwords: NamedDependency[Passwords]
    ) -> dict[str, str]:
        await passwords.request_password_reset(data.email)
        return {"status": "If an account exists for that address, a reset link is on its way."}

    @post("/password-reset/confirm", status_code=HTTP_200_OK, summary="Set a new password with a reset token")
    async def confirm_reset(
        self, data: JSONBody[PasswordResetConfirm], passwords: NamedDependency[Passwords]
    ) -> UserRead:
        return user_read(await passwords.reset_password(data.token, data.password))
