"""What a report is made of: figures, sections with a table and maybe a chart, and how their values read (`fmt`
on screen and in the PDF, `raw` in the CSV)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

Format = Literal["text", "id", "int", "pct", "ratio", "money", "num", "date", "datetime"]
Cell = str | int | float | Decimal | date | datetime | None


def fmt(value: Any, kind: str = "text") -> str:  # noqa: PLR0911 - one way out per format
    """A value as people read it (the CSV keeps the raw value)."""
    if value is None:
        return "—"
    match kind:
        case "int":
            return f"{int(value):,}"
        case "id":
            return str(value)
        case "pct":
            return f"{float(value) * 100:.1f} %"
        case "ratio":
            return f"{float(value):.3f}"
        case "money":
            return f"{float(value) / 100:,.2f}"
        case "num":
            number = Decimal(value).normalize()
            return f"{number:,f}" if number == number.to_integral() else f"{number:,}"
        case "date":
            return value.strftime("%d %b %Y") if isinstance(value, date) else str(value)
        case "datetime":
            return value.strftime("%d %b %Y %H:%M UTC") if isinstance(value, datetime) else str(value)
    return str(value)


def raw(value: Any) -> str:
    """A value for a CSV cell: machine-readable, ISO dates, no thousands separators."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else str(value)
    return str(value)


@dataclass(frozen=True)
class Column:
    name: str
    kind: Format = "text"


@dataclass(frozen=True)
class Table:
    columns: list[Column]
    rows: list[list[Cell]]

    def formatted(self) -> list[list[str]]:
        return [[fmt(cell, column.kind) for cell, column in zip(row, self.columns, strict=True)] for row in self.rows]


@dataclass(frozen=True)
class Series:
    label: str
    values: list[float | int | None]
    # Draw this series differently from the chart's kind (a line over bars), on a second axis if asked.
    kind: str | None = None
    axis: Literal["y", "y2"] = "y"


@dataclass(frozen=True)
class Chart:
    kind: Literal["bar", "line", "doughnut"]
    labels: list[str]
    series: list[Series]
    horizontal: bool = False
    stacked: bool = False
    percent: bool = False

    def spec(self) -> dict[str, Any]:
        """What static/js/charts.js reads from the page's JSON block."""
        return {
            "type": self.kind,
            "labels": self.labels,
            "series": [{"label": s.label, "values": s.values, "kind": s.kind, "axis": s.axis} for s in self.series],
            "horizontal": self.horizontal,
            "stacked": self.stacked,
            "percent": self.percent,
        }


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    description: str
    table: Table
    chart: Chart | None = None
    empty: str = "Nothing to show yet."

    @property
    def summary(self) -> str:
        """The chart's accessible name: what it shows and its first figures in words."""
        cells = [f"{row[0]}: {fmt(row[1], self.table.columns[1].kind)}" for row in self.table.rows[:12] if len(row) > 1]
        more = f"; and {len(self.table.rows) - 12} more" if len(self.table.rows) > 12 else ""
        return f"{self.title}. " + ("; ".join(cells) + more if cells else self.empty)


@dataclass(frozen=True)
class Figure:
    label: str
    value: Cell
    kind: Format = "int"
    hint: str = ""

    @property
    def shown(self) -> str:
        return fmt(self.value, self.kind)


@dataclass(frozen=True)
class Report:
    title: str
    subtitle: str
    figures: list[Figure]
    sections: list[Section]
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    notes: list[str] = field(default_factory=list)
