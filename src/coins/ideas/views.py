"""Idea pages: the board (filters in the query string, htmx partials, live ranking), the idea page with its
workflow buttons, submitting with a live preview and duplicate detection, editing, version history, and the
managers' approval queue.

Every rule lives in `IdeaService`; these handlers parse forms, call it and render.  Forms work without
JavaScript (post, flash, redirect; refusals re-render the page with the message in place).  With htmx the
board's filter form asks for the list alone (`HX-Target: idea-list`), and the list refreshes itself when the
campaign's live stream (`/campaigns/{slug}/live`) says the ranking changed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, ServerSentEvent, Template
from litestar.response.sse import ServerSentEventMessage
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import current_user, login_required, require_user
from coins.campaigns.access import CampaignAccess, CampaignNotFound
from coins.campaigns.services import CampaignService, Page
from coins.campaigns.views import campaign_context
from coins.coins import ledger
from coins.coins.models import CoinAllocation
from coins.coins.services import policy_of
from coins.coins.views import allocation_widget
from coins.ideas.access import IdeaNotFound
from coins.ideas.models import IDEA_STATUSES, Idea
from coins.ideas.services import (
    BOARD_DEFAULT,
    DESCRIPTION_MAX,
    PAGE_MAX,
    TITLE_MAX,
    BoardQuery,
    IdeaChanges,
    IdeaDetail,
    IdeaInput,
    IdeaService,
    IdeaView,
    SimilarIdea,
    clean_title,
)
from coins.lib import live
from coins.lib.errors import AppError, InvalidInput, login_redirect
from coins.lib.forms import form_errors, redirect
from coins.lib.markdown import render_markdown
from coins.lib.sessions import flash
from coins.search.base import SORTS

LIST_TARGET = "idea-list"
FILTER_FORM = "idea-filters"
PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25
HISTORY_PAGE_SIZE = 20
QUEUE_PAGE_SIZE = 25
MERGE_TARGETS_MAX = 500
PREVIEW_MAX = 20_000  # rendered for the preview at most (the service refuses more than 5,000 anyway)

# The live stream: at most one `ranking` event a second per connection, a comment every 15 s so proxies
# and browsers keep the connection, and the browser's reconnection delay.
RANKING_INTERVAL = 1.0
KEEPALIVE_SECONDS = 15.0
RETRY_MS = 2000
# A stream ends after this long and the browser reconnects (with Last-Event-ID, so nothing is missed):
# no stream outlives a deploy or pins a browser to one replica for long.
STREAM_LIFETIME = 300.0

STATUS_LABELS = {
    "pending": "Waiting for approval",
    "competing": "Competing",
    "rejected": "Rejected",
    "accepted": "Accepted",
    "in_progress": "In progress",
    "complete": "Complete",
    "withdrawn": "Withdrawn",
    "merged": "Merged",
}
SORT_LABELS = {
    "coins": "Most coins",
    "supporters": "Most supporters",
    "newest": "Newest",
    "trending": "Trending (coins in the last 7 days)",
}
# Target status -> (button, what the flash says afterwards).
ACTIONS = {
    "competing": ("Approve", "The idea is approved: it competes for coins now."),
    "rejected": ("Reject", "The idea is rejected; its author sees your reason."),
    "accepted": ("Accept", "The idea is accepted: the coins on it are spent."),
    "in_progress": ("Start work", "Work on the idea has started."),
    "complete": ("Mark complete", "The idea is complete."),
    "withdrawn": ("Withdraw my idea", "Your idea is withdrawn."),
    "merged": ("Merge", "The idea is merged; its coins moved with it."),
}
LABELS: dict[str, Any] = {"statuses": STATUS_LABELS, "sorts": SORT_LABELS, "actions": ACTIONS}


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        return None


def _page_number(raw: str | None) -> int:
    number = _int(raw)
    return number if number is not None and number >= 1 else 1


def wants_list(request: Request[Any, Any, Any]) -> bool:
    """An htmx request for the board's list alone (a history restore always gets the whole page)."""
    headers = request.headers
    return (
        bool(headers.get("hx-request"))
        and headers.get("hx-target") == LIST_TARGET
        and not headers.get("hx-history-restore-request")
    )


def board_path(slug: str) -> str:
    return f"/campaigns/{slug}/ideas"


def idea_path(slug: str, idea_id: int) -> str:
    return f"/campaigns/{slug}/ideas/{idea_id}"


@dataclass(frozen=True)
class BoardFilters:
    """The board's filters as they travel in the query string (so a URL is a shareable view)."""

    tags: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    min_coins: str = ""
    max_coins: str = ""
    q: str = ""
    sort: str = "coins"
    page: int = 1
    per_page: int = DEFAULT_PAGE_SIZE

    @property
    def status(self) -> str:
        """The one status the form's select shows ("" for the default set)."""
        return self.statuses[0] if len(self.statuses) == 1 else ""

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def active(self) -> bool:
        return bool(self.tags or self.statuses or self.min_coins or self.max_coins or self.q)

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """Only what differs from the defaults, in a fixed order: one canonical URL per view."""
        chosen = replace(self, **changes) if changes else self
        params = [("tag", tag) for tag in chosen.tags] + [("status", status) for status in chosen.statuses]
        for name in ("min_coins", "max_coins", "q"):
            value = getattr(chosen, name)
            if value:
                params.append((name, value))
        if chosen.sort != "coins":
            params.append(("sort", chosen.sort))
        if chosen.per_page != DEFAULT_PAGE_SIZE:
            params.append(("per_page", str(chosen.per_page)))
        if chosen.page != 1:
            params.append(("page", str(chosen.page)))
        return params

    def url(self, base: str, **changes: Any) -> str:
        query = urlencode(self.params(**changes))
        return f"{base}?{query}" if query else base


def parse_filters(
    tag: list[str] | None,
    status: list[str] | None,
    min_coins: str,
    max_coins: str,
    q: str,
    sort: str,
    page: str,
    per_page: str,
) -> tuple[BoardFilters, dict[str, str]]:
    problems: dict[str, str] = {}
    for name, raw in (("min_coins", min_coins), ("max_coins", max_coins)):
        if raw.strip() and _int(raw.strip()) is None:
            problems[name] = "Enter a whole number."
    size = _int(per_page) or DEFAULT_PAGE_SIZE
    filters = BoardFilters(
        tags=tuple(dict.fromkeys(t.strip() for t in tag or () if t.strip())),
        statuses=tuple(dict.fromkeys(s.strip() for s in status or () if s.strip())),
        min_coins=min_coins.strip(),
        max_coins=max_coins.strip(),
        q=" ".join(q.split())[:300],
        sort=sort if sort in SORTS else "coins",
        page=_page_number(page),
        per_page=max(1, min(size, PAGE_MAX)),
    )
    return filters, problems


@dataclass(frozen=True)
class BoardRow:
    view: IdeaView
    widget: dict[str, Any]


async def allocation_widgets(
    db: AsyncSession, access: CampaignAccess, views: list[IdeaView]
) -> dict[int, dict[str, Any]]:
    """`coins.coins.views.allocation_widget` for a whole page of ideas, with one query instead of one per row.

    The ideas are already loaded; only the viewer's own coins on them are read.
    """
    viewer = access.viewer
    mine: dict[int, int] = {}
    if viewer is not None and access.is_member and views:
        rows = await db.execute(
            select(CoinAllocation.idea_id, CoinAllocation.coins).where(
                CoinAllocation.user_id == viewer.id, CoinAllocation.idea_id.in_([v.idea.id for v in views])
            )
        )
        mine = {row[0]: row[1] for row in rows}
    pricing = policy_of(access.campaign).pricing
    widgets: dict[int, dict[str, Any]] = {}
    for view in views:
        idea = view.idea
        coins = mine.get(idea.id, 0)
        votes = ledger.votes_for(coins, pricing)
        widgets[idea.id] = {
            "idea": idea,
            "my_coins": coins,
            "my_votes": votes,
            "next_vote_cost": ledger.cost_of_votes(votes + 1, pricing) - coins,
            "can_allocate": access.is_member and access.campaign.status == "active" and idea.status == "competing",
        }
    return widgets


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


async def _tag_ids(request: Request[Any, Any, Any]) -> tuple[list[UUID], str | None]:
    form = await request.form()
    ids: list[UUID] = []
    for raw in form.getall("tag_ids") if "tag_ids" in form else []:
        try:
            ids.append(UUID(str(raw)))
        except ValueError:
            return [], "Choose tags from the list."
    return ids, None


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


class IdeaPages(Controller):
    path = "/campaigns/{slug:str}"
    include_in_schema = False

    # The board ---------------------------------------------------------------------------------------------

    @get("/ideas", name="ideas")
    async def board(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        ideas: NamedDependency[IdeaService],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
        tag: FromQuery[list[str] | None] = None,
        status: FromQuery[list[str] | None] = None,
        min_coins: FromQuery[str] = "",
        max_coins: FromQuery[str] = "",
        q: FromQuery[str] = "",
        sort: FromQuery[str] = "coins",
        page: FromQuery[str] = "1",
        per_page: FromQuery[str] = "",
    ) -> Template:
        access = await ideas.campaign_access(slug, current_user(request))
        filters, errors = parse_filters(tag, status, min_coins, max_coins, q, sort, page, per_page)
        result: Page[IdeaView] = Page(items=[], total=0)
        if not errors:
            try:
                result = await ideas.board(
                    access,
                    BoardQuery(
                        tags=filters.tags,
                        statuses=filters.statuses,
                        min_coins=_int(filters.min_coins),
                        max_coins=_int(filters.max_coins),
                        text=filters.q or None,
                        sort=filters.sort,
                        limit=filters.per_page,
                        offset=filters.offset,
                    ),
                )
            except InvalidInput as error:
                errors = form_errors(error)
        widgets = await allocation_widgets(db_session, access, result.items)
        base = board_path(slug)
        context: dict[str, Any] = {
            "campaign": access.campaign,
            "access": access,
            "filters": filters,
            "rows": [BoardRow(view, widgets[view.idea.id]) for view in result.items],
            "total": result.total,
            "pages": max(1, -(-result.total // filters.per_page)),
            "base_url": base,
            "list_url": filters.url(base),
            "errors": errors,
            "labels": LABELS,
        }
        status_code = 422 if errors else 200
        headers = {"Vary": "HX-Request, HX-Target"}
        if wants_list(request):
            if request.headers.get("hx-trigger") == FILTER_FORM:
                headers["HX-Push-Url"] = context["list_url"]  # the canonical URL, without empty fields
            return Template("ideas/_list.html", context=context, headers=headers, status_code=status_code)
        context.update(await campaign_context(access, campaigns, db_session))
        context.update(
            tags=await campaigns.tags(access),
            all_statuses=IDEA_STATUSES,
            default_statuses=BOARD_DEFAULT,
            page_sizes=PAGE_SIZES,
            live_url=f"/campaigns/{slug}/live?since={live.now_ms()}",
            pending=await _pending_count(ideas, access),
        )
        return Template("ideas/board.html", context=context, headers=headers, status_code=status_code)

    # Live ranking -------------------------------------------------------------------------------------------

    @get("/live", name="campaign.live")
    async def live_ranking(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        ideas: NamedDependency[IdeaService],
        since: FromQuery[str] = "",
    ) -> ServerSentEvent:
        """`event: ranking` whenever the campaign's ideas change (at most once a second), for the board.

        Whoever may see the board may listen.  The events carry no data: the board re-reads itself with its
        own filters and permissions.  Each event's id is the change's time, so a browser that reconnects
        (it sends Last-Event-ID) hears at once of a change it missed meanwhile.
        """
        access = await ideas.campaign_access(slug, current_user(request))
        hub: live.TopicHub = request.app.state.live_hub
        valkey = request.app.state.valkey
        topic = live.campaign_topic(access.campaign.id)
        seen = max(_int(since) or 0, _int(request.headers.get("last-event-id")) or 0)

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + STREAM_LIFETIME
            sent_at = -RANKING_INTERVAL
            async with hub.listen(topic) as changes:
                # Say so once this process listens: from then on no change is missed.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(2.0):
                        await hub.wait_connected()
                yield ServerSentEventMessage(comment="listening", data=None)
                # Anything since the page was rendered, or since the last event this browser saw?
                latest = await live.last_change(valkey, topic) if seen else 0
                pending = latest > seen
                while (left := deadline - loop.time()) > 0:
                    if pending and loop.time() - sent_at >= RANKING_INTERVAL:
                        yield ServerSentEventMessage(event="ranking", data="changed", id=latest or live.now_ms())
                        sent_at, pending = loop.time(), False
                        continue
                    wait = sent_at + RANKING_INTERVAL - loop.time() if pending else KEEPALIVE_SECONDS
                    try:
                        change = await asyncio.wait_for(changes.get(), timeout=max(0.0, min(wait, left)))
                    except TimeoutError:
                        if not pending:
                            yield ServerSentEventMessage(comment="keep-alive", data=None)
                        continue
                    if change is None:  # the process is shutting down: end cleanly, the browser reconnects
                        return
                    latest, pending = max(latest, change.stamp), True

        return ServerSentEvent(
            stream(),
            retry_duration=RETRY_MS,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # Submitting --------------------------------------------------------------------------------------------

    @get("/ideas/new", name="ideas.new", guards=[login_required])
    async def new(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        ideas: NamedDependency[IdeaService],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template:
        access = await ideas.campaign_access(slug, require_user(request))
        return await self._new_page(access, campaigns, db_session)

    async def _new_page(
        self,
        access: CampaignAccess,
        campaigns: CampaignService,
        db: AsyncSession,
        *,
        values: dict[str, str] | None = None,
        chosen: list[UUID] | None = None,
        errors: dict[str, str] | None = None,
        similar: list[SimilarIdea] | None = None,
        status_code: int = 200,
    ) -> Template:
        context = await campaign_context(access, campaigns, db)
        context.update(
            values=values or {},
            chosen=[str(tag_id) for tag_id in chosen or []],
            errors=errors or {},
            similar=similar or [],
            duplicate_warning=bool(similar),
            tags=await campaigns.tags(access, include_retired=False),
            title_max=TITLE_MAX,
            description_max=DESCRIPTION_MAX,
            preview_html=render_markdown(values["description"]) if values and values.get("description") else "",
            labels=LABELS,
        )
        return Template("ideas/new.html", context=context, status_code=status_code, headers={"Vary": "HX-Request"})

    @post("/ideas/new", name="ideas.create", guards=[login_required])
    async def create(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        ideas: NamedDependency[IdeaService],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template | Redirect:
        viewer = require_user(request)
        access = await ideas.campaign_access(slug, viewer)
        values = await _form(request)
        tag_ids, tag_problem = await _tag_ids(request)
        title, description = values.get("title", ""), values.get("description", "")
        if tag_problem:
            return await self._new_page(
                access, campaigns, db_session, values=values, errors={"tag_ids": tag_problem}, status_code=422
            )
        # Similar ideas first: the member may rather back one of them (SPEC.md "Ideas").  The warning is
        # shown once; the form then carries confirm_duplicate=1.
        if values.get("confirm_duplicate") != "1" and clean_title(title) and description.strip():
            similar = await ideas.similar(access, title)
            if similar:
                return await self._new_page(
                    access, campaigns, db_session, values=values, chosen=tag_ids, similar=similar, status_code=422
                )
        try:
            view = await ideas.submit(
                access, IdeaInput(title=title, description=description, tag_ids=tag_ids), source="web"
            )
        except AppError as error:
            if error.status_code == 404:
                raise
            access = await ideas.campaign_access(slug, viewer)
            return await self._new_page(
                access, campaigns, db_session, values=values, chosen=tag_ids, errors=form_errors(error), status_code=422
            )
        if view.idea.status == "pending":
            flash(request, "Thank you! Your idea is waiting for approval by a manager; it competes once approved.")
        else:
            flash(request, "Thank you! Your idea is submitted and competing for coins.", "success")
        return redirect(idea_path(slug, view.idea.id))

    @get("/ideas/similar", name="ideas.similar")
    async def similar(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        ideas: NamedDependency[IdeaService],
        title: FromQuery[str] = "",
    ) -> Template:
        """Ideas like the title being typed (the submit form asks as you type, debounced)."""
        access = await ideas.campaign_access(slug, current_user(request))
        found = await ideas.similar(access, title[: TITLE_MAX * 2])
        return Template(
            "ideas/_similar.html",
            context={"similar": found, "campaign": access.campaign, "access": access, "labels": LABELS,
                     "duplicate_warning": False},
            headers={"Vary": "HX-Request", "Cache-Control": "no-store"},
        )  # fmt: skip

    @post("/ideas/preview", name="ideas.preview", guards=[login_required])
    async def preview(
        self, request: Request[Any, Any, Any], slug: FromPath[str], ideas: NamedDependency[IdeaService]
    ) -> Template:
        """The description as it will look: the same renderer and sanitiser as the saved idea."""
        await ideas.campaign_access(slug, require_user(request))
        source = (await _form(request)).get("description", "")
        return Template(
            "ideas/_preview.html",
            context={"preview_html": render_markdown(source[:PREVIEW_MAX]), "too_long": len(source) > DESCRIPTION_MAX,
                     "description_max": DESCRIPTION_MAX},
            headers={"Vary": "HX-Request", "Cache-Control": "no-store"},
        )  # fmt: skip

    # The approval queue (managers) -------------------------------------------------------------------------

    @get("/ideas/queue", name="ideas.queue", guards=[login_required])
    async def queue(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        ideas: NamedDependency[IdeaService],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
        page: FromQuery[str] = "1",
    ) -> Template:
        access = (await ideas.campaign_access(slug, require_user(request))).require_manage()
        return await self._queue_page(access, ideas, campaigns, db_session, _page_number(page))

    async def _queue_page(
        self,
        access: CampaignAccess,
        ideas: IdeaService,
        campaigns: CampaignService,
        db: AsyncSession,
        page: int,
        *,
        failed: int | None = None,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        result = await ideas.board(
            access,
            BoardQuery(statuses=["pending"], sort="newest", limit=QUEUE_PAGE_SIZE, offset=(page - 1) * QUEUE_PAGE_SIZE),
        )
        context = await campaign_context(access, campaigns, db)
        context.update(
            rows=result.items,
            total=result.total,
            page=page,
            pages=max(1, -(-result.total // QUEUE_PAGE_SIZE)),
            failed=failed,
            errors=errors or {},
            values=values or {},
            labels=LABELS,
        )
        return Template("ideas/queue.html", context=context, status_code=status_code, headers={"Vary": "HX-Request"})

    # One idea ----------------------------------------------------------------------------------------------

    @get("/ideas/{idea_id:int}", name="idea")
    async def idea(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_id: FromPath[int],
        ideas: NamedDependency[IdeaService],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template | Redirect | Response[Any]:
        viewer = current_user(request)
        try:
            access = await ideas.campaign_access(slug, viewer)
            detail = await ideas.get(idea_id, viewer)
        except (CampaignNotFound, IdeaNotFound):
            if viewer is None:
                # A shared link to a closed campaign (or a private idea): log in, then come back.  Every
                # missing idea answers the same way, so this tells a visitor nothing.
                return login_redirect(request)
            raise
        if detail.view.campaign_slug != slug:
            return redirect(idea_path(detail.view.campaign_slug, idea_id))
        return await self._idea_page(access, detail, campaigns, db_session)

    async def _idea_page(
        self,
        access: CampaignAccess,
        detail: IdeaDetail,
        campaigns: CampaignService,
        db: AsyncSession,
        *,
        action_errors: dict[str, str] | None = None,
        action: str = "",
        values: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        idea = detail.view.idea
        context = await campaign_context(access, campaigns, db)
        widget = await allocation_widget(db, access, idea.id)
        merge_targets: list[Any] = []
        if "merged" in detail.allowed_statuses:
            merge_targets = list(
                await db.execute(
                    select(Idea.id, Idea.title)
                    .where(Idea.campaign_id == idea.campaign_id, Idea.status == "competing", Idea.id != idea.id)
                    .order_by(Idea.coins.desc(), Idea.id)
                    .limit(MERGE_TARGETS_MAX)
                )
            )
        context.update(widget)
        context.update(
            detail=detail,
            view=detail.view,
            idea=idea,
            is_author=access.viewer is not None and idea.author_id == access.viewer.id,
            merge_targets=merge_targets,
            action_errors=action_errors or {},
            failed_action=action,
            values=values or {},
            share_path=idea_path(detail.view.campaign_slug, idea.id),
            labels=LABELS,
        )
        return Template("ideas/idea.html", context=context, status_code=status_code, headers={"Vary": "HX-Request"})

    @post("/ideas/{idea_id:int}/status", name="idea.status", guards=[login_required])
    async def change_status(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_id: FromPath[int],
        ideas: NamedDependency[IdeaService],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template | Redirect:
        """Approve, reject, accept, start, complete, merge (managers) or withdraw (the author)."""
        viewer = require_user(request)
        access = await ideas.campaign_access(slug, viewer)
        values = await _form(request)
        target = values.get("status", "")
        from_queue = values.get("from") == "queue"
        merged_into = _int(values.get("merged_into"))
        try:
            if values.get("merged_into") and merged_into is None:
                raise InvalidInput("Choose the idea to merge this one into.", fields={"merged_into": "Choose an idea."})
            view = await ideas.change_status(
                idea_id, viewer, target, reason=values.get("reason", ""), merged_into=merged_into
            )
        except AppError as error:
            if error.status_code == 404:
                raise
            # The refusal goes where the button was, with the page around it as it is now.
            access = await ideas.campaign_access(slug, viewer)
            code = error.status_code if 400 <= error.status_code < 500 else 422
            if from_queue:
                return await self._queue_page(
                    access, ideas, campaigns, db_session, _page_number(values.get("page")),
                    failed=idea_id, errors=form_errors(error), values=values, status_code=code,
                )  # fmt: skip
            detail = await ideas.get(idea_id, viewer)
            return await self._idea_page(
                access, detail, campaigns, db_session,
                action_errors=form_errors(error), action=target, values=values, status_code=code,
            )  # fmt: skip
        flash(request, ACTIONS[target][1] if target in ACTIONS else "Saved.", "success")
        if from_queue:
            return redirect(f"/campaigns/{slug}/ideas/queue")
        return redirect(idea_path(slug, view.idea.id))

    # Editing -----------------------------------------------------------------------------------------------

    @get("/ideas/{idea_id:int}/edit", name="idea.edit", guards=[login_required])
    async def edit(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_id: FromPath[int],
        ideas: NamedDependency[IdeaService],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template:
        viewer = require_user(request)
        access = await ideas.campaign_access(slug, viewer)
        idea_access = await ideas.idea_access(idea_id, viewer)
        if idea_access.idea.campaign_id != access.campaign.id:
            raise IdeaNotFound()
        idea_access.check_edit(set())  # the refusal, with its reason, before anyone types anything
        view = await ideas.view(idea_id, viewer)
        values = {
            "title": view.idea.title,
            "description": view.idea.description,
            "context_id": view.idea.context_id or "",
        }
        return await self._edit_page(
            access, view, campaigns, db_session, values=values, chosen=[str(t.id) for t in view.tags]
        )

    async def _edit_page(
        self,
        access: CampaignAccess,
        view: IdeaView,
        campaigns: CampaignService,
        db: AsyncSession,
        *,
        values: dict[str, str],
        chosen: list[str],
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        context = await campaign_context(access, campaigns, db)
        current = {tag.id for tag in view.tags}
        # Active tags, and retired ones the idea already carries (they may stay, not be added).
        tags = [tag for tag in await campaigns.tags(access) if tag.is_active or tag.id in current]
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
        return Template("ideas/edit.html", context=context, status_code=status_code, headers={"Vary": "HX-Request"})

    @post("/ideas/{idea_id:int}/edit", name="idea.save", guards=[login_required])
    async def save(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_id: FromPath[int],
        ideas: NamedDependency[IdeaService],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
    ) -> Template | Redirect:
        viewer = require_user(request)
        access = await ideas.campaign_access(slug, viewer)
        values = await _form(request)
        tag_ids, tag_problem = await _tag_ids(request)
        moderator = access.is_manager or access.is_admin
        try:
            if tag_problem:
                raise InvalidInput("Please correct the highlighted fields.", fields={"tag_ids": tag_problem})
            before = await ideas.view(idea_id, viewer)
            if before.idea.campaign_id != access.campaign.id:
                raise IdeaNotFound()
            await ideas.edit(
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
            access = await ideas.campaign_access(slug, viewer)
            view = await ideas.view(idea_id, viewer)
            return await self._edit_page(
                access, view, campaigns, db_session, values=values, chosen=[str(t) for t in tag_ids],
                errors=form_errors(error), status_code=422 if error.status_code < 500 else error.status_code,
            )  # fmt: skip
        flash(request, "Your changes are saved.", "success")
        return redirect(idea_path(slug, idea_id))

    @get("/ideas/{idea_id:int}/history", name="idea.history")
    async def history(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_id: FromPath[int],
        ideas: NamedDependency[IdeaService],
        campaigns: NamedDependency[CampaignService],
        db_session: NamedDependency[AsyncSession],
        page: FromQuery[str] = "1",
    ) -> Template:
        """Every version, newest first, each with what changed and a diff against the one before."""
        viewer = current_user(request)
        access = await ideas.campaign_access(slug, viewer)
        view = await ideas.view(idea_id, viewer)
        if view.idea.campaign_id != access.campaign.id:
            raise IdeaNotFound()
        number = _page_number(page)
        total = (await ideas.versions(idea_id, viewer, limit=1)).total
        # Newest first: the page's slice counted from the end of the oldest-first list.
        end = max(total - (number - 1) * HISTORY_PAGE_SIZE, 0)
        start = max(end - HISTORY_PAGE_SIZE, 0)
        entries = []
        if end > start:
            entries = (await ideas.versions(idea_id, viewer, limit=end - start, offset=start)).items
        newest = entries[::-1]
        context = await campaign_context(access, campaigns, db_session)
        context.update(
            view=view,
            idea=view.idea,
            versions=[(entry, {name: diff_lines(text) for name, text in entry.diff.items()}) for entry in newest],
            total=total,
            page=number,
            pages=max(1, -(-total // HISTORY_PAGE_SIZE)),
            labels=LABELS,
        )  # fmt: skip
        return Template("ideas/history.html", context=context, headers={"Vary": "HX-Request"})


class IdeaLinks(Controller):
    """Short links to ideas (`/ideas/{id}`, used by notifications): to the idea's page in its campaign."""

    path = "/ideas"
    include_in_schema = False

    @get("/{idea_id:int}", name="idea.link")
    async def link(
        self, request: Request[Any, Any, Any], idea_id: FromPath[int], ideas: NamedDependency[IdeaService]
    ) -> Redirect | Response[Any]:
        viewer = current_user(request)
        try:
            view = await ideas.view(idea_id, viewer)
        except IdeaNotFound:
            if viewer is None:
                return login_redirect(request)
            raise
        return redirect(idea_path(view.campaign_slug, idea_id))


async def _pending_count(ideas: IdeaService, access: CampaignAccess) -> int | None:
    """How many ideas wait for approval (managers of mediated campaigns; None for everyone else)."""
    if not access.can_manage or access.campaign.campaign_type != "mediated":
        return None
    return (await ideas.board(access, BoardQuery(statuses=["pending"], limit=1))).total
