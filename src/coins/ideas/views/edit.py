"""Editing an idea (its author until accepted, managers any time) and its version history with diffs."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from coins.accounts.auth import current_user, login_required, require_user
from coins.campaigns.access import CampaignAccess
from coins.ideas.access import IdeaNotFound
from coins.ideas.pages import IdeaPageParts
from coins.ideas.services.editing import IdeaEditing
from coins.ideas.shapes import DESCRIPTION_MAX, TITLE_MAX, IdeaChanges, IdeaView
from coins.ideas.views.common import LABELS, chosen_tags, page_number
from coins.lib.errors import AppError, InvalidInput
from coins.lib.forms import form_data, form_errors, redirect_to
from coins.lib.markdown import render_markdown
from coins.lib.sessions import flash

HISTORY_PAGE_SIZE = 20


def diff_lines(text: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, line) pairs for display; the file header lines are left out."""
    lines: list[tuple[str, str]] = []
    for line in text.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        lines.append((kind, line))
    return lines


async def edit_page(
    access: CampaignAccess,
    view: IdeaView,
    pages: IdeaPageParts,
    *,
    values: dict[str, str],
    chosen: list[str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    context = await pages.around(access)
    current = {tag.id for tag in view.tags}
    # Active tags, and retired ones the idea already carries (they may stay, not be added).
    tags = [tag for tag in await pages.tags.of_campaign(access) if tag.is_active or tag.id in current]
    context.update(
        view=view,
        idea=view.idea,
        values=values,
        chosen=chosen,
        errors=errors or {},
        tags=tags,
        is_moderator=access.is_manager or access.is_admin,
        title_max=TITLE_MAX,
        description_max=DESCRIPTION_MAX,
        preview_html=render_markdown(values.get("description", "")),
        labels=LABELS,
    )
    return Template("ideas/edit.html", context=context, status_code=status_code)


class IdeaEditPages(Controller):
    path = "/campaigns/{slug:str}"
    include_in_schema = False

    @get("/ideas/{idea_id:int}/edit", name="idea.edit", guards=[login_required])
    async def edit(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_id: FromPath[int],
        idea_pages: NamedDependency[IdeaPageParts],
    ) -> Template:
        viewer = require_user(request)
        reader = idea_pages.reader
        access = await reader.campaign_access(slug, viewer)
        idea_access = await reader.idea_access(idea_id, viewer)
        if idea_access.idea.campaign_id != access.campaign.id:
            raise IdeaNotFound()
        idea_access.check_edit(set())  # the refusal, with its reason, before anyone types anything
        view = await reader.view(idea_id, viewer)
        values = {
            "title": view.idea.title,
            "description": view.idea.description,
            "context_id": view.idea.context_id or "",
        }
        return await edit_page(access, view, idea_pages, values=values, chosen=[str(t.id) for t in view.tags])

    @post("/ideas/{idea_id:int}/edit", name="idea.save", guards=[login_required])
    async def save(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_id: FromPath[int],
        idea_pages: NamedDependency[IdeaPageParts],
        idea_editing: NamedDependency[IdeaEditing],
    ) -> Template | Redirect:
        viewer = require_user(request)
        reader = idea_pages.reader
        access = await reader.campaign_access(slug, viewer)
        values = await form_data(request)
        tag_ids, tag_problem = await chosen_tags(request)
        moderator = access.is_manager or access.is_admin
        try:
            if tag_problem:
                raise InvalidInput("Please correct the highlighted fields.", fields={"tag_ids": tag_problem})
            before = await reader.view(idea_id, viewer)
            if before.idea.campaign_id != access.campaign.id:
                raise IdeaNotFound()
            await idea_editing.edit(
                idea_id,
                viewer,
                IdeaChanges(
                    title=values.get("title", ""),
                    description=values.get("description", ""),
                    tag_ids=tag_ids,
                    # Only managers see the context field; nobody else's form can clear it.
                    context_id=values.get("context_id") if moderator and "context_id" in values else None,
                    clear_context=moderator and "context_id" in values and not values["context_id"].strip(),
                ),
            )
        except AppError as error:
            if error.status_code == 404:
                raise
            access = await reader.campaign_access(slug, viewer)
            view = await reader.view(idea_id, viewer)
            return await edit_page(
                access, view, idea_pages, values=values, chosen=[str(t) for t in tag_ids],
                errors=form_errors(error), status_code=422 if error.status_code < 500 else error.status_code,
            )  # fmt: skip
        flash(request, "Your changes are saved.", "success")
        return redirect_to(request, "idea", slug=slug, idea_id=idea_id)

    @get("/ideas/{idea_id:int}/history", name="idea.history")
    async def history(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_id: FromPath[int],
        idea_pages: NamedDependency[IdeaPageParts],
        page: FromQuery[str] = "1",
    ) -> Template:
        """Every version, newest first, each with what changed and a diff against the one before."""
        viewer = current_user(request)
        reader = idea_pages.reader
        access = await reader.campaign_access(slug, viewer)
        view = await reader.view(idea_id, viewer)
        if view.idea.campaign_id != access.campaign.id:
            raise IdeaNotFound()
        number = page_number(page)
        total = (await reader.versions(idea_id, viewer, limit=1)).total
        # Newest first: the page's slice counted from the end of the oldest-first list.
        end = max(total - (number - 1) * HISTORY_PAGE_SIZE, 0)
        start = max(end - HISTORY_PAGE_SIZE, 0)
        entries = []
        if end > start:
            entries = (await reader.versions(idea_id, viewer, limit=end - start, offset=start)).items
        newest = entries[::-1]
        context = await idea_pages.around(access)
        context.update(
            view=view,
            idea=view.idea,
            versions=[(entry, {name: diff_lines(text) for name, text in entry.diff.items()}) for entry in newest],
            total=total,
            page=number,
            pages=max(1, -(-total // HISTORY_PAGE_SIZE)),
            labels=LABELS,
        )  # fmt: skip
        return Template("ideas/history.html", context=context)
