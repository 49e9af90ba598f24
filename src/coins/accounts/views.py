"""Account pages: sign up, log in, log out, profile, password change and reset."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from coins.accounts.auth import login_required, require_user
from coins.accounts.models import User
from coins.accounts.services.login import LogIn
from coins.accounts.services.passwords import Passwords, ResetTokenInvalid
from coins.accounts.services.profile import Profiles
from coins.accounts.services.registration import Registration
from coins.accounts.services.validation import validate_email
from coins.lib.errors import AppError
from coins.lib.forms import form_data, form_errors, redirect, redirect_to, render_form, safe_next
from coins.lib.sessions import SessionStore, flash, get_session


def start_session(request: Request[Any, Any, Any], user: User) -> None:
    session = get_session(request)
    session.regenerate()
    session["user_id"] = str(user.id)
    session["stamp"] = user.security_stamp


class AccountPages(Controller):
    include_in_schema = False

    @get("/signup", name="signup")
    async def signup_form(self, next: FromQuery[str | None] = None) -> Template:
        return render_form("accounts/signup.html", next=safe_next(next))

    @post("/signup", name="signup.submit")
    async def signup(
        self, request: Request[Any, Any, Any], registration: NamedDependency[Registration]
    ) -> Template | Redirect:
        values = await form_data(request)
        next_url = safe_next(values.get("next"))
        try:
            user = await registration.register(
                email=values.get("email", ""),
                full_name=values.get("full_name", ""),
                password=values.get("password", ""),
            )
        except AppError as error:
            values.pop("password", None)
            return render_form(
                "accounts/signup.html",
                values=values,
                errors=form_errors(error),
                status_code=422,
                next=next_url,
            )
        start_session(request, user)
        flash(request, f"Welcome, {user.full_name}! Your account is ready.", "success")
        return redirect(next_url)

    @get("/login", name="login")
    async def login_form(
        self, request: Request[Any, Any, Any], next: FromQuery[str | None] = None
    ) -> Template | Redirect:
        if request.scope.get("user") is not None:
            return redirect(safe_next(next))
        return render_form("accounts/login.html", next=safe_next(next))

    @post("/login", name="login.submit")
    async def login(self, request: Request[Any, Any, Any], login: NamedDependency[LogIn]) -> Template | Redirect:
        values = await form_data(request)
        next_url = safe_next(values.get("next"))
        try:
            user = await login.authenticate(email=values.get("email", ""), password=values.get("password", ""))
        except AppError as error:
            return render_form(
                "accounts/login.html",
                values={"email": values.get("email", "")},
                errors={"_form": error.message},
                status_code=422 if error.status_code < 500 else error.status_code,
                next=next_url,
            )
        start_session(request, user)
        flash(request, f"Welcome back, {user.full_name}.", "success")
        return redirect(next_url)

    @post("/logout", name="logout")
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        session = get_session(request)
        session.clear()
        session.flash("You are logged out.", "info")
        return redirect_to(request, "login")

    @get("/account", name="account", guards=[login_required])
    async def account(self, request: Request[Any, Any, Any], profiles: NamedDependency[Profiles]) -> Template:
        user = await profiles.get(require_user(request).id)
        return render_form(
            "accounts/account.html", values={"full_name": user.full_name, "email": user.email}, user=user
        )

    @post("/account", name="account.submit", guards=[login_required])
    async def update_account(
        self, request: Request[Any, Any, Any], profiles: NamedDependency[Profiles]
    ) -> Template | Redirect:
        values = await form_data(request)
        user_id = require_user(request).id
        try:
            await profiles.update_profile(user_id, full_name=values.get("full_name", ""), email=values.get("email", ""))
        except AppError as error:
            return render_form(
                "accounts/account.html",
                values=values,
                errors=form_errors(error),
                status_code=422,
                user=await profiles.get(user_id),
            )
        flash(request, "Your profile is saved.", "success")
        return redirect_to(request, "account")

    @post("/account/password", name="account.password", guards=[login_required])
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        passwords: NamedDependency[Passwords],
        profiles: NamedDependency[Profiles],
    ) -> Template | Redirect:
        values = await form_data(request)
        user_id = require_user(request).id
        try:
            user = await passwords.change_password(
                user_id, current=values.get("current_password", ""), new=values.get("new_password", "")
            )
        except AppError as error:
            current = await profiles.get(user_id)
            return render_form(
                "accounts/account.html",
                values={"full_name": current.full_name, "email": current.email},
                errors=form_errors(error),
                status_code=422,
                user=current,
            )
        session = get_session(request)
        session["stamp"] = user.security_stamp
        store: SessionStore = request.app.state.session_store
        await store.delete_all_for_user(str(user.id), keep=session.id)
        flash(request, "Your password is changed. Your other sessions have been logged out.", "success")
        return redirect_to(request, "account")

    @get("/password/forgot", name="password.forgot")
    async def forgot_form(self) -> Template:
        return render_form("accounts/forgot.html")

    @post("/password/forgot", name="password.forgot.submit")
    async def forgot(
        self, request: Request[Any, Any, Any], passwords: NamedDependency[Passwords]
    ) -> Template | Redirect:
        values = await form_data(request)

        if problem := validate_email(values.get("email", "")):
            return render_form("accounts/forgot.html", values=values, errors={"email": problem}, status_code=422)
        await passwords.request_password_reset(values.get("email", ""))
        flash(
            request,
            "If an account exists for that address, we have sent it a link to choose a new password. "
            "The link works once, for one hour.",
            "info",
        )
        return redirect_to(request, "login")

    @get("/password/reset/{token:str}", name="password.reset")
    async def reset_form(self, token: FromPath[str], passwords: NamedDependency[Passwords]) -> Template:
        try:
            await passwords.check_reset_token(token)
        except ResetTokenInvalid as error:
            return render_form("accounts/reset.html", token=None, errors={"_form": error.message}, status_code=400)
        return render_form("accounts/reset.html", token=token)

    @post("/password/reset/{token:str}", name="password.reset.submit")
    async def reset(
        self, request: Request[Any, Any, Any], token: FromPath[str], passwords: NamedDependency[Passwords]
    ) -> Template | Redirect:
        values = await form_data(request)
        try:
            await passwords.reset_password(token, values.get("password", ""))
        except ResetTokenInvalid as error:
            return render_form("accounts/reset.html", token=None, errors={"_form": error.message}, status_code=400)
        except AppError as error:
            return render_form("accounts/reset.html", token=token, errors=form_errors(error), status_code=422)
        flash(request, "Your new password is set. Log in with it now.", "success")
        return redirect_to(request, "login")
