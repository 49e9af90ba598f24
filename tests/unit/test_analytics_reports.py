"""Reports without a database: formatting, the long-form CSV, spreadsheet-formula guarding, and the PDF with
and without a Unicode font on the machine (the container image has none)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from coins.analytics import pdf
from coins.analytics.exports import _cell, report_csv
from coins.analytics.reports.base import Chart, Column, Figure, Report, Section, Series, Table, fmt


def sample_report() -> Report:
    return Report(
        title="Café “Ünïcode” — campaign analytics",
        subtitle="A test",
        figures=[Figure("Gini over ideas' coins", 0.625, "ratio"), Figure("Coins spent", 0.1, "pct")],
        sections=[
            Section(
                "tags",
                "Tags",
                "Coins per tag.",
                Table([Column("Tag"), Column("Coins", "int")], [["Énergie ⚡", 1200], ["=SUM(A1)", -3]]),
                Chart("bar", ["Énergie ⚡", "=SUM(A1)"], [Series("Coins", [1200, -3])]),
            ),
            Section("empty", "Nothing", "No rows.", Table([Column("A"), Column("B", "int")], []), empty="None yet."),
        ],
        generated_at=datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
        notes=["Gini = 2·Σ(i·x_i)/(n·Σx) \u2212 (n+1)/n"],
    )


def test_values_read_as_people_read_them() -> None:
    assert fmt(1234567, "int") == "1,234,567"
    assert fmt(0.375, "pct") == "37.5 %"
    assert fmt(0.625, "ratio") == "0.625"
    assert fmt(85_000, "money") == "850.00"
    assert fmt(Decimal("12.5000"), "num") == "12.5"
    assert fmt(Decimal("1200.0000"), "num") == "1,200"
    assert fmt(date(2026, 11, 29), "date") == "29 Nov 2026"
    assert fmt(None, "pct") == "—"


def test_csv_is_long_form_and_never_runs_a_formula() -> None:
    lines = list(csv.reader(io.StringIO(report_csv(sample_report()).decode())))
    assert lines[0] == ["section", "item", "measure", "value"]
    assert ["Key figures", "Gini over ideas' coins", "value", "0.625"] in lines
    assert ["Tags", "Énergie ⚡", "Coins", "1200"] in lines
    assert ["Tags", "'=SUM(A1)", "Coins", "-3"] in lines  # a formula becomes text; a negative number stays
    assert _cell("@cmd") == "'@cmd"
    assert _cell("-12.5") == "-12.5"
    assert _cell({"b": 1, "a": "x"}) == '{"a": "x", "b": 1}'


@pytest.mark.parametrize("unicode_font", [True, False])
def test_pdf_opens_and_reads_back(unicode_font: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not unicode_font:
        monkeypatch.setattr(pdf, "FONT_DIRS", ())
    elif pdf._dejavu() is None:
        pytest.skip("no DejaVu font on this machine")
    content = pdf.render_pdf(sample_report())
    assert content.startswith(b"%PDF-")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    for expected in ("campaign analytics", "0.625", "10.0 %", "1,200", "None yet.", "Definitions"):
        assert expected in text, expected
    if unicode_font:
        assert "Énergie ⚡" in text and "“Ünïcode”" in text
    else:  # Helvetica: Latin-1 stays, typographic quotes become plain, the rest a question mark
        assert 'Café "Ünïcode" - campaign analytics' in text and "Énergie ?" in text
