"""The ideas part of the JSON API: submit, list and search a campaign's ideas; read, edit and move one."""

from __future__ import annotations

import html
from typing import Annotated, Any, Literal, cast
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from coins.accounts.auth import current_user, login_required, require_user
from coins.ideas import shapes
from coins.ideas.schemas import (
    IdeaCreate,
    IdeaDetailRead,
    IdeaList,
    IdeaPatch,
    IdeaRead,
    IdeaRef,
    IdeaStatus,
    PersonRef,
    SimilarList,
    SimilarRead,
    StatusChangeRead,
    StatusChangeRequest,
    TagRef,
    VersionList,
    VersionRead,
    VersionSummary,
)
from coins.ideas.services.board import IdeaBoard
from coins.ideas.services.editing import IdeaEditing
from coins.ideas.services.reading import IdeaReader
from coins.ideas.services.submission import IdeaSubmission
from coins.ideas.services.workflow import IdeaWorkflow
from coins.ideas.shapes import BoardQuery, IdeaChanges, IdeaDetail, IdeaInput, IdeaView

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (at most 100)")]
Offset = Annotated[int, QueryParameter(ge=0)]
Coins = Annotated[int | None, QueryParameter(ge=0)]


def person(user_id: UUID | None, name: str | None) -> PersonRef | None:
    return PersonRef(id=user_id, name=name) if user_id is not None or name is not None else None


def idea_fields(view: IdeaView) -> dict[str, Any]:
    idea = view.idea
    return {
        "id": idea.id,
        "campaign_slug": view.campaign_slug,
        "title": idea.title,
        "title_html": html.escape(idea.title),
        "description": idea.description,
        "description_html": idea.description_html,
        "status": idea.status,
        "coins": idea.coins,
        "supporters": idea.supporters,
        "tags": [TagRef(id=t.id, name=t.name, colour=t.colour, is_active=t.is_active) for t in view.tags],
        "author": person(idea.author_id, view.author_name),
        "context_id": idea.context_id,
        "source": idea.source,
        "rejection_reason": idea.rejection_reason,
        "merged_into_id": idea.merged_into_id,
        "created_at": idea.created_at,
        "updated_at": idea.updated_at,
        "status_changed_at": idea.status_changed_at,
    }


def idea_ref(ref: shapes.IdeaRef) -> IdeaRef:
    return IdeaRef(id=ref.id, title=ref.title, status=cast("IdeaStatus", ref.status))


def idea_read(view: IdeaView) -> IdeaRead:
    return IdeaRead(**idea_fields(view))


def idea_detail(detail: IdeaDetail) -> IdeaDetailRead:
    return IdeaDetailRead(
        **idea_fields(detail.view),
        status_history=[
            StatusChangeRead(
                from_status=entry.from_status,  # type: ignore[arg-type]
                to_status=entry.to_status,  # type: ignore[arg-type]
                actor=person(entry.actor_id, entry.actor_name),
                reason=entry.reason,
                details=entry.details,
                created_at=entry.created_at,
            )
            for entry in detail.history
        ],
        versions=[
            VersionSummary(
                number=v.number,
                editor=person(v.editor_id, v.editor_name),
                created_at=v.created_at,
                changed=v.changed,
            )
            for v in detail.versions
        ],
        merged_into=idea_ref(detail.merged_into) if detail.merged_into else None,
        merged_from=[idea_ref(r) for r in detail.merged_from],
        can_edit=detail.can_edit,
        allowed_statuses=detail.allowed_statuses,  # type: ignore[arg-type]
    )


class CampaignIdeaApiController(Controller):
    path = "/api/campaigns/{slug:str}/ideas"
    tags = ["ideas"]

    @get("/", summary="The campaign's ideas: filter, search, sort, paginate")
    async def list_ideas(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_board: NamedDependency[IdeaBoard],
        idea_reader: NamedDependency[IdeaReader],
        tag: Annotated[
            list[str] | None, QueryParameter(description="Tag id or name; repeat for ideas with all of them")
        ] = None,
        status: Annotated[
            list[str] | None,
            QueryParameter(description="Repeatable; default competing, accepted, in_progress, complete"),
        ] = None,
        min_coins: Coins = None,
        max_coins: Coins = None,
        q: Annotated[str | None, QueryParameter(max_length=300, description='Words, "a phrase", -not')] = None,
        sort: Annotated[
            Literal["coins", "supporters", "newest", "trending"],
            QueryParameter(description="trending: coins put on it in the last 7 days"),
        ] = "coins",
        context_id: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> IdeaList:
        access = await idea_reader.campaign_access(slug, current_user(request))
        page = await idea_board.board(
            access,
            BoardQuery(
                tags=tag or [],
                statuses=status or [],
                min_coins=min_coins,
                max_coins=max_coins,
                text=q,
                sort=sort,
                limit=limit,
                offset=offset,
                context_id=context_id,
            ),
        )
        return IdeaList(items=[idea_read(v) for v in page.items], total=page.total, limit=limit, offset=offset)

    @post("/", status_code=HTTP_201_CREATED, guards=[login_required], summary="Submit an idea (members)")
    async def submit(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        data: JSONBody[IdeaCreate],
        idea_reader: NamedDependency[IdeaReader],
        idea_submission: NamedDependency[IdeaSubmission],
    ) -> IdeaRead:
        access = await idea_reader.campaign_access(slug, require_user(request))
        view = await idea_submission.submit(
            access,
            IdeaInput(
                title=data.title,
                description=data.description,
                tag_ids=data.tag_ids,
                context_id=data.context_id,
            ),
            source="api",
        )
        return idea_read(view)

    @get("/similar", summary="Ideas that look like a title being typed, best first, with a 0-1 score")
    async def similar(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        idea_reader: NamedDependency[IdeaReader],
        idea_board: NamedDependency[IdeaBoard],
        title: Annotated[str, QueryParameter(max_length=300)],
        limit: Annotated[int, QueryParameter(ge=1, le=20)] = 5,
    ) -> SimilarList:
        access = await idea_reader.campaign_access(slug, current_user(request))
        found = await idea_board.similar(access, title, limit=limit)
        return SimilarList(
            items=[
                SimilarRead(
                    id=s.id,
                    title=s.title,
                    status=cast("IdeaStatus", s.status),
                    coins=s.coins,
                    supporters=s.supporters,
                    score=s.score,
                )
                for s in found
            ],
            total=len(found),
            limit=limit,
            offset=0,
        )


class IdeaApiController(Controller):
    path = "/api/ideas"
    tags = ["ideas"]

    @get("/{idea_id:int}", summary="One idea with its tags, status history, versions and merge links")
    async def get_idea(
        self, request: Request[Any, Any, Any], idea_id: FromPath[int], idea_reader: NamedDependency[IdeaReader]
    ) -> IdeaDetailRead:
        return idea_detail(await idea_reader.get(idea_id, current_user(request)))

    @patch(
        "/{idea_id:int}",
        guards=[login_required],
        summary="Edit (author while pending or competing; managers any time until merged)",
    )
    async def edit_idea(
        self,
        request: Request[Any, Any, Any],
        idea_id: FromPath[int],
        data: JSONBody[IdeaPatch],
        idea_editing: NamedDependency[IdeaEditing],
    ) -> IdeaRead:
        context_given = data.context_id is not msgspec.UNSET
        view = await idea_editing.edit(
            idea_id,
            require_user(request),
            IdeaChanges(
                title=data.title,
                description=data.description,
                tag_ids=data.tag_ids,
                context_id=data.context_id if isinstance(data.context_id, str) else None,
                clear_context=context_given and data.context_id is None,
            ),
        )
        return idea_read(view)

    @post(
        "/{idea_id:int}/status",
        status_code=HTTP_200_OK,
        guards=[login_required],
        summary="Move an idea along its workflow (approve, reject, accept, start, complete, withdraw, merge)",
    )
    async def change_status(
        self,
        request: Request[Any, Any, Any],
        idea_id: FromPath[int],
        data: JSONBody[StatusChangeRequest],
        idea_workflow: NamedDependency[IdeaWorkflow],
    ) -> IdeaRead:
        view = await idea_workflow.change_status(
            idea_id, require_user(request), data.status, reason=data.reason, merged_into=data.merged_into
        )
        return idea_read(view)

    @get("/{idea_id:int}/versions", summary="Every version, oldest first, with a diff against the one before")
    async def versions(
        self,
        request: Request[Any, Any, Any],
        idea_id: FromPath[int],
        idea_reader: NamedDependency[IdeaReader],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> VersionList:
        page = await idea_reader.versions(idea_id, current_user(request), limit=limit, offset=offset)
        return VersionList(
            items=[
                VersionRead(
                    number=v.number,
                    editor=person(v.editor_id, v.editor_name),
                    created_at=v.created_at,
                    title=v.title,
                    description=v.description,
                    tags=v.tag_names,
                    changed=v.changed,
                    diff=v.diff,
                )
                for v in page.items
            ],
            total=page.total,
            limit=limit,
            offset=offset,
        )
