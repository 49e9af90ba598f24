"""A campaign's home page, joining and leaving it."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from coins.accounts.auth import current_user, login_required, require_user
from coins.campaigns.page import Standing, campaign_context
from coins.campaigns.services.membership import Membership
from coins.campaigns.services.reading import CampaignReader
from coins.campaigns.services.tags import CampaignTags
from coins.lib.errors import AppError
from coins.lib.forms import redirect_to
from coins.lib.sessions import flash


class CampaignHomePages(Controller):
    path = "/campaigns"
    include_in_schema = False

    @get("/{slug:str}", name="campaign")
    async def home(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        campaign_tags: NamedDependency[CampaignTags],
        standing: NamedDependency[Standing],
    ) -> Template:
        access = await campaign_reader.visible(slug, current_user(request))
        context = await campaign_context(access, campaign_reader, standing)
        context["tags"] = await campaign_tags.of_campaign(access, include_retired=False)
        return Template("campaigns/home.html", context=context)

    @post("/{slug:str}/join", name="campaign.join", guards=[login_required])
    async def join(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        membership: NamedDependency[Membership],
    ) -> Redirect:
        try:
            access = await membership.join(slug, require_user(request))
        except AppError as error:
            if error.status_code == 404:
                raise
            flash(request, error.message, "error")
        else:
            flash(request, f"Welcome to “{access.campaign.title}”!", "success")
        return redirect_to(request, "campaign", slug=slug)

    @post("/{slug:str}/leave", name="campaign.leave", guards=[login_required])
    async def leave(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        membership: NamedDependency[Membership],
    ) -> Redirect:
        await membership.leave(slug, require_user(request))
        flash(request, "You left the campaign. Coins you placed stay where they are.", "info")
        return redirect_to(request, "campaign", slug=slug)

    # Settings (managers) ----------------------------------------------------------------------------
