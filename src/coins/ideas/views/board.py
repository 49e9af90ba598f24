"""The idea board: filters in the query string (a URL is a shareable view), sorting, pages, and the list alone
for htmx (`HX-Target: idea-list`), which refreshes itself when the campaign's live stream says the ranking
changed (route `campaign.live`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest, HTMXTemplate
from litestar.response import Template

from coins.accounts.auth import current_user
from coins.ideas.models import IDEA_STATUSES
from coins.ideas.pages import IdeaPageParts
from coins.ideas.search import SORTS
from coins.ideas.shapes import BOARD_DEFAULT, PAGE_MAX, BoardQuery, IdeaView
from coins.ideas.views.common import LABELS, page_number, parse_int, pending_count
from coins.lib import live
from coins.lib.errors import InvalidInput
from coins.lib.forms import form_errors, url_path
from coins.lib.htmx import wants_fragment
from coins.lib.pages import Page

LIST_TARGET = "idea-list"
FILTER_FORM = "idea-filters"
PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25


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
        if raw.strip() and parse_int(raw.strip()) is None:
            problems[name] = "Enter a whole number."
    size = parse_int(per_page) or DEFAULT_PAGE_SIZE
    filters = BoardFilters(
        tags=tuple(dict.fromkeys(t.strip() for t in tag or () if t.strip())),
        statuses=tuple(dict.fromkeys(s.strip() for s in status or () if s.strip())),
        min_coins=min_coins.strip(),
        max_coins=max_coins.strip(),
        q=" ".join(q.split())[:300],
        sort=sort if sort in SORTS else "coins",
        page=page_number(page),
        per_page=max(1, min(size, PAGE_MAX)),
    )
    return filters, problems


@dataclass(frozen=True)
class BoardRow:
    view: IdeaView
    widget: dict[str, Any]


class IdeaBoardPages(Controller):
    path = "/campaigns/{slug:str}"
    include_in_schema = False

    @get("/ideas", name="ideas")
    async def board(
        self,
        request: HTMXRequest,
        slug: FromPath[str],
        idea_pages: NamedDependency[IdeaPageParts],
        tag: FromQuery[list[str] | None] = None,
        status: FromQuery[list[str] | None] = None,
        min_coins: FromQuery[str] = "",
        max_coins: FromQuery[str] = "",
        q: FromQuery[str] = "",
        sort: FromQuery[str] = "coins",
        page: FromQuery[str] = "1",
        per_page: FromQuery[str] = "",
    ) -> Template:
        pages = idea_pages
        access = await pages.reader.campaign_access(slug, current_user(request))
        filters, errors = parse_filters(tag, status, min_coins, max_coins, q, sort, page, per_page)
        result: Page[IdeaView] = Page(items=[], total=0)
        if not errors:
            try:
                result = await pages.board.board(
                    access,
                    BoardQuery(
                        tags=filters.tags,
                        statuses=filters.statuses,
                        min_coins=parse_int(filters.min_coins),
                        max_coins=parse_int(filters.max_coins),
                        text=filters.q or None,
                        sort=filters.sort,
                        limit=filters.per_page,
                        offset=filters.offset,
                    ),
                )
            except InvalidInput as error:
                errors = form_errors(error)
        controls = await pages.stakes.controls(access, [view.idea for view in result.items])
        base = url_path(request, "ideas", slug=slug)
        context: dict[str, Any] = {
            "campaign": access.campaign,
            "access": access,
            "filters": filters,
            "rows": [BoardRow(view, controls[view.idea.id]) for view in result.items],
            "total": result.total,
            "pages": max(1, -(-result.total // filters.per_page)),
            "base_url": base,
            "list_url": filters.url(base),
            "errors": errors,
            "labels": LABELS,
        }
        status_code = 422 if errors else 200
        if wants_fragment(request, LIST_TARGET):  # a history restore gets the whole page
            # After the filter form, the canonical URL (without empty fields) goes into the history.
            push_url = context["list_url"] if request.htmx.trigger == FILTER_FORM else None
            return HTMXTemplate(
                template_name="ideas/_list.html", context=context, status_code=status_code, push_url=push_url
            )
        context.update(await pages.around(access))
        context.update(
            tags=await pages.tags.of_campaign(access),
            all_statuses=IDEA_STATUSES,
            default_statuses=BOARD_DEFAULT,
            page_sizes=PAGE_SIZES,
            live_url=url_path(request, "campaign.live", {"since": live.now_ms()}, slug=slug),
            pending=await pending_count(pages.board, access),
        )
        return Template("ideas/board.html", context=context, status_code=status_code)
