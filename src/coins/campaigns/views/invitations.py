"""Invitation links: the landing page, and accepting (with a short sign-up for an address without an account)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from coins.accounts.auth import CurrentUser, current_user
from coins.accounts.services.registration import Registration
from coins.accounts.views import start_session
from coins.campaigns.errors import InvitationInvalid
from coins.campaigns.services.invitations import Invitations
from coins.lib.errors import AppError
from coins.lib.forms import form_data, form_errors, redirect_to, render_form
from coins.lib.sessions import flash


class InvitationPages(Controller):
    path = "/invitations"
    include_in_schema = False

    @get("/{token:str}", name="invitation")
    async def landing(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        invitations: NamedDependency[Invitations],
        registration: NamedDependency[Registration],
    ) -> Template:
        try:
            invitation, campaign = await invitations.for_token(token)
        except InvitationInvalid as error:
            return render_form(
                "campaigns/invitation.html",
                errors={"_form": error.message},
                status_code=400,
                campaign=None,
                invitation=None,
                token=token,
                viewer=None,
                has_account=False,
            )
        viewer = current_user(request)
        has_account = await registration.account_exists(invitation.email)
        return render_form(
            "campaigns/invitation.html",
            values={"email": invitation.email},
            invitation=invitation,
            campaign=campaign,
            token=token,
            viewer=viewer,
            has_account=has_account,
        )

    @post("/{token:str}", name="invitation.accept")
    async def accept(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        invitations: NamedDependency[Invitations],
        registration: NamedDependency[Registration],
    ) -> Template | Redirect:
        """Accept while logged in, or sign up with the invited address and accept in one go."""
        try:
            invitation, campaign = await invitations.for_token(token)
        except InvitationInvalid as error:
            return render_form(
                "campaigns/invitation.html",
                errors={"_form": error.message},
                status_code=400,
                campaign=None,
                invitation=None,
                token=token,
                viewer=None,
                has_account=False,
            )
        viewer = current_user(request)
        values = await form_data(request)
        if viewer is None:
            try:
                user = await registration.register(
                    email=invitation.email,
                    full_name=values.get("full_name", ""),
                    password=values.get("password", ""),
                )
            except AppError as error:
                return render_form(
                    "campaigns/invitation.html",
                    values={"email": invitation.email, "full_name": values.get("full_name", "")},
                    errors=form_errors(error),
                    status_code=422,
                    invitation=invitation,
                    campaign=campaign,
                    token=token,
                    viewer=None,
                    has_account=False,
                )
            start_session(request, user)
            viewer = CurrentUser(
                id=user.id,
                email=user.email,
                full_name=user.full_name,
                is_admin=user.is_admin,
                is_sponsor=user.is_sponsor,
                security_stamp=user.security_stamp,
                via="session",
            )
        try:
            accepted = await invitations.accept(token, viewer)
        except AppError as error:
            flash(request, error.message, "error")
            return redirect_to(request, "invitation", token=token)
        flash(request, f"You joined “{accepted.title}”.", "success")
        return redirect_to(request, "campaign", slug=accepted.slug)
