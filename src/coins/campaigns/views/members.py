"""Members and invitations: the list, inviting by email or CSV, managers by email, resend and revoke."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from coins.accounts.auth import login_required, require_user
from coins.campaigns.access import CampaignAccess
from coins.campaigns.page import Standing, campaign_context
from coins.campaigns.services.invitations import Invitations, parse_email_list
from coins.campaigns.services.reading import CampaignReader
from coins.campaigns.views.forms import PAGE_SIZE
from coins.lib.errors import AppError
from coins.lib.forms import form_data, form_errors, redirect_to, render_form
from coins.lib.sessions import flash


class CampaignMemberPages(Controller):
    path = "/campaigns"
    include_in_schema = False

    @get("/{slug:str}/members", name="campaign.members", guards=[login_required])
    async def members(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        invitations: NamedDependency[Invitations],
        standing: NamedDependency[Standing],
        page: FromQuery[int] = 1,
    ) -> Template:
        access = await campaign_reader.access(slug, require_user(request))
        return await self._members_page(access, campaign_reader, invitations, standing, max(1, page))

    async def _members_page(
        self,
        access: CampaignAccess,
        reader: CampaignReader,
        invitations_service: Invitations,
        standing: Standing,
        page: int,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        members = await reader.members(access, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        invitations = await invitations_service.invitations(access, limit=100) if access.can_manage else None
        context = await campaign_context(access, reader, standing)
        context.update(
            members=members.items,
            total=members.total,
            page=page,
            pages=max(1, -(-members.total // PAGE_SIZE)),
            invitations=invitations.items if invitations else [],
        )
        return render_form("campaigns/members.html", values=values, errors=errors, status_code=status_code, **context)

    @post("/{slug:str}/invitations", name="campaign.invite", guards=[login_required])
    async def invite(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        invitations: NamedDependency[Invitations],
        standing: NamedDependency[Standing],
    ) -> Template | Redirect:
        access = await campaign_reader.access(slug, require_user(request))
        form = await request.form()
        pasted = str(form.get("emails") or "")
        upload = form.get("csv")
        if isinstance(upload, UploadFile):
            raw = await upload.read()
            if len(raw) > 1_000_000:
                return await self._members_page(
                    access,
                    campaign_reader,
                    invitations,
                    standing,
                    1,
                    errors={"csv": "The file is larger than 1 MB."},
                    values={"emails": pasted},
                    status_code=422,
                )
            pasted += "\n" + raw.decode("utf-8", errors="replace")
        role = str(form.get("role") or "member")
        try:
            outcome = await invitations.invite(access, parse_email_list(pasted), role)
        except AppError as error:
            if error.status_code == 404:
                raise
            return await self._members_page(
                access,
                campaign_reader,
                invitations,
                standing,
                1,
                errors=form_errors(error),
                values={"emails": pasted},
                status_code=422 if error.status_code < 500 else error.status_code,
            )
        parts = []
        if outcome.invited:
            parts.append(f"Invited {len(outcome.invited)}")
        if outcome.resent:
            parts.append(f"sent again to {len(outcome.resent)}")
        if outcome.already_members:
            parts.append(f"{len(outcome.already_members)} already member(s)")
        if outcome.invalid:
            parts.append("not valid: " + ", ".join(outcome.invalid))
        flash(request, "; ".join(parts) + ".", "success" if not outcome.invalid else "warning")
        return redirect_to(request, "campaign.members", slug=slug)

    @post("/{slug:str}/managers", name="campaign.managers", guards=[login_required])
    async def assign_managers(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        invitations: NamedDependency[Invitations],
    ) -> Redirect:
        access = await campaign_reader.access(slug, require_user(request))
        values = await form_data(request)
        try:
            outcome = await invitations.assign_managers(access, parse_email_list(values.get("emails", "")))
        except AppError as error:
            if error.status_code == 404:
                raise
            flash(request, error.message, "error")
        else:
            flash(
                request,
                f"{len(outcome.already_members)} manager(s) added, {len(outcome.invited)} invited.",
                "success",
            )
        return redirect_to(request, "campaign.members", slug=slug)

    @post(
        "/{slug:str}/invitations/{invitation_id:uuid}/{action:str}",
        name="campaign.invitation",
        guards=[login_required],
    )
    async def invitation_action(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        invitation_id: FromPath[UUID],
        action: FromPath[str],
        invitations: NamedDependency[Invitations],
    ) -> Redirect:
        viewer = require_user(request)
        try:
            if action == "resend":
                invitation = await invitations.resend(invitation_id, viewer)
                flash(request, f"Sent again to {invitation.email} with a new link.", "success")
            elif action == "revoke":
                invitation = await invitations.revoke(invitation_id, viewer)
                flash(request, f"The invitation to {invitation.email} is revoked.", "success")
            else:
                flash(request, "Unknown action.", "error")
        except AppError as error:
            if error.status_code == 404:
                raise
            flash(request, error.message, "error")
        return redirect_to(request, "campaign.members", slug=slug)

    # Tags ---------------------------------------------------------------------------------------------
