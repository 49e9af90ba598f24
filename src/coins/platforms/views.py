"""Platform pages: opening a permalink (with a short sign-up on the way), managers' permalinks, the admin
section's platforms, and the integrators' documentation.

The permalink journey keeps what the visitor wrote in the server-side session (`permalink_draft`): a
visitor without an account who submits is sent through the sign-up and lands back in the form with the
text in place; a non-member of an open or mediated campaign joins when submitting.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import CurrentUser, admin_required, current_user, login_required, require_user
from coins.accounts.services.registration import Registration
from coins.accounts.views import start_session
from coins.campaigns.access import CampaignAccess
from coins.campaigns.page import CampaignPageParts
from coins.campaigns.services.membership import Membership
from coins.campaigns.services.reading import CampaignReader
from coins.campaigns.services.tags import CampaignTags
from coins.ideas.access import IdeaNotFound
from coins.ideas.services.reading import IdeaReader
from coins.ideas.services.submission import IdeaSubmission
from coins.ideas.shapes import DESCRIPTION_MAX, TITLE_MAX, IdeaInput
from coins.lib.errors import AppError, InvalidInput
from coins.lib.forms import form_data, form_errors, redirect_to, render_form
from coins.lib.sessions import flash, get_session
from coins.platforms.hooks import Attribution
from coins.platforms.models import WebhookDelivery
from coins.platforms.services import (
    CONTEXT_RULE,
    PermalinkInput,
    PermalinkService,
    PermalinkView,
    PlatformService,
    permalink_url,
    return_url_with_idea,
)
from coins.platforms.webhooks import EndpointInput, WebhookService
from coins.settings import Settings

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


async def _submitted_values(
    request: Request[Any, Any, Any], repeated: str = "tag_ids"
) -> tuple[dict[str, str], list[str]]:
    """The form's single values, and every value of the repeated field (checkboxes)."""
    form = await request.form()
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    return values, [str(v) for v in form.getall(repeated)] if repeated in form else []


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
        values, tag_ids = await _submitted_values(request)
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
        settings: Settings,
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
            public_url=settings.public_url,
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
        settings: NamedDependency[Settings],
    ) -> Template:
        access = (await campaign_pages.reader.access(slug, require_user(request))).require_manage()
        return await self._page(access, campaign_pages, permalinks, platforms, settings)

    @post("/", name="campaign.permalinks.create")
    async def create(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_pages: NamedDependency[CampaignPageParts],
        permalinks: NamedDependency[PermalinkService],
        platforms: NamedDependency[PlatformService],
        settings: NamedDependency[Settings],
    ) -> Template | Redirect:
        access = (await campaign_pages.reader.access(slug, require_user(request))).require_manage()
        values, tag_ids = await _submitted_values(request)
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
                access, campaign_pages, permalinks, platforms, settings,
                values=values, chosen=tag_ids, errors=form_errors(error), status_code=422,
            )  # fmt: skip
        flash(request, f"Permalink made: {permalink_url(settings.public_url, view.permalink)}", "success")
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


class PlatformAdminPages(Controller):
    path = "/admin"
    guards = [admin_required]
    include_in_schema = False

    async def _list_page(
        self,
        platforms: PlatformService,
        campaigns: CampaignReader,
        viewer: CurrentUser,
        *,
        values: dict[str, str] | None = None,
        chosen: list[str] | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        page = await platforms.list_all(limit=200)
        choices = await campaigns.list_visible(viewer, limit=200)
        return render_form(
            "platforms/admin_platforms.html",
            values=values or {},
            errors=errors,
            status_code=status_code,
            platforms=page.items,
            total=page.total,
            campaign_choices=[campaign for campaign, _ in choices.items],
            chosen=set(chosen or []),
        )

    def _key_page(self, platform_name: str, platform_id: UUID, api_key: str, *, rotated: bool) -> Template:
        return Template(
            "platforms/admin_key.html",
            context={"name": platform_name, "platform_id": platform_id, "api_key": api_key, "rotated": rotated},
            headers={"Cache-Control": "no-store"},
        )

    @get("/platforms", name="admin.platforms")
    async def platforms_page(
        self,
        request: Request[Any, Any, Any],
        platforms: NamedDependency[PlatformService],
        campaign_reader: NamedDependency[CampaignReader],
    ) -> Template:
        return await self._list_page(platforms, campaign_reader, require_user(request))

    @post("/platforms", name="admin.platforms.create")
    async def register(
        self,
        request: Request[Any, Any, Any],
        platforms: NamedDependency[PlatformService],
        campaign_reader: NamedDependency[CampaignReader],
    ) -> Template:
        viewer = require_user(request)
        values, slugs = await _submitted_values(request, "campaigns")
        try:
            issued = await platforms.register(
                viewer, name=values.get("name", ""), owner_email=values.get("owner_email", ""), campaigns=slugs
            )
        except AppError as error:
            return await self._list_page(
                platforms,
                campaign_reader,
                viewer,
                values=values,
                chosen=slugs,
                errors=form_errors(error),
                status_code=422,
            )
        return self._key_page(issued.platform.name, issued.platform.id, issued.api_key, rotated=False)

    @get("/platforms/{platform_id:uuid}", name="admin.platform")
    async def platform_page(
        self,
        request: Request[Any, Any, Any],
        platform_id: FromPath[UUID],
        platforms: NamedDependency[PlatformService],
        campaign_reader: NamedDependency[CampaignReader],
        webhooks: NamedDependency[WebhookService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template:
        view = await platforms.get(platform_id)
        endpoints = (await webhooks.list_for_platform(platform_id, limit=100)).items
        deliveries: dict[UUID, list[WebhookDelivery]] = {}
        for endpoint in endpoints:
            deliveries[endpoint.id] = (await webhooks.deliveries(None, endpoint.id, limit=10)).items
        choices = await campaign_reader.list_visible(require_user(request), limit=200)
        return render_form(
            "platforms/admin_platform.html",
            values={"name": view.platform.name, "owner_email": view.platform.owner_email},
            platform=view.platform,
            allowed=view.campaigns,
            chosen={c.slug for c in view.campaigns},
            campaign_choices=[campaign for campaign, _ in choices.items],
            endpoints=endpoints,
            deliveries=deliveries,
        )

    @post("/platforms/{platform_id:uuid}", name="admin.platform.save")
    async def save(
        self, request: Request[Any, Any, Any], platform_id: FromPath[UUID], platforms: NamedDependency[PlatformService]
    ) -> Redirect:
        values, slugs = await _submitted_values(request, "campaigns")
        try:
            await platforms.update(
                require_user(request),
                platform_id,
                name=values.get("name"),
                owner_email=values.get("owner_email"),
                campaigns=slugs,
            )
        except AppError as error:
            if error.status_code == 404:
                raise
            message = "; ".join(form_errors(error).values())
            flash(request, message, "error")
        else:
            flash(request, "Platform saved.", "success")
        return redirect_to(request, "admin.platform", platform_id=platform_id)

    @post("/platforms/{platform_id:uuid}/rotate", name="admin.platform.rotate")
    async def rotate(
        self, request: Request[Any, Any, Any], platform_id: FromPath[UUID], platforms: NamedDependency[PlatformService]
    ) -> Template | Redirect:
        try:
            issued = await platforms.rotate_key(require_user(request), platform_id)
        except AppError as error:
            if error.status_code == 404:
                raise
            flash(request, error.message, "error")
            return redirect_to(request, "admin.platform", platform_id=platform_id)
        return self._key_page(issued.platform.name, platform_id, issued.api_key, rotated=True)

    @post("/platforms/{platform_id:uuid}/revoke", name="admin.platform.revoke")
    async def revoke(
        self, request: Request[Any, Any, Any], platform_id: FromPath[UUID], platforms: NamedDependency[PlatformService]
    ) -> Redirect:
        platform = await platforms.revoke(require_user(request), platform_id)
        flash(request, f"{platform.name} is revoked: its key no longer works and its webhooks stop.", "success")
        return redirect_to(request, "admin.platform", platform_id=platform_id)

    @post("/webhooks/{endpoint_id:uuid}/test", name="admin.webhook.test")
    async def send_test(
        self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID], webhooks: NamedDependency[WebhookService]
    ) -> Redirect:
        endpoint = await webhooks.get(None, endpoint_id)
        try:
            await webhooks.send_test(None, endpoint_id)
        except AppError as error:
            flash(request, error.message, "error")
        else:
            flash(request, f"A test event is on its way to {endpoint.url}.", "success")
        return redirect_to(request, "admin.platform", platform_id=endpoint.platform_id)

    @post("/webhooks/{endpoint_id:uuid}/enable", name="admin.webhook.enable")
    async def enable(
        self, request: Request[Any, Any, Any], endpoint_id: FromPath[UUID], webhooks: NamedDependency[WebhookService]
    ) -> Redirect:
        endpoint = await webhooks.update(
            None, endpoint_id, EndpointInput(enabled=True), admin_id=require_user(request).id
        )
        flash(request, f"{endpoint.url} is enabled again.", "success")
        return redirect_to(request, "admin.platform", platform_id=endpoint.platform_id)


class IntegratorDocs(Controller):
    path = "/docs"
    include_in_schema = False

    @get("/integrators", name="docs.integrators")
    async def integrators(self, request: Request[Any, Any, Any], state: State) -> Template:
        settings: Settings = state.settings
        host = settings.app.base_url.rstrip("/") if settings.app.base_url else str(request.base_url).rstrip("/")
        return Template(
            "docs/integrators.html",
            context={
                "host": host,
                "rate_limit": settings.security.platform_rate_limit_per_minute,
                # The OpenAPI routes are Litestar's own (no route names): their path comes from the config.
                "schema_url": request.app.openapi_config.path if request.app.openapi_config else "",
            },
        )
