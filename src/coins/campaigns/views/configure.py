"""A campaign's settings, its lifecycle buttons, banner and icon (managers and administrators)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from coins.accounts.auth import login_required, require_user
from coins.campaigns.page import Standing, campaign_context
from coins.campaigns.services.configuration import CampaignConfiguration
from coins.campaigns.services.lifecycle import CampaignLifecycle
from coins.campaigns.services.reading import CampaignReader
from coins.campaigns.views.forms import fields_from_form, form_values
from coins.lib.errors import AppError, InvalidInput
from coins.lib.forms import form_data, form_errors, redirect_to, render_form
from coins.lib.sessions import flash
from coins.settings import Settings


class CampaignSettingsPages(Controller):
    path = "/campaigns"
    include_in_schema = False

    @get("/{slug:str}/settings", name="campaign.settings", guards=[login_required])
    async def settings_page(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        standing: NamedDependency[Standing],
    ) -> Template:
        access = (await campaign_reader.access(slug, require_user(request))).require_manage()
        context = await campaign_context(access, campaign_reader, standing)
        return render_form("campaigns/settings.html", values=form_values(access.campaign), **context)

    @post("/{slug:str}/settings", name="campaign.settings.save", guards=[login_required])
    async def save_settings(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        campaign_configuration: NamedDependency[CampaignConfiguration],
        standing: NamedDependency[Standing],
    ) -> Template | Redirect:
        access = (await campaign_reader.access(slug, require_user(request))).require_manage()
        values = await form_data(request)
        editable_core = access.campaign.status == "draft" or access.is_admin
        kept = values.keys() if editable_core else {"title", "description"}
        submitted: dict[str, str] = {key: value for key, value in values.items() if key in kept}
        if not access.is_admin:
            submitted.pop("cost", None)
        data, problems = fields_from_form(submitted, include_slug=access.campaign.status == "draft")
        try:
            if problems:
                raise InvalidInput("Please correct the highlighted fields.", fields=problems)
            campaign = await campaign_configuration.update(access, data)
        except AppError as error:
            # Re-read: a refused save may have left the loaded campaign expired.
            access = await campaign_reader.access(slug, access.viewer)
            context = await campaign_context(access, campaign_reader, standing)
            return render_form(
                "campaigns/settings.html",
                values={**form_values(access.campaign), **values},
                errors=form_errors(error),
                status_code=422,
                **context,
            )
        flash(request, "Settings saved.", "success")
        return redirect_to(request, "campaign.settings", slug=campaign.slug)

    @post("/{slug:str}/status", name="campaign.status", guards=[login_required])
    async def change_status(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_lifecycle: NamedDependency[CampaignLifecycle],
    ) -> Redirect:
        values = await form_data(request)
        target = values.get("status", "")
        try:
            campaign = await campaign_lifecycle.transition(slug, require_user(request), target)
        except AppError as error:
            if error.status_code == 404:
                raise
            flash(request, error.message, "error")
            return redirect_to(request, "campaign.settings", slug=slug)
        messages = {
            "active": "The campaign is active: members have their coins and can submit ideas.",
            "completed": "The campaign is completed: nothing moves any more.",
            "archived": "The campaign is archived.",
        }
        flash(request, messages[campaign.status], "success")
        return (
            redirect_to(request, "campaign", slug=slug)
            if campaign.status != "archived"
            else redirect_to(request, "campaigns")
        )

    @post("/{slug:str}/images", name="campaign.images", guards=[login_required])
    async def upload_image(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        campaign_configuration: NamedDependency[CampaignConfiguration],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        access = (await campaign_reader.access(slug, require_user(request))).require_manage()
        form = await request.form()
        kind = form.get("kind")
        upload = form.get("file")
        if kind not in {"banner", "icon"} or not isinstance(upload, UploadFile):
            flash(request, "Choose an image file to upload.", "error")
            return redirect_to(request, "campaign.settings", slug=slug)
        try:
            await campaign_configuration.set_image(access, str(kind), await upload.read(), settings.media_path)
        except AppError as error:
            message = next(iter(error.details.get("fields", {}).values()), error.message)
            flash(request, str(message), "error")
        else:
            flash(request, f"The {kind} is updated.", "success")
        return redirect_to(request, "campaign.settings", slug=slug)

    # Members and invitations -------------------------------------------------------------------------
