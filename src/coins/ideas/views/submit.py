"""Submitting an idea: the form with a live preview, similar ideas while the title is typed (with a warning
before submitting a likely duplicate), and the submission itself.

Forms work without JavaScript (post, flash, redirect; refusals re-render the form with messages in place).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from coins.accounts.auth import current_user, login_required, require_user
from coins.campaigns.access import CampaignAccess
from coins.ideas.pages import IdeaPageParts
from coins.ideas.services.board import IdeaBoard
from coins.ideas.services.reading import IdeaReader
from coins.ideas.services.submission import IdeaSubmission
from coins.ideas.shapes import DESCRIPTION_MAX, TITLE_MAX, IdeaInput, SimilarIdea, clean_title
from coins.ideas.views.common import LABELS, chosen_tags
from coins.lib.errors import AppError
from coins.lib.forms import form_data, form_errors, redirect_to
from coins.lib.markdown import render_markdown
from coins.lib.sessions import flash

PREVIEW_MAX = 20_000  # rendered for the preview at most (the service refuses more than 5,000 anyway)


class IdeaSubmitPages(Controller):
    path = "/campaigns/{slug:str}"
    include_in_schema = False

    @get("/ideas/new", name="ideas.new", guards=[login_required])
    async def new(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_pages: NamedDependency[IdeaPageParts],
    ) -> Template:
        access = await idea_pages.reader.campaign_access(slug, require_user(request))
        return await self._new_page(access, idea_pages)

    async def _new_page(
        self,
        access: CampaignAccess,
        pages: IdeaPageParts,
        *,
        values: dict[str, str] | None = None,
        chosen: list[UUID] | None = None,
        errors: dict[str, str] | None = None,
        similar: list[SimilarIdea] | None = None,
        status_code: int = 200,
    ) -> Template:
        context = await pages.around(access)
        context.update(
            values=values or {},
            chosen=[str(tag_id) for tag_id in chosen or []],
            errors=errors or {},
            similar=similar or [],
            duplicate_warning=bool(similar),
            tags=await pages.tags.of_campaign(access, include_retired=False),
            title_max=TITLE_MAX,
            description_max=DESCRIPTION_MAX,
            preview_html=render_markdown(values["description"]) if values and values.get("description") else "",
            labels=LABELS,
        )
        return Template("ideas/new.html", context=context, status_code=status_code)

    @post("/ideas/new", name="ideas.create", guards=[login_required])
    async def create(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_pages: NamedDependency[IdeaPageParts],
        idea_submission: NamedDependency[IdeaSubmission],
    ) -> Template | Redirect:
        viewer = require_user(request)
        pages = idea_pages
        access = await pages.reader.campaign_access(slug, viewer)
        values = await form_data(request)
        tag_ids, tag_problem = await chosen_tags(request)
        title, description = values.get("title", ""), values.get("description", "")
        if tag_problem:
            return await self._new_page(access, pages, values=values, errors={"tag_ids": tag_problem}, status_code=422)
        # Similar ideas first: the member may rather back one of them (SPEC.md "Ideas").  The warning is
        # shown once; the form then carries confirm_duplicate=1.
        if values.get("confirm_duplicate") != "1" and clean_title(title) and description.strip():
            similar = await pages.board.similar(access, title)
            if similar:
                return await self._new_page(
                    access, pages, values=values, chosen=tag_ids, similar=similar, status_code=422
                )
        try:
            view = await idea_submission.submit(
                access, IdeaInput(title=title, description=description, tag_ids=tag_ids), source="web"
            )
        except AppError as error:
            if error.status_code == 404:
                raise
            access = await pages.reader.campaign_access(slug, viewer)
            return await self._new_page(
                access, pages, values=values, chosen=tag_ids, errors=form_errors(error), status_code=422
            )
        if view.idea.status == "pending":
            flash(request, "Thank you! Your idea is waiting for approval by a manager; it competes once approved.")
        else:
            flash(request, "Thank you! Your idea is submitted and competing for coins.", "success")
        return redirect_to(request, "idea", slug=slug, idea_id=view.idea.id)

    @get("/ideas/similar", name="ideas.similar")
    async def similar(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_board: NamedDependency[IdeaBoard],
        title: FromQuery[str] = "",
    ) -> Template:
        """Ideas like the title being typed (the submit form asks as you type, debounced)."""
        access = await idea_board.reader.campaign_access(slug, current_user(request))
        found = await idea_board.similar(access, title[: TITLE_MAX * 2])
        return Template(
            "ideas/_similar.html",
            context={"similar": found, "campaign": access.campaign, "access": access, "labels": LABELS,
                     "duplicate_warning": False},
            headers={"Cache-Control": "no-store"},
        )  # fmt: skip

    @post("/ideas/preview", name="ideas.preview", guards=[login_required])
    async def preview(
        self, request: Request[Any, Any, Any], slug: FromPath[str], idea_reader: NamedDependency[IdeaReader]
    ) -> Template:
        """The description as it will look: the same renderer and sanitiser as the saved idea."""
        await idea_reader.campaign_access(slug, require_user(request))
        source = (await form_data(request)).get("description", "")
        return Template(
            "ideas/_preview.html",
            context={"preview_html": render_markdown(source[:PREVIEW_MAX]), "too_long": len(source) > DESCRIPTION_MAX,
                     "description_max": DESCRIPTION_MAX},
            headers={"Cache-Control": "no-store"},
        )  # fmt: skip
