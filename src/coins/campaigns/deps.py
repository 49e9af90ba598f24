"""The campaigns domain's services, provided to every controller (collected by the app factory)."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from coins.campaigns.page import CampaignPageParts, Standing
from coins.campaigns.services.configuration import CampaignConfiguration
from coins.campaigns.services.invitations import Invitations
from coins.campaigns.services.lifecycle import CampaignLifecycle
from coins.campaigns.services.membership import Membership
from coins.campaigns.services.reading import CampaignReader
from coins.campaigns.services.tags import CampaignTags


def provide_campaign_reader(db_session: NamedDependency[AsyncSession]) -> CampaignReader:
    return CampaignReader(db_session)


def provide_invitations(db_session: NamedDependency[AsyncSession], state: State) -> Invitations:
    return Invitations(db_session, state.events, links=state.runtime.links)


def provide_configuration(db_session: NamedDependency[AsyncSession], state: State) -> CampaignConfiguration:
    return CampaignConfiguration(db_session, state.events, provide_invitations(db_session, state))


def provide_lifecycle(db_session: NamedDependency[AsyncSession], state: State) -> CampaignLifecycle:
    return CampaignLifecycle(db_session, state.events)


def provide_membership(db_session: NamedDependency[AsyncSession], state: State) -> Membership:
    return Membership(db_session, state.events)


def provide_tags(db_session: NamedDependency[AsyncSession], state: State) -> CampaignTags:
    return CampaignTags(db_session, state.events)


def provide_page_parts(
    campaign_reader: NamedDependency[CampaignReader],
    campaign_tags: NamedDependency[CampaignTags],
    standing: NamedDependency[Standing],
) -> CampaignPageParts:
    return CampaignPageParts(campaign_reader, campaign_tags, standing)


CAMPAIGN_DEPENDENCIES = {
    # Pages inside a campaign (of any domain): the campaign, its tags and the viewer's coins (`standing` comes
    # from the coins domain).
    "campaign_pages": Provide(provide_page_parts, sync_to_thread=False),
    "campaign_reader": Provide(provide_campaign_reader, sync_to_thread=False),
    "campaign_configuration": Provide(provide_configuration, sync_to_thread=False),
    "campaign_lifecycle": Provide(provide_lifecycle, sync_to_thread=False),
    "membership": Provide(provide_membership, sync_to_thread=False),
    "invitations": Provide(provide_invitations, sync_to_thread=False),
    "campaign_tags": Provide(provide_tags, sync_to_thread=False),
}
