"""A campaign's permalinks, for its managers: list, create and delete."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from coins.accounts.auth import login_required, require_user
from coins.campaigns.access import CampaignAccess
from coins.campaigns.page import CampaignPageParts
from coins.campaigns.services.reading import CampaignReader
from coins.lib.errors import AppError, InvalidInput
from coins.lib.forms import form_errors, form_values_and_list, redirect_to, render_form
from coins.lib.links import Links
from coins.lib.sessions import flash
from coins.platforms.services.permalinks import (
    CONTEXT_RULE,
    PermalinkInput,
    PermalinkService,
    permalink_url,
)
from coins.platforms.services.registry import PlatformService


class CampaignPermalinkPages(Controller):
    """Managers make permalinks for their campaign, for a platform allowed into it or for none."""

    path = "/campaigns/{slug:str}/permalinks"
    include_in_schema = False
    guards = [login_required]

    async def _page(
        self,
        access: CampaignAccess,
        pages: CampaignPageParts,
        permalinks: PermalinkService,
        platforms: PlatformService,
        *,
        values: dict[str, str] | None = None,
        chosen: list[str] | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        context = await pages.around(access)
        return render_form(
            "platforms/campaign_permalinks.html",
            values=values or {},
            errors=errors,
            status_code=status_code,
            permalinks=await permalinks.list_for_campaign(access),
            platforms=await platforms.for_campaign(access.campaign.id),
            tags=await pages.tags.of_campaign(access, include_retired=False),
            chosen=set(chosen or []),
            context_rule=CONTEXT_RULE,
            **context,
        )

    @get("/", name="campaign.permalinks")
    async def index(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_pages: NamedDependency[CampaignPageParts],
        permalinks: NamedDependency[PermalinkService],
        platforms: NamedDependency[PlatformService],
    ) -> Template:
        access = (await campaign_pages.reader.access(slug, require_user(request))).require_manage()
        return await self._page(access, campaign_pages, permalinks, platforms)

    @post("/", name="campaign.permalinks.create")
    async def create(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_pages: NamedDependency[CampaignPageParts],
        permalinks: NamedDependency[PermalinkService],
        platforms: NamedDependency[PlatformService],
        links: NamedDependency[Links],
    ) -> Template | Redirect:
        access = (await campaign_pages.reader.access(slug, require_user(request))).require_manage()
        values, tag_ids = await form_values_and_list(request)
        try:
            platform_id = UUID(values["platform_id"]) if values.get("platform_id") else None
        except ValueError:
            platform_id = None
        try:
            view = await permalinks.create_for_manager(
                access,
                PermalinkInput(
                    campaign=slug,
                    context_id=values.get("context_id", ""),
                    tags=tag_ids,
                    title=values.get("title", ""),
                    description=values.get("description", ""),
                    return_url=values.get("return_url") or None,
                ),
                platform_id=platform_id,
            )
        except AppError as error:
            if error.status_code == 404 and not isinstance(error, InvalidInput):
                raise
            access = (await campaign_pages.reader.access(slug, access.viewer)).require_manage()
            return await self._page(
                access, campaign_pages, permalinks, platforms,
                values=values, chosen=tag_ids, errors=form_errors(error), status_code=422,
            )  # fmt: skip
        flash(request, f"Permalink made: {permalink_url(links, view.permalink)}", "success")
        return redirect_to(request, "campaign.permalinks", slug=slug)

    @post("/{permalink_id:uuid}/delete", name="campaign.permalinks.delete")
    async def delete(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        permalink_id: FromPath[UUID],
        campaign_reader: NamedDependency[CampaignReader],
        permalinks: NamedDependency[PermalinkService],
    ) -> Redirect:
        access = (await campaign_reader.access(slug, require_user(request))).require_manage()
        deleted = await permalinks.delete_for_manager(access, permalink_id)
        flash(request, f"The permalink for “{deleted.context_id}” no longer works.", "success")
        return redirect_to(request, "campaign.permalinks", slug=slug)
