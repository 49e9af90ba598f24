"""The ideas domain's services, provided to every controller (collected by the app factory).

The board's search backend comes from the process's parts (`state.runtime.idea_search`): the ideas domain
knows only the port (`coins.ideas.search`), the wiring chooses PostgreSQL or OpenSearch.
"""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from coins.campaigns.services.reading import CampaignReader
from coins.campaigns.services.tags import CampaignTags
from coins.ideas.pages import IdeaPageParts, Stakes
from coins.ideas.services.board import IdeaBoard
from coins.ideas.services.editing import IdeaEditing
from coins.ideas.services.reading import IdeaReader
from coins.ideas.services.submission import IdeaSubmission
from coins.ideas.services.workflow import IdeaWorkflow


def provide_reader(db_session: NamedDependency[AsyncSession]) -> IdeaReader:
    return IdeaReader(db_session)


def provide_board(db_session: NamedDependency[AsyncSession], state: State) -> IdeaBoard:
    return IdeaBoard(db_session, state.runtime.idea_search(db_session))


def provide_submission(db_session: NamedDependency[AsyncSession], state: State) -> IdeaSubmission:
    return IdeaSubmission(db_session, state.events)


def provide_editing(db_session: NamedDependency[AsyncSession], state: State) -> IdeaEditing:
    return IdeaEditing(db_session, state.events)


def provide_workflow(db_session: NamedDependency[AsyncSession], state: State) -> IdeaWorkflow:
    return IdeaWorkflow(db_session, state.events)


def provide_page_parts(
    idea_reader: NamedDependency[IdeaReader],
    idea_board: NamedDependency[IdeaBoard],
    campaign_reader: NamedDependency[CampaignReader],
    campaign_tags: NamedDependency[CampaignTags],
    standing: NamedDependency[Stakes],
) -> IdeaPageParts:
    return IdeaPageParts(idea_reader, idea_board, campaign_reader, campaign_tags, standing)


IDEA_DEPENDENCIES = {
    "idea_pages": Provide(provide_page_parts, sync_to_thread=False),
    "idea_reader": Provide(provide_reader, sync_to_thread=False),
    "idea_board": Provide(provide_board, sync_to_thread=False),
    "idea_submission": Provide(provide_submission, sync_to_thread=False),
    "idea_editing": Provide(provide_editing, sync_to_thread=False),
    "idea_workflow": Provide(provide_workflow, sync_to_thread=False),
}
