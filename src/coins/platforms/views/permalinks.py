"""Opening a permalink, with a short sign-up on the way.

The journey keeps what the visitor wrote in the server-side session (`permalink_draft`): a visitor without an
account who submits is sent through the sign-up and lands back in the form with the text in place; a
non-member of an open or mediated campaign joins when submitting.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from coins.accounts.auth import CurrentUser, current_user, login_required, require_user
from coins.accounts.services.registration import Registration
from coins.accounts.views import start_session
from coins.campaigns.access import CampaignAccess
from coins.campaigns.services.membership import Membership
from coins.campaigns.services.reading import CampaignReader
from coins.campaigns.services.tags import CampaignTags
from coins.ideas.access import IdeaNotFound
from coins.ideas.services.reading import IdeaReader
from coins.ideas.services.submission import IdeaSubmission
from coins.ideas.shapes import DESCRIPTION_MAX, TITLE_MAX, IdeaInput
from coins.lib.errors import AppError
from coins.lib.forms import form_data, form_errors, form_values_and_list, redirect_to, render_form
from coins.lib.sessions import flash, get_session
from coins.platforms.hooks import Attribution
from coins.platforms.services.permalinks import (
    PermalinkService,
    PermalinkView,
    return_url_with_idea,
)

DRAFT_KEY = "permalink_draft"


DRAFT_MAX = 20_000


def _context_line(view: PermalinkView) -> str:
    source = f" from {view.platform_name}" if view.platform_name else ""
    return f"{view.permalink.context_id}{source}"


def _read_draft(request: Request[Any, Any, Any], token: str) -> dict[str, Any] | None:
    draft = get_session(request).get(DRAFT_KEY)
    return draft if isinstance(draft, dict) and draft.get("token") == token else None


def _keep_draft(request: Request[Any, Any, Any], token: str, values: dict[str, str], tag_ids: list[str]) -> None:
    get_session(request)[DRAFT_KEY] = {
        "token": token,
        "title": values.get("title", "")[:DRAFT_MAX],
        "description": values.get("description", "")[:DRAFT_MAX],
        "tag_ids": tag_ids[:50],
    }


async def _blocked(view: PermalinkView, viewer: CurrentUser | None, reader: CampaignReader) -> str | None:
    """Why this visitor cannot submit through the link (None: they can, joining on the way if needed)."""
    campaign = view.campaign
    access = await reader.access(campaign.slug, viewer)
    if campaign.campaign_type == "closed" and not access.is_member:
        return (
            "The campaign behind this link is by invitation only. Accept the invitation you received by email "
            "(or ask the campaign's managers for one), then open this link again."
        )
    if campaign.status == "draft":
        return "The campaign behind this link has not started yet. Open the link again once it is open for ideas."
    if campaign.status != "active":
        return "The campaign behind this link has ended and takes no more ideas."
    return None


class PermalinkPages(Controller):
    path = "/p"
    include_in_schema = False

    async def _form_page(
        self,
        view: PermalinkView,
        access: CampaignAccess,
        tags: CampaignTags,
        *,
        values: dict[str, str],
        chosen: list[str],
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        return render_form(
            "platforms/permalink_form.html",
            values=values,
            errors=errors,
            status_code=status_code,
            view=view,
            context_line=_context_line(view),
            campaign=view.campaign,
            access=access,
            tags=await tags.of_campaign(access, include_retired=False),
            chosen=set(chosen),
            title_max=TITLE_MAX,
            description_max=DESCRIPTION_MAX,
        )

    def _blocked_page(self, view: PermalinkView, message: str, *, status_code: int) -> Template:
        return Template(
            "platforms/permalink_blocked.html",
            context={"view": view, "message": message, "context_line": _context_line(view)},
            status_code=status_code,
        )

    @get("/{token:str}", name="permalink")
    async def open(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        permalinks: NamedDependency[PermalinkService],
        campaign_reader: NamedDependency[CampaignReader],
        campaign_tags: NamedDependency[CampaignTags],
    ) -> Template:
        view = await permalinks.resolve(token)
        viewer = current_user(request)
        if message := await _blocked(view, viewer, campaign_reader):
            return self._blocked_page(view, message, status_code=403)
        if viewer is None:
            return render_form(
                "platforms/permalink_signup.html",
                view=view,
                context_line=_context_line(view),
                has_draft=_read_draft(request, token) is not None,
                token=token,
            )
        draft = _read_draft(request, token)
        permalink = view.permalink
        values = (
            {"title": draft["title"], "description": draft["description"]}
            if draft
            else {"title": permalink.title, "description": permalink.description}
        )
        chosen = list(draft["tag_ids"]) if draft else [str(t) for t in permalink.tag_ids]
        access = await campaign_reader.access(view.campaign.slug, viewer)
        return await self._form_page(view, access, campaign_tags, values=values, chosen=chosen)

    @post("/{token:str}", name="permalink.submit")
    async def submit(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        permalinks: NamedDependency[PermalinkService],
        campaign_reader: NamedDependency[CampaignReader],
        campaign_tags: NamedDependency[CampaignTags],
        membership: NamedDependency[Membership],
        idea_submission: NamedDependency[IdeaSubmission],
    ) -> Template | Redirect:
        view = await permalinks.resolve(token)
        values, tag_ids = await form_values_and_list(request)
        viewer = current_user(request)
        if viewer is None:
            # Logged out while writing (or never logged in): keep the text, sign up or log in, come back.
            _keep_draft(request, token, values, tag_ids)
            flash(request, "Create your account or log in to send your idea: what you wrote is kept.", "info")
            return redirect_to(request, "permalink", token=token)
        if message := await _blocked(view, viewer, campaign_reader):
            return self._blocked_page(view, message, status_code=403)
        access = await campaign_reader.access(view.campaign.slug, viewer)
        joined = False
        if not access.is_member:
            try:
                access = await membership.join(view.campaign.slug, viewer)
            except AppError as error:
                return self._blocked_page(view, error.message, status_code=error.status_code)
            joined = True
        try:
            parsed = [UUID(t) for t in tag_ids]
        except ValueError:
            parsed = []
            errors: dict[str, str] | None = {"tag_ids": "Choose tags from the list."}
        else:
            errors = None
        if errors is None:
            permalink = view.permalink
            attribution = Attribution(
                permalink_id=permalink.id, platform_id=permalink.platform_id, context_id=permalink.context_id
            )
            try:
                submitted = await idea_submission.submit(
                    access,
                    IdeaInput(
                        title=values.get("title", ""),
                        description=values.get("description", ""),
                        tag_ids=parsed,
                        context_id=permalink.context_id,
                    ),
                    source="permalink",
                    origin=attribution,
                )
            except AppError as error:
                if error.status_code == 404:
                    raise
                errors = form_errors(error)
            else:
                get_session(request).pop(DRAFT_KEY)
                welcome = f"You joined “{view.campaign.title}”. " if joined else ""
                flash(request, f"{welcome}Your idea is submitted.", "success")
                return redirect_to(request, "permalink.done", token=token, idea_id=submitted.idea.id)
        view = await permalinks.resolve(token)  # a refused submission rolled back: read afresh
        access = await campaign_reader.access(view.campaign.slug, viewer)
        return await self._form_page(
            view, access, campaign_tags, values=values, chosen=tag_ids, errors=errors, status_code=422
        )

    @post("/{token:str}/signup", name="permalink.signup")
    async def signup(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        permalinks: NamedDependency[PermalinkService],
        registration: NamedDependency[Registration],
    ) -> Template | Redirect:
        view = await permalinks.resolve(token)
        if current_user(request) is not None:
            return redirect_to(request, "permalink", token=token)
        values = await form_data(request)
        try:
            user = await registration.register(
                email=values.get("email", ""),
                full_name=values.get("full_name", ""),
                password=values.get("password", ""),
            )
        except AppError as error:
            values.pop("password", None)
            return render_form(
                "platforms/permalink_signup.html",
                values=values,
                errors=form_errors(error),
                status_code=422,
                view=view,
                context_line=_context_line(view),
                has_draft=_read_draft(request, token) is not None,
                token=token,
            )
        start_session(request, user)  # keeps the session's data, the draft included
        flash(request, f"Welcome, {user.full_name}! Your account is ready.", "success")
        return redirect_to(request, "permalink", token=token)

    @get("/{token:str}/ideas/{idea_id:int}", name="permalink.done", guards=[login_required])
    async def done(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        idea_id: FromPath[int],
        permalinks: NamedDependency[PermalinkService],
        idea_reader: NamedDependency[IdeaReader],
    ) -> Template:
        """After submitting: the idea, and the way back to the platform with the idea's id."""
        viewer = require_user(request)
        view = await permalinks.resolve(token)
        idea_view = await idea_reader.view(idea_id, viewer)
        came_through = await permalinks.came_through(idea_id, view.permalink.id)
        if not came_through or idea_view.idea.author_id != viewer.id:
            raise IdeaNotFound()
        return Template(
            "platforms/permalink_done.html",
            context={
                "view": view,
                "idea": idea_view.idea,
                "context_line": _context_line(view),
                "return_url": return_url_with_idea(view.permalink.return_url, idea_id),
                "linked": True,
            },
        )
