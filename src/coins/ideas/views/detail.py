"""One idea's page: its text, tags, status history, merge links, the allocation control, and the workflow
buttons (approve, reject, accept, start, complete, merge for managers; withdraw for the author).

An idea's page has one address, the route `idea` (`/campaigns/{slug}/ideas/{id}`); `idea.link` (`/ideas/{id}`)
is the short permalink that notifications and platforms hand out, and it redirects there.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from coins.accounts.auth import current_user, login_required, require_user
from coins.campaigns.access import CampaignAccess, CampaignNotFound
from coins.ideas.access import IdeaNotFound
from coins.ideas.pages import IdeaPageParts
from coins.ideas.services.reading import IdeaReader
from coins.ideas.services.workflow import IdeaWorkflow
from coins.ideas.shapes import IdeaDetail
from coins.ideas.views.common import ACTIONS, LABELS, page_number, parse_int
from coins.ideas.views.queue import queue_page
from coins.lib.errors import AppError, InvalidInput, login_redirect
from coins.lib.forms import form_data, form_errors, redirect_to
from coins.lib.sessions import flash


async def idea_page(
    access: CampaignAccess,
    detail: IdeaDetail,
    pages: IdeaPageParts,
    *,
    action_errors: dict[str, str] | None = None,
    action: str = "",
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    idea = detail.view.idea
    context = await pages.around(access)
    context.update(await pages.stakes.control(access, idea.id))
    merge_targets = await pages.reader.merge_targets(idea) if "merged" in detail.allowed_statuses else []
    context.update(
        detail=detail,
        view=detail.view,
        idea=idea,
        is_author=access.viewer is not None and idea.author_id == access.viewer.id,
        merge_targets=merge_targets,
        action_errors=action_errors or {},
        failed_action=action,
        values=values or {},
        labels=LABELS,
    )
    return Template("ideas/idea.html", context=context, status_code=status_code)


class IdeaDetailPages(Controller):
    path = "/campaigns/{slug:str}"
    include_in_schema = False

    @get("/ideas/{idea_id:int}", name="idea")
    async def idea(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_id: FromPath[int],
        idea_pages: NamedDependency[IdeaPageParts],
    ) -> Template | Redirect | Response[Any]:
        viewer = current_user(request)
        try:
            access = await idea_pages.reader.campaign_access(slug, viewer)
            detail = await idea_pages.reader.get(idea_id, viewer)
        except (CampaignNotFound, IdeaNotFound):
            if viewer is None:
                # A shared link to a closed campaign (or a private idea): log in, then come back.  Every
                # missing idea answers the same way, so this tells a visitor nothing.
                return login_redirect(request)
            raise
        if detail.view.campaign_slug != slug:
            return redirect_to(request, "idea", slug=detail.view.campaign_slug, idea_id=idea_id)
        return await idea_page(access, detail, idea_pages)

    @post("/ideas/{idea_id:int}/status", name="idea.status", guards=[login_required])
    async def change_status(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_id: FromPath[int],
        idea_pages: NamedDependency[IdeaPageParts],
        idea_workflow: NamedDependency[IdeaWorkflow],
    ) -> Template | Redirect:
        """Approve, reject, accept, start, complete, merge (managers) or withdraw (the author)."""
        viewer = require_user(request)
        reader = idea_pages.reader
        await reader.campaign_access(slug, viewer)
        values = await form_data(request)
        target = values.get("status", "")
        from_queue = values.get("from") == "queue"
        merged_into = parse_int(values.get("merged_into"))
        try:
            if values.get("merged_into") and merged_into is None:
                raise InvalidInput("Choose the idea to merge this one into.", fields={"merged_into": "Choose an idea."})
            view = await idea_workflow.change_status(
                idea_id, viewer, target, reason=values.get("reason", ""), merged_into=merged_into
            )
        except AppError as error:
            if error.status_code == 404:
                raise
            # The refusal goes where the button was, with the page around it as it is now.
            access = await reader.campaign_access(slug, viewer)
            code = error.status_code if 400 <= error.status_code < 500 else 422
            if from_queue:
                return await queue_page(
                    access, idea_pages, page_number(values.get("page")),
                    failed=idea_id, errors=form_errors(error), values=values, status_code=code,
                )  # fmt: skip
            return await idea_page(
                access, await reader.get(idea_id, viewer), idea_pages,
                action_errors=form_errors(error), action=target, values=values, status_code=code,
            )  # fmt: skip
        flash(request, ACTIONS[target][1] if target in ACTIONS else "Saved.", "success")
        if from_queue:
            return redirect_to(request, "ideas.queue", slug=slug)
        return redirect_to(request, "idea", slug=slug, idea_id=view.idea.id)


class IdeaLinks(Controller):
    """Short links to ideas (`/ideas/{id}`, route `idea.link`, used by notifications and platforms): to the
    idea's one page, route `idea`, in its campaign."""

    path = "/ideas"
    include_in_schema = False

    @get("/{idea_id:int}", name="idea.link")
    async def link(
        self, request: Request[Any, Any, Any], idea_id: FromPath[int], idea_reader: NamedDependency[IdeaReader]
    ) -> Redirect | Response[Any]:
        viewer = current_user(request)
        try:
            view = await idea_reader.view(idea_id, viewer)
        except IdeaNotFound:
            if viewer is None:
                return login_redirect(request)
            raise
        return redirect_to(request, "idea", slug=view.campaign_slug, idea_id=idea_id)
