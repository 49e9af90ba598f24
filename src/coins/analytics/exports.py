"""Exports: every dashboard and list as CSV (streamed) and PDF.

A CSV is streamed from a server-side cursor in batches on its own connection: the app holds one batch
at a time, so a campaign with millions of ledger entries exports in constant memory (the tests stream
100,000 rows and watch the process's memory).  The connection is taken when the body starts and given
back when it ends or the client goes away.  Permissions are checked before the response starts, by the
same rules as the pages.

A PDF holds at most `PDF_ROW_LIMIT` rows of a list (it is for reading; the CSV is for data) and says so
when it was cut.  Dashboards export their `Report`: CSV in long form (section, item, measure, value).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from litestar import Response
from litestar.response import Stream
from sqlalchemy import Select, TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from coins.analytics.audit_trail import AuditFilters, AuditRow, audit_statement, resolve_campaign
from coins.analytics.pdf import render_pdf
from coins.analytics.reports.base import Column, Report, Section, Table, raw
from coins.analytics.reports.campaign import campaign_report
from coins.analytics.services.campaign_dashboard import CampaignDashboards
from coins.campaigns.models import Campaign
from coins.lib.errors import InvalidInput

BATCH = 500  # rows per fetch: about 2 MiB of worker memory (5,000 rows cost about 15 MiB)
PDF_ROW_LIMIT = 1_000
LISTS = ("ideas", "allocations", "members", "ledger", "audit")
WHATS = ("dashboard", *LISTS)
FORMATS = ("csv", "pdf")
ExportFormat = Literal["csv", "pdf"]
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_SAFE_NAME = re.compile(r"[^a-z0-9-]+")


def check_format(value: str) -> ExportFormat:
    if value not in FORMATS:
        raise InvalidInput("Choose a format: csv or pdf.", fields={"format": "Use csv or pdf."})
    return value  # type: ignore[return-value]


def check_what(value: str, allowed: Sequence[str] = WHATS) -> str:
    if value not in allowed:
        raise InvalidInput(
            f"Choose what to export: {', '.join(allowed)}.", fields={"what": "Use " + ", ".join(allowed) + "."}
        )
    return value


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    if isinstance(value, str):
        # A cell a spreadsheet would run as a formula (CSV injection) is kept as text.
        return "'" + value if value.startswith(_FORMULA) and not _NUMBER.fullmatch(value) else value
    return raw(value)


@dataclass(frozen=True)
class ListExport:
    """A list to export: its columns and the statement that yields them in order."""

    name: str
    title: str
    columns: list[Column]
    build: Callable[[int | None], Select[Any] | TextClause]
    params: dict[str, Any]
    # How the PDF shows a row, when it should read differently from the CSV (None: the same columns).
    pdf_columns: list[Column] | None = None
    pdf_row: Callable[[Any], list[Any]] | None = None


def _text_export(sql: str) -> Callable[[int | None], TextClause]:
    def build(limit: int | None) -> TextClause:
        return text(sql + (f" LIMIT {int(limit)}" if limit is not None else ""))

    return build


_IDEAS = """
    SELECT i.id, i.title, i.status, i.coins, i.supporters, u.email AS author_email, u.full_name AS author_name,
           (SELECT string_agg(t.name, '; ' ORDER BY lower(t.name))
              FROM idea_tags it JOIN tags t ON t.id = it.tag_id WHERE it.idea_id = i.id) AS tags,
           i.source, i.context_id, i.created_at, i.status_changed_at
    FROM ideas i LEFT JOIN users u ON u.id = i.author_id
    WHERE i.campaign_id = :c
    ORDER BY i.id
"""
_ALLOCATIONS = """
    SELECT a.idea_id, i.title AS idea_title, i.status AS idea_status, u.email AS member_email,
           u.full_name AS member_name, a.coins, a.votes, a.updated_at
    FROM coin_allocations a JOIN ideas i ON i.id = a.idea_id JOIN users u ON u.id = a.user_id
    WHERE a.campaign_id = :c
    ORDER BY a.idea_id, u.email
"""
_MEMBERS = """
    SELECT u.email, u.full_name, m.role, m.joined_at, m.left_at,
           coalesce(b.granted, 0) AS granted, coalesce(b.available, 0) AS available,
           coalesce(b.allocated, 0) AS allocated, coalesce(b.expended, 0) AS expended,
           (SELECT count(*) FROM ideas i WHERE i.campaign_id = m.campaign_id AND i.author_id = m.user_id) AS ideas
    FROM campaign_members m JOIN users u ON u.id = m.user_id
    LEFT JOIN coin_balances b ON b.campaign_id = m.campaign_id AND b.user_id = m.user_id
    WHERE m.campaign_id = :c
    ORDER BY m.joined_at, u.email
"""
_LEDGER = """
    SELECT l.id, l.created_at, l.kind, l.amount, l.votes, u.email AS member_email, a.email AS actor_email,
           l.idea_id, l.from_idea_id, l.reason
    FROM coin_ledger l JOIN users u ON u.id = l.user_id LEFT JOIN users a ON a.id = l.actor_id
    WHERE l.campaign_id = :c
    ORDER BY l.id
"""

AUDIT_COLUMNS = [
    Column("id"),
    Column("occurred_at", "datetime"),
    Column("actor_email"),
    Column("actor_name"),
    Column("action"),
    Column("entity_type"),
    Column("entity_id"),
    Column("before"),
    Column("after"),
    Column("request_id"),
]


def audit_export(filters: AuditFilters, campaign_id: UUID | None, *, empty: bool = False) -> ListExport:
    def build(limit: int | None) -> Select[Any]:
        statement = audit_statement(filters, campaign_id=campaign_id)
        if empty:
            statement = statement.where(text("false"))
        return statement.limit(limit) if limit is not None else statement

    return ListExport("audit", "Audit trail", AUDIT_COLUMNS, build, {}, AUDIT_PDF_COLUMNS, _audit_pdf_row)


AUDIT_PDF_COLUMNS = [
    Column("When", "datetime"),
    Column("Who"),
    Column("Action"),
    Column("Entity"),
    Column("Changes (before -> after)"),
    Column("Request"),
]


def _audit_pdf_row(row: Any) -> list[Any]:
    event = AuditRow(
        occurred_at=row.occurred_at,
        actor_email=row.actor_email,
        actor_name=row.actor_name,
        action=row.action,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        before=row.before or {},
        after=row.after or {},
        request_id=row.request_id,
    )
    changes = "; ".join(
        f"{name}: {after}" if before == "\u2014" else f"{name}: {before} -> {after}"
        for name, before, after in event.changes
    )
    return [
        event.occurred_at,
        event.actor_email or "system",
        event.action,
        f"{event.entity_type} {event.entity_id}",
        changes or "\u2014",
        event.request_id[:12],
    ]


def campaign_list(what: str, campaign: Campaign, filters: AuditFilters | None = None) -> ListExport:
    params = {"c": campaign.id}
    if what == "ideas":
        columns = [
            Column("id", "id"),
            Column("title"),
            Column("status"),
            Column("coins", "int"),
            Column("supporters", "int"),
            Column("author_email"),
            Column("author_name"),
            Column("tags"),
            Column("source"),
            Column("context_id"),
            Column("created_at", "datetime"),
            Column("status_changed_at", "datetime"),
        ]
        return ListExport("ideas", "Ideas", columns, _text_export(_IDEAS), params)
    if what == "allocations":
        columns = [
            Column("idea_id", "id"),
            Column("idea_title"),
            Column("idea_status"),
            Column("member_email"),
            Column("member_name"),
            Column("coins", "int"),
            Column("votes", "int"),
            Column("updated_at", "datetime"),
        ]
        return ListExport("allocations", "Allocations", columns, _text_export(_ALLOCATIONS), params)
    if what == "members":
        columns = [
            Column("email"),
            Column("full_name"),
            Column("role"),
            Column("joined_at", "datetime"),
            Column("left_at", "datetime"),
            Column("granted", "int"),
            Column("available", "int"),
            Column("allocated", "int"),
            Column("expended", "int"),
            Column("ideas", "int"),
        ]
        return ListExport("members", "Members", columns, _text_export(_MEMBERS), params)
    if what == "ledger":
        columns = [
            Column("id", "id"),
            Column("created_at", "datetime"),
            Column("kind"),
            Column("amount", "int"),
            Column("votes", "int"),
            Column("member_email"),
            Column("actor_email"),
            Column("idea_id", "id"),
            Column("from_idea_id", "id"),
            Column("reason"),
        ]
        return ListExport("ledger", "Coin ledger", columns, _text_export(_LEDGER), params)
    if what == "audit":
        return audit_export(filters or AuditFilters(), campaign.id)
    raise InvalidInput(f"Unknown export {what!r}.")


# CSV --------------------------------------------------------------------------------------------------------


async def stream_rows(engine: AsyncEngine, export: ListExport) -> AsyncIterator[bytes]:
    """The list as CSV, one batch of rows at a time from a server-side cursor."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.name for column in export.columns])
    yield buffer.getvalue().encode()
    async with engine.connect() as conn:
        result = await conn.stream(export.build(None).execution_options(yield_per=BATCH), export.params)
        async for rows in result.partitions(BATCH):
            buffer.seek(0)
            buffer.truncate(0)
            writer.writerows([_cell(value) for value in row] for row in rows)
            yield buffer.getvalue().encode()


def report_rows(report: Report) -> list[list[str]]:
    """A dashboard in long form: one line per figure, and one per table cell after the first column."""
    lines = [["section", "item", "measure", "value"]]
    lines.extend(["Key figures", figure.label, "value", raw(figure.value)] for figure in report.figures)
    for section in report.sections:
        rest = section.table.columns[1:]
        for row in section.table.rows:
            item = raw(row[0])
            lines.extend(
                [section.title, item, column.name, raw(cell)] for column, cell in zip(rest, row[1:], strict=True)
            )
    return lines


def report_csv(report: Report) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows([_cell(cell) for cell in line] for line in report_rows(report))
    return buffer.getvalue().encode()


# Responses --------------------------------------------------------------------------------------------------


def filename(*parts: str, extension: str) -> str:
    stem = "-".join(_SAFE_NAME.sub("-", part.lower()).strip("-") for part in parts if part)
    return f"{stem}-{datetime.now(UTC):%Y%m%d-%H%M}.{extension}"


def _headers(name: str) -> dict[str, str]:
    # Exports hold personal data: never kept by a shared cache.
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


def csv_stream_response(engine: AsyncEngine, export: ListExport, name: str) -> Stream:
    return Stream(stream_rows(engine, export), media_type="text/csv; charset=utf-8", headers=_headers(name))


def csv_response(report: Report, name: str) -> Response[bytes]:
    return Response(report_csv(report), media_type="text/csv; charset=utf-8", headers=_headers(name))


async def pdf_response(report: Report, name: str, *, landscape: bool = False) -> Response[bytes]:
    # Laying out a long PDF takes a moment of CPU: off the event loop, so other requests keep flowing.
    content = await asyncio.to_thread(render_pdf, report, landscape=landscape)
    return Response(content, media_type="application/pdf", headers=_headers(name))


def _pdf_values(row: Any) -> list[Any]:
    return [_pdf_value(value) for value in row]


def _pdf_value(value: Any) -> Any:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or ""
    if isinstance(value, UUID):
        return str(value)
    return value


class Exports:
    """The export files; permissions are checked by the caller.

    CSV lists stream from `engine` on a connection of their own, taken when the body starts (see above); PDFs
    and the dashboard are read through the request's session.
    """

    def __init__(self, session: AsyncSession, engine: AsyncEngine, dashboards: CampaignDashboards) -> None:
        self.db = session
        self.engine = engine
        self.dashboards = dashboards

    async def campaign(
        self, campaign: Campaign, what: str, export_format: ExportFormat, filters: AuditFilters | None = None
    ) -> Response[bytes] | Stream:
        """A campaign's dashboard or one of its lists, in the format asked."""
        if what == "dashboard":
            report = campaign_report(await self.dashboards.compute(campaign))
            name = filename(campaign.slug, "analytics", extension=export_format)
            return csv_response(report, name) if export_format == "csv" else await pdf_response(report, name)
        export = campaign_list(what, campaign, filters)
        name = filename(campaign.slug, what, extension=export_format)
        if export_format == "csv":
            return csv_stream_response(self.engine, export, name)
        report = await self._list_report(
            export, title=f"{campaign.title}: {export.title.lower()}", subtitle=f"Campaign “{campaign.slug}”"
        )
        return await pdf_response(report, name, landscape=True)

    async def audit_trail(self, export_format: ExportFormat, filters: AuditFilters) -> Response[bytes] | Stream:
        """The whole audit trail (admins), narrowed by the filters, as CSV or PDF."""
        campaign_id, found = await resolve_campaign(self.db, filters)
        export = audit_export(filters, campaign_id, empty=not found)
        name = filename("audit-trail", filters.campaign, extension=export_format)
        if export_format == "csv":
            return csv_stream_response(self.engine, export, name)
        described = ", ".join(f"{k} {v}" for k, v in filters.query(include_campaign=True).items()) or "no filter"
        report = await self._list_report(export, title="Audit trail", subtitle=f"Filters: {described}")
        return await pdf_response(report, name, landscape=True)

    async def _list_report(self, export: ListExport, *, title: str, subtitle: str) -> Report:
        """A list as a report for the PDF: its first PDF_ROW_LIMIT rows, saying so when there are more."""
        result = await self.db.execute(export.build(PDF_ROW_LIMIT + 1), export.params)
        shape = export.pdf_row or _pdf_values
        rows: list[list[Any]] = [shape(row) for row in result.fetchmany(PDF_ROW_LIMIT + 1)]
        cut = len(rows) > PDF_ROW_LIMIT
        columns = [
            replace(column, name=column.name.replace("_", " ")) for column in export.pdf_columns or export.columns
        ]
        section = Section(
            export.name,
            export.title,
            f"The first {PDF_ROW_LIMIT:,} rows; the CSV export has them all." if cut else f"{len(rows):,} rows.",
            Table(columns, rows[:PDF_ROW_LIMIT]),
            empty="Nothing to list.",
        )
        return Report(title=title, subtitle=subtitle, figures=[], sections=[section])
