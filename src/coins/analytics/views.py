"""Analytics pages: a campaign's dashboard, outcomes and audit trail; the executive and system dashboards;
the admins' audit trail; and their exports (CSV streamed, PDF).

Every page and export checks the same rules (`coins.analytics.access`): a campaign's analytics are for its
managers, sponsors and admins; the executive dashboard for sponsors and admins; the system dashboard and
the whole audit trail for admins.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from coins.accounts.auth import admin_required, login_required, require_user, sponsor_or_admin_required
from coins.analytics.access import require_analytics
from coins.analytics.audit_trail import (
    ENTITY_TYPES,
    AuditFilters,
    audit_page,
    audit_statement,
    nothing,
    resolve_campaign,
)
from coins.analytics.exports import Exports, check_format, check_what, csv_response, filename, pdf_response
from coins.analytics.reports.campaign import campaign_report
from coins.analytics.reports.executive import executive_report
from coins.analytics.services.campaign_dashboard import CampaignDashboards
from coins.analytics.services.executive_dashboard import ExecutiveDashboards
from coins.analytics.services.outcomes import OutcomeInput, Outcomes
from coins.analytics.system import system_report, system_snapshot
from coins.campaigns.access import CampaignAccess
from coins.campaigns.page import CampaignPageParts
from coins.campaigns.services.reading import CampaignReader
from coins.lib.errors import AppError
from coins.lib.forms import form_data, form_errors, redirect_to, render_form, url_path
from coins.lib.htmx import wants_fragment
from coins.lib.sessions import flash

ExportFormat = Annotated[str, QueryParameter(name="format", description="csv or pdf")]
SYSTEM_LIVE = "system-live"  # the system dashboard's live panel: it asks for itself every 10 s


def _links(base: str, whats: list[tuple[str, str]], extra: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Export links for a page: one per list and format."""
    links = []
    for what, label in whats:
        for export_format in ("csv", "pdf"):
            query = {**({"what": what} if what else {}), "format": export_format, **(extra or {})}
            links.append({"label": label, "format": export_format.upper(), "href": f"{base}?{urlencode(query)}"})
    return links


def _page_params(query: dict[str, str]) -> str:
    """The filters, appended to a pagination link (which starts with ?page=N)."""
    return "&" + urlencode(sorted(query.items())) if query else ""


CAMPAIGN_EXPORTS = [
    ("dashboard", "Dashboard"),
    ("ideas", "Ideas"),
    ("allocations", "Allocations"),
    ("members", "Members"),
    ("ledger", "Coin ledger"),
    ("audit", "Audit trail"),
]


async def _campaign(
    request: Request[Any, Any, Any], slug: str, pages: CampaignPageParts
) -> tuple[CampaignAccess, dict[str, Any]]:
    access = require_analytics(await pages.reader.access(slug, require_user(request)))
    context = await pages.around(access)
    return access, context


def _audit_filters(
    actor: str, action: str, entity_type: str, since: str, until: str, campaign: str = ""
) -> AuditFilters:
    return AuditFilters.parse(
        actor=actor, action=action, entity_type=entity_type, since=since, until=until, campaign=campaign
    )


class CampaignAnalyticsPages(Controller):
    path = "/campaigns/{slug:str}/analytics"
    include_in_schema = False
    guards = [login_required]

    @get("/", name="campaign.analytics")
    async def dashboard(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_pages: NamedDependency[CampaignPageParts],
        campaign_dashboards: NamedDependency[CampaignDashboards],
    ) -> Template:
        access, context = await _campaign(request, slug, campaign_pages)
        report = campaign_report(await campaign_dashboards.compute(access.campaign))
        context.update(
            report=report,
            exports=_links(url_path(request, "campaign.analytics.export", slug=slug), CAMPAIGN_EXPORTS),
        )
        return Template("analytics/campaign.html", context=context)

    @get("/export", name="campaign.analytics.export")
    async def export(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_pages: NamedDependency[CampaignPageParts],
        analytics_exports: NamedDependency[Exports],
        export_format: ExportFormat = "csv",
        what: FromQuery[str] = "dashboard",
        actor: FromQuery[str] = "",
        action: FromQuery[str] = "",
        entity_type: FromQuery[str] = "",
        since: FromQuery[str] = "",
        until: FromQuery[str] = "",
    ) -> Response[bytes] | Stream:
        access = require_analytics(await campaign_pages.reader.access(slug, require_user(request)))
        return await analytics_exports.campaign(
            access.campaign,
            check_what(what),
            check_format(export_format),
            _audit_filters(actor, action, entity_type, since, until),
        )

    @get("/outcomes", name="campaign.analytics.outcomes")
    async def outcomes(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_pages: NamedDependency[CampaignPageParts],
        outcomes: NamedDependency[Outcomes],
    ) -> Template:
        access, context = await _campaign(request, slug, campaign_pages)
        return await self._outcomes_page(access, context, outcomes)

    async def _outcomes_page(
        self,
        access: CampaignAccess,
        context: dict[str, Any],
        outcomes: Outcomes,
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        context.update(
            outcomes=await outcomes.of_campaign(access.campaign.id),
            completed=await outcomes.completed_ideas(access.campaign.id),
            can_record=access.is_manager or access.is_admin,
        )
        return render_form("analytics/outcomes.html", values=values, errors=errors, status_code=status_code, **context)

    @post("/outcomes", name="campaign.analytics.outcomes.save")
    async def save_outcome(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_pages: NamedDependency[CampaignPageParts],
        outcomes: NamedDependency[Outcomes],
    ) -> Template | Redirect:
        viewer = require_user(request)
        access, _ = await _campaign(request, slug, campaign_pages)
        values = await form_data(request)
        try:
            idea_id = int(values.get("idea_id", "") or 0)
        except ValueError:
            idea_id = 0
        try:
            if idea_id not in {idea for idea, _ in await outcomes.completed_ideas(access.campaign.id)}:
                raise AppError("Choose one of this campaign's completed ideas.", status_code=422, error_code="IDEA_006")
            outcome = await outcomes.record(
                idea_id,
                viewer,
                OutcomeInput(
                    note=values.get("note", ""),
                    metric_name=values.get("metric_name", ""),
                    metric_value=values.get("metric_value", ""),
                    metric_unit=values.get("metric_unit", ""),
                ),
            )
        except AppError as error:
            if error.status_code in {403, 404} and error.error_code != "IDEA_001":
                raise
            access, context = await _campaign(request, slug, campaign_pages)
            errors = form_errors(error)
            if error.error_code == "IDEA_006":
                errors["idea_id"] = error.message
            return await self._outcomes_page(access, context, outcomes, values=values, errors=errors, status_code=422)
        flash(request, f"Outcome recorded for “{outcome.idea_title}”.", "success")
        return redirect_to(request, "campaign.analytics.outcomes", slug=slug)

    @get("/audit", name="campaign.analytics.audit")
    async def audit(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        campaign_pages: NamedDependency[CampaignPageParts],
        db_session: NamedDependency[AsyncSession],
        actor: FromQuery[str] = "",
        action: FromQuery[str] = "",
        entity_type: FromQuery[str] = "",
        since: FromQuery[str] = "",
        until: FromQuery[str] = "",
        page: FromQuery[int] = 1,
    ) -> Template:
        access, context = await _campaign(request, slug, campaign_pages)
        filters = _audit_filters(actor, action, entity_type, since, until)
        result = await audit_page(db_session, audit_statement(filters, campaign_id=access.campaign.id), page)
        query = filters.query(include_campaign=False)
        context.update(
            filters=filters,
            result=result,
            entity_types=ENTITY_TYPES,
            show_campaign_filter=False,
            base_url=url_path(request, "campaign.analytics.audit", slug=slug),
            page_params=_page_params(query),
            exports=_links(
                url_path(request, "campaign.analytics.export", slug=slug), [("audit", "Audit trail")], query
            ),
        )
        return Template("analytics/campaign_audit.html", context=context)


class DashboardPages(Controller):
    path = "/dashboards"
    include_in_schema = False
    guards = [sponsor_or_admin_required]

    @get("/", name="dashboards")
    async def index(
        self,
        request: Request[Any, Any, Any],
        campaign_reader: NamedDependency[CampaignReader],
        page: FromQuery[int] = 1,
    ) -> Template:
        page = max(1, page)
        viewer = require_user(request)
        result = await campaign_reader.list_visible(viewer, limit=50, offset=(page - 1) * 50)
        return Template(
            "analytics/index.html",
            context={
                "rows": result.items,
                "total": result.total,
                "page": page,
                "pages": max(1, -(-result.total // 50)),
            },
        )

    @get("/executive", name="dashboards.executive")
    async def executive(
        self, request: Request[Any, Any, Any], executive_dashboards: NamedDependency[ExecutiveDashboards]
    ) -> Template:
        report = executive_report(await executive_dashboards.compute())
        return Template(
            "analytics/executive.html",
            context={
                "report": report,
                "exports": _links(url_path(request, "dashboards.executive.export"), [("", "Executive dashboard")]),
            },
        )

    @get("/executive/export", name="dashboards.executive.export")
    async def executive_export(
        self, executive_dashboards: NamedDependency[ExecutiveDashboards], export_format: ExportFormat = "csv"
    ) -> Response[bytes]:
        export_format = check_format(export_format)
        report = executive_report(await executive_dashboards.compute(outcome_limit=500))
        name = filename("executive-dashboard", extension=export_format)
        return (
            csv_response(report, name) if export_format == "csv" else await pdf_response(report, name, landscape=True)
        )


class SystemPages(Controller):
    """The admins' system dashboard and the whole audit trail (under /admin, beside the admin pages)."""

    path = "/admin"
    include_in_schema = False
    guards = [admin_required]

    @get("/system", name="admin.system")
    async def system(self, request: HTMXRequest) -> Template:
        state = request.app.state
        snapshot = await system_snapshot(state.db_engine, state.valkey, state.queue, state.settings)
        context = {
            "snapshot": snapshot,
            "report": system_report(snapshot),
            "exports": _links(url_path(request, "admin.system.export"), [("", "System dashboard")]),
        }
        # The live panel asks for itself every 10 s; Back and reload get the whole page.
        template = "analytics/_system_live.html" if wants_fragment(request, SYSTEM_LIVE) else "analytics/system.html"
        return Template(template, context=context, headers={"Cache-Control": "no-store"})

    @get("/system/export", name="admin.system.export")
    async def system_export(
        self, request: Request[Any, Any, Any], export_format: ExportFormat = "csv"
    ) -> Response[bytes]:
        export_format = check_format(export_format)
        state = request.app.state
        report = system_report(await system_snapshot(state.db_engine, state.valkey, state.queue, state.settings))
        name = filename("system", extension=export_format)
        return csv_response(report, name) if export_format == "csv" else await pdf_response(report, name)

    @get("/audit-trail", name="admin.audit_trail")
    async def audit_trail(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        actor: FromQuery[str] = "",
        action: FromQuery[str] = "",
        entity_type: FromQuery[str] = "",
        since: FromQuery[str] = "",
        until: FromQuery[str] = "",
        campaign: FromQuery[str] = "",
        page: FromQuery[int] = 1,
    ) -> Template:
        filters = _audit_filters(actor, action, entity_type, since, until, campaign)
        campaign_id, found = await resolve_campaign(db_session, filters)
        statement = audit_statement(filters, campaign_id=campaign_id)
        result = await audit_page(db_session, statement if found else nothing(statement), page)
        query = filters.query(include_campaign=True)
        return Template(
            "analytics/admin_audit.html",
            context={
                "filters": filters,
                "result": result,
                "unknown_campaign": not found,
                "entity_types": ENTITY_TYPES,
                "show_campaign_filter": True,
                "base_url": url_path(request, "admin.audit_trail"),
                "page_params": _page_params(query),
                "exports": _links(url_path(request, "admin.audit_trail.export"), [("", "Audit trail")], query),
            },
        )

    @get("/audit-trail/export", name="admin.audit_trail.export")
    async def audit_trail_export(
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
        filters = _audit_filters(actor, action, entity_type, since, until, campaign)
        return await analytics_exports.audit_trail(check_format(export_format), filters)
