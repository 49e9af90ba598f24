"""The analytics domain's services, provided to every controller (collected by `coins.routes`)."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from coins.analytics.exports import Exports
from coins.analytics.services.campaign_dashboard import CampaignDashboards
from coins.analytics.services.executive_dashboard import ExecutiveDashboards
from coins.analytics.services.outcomes import Outcomes


def provide_campaign_dashboards(db_session: NamedDependency[AsyncSession]) -> CampaignDashboards:
    return CampaignDashboards(db_session)


def provide_outcomes(db_session: NamedDependency[AsyncSession]) -> Outcomes:
    return Outcomes(db_session)


def provide_executive_dashboards(
    db_session: NamedDependency[AsyncSession], outcomes: NamedDependency[Outcomes]
) -> ExecutiveDashboards:
    return ExecutiveDashboards(db_session, outcomes)


def provide_exports(
    db_session: NamedDependency[AsyncSession],
    state: State,
    campaign_dashboards: NamedDependency[CampaignDashboards],
) -> Exports:
    # The engine is the app's (set up by its lifespan): CSV exports stream on connections of their own.
    return Exports(db_session, state.db_engine, campaign_dashboards)


ANALYTICS_DEPENDENCIES = {
    "campaign_dashboards": Provide(provide_campaign_dashboards, sync_to_thread=False),
    "executive_dashboards": Provide(provide_executive_dashboards, sync_to_thread=False),
    "outcomes": Provide(provide_outcomes, sync_to_thread=False),
    "analytics_exports": Provide(provide_exports, sync_to_thread=False),
}
