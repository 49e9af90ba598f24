"""A campaign's tags: create, edit, retire (managers)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from coins.accounts.auth import login_required, require_user
from coins.campaigns.access import CampaignAccess
from coins.campaigns.page import Standing, campaign_context
from coins.campaigns.services.reading import CampaignReader
from coins.campaigns.services.tags import CampaignTags
from coins.lib.errors import AppError, InvalidInput
from coins.lib.forms import form_data, form_errors, redirect_to, render_form
from coins.lib.sessions import flash


class CampaignTagPages(Controller):
    path = "/campaigns"
    include_in_schema = False

    @get("/{slug:str}/tags", name="campaign.tags", guards=[login_required])
    async def tags_page(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        campaign_tags: NamedDependency[CampaignTags],
        standing: NamedDependency[Standing],
    ) -> Template:
        access = (await campaign_reader.access(slug, require_user(request))).require_manage()
        return await self._tags_page(access, campaign_reader, campaign_tags, standing)

    async def _tags_page(
        self,
        access: CampaignAccess,
        reader: CampaignReader,
        tags: CampaignTags,
        standing: Standing,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        context = await campaign_context(access, reader, standing)
        context["tag_list"] = await tags.of_campaign(access)
        return render_form(
            "campaigns/tags.html",
            values=values or {"colour": "#8a5a00", "kind": "category"},
            errors=errors,
            status_code=status_code,
            **context,
        )

    @post("/{slug:str}/tags", name="campaign.tags.save", guards=[login_required])
    async def save_tag(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        campaign_tags: NamedDependency[CampaignTags],
        standing: NamedDependency[Standing],
    ) -> Template | Redirect:
        access = (await campaign_reader.access(slug, require_user(request))).require_manage()
        values = await form_data(request)
        try:
            tag_id = UUID(values["tag_id"]) if values.get("tag_id") else None
            parent = UUID(values["parent_id"]) if values.get("parent_id") else None
        except ValueError:
            raise InvalidInput("Unknown tag.") from None
        active = {"true": True, "false": False}.get(values.get("is_active", ""))
        retiring_only = tag_id is not None and set(values) <= {"_csrf_token", "tag_id", "is_active"}
        try:
            tag = await campaign_tags.save(
                access,
                tag_id=tag_id,
                name=None if retiring_only else values.get("name", ""),
                description=None if retiring_only else values.get("description", ""),
                colour=None if retiring_only else values.get("colour", "#8a5a00"),
                kind=None if retiring_only else values.get("kind", "category"),
                parent_id=parent,
                clear_parent=not retiring_only and parent is None,
                is_active=active,
            )
        except AppError as error:
            if error.status_code == 404 and not isinstance(error, InvalidInput):
                raise
            access = await campaign_reader.access(slug, access.viewer)
            return await self._tags_page(
                access, campaign_reader, campaign_tags, standing, errors=form_errors(error), values=values,
                status_code=422,
            )  # fmt: skip
        if retiring_only:
            flash(request, f"“{tag.name}” is {'active again' if tag.is_active else 'retired'}.", "success")
        else:
            flash(request, f"Tag “{tag.name}” saved.", "success")
        return redirect_to(request, "campaign.tags", slug=slug)
