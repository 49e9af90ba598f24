"""Every route of the application and what its handlers are given, in one place.

The app factory registers these; `route_reverser` builds the same route table (without middleware, plugins or
state) for processes that serve no requests but send links: the worker and the command line.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import CacheControlHeader, State
from litestar.di import Provide
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from coins.accounts.api import AuthApiController
from coins.accounts.deps import ACCOUNT_DEPENDENCIES
from coins.accounts.views import AccountPages
from coins.admin.api import AdminApiController
from coins.admin.deps import ADMIN_DEPENDENCIES
from coins.admin.views import AdminPages
from coins.analytics.api import AnalyticsApiController
from coins.analytics.deps import ANALYTICS_DEPENDENCIES
from coins.analytics.views import CampaignAnalyticsPages, DashboardPages, SystemPages
from coins.campaigns.api.campaigns import CampaignApiController
from coins.campaigns.api.invitations import InvitationApiController
from coins.campaigns.api.members import CampaignMemberApiController
from coins.campaigns.api.tags import CampaignTagApiController
from coins.campaigns.deps import CAMPAIGN_DEPENDENCIES
from coins.campaigns.views.configure import CampaignSettingsPages
from coins.campaigns.views.home import CampaignHomePages
from coins.campaigns.views.invitations import InvitationPages
from coins.campaigns.views.listing import CampaignListPages
from coins.campaigns.views.members import CampaignMemberPages
from coins.campaigns.views.tags import CampaignTagPages
from coins.coins.api import CoinApiController
from coins.coins.deps import COIN_DEPENDENCIES
from coins.coins.views import CoinPages
from coins.home.views import HomePages
from coins.ideas.api import CampaignIdeaApiController, IdeaApiController
from coins.ideas.deps import IDEA_DEPENDENCIES
from coins.ideas.views.board import IdeaBoardPages
from coins.ideas.views.detail import IdeaDetailPages, IdeaLinks
from coins.ideas.views.edit import IdeaEditPages
from coins.ideas.views.live import LiveRankingPages
from coins.ideas.views.queue import ApprovalQueuePages
from coins.ideas.views.submit import IdeaSubmitPages
from coins.lib.health import HealthController
from coins.lib.htmx import HTMXPagesPlugin
from coins.lib.links import Links, Reverse
from coins.notifications.api import NotificationApiController
from coins.notifications.deps import NOTIFICATION_DEPENDENCIES
from coins.notifications.views import NotificationPages
from coins.platforms.api.permalinks import ContextApiController, PermalinkApiController
from coins.platforms.api.registry import PlatformAdminApiController
from coins.platforms.api.webhooks import WebhookApiController
from coins.platforms.deps import PLATFORM_DEPENDENCIES
from coins.platforms.views.admin import PlatformAdminPages
from coins.platforms.views.campaign_permalinks import CampaignPermalinkPages
from coins.platforms.views.docs import IntegratorDocs
from coins.platforms.views.permalinks import PermalinkPages
from coins.settings import Settings


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_links(state: State) -> Links:
    """Absolute links by route name, for what leaves the request: flash messages, API bodies, emails."""
    links: Links = state.runtime.links
    return links


DEPENDENCIES = {
    "settings": Provide(provide_settings, sync_to_thread=False),
    "links": Provide(provide_links, sync_to_thread=False),
    **ACCOUNT_DEPENDENCIES,
    **CAMPAIGN_DEPENDENCIES,
    **IDEA_DEPENDENCIES,
    **COIN_DEPENDENCIES,
    **NOTIFICATION_DEPENDENCIES,
    **PLATFORM_DEPENDENCIES,
    **ANALYTICS_DEPENDENCIES,
    **ADMIN_DEPENDENCIES,
}


def route_handlers(settings: Settings) -> list[ControllerRouterHandler]:
    return [
        HealthController,
        AuthApiController,
        AdminApiController,
        CampaignApiController,
        CampaignMemberApiController,
        CampaignTagApiController,
        InvitationApiController,
        CoinApiController,
        NotificationApiController,
        CampaignIdeaApiController,
        IdeaApiController,
        AnalyticsApiController,
        PlatformAdminApiController,
        PermalinkApiController,
        ContextApiController,
        WebhookApiController,
        HomePages,
        AccountPages,
        AdminPages,
        CampaignListPages,
        CampaignHomePages,
        CampaignSettingsPages,
        CampaignMemberPages,
        CampaignTagPages,
        InvitationPages,
        CoinPages,
        IdeaBoardPages,
        LiveRankingPages,
        IdeaSubmitPages,
        ApprovalQueuePages,
        IdeaDetailPages,
        IdeaEditPages,
        IdeaLinks,
        NotificationPages,
        CampaignAnalyticsPages,
        DashboardPages,
        SystemPages,
        PermalinkPages,
        CampaignPermalinkPages,
        PlatformAdminPages,
        IntegratorDocs,
        create_static_files_router(
            path="/media",
            name="media",
            directories=[settings.media_path],
            cache_control=CacheControlHeader(max_age=86400, public=True),
            include_in_schema=False,
        ),
        create_static_files_router(
            path="/static",
            name="static",
            directories=[settings.static_path],
            cache_control=CacheControlHeader(max_age=3600, public=True),
            include_in_schema=False,
        ),
    ]


def _no_session() -> None:
    """Stands in for the database session in a table that is only read for its paths (no handler ever runs)."""


def route_reverser(settings: Settings) -> Reverse:
    """The route table's reversal (`reverse("idea.link", idea_id=42)` gives `/ideas/42`) for a process with no
    app of its own.  Building the table connects to nothing; `coins.lib.links.Links` builds it once, on first use."""
    table = Litestar(
        route_handlers=route_handlers(settings),
        dependencies={**DEPENDENCIES, "db_session": Provide(_no_session, sync_to_thread=False)},
        # The plugin sets the request class the page handlers declare; without it Litestar warns on every one.
        plugins=[HTMXPagesPlugin()],
        openapi_config=None,
    )
    return table.route_reverse
