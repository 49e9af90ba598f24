"""The analytics part of the JSON API: dashboards' figures, exports for scripts, outcomes of ideas.

Exports answer a file (CSV streamed, or PDF); every refusal answers the SPEC.md error body (401 without a
token, 403 AUTH_002 for members and visitors, 404 CAMPAIGN_001 for campaigns the caller may not know of,
422 VALIDATION_001 for an unknown `what` or `format`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_201_CREATED

from coins.accounts.auth import admin_required, login_required, require_user, sponsor_or_admin_required
from coins.analytics.access import require_analytics
from coins.analytics.audit_trail import AuditFilters
from coins.analytics.exports import Exports, check_format, check_what, csv_response, filename, pdf_response
from coins.analytics.reports.executive import executive_report
from coins.analytics.services.campaign_dashboard import CampaignDashboard, CampaignDashboards
from coins.analytics.services.executive_dashboard import ExecutiveDashboard, ExecutiveDashboards
from coins.analytics.services.outcomes import OutcomeInput, OutcomeRow, Outcomes
from coins.campaigns.services.reading import CampaignReader
from coins.ideas.access import IdeaNotFound
from coins.lib.errors import AppError

ExportFormat = Annotated[str, QueryParameter(name="format", description="csv or pdf")]
What = Annotated[
    str,
    QueryParameter(description="dashboard, ideas, allocations, members, ledger or audit"),
]


class OutcomeCreate(msgspec.Struct, kw_only=True):
    note: str
    metric_name: str
    metric_value: float | str
    metric_unit: str = ""


class OutcomeRead(msgspec.Struct, kw_only=True):
    id: UUID
    idea_id: int
    campaign_slug: str
    note: str
    metric_name: str
    metric_value: str
    metric_unit: str
    recorded_by: str | None
    recorded_at: datetime


def outcome_read(row: OutcomeRow) -> OutcomeRead:
    return OutcomeRead(
        id=row.id,
        idea_id=row.idea_id,
        campaign_slug=row.campaign_slug,
        note=row.note,
        metric_name=row.metric_name,
        metric_value=format(row.metric_value.normalize(), "f"),
        metric_unit=row.metric_unit,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


class AnalyticsApiController(Controller):
    path = "/api"
    tags = ["analytics"]
    guards = [login_required]

    @get("/campaigns/{slug:str}/analytics", summary="A campaign's dashboard figures (managers, sponsors, admins)")
    async def campaign(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        campaign_dashboards: NamedDependency[CampaignDashboards],
    ) -> CampaignDashboard:
        access = require_analytics(await campaign_reader.access(slug, require_user(request)))
        return await campaign_dashboards.compute(access.campaign)

    @get(
        "/campaigns/{slug:str}/export",
        summary="Export a campaign's dashboard or a list as CSV (streamed) or PDF",
        description="`what`: dashboard, ideas, allocations, members, ledger, audit (the audit trail takes "
        "the filters actor, action, entity_type, since, until). `format`: csv or pdf.",
    )
    async def export(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_reader: NamedDependency[CampaignReader],
        analytics_exports: NamedDependency[Exports],
        what: What = "dashboard",
        export_format: ExportFormat = "csv",
        actor: FromQuery[str] = "",
        action: FromQuery[str] = "",
        entity_type: FromQuery[str] = "",
        since: FromQuery[str] = "",
        until: FromQuery[str] = "",
    ) -> Response[bytes] | Stream:
        access = require_analytics(await campaign_reader.access(slug, require_user(request)))
        filters = AuditFilters.parse(actor=actor, action=action, entity_type=entity_type, since=since, until=until)
        return await analytics_exports.campaign(
            access.campaign,
            check_what(what),
            check_format(export_format),
            filters,
        )

    @get(
        "/dashboards/executive",
        guards=[sponsor_or_admin_required],
        summary="The executive dashboard's figures (sponsors, admins)",
    )
    async def executive(self, executive_dashboards: NamedDependency[ExecutiveDashboards]) -> ExecutiveDashboard:
        return await executive_dashboards.compute()

    @get(
        "/dashboards/executive/export",
        guards=[sponsor_or_admin_required],
        summary="The executive dashboard as CSV or PDF (sponsors, admins)",
    )
    async def executive_export(
        self, executive_dashboards: NamedDependency[ExecutiveDashboards], export_format: ExportFormat = "csv"
    ) -> Response[bytes]:
        export_format = check_format(export_format)
        report = executive_report(await executive_dashboards.compute(outcome_limit=500))
        name = filename("executive-dashboard", extension=export_format)
        return (
            csv_response(report, name) if export_format == "csv" else await pdf_response(report, name, landscape=True)
        )

    @get(
        "/audit-trail/export",
        guards=[admin_required],
        summary="The whole audit trail as CSV (streamed) or PDF (admins)",
        description="Filters: actor (email contains), action (prefix), entity_type, since and until "
        "(YYYY-MM-DD, inclusive), campaign (slug).",
    )
    async def audit_trail(
        self,
        analytics_exports: NamedDependency[Exports],
        export_format: ExportFormat = "csv",
        actor: FromQuery[str] = "",
        action: FromQuery[str] = "",
        entity_type: FromQuery[str] = "",
        since: FromQuery[str] = "",
        until: FromQuery[str] = "",
        campaign: FromQuery[str] = "",
    ) -> Response[bytes] | Stream:
        filters = AuditFilters.parse(
            actor=actor, action=action, entity_type=entity_type, since=since, until=until, campaign=campaign
        )
        return await analytics_exports.audit_trail(check_format(export_format), filters)

    @post(
        "/ideas/{idea_id:int}/outcome",
        status_code=HTTP_201_CREATED,
        summary="Record an outcome of a completed idea: a note and a metric (managers, admins)",
    )
    async def record(
        self,
        request: Request[Any, Any, Any],
        idea_id: FromPath[int],
        data: JSONBody[OutcomeCreate],
        outcomes: NamedDependency[Outcomes],
    ) -> OutcomeRead:
        row = await outcomes.record(
            idea_id,
            require_user(request),
            OutcomeInput(
                note=data.note,
                metric_name=data.metric_name,
                metric_value=data.metric_value,
                metric_unit=data.metric_unit,
            ),
        )
        return outcome_read(row)

    @get("/ideas/{idea_id:int}/outcomes", summary="The outcomes recorded for an idea (managers, sponsors, admins)")
    async def outcomes(
        self, request: Request[Any, Any, Any], idea_id: FromPath[int], outcomes: NamedDependency[Outcomes]
    ) -> list[OutcomeRead]:
        _, access = await outcomes.idea_campaign_access(idea_id, require_user(request), lock=False)
        try:
            require_analytics(access)
        except AppError as error:
            raise IdeaNotFound() if error.status_code == 404 else error from None
        return [outcome_read(row) for row in await outcomes.of_idea(idea_id)]
