"""Reports as PDF, with fpdf2 (pure Python): a title, the key figures, then every section as a table.

The charts' figures appear as tables (a PDF is read, printed and archived; the numbers are what matter).
Text uses DejaVu Sans when the machine has it (every character of every language), and otherwise the
PDF core font Helvetica, for which text is reduced to Latin-1 (curly quotes and dashes become their plain
forms, anything else a question mark); the CSV export always keeps the exact text.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import TableCellFillMode
from fpdf.fonts import FontFace

from coins.analytics.reports.base import Report, Section

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)
CELL_MAX = 120
GOLD = (138, 90, 0)
LIGHT = (247, 241, 230)
_PLAIN = str.maketrans(
    {
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'", "\u201a": "'",
        "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...", "\u00b7": "*", "\u03a3": "sum ",
        "\u208d": "(", "\u208e": ")", "\u1d62": "i", "\u2192": "->", "\u2265": ">=", "\u2264": "<=",
        "\u00a0": " ", "\u202f": " ",
    }
)  # fmt: skip


def _dejavu() -> tuple[Path, Path] | None:
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


class _Document(FPDF):
    def __init__(self, report: Report, *, landscape: bool) -> None:
        super().__init__(orientation="L" if landscape else "P", unit="mm", format="A4")
        self.coins_report = report
        fonts = _dejavu()
        self.has_unicode = fonts is not None
        if fonts is not None:
            self.add_font("DejaVu", "", str(fonts[0]))
            self.add_font("DejaVu", "B", str(fonts[1]))
            self.face = "DejaVu"
        else:
            self.face = "Helvetica"
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(14, 14, 14)
        self.set_title(self.clean(report.title))
        self.set_creator("Coins for Change")
        self.set_author("Coins for Change")

    def clean(self, value: str) -> str:
        if self.has_unicode:
            return value
        plain = value.translate(_PLAIN)
        plain = unicodedata.normalize("NFKC", plain)
        return plain.encode("latin-1", errors="replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.face, "", 8)
        self.set_text_color(110, 110, 110)
        stamp = self.coins_report.generated_at.strftime("%d %b %Y %H:%M UTC")
        self.cell(0, 6, self.clean(f"{self.coins_report.title} · generated {stamp}"), align="L")
        self.set_x(self.l_margin)
        self.cell(0, 6, f"{self.page_no()}/{{nb}}", align="R")


def render_pdf(report: Report, *, landscape: bool = False) -> bytes:
    pdf = _Document(report, landscape=landscape)
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.epw
    pdf.set_text_color(*GOLD)
    pdf.set_font(pdf.face, "B", 18)
    pdf.multi_cell(width, 9, pdf.clean(report.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(60, 60, 60)
    pdf.set_font(pdf.face, "", 10)
    stamp = report.generated_at.strftime("%d %b %Y %H:%M UTC")
    pdf.multi_cell(width, 5, pdf.clean(f"{report.subtitle} · generated {stamp}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    if report.figures:
        _figures(pdf, report)
    for section in report.sections:
        _section(pdf, section)
    if report.notes:
        if pdf.will_page_break(6 + 9 * len(report.notes)):
            pdf.add_page()
        pdf.ln(2)
        pdf.set_font(pdf.face, "B", 10)
        pdf.set_text_color(0, 0, 0)
        pdf.cell(width, 6, "Definitions", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(pdf.face, "", 8.5)
        pdf.set_text_color(60, 60, 60)
        for note in report.notes:
            pdf.multi_cell(width, 4.5, pdf.clean(note), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _figures(pdf: _Document, report: Report) -> None:
    per_row = 3
    gap = 3.0
    box_w = (pdf.epw - gap * (per_row - 1)) / per_row
    box_h = 22.0
    for start in range(0, len(report.figures), per_row):
        if pdf.will_page_break(box_h + gap):
            pdf.add_page()
        y = pdf.get_y()
        for index, figure in enumerate(report.figures[start : start + per_row]):
            x = pdf.l_margin + index * (box_w + gap)
            pdf.set_fill_color(*LIGHT)
            pdf.set_draw_color(220, 205, 180)
            pdf.rect(x, y, box_w, box_h, style="DF")
            pdf.set_xy(x + 2.5, y + 2)
            pdf.set_font(pdf.face, "", 8)
            pdf.set_text_color(70, 70, 70)
            pdf.cell(box_w - 5, 4, pdf.clean(figure.label))
            pdf.set_xy(x + 2.5, y + 7)
            pdf.set_font(pdf.face, "B", 15)
            pdf.set_text_color(0, 0, 0)
            pdf.cell(box_w - 5, 7, pdf.clean(figure.shown))
            if figure.hint:
                pdf.set_xy(x + 2.5, y + 14.5)
                pdf.set_font(pdf.face, "", 6.5)
                pdf.set_text_color(90, 90, 90)
                pdf.multi_cell(box_w - 5, 3, pdf.clean(_clip(figure.hint, 95)), max_line_height=3)
        pdf.set_xy(pdf.l_margin, y + box_h + gap)
    pdf.ln(2)


def _clip(value: str, limit: int = CELL_MAX) -> str:
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _section(pdf: _Document, section: Section) -> None:
    if pdf.will_page_break(24):
        pdf.add_page()
    pdf.set_font(pdf.face, "B", 12.5)
    pdf.set_text_color(*GOLD)
    pdf.multi_cell(pdf.epw, 7, pdf.clean(section.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.face, "", 8.5)
    pdf.set_text_color(80, 80, 80)
    pdf.multi_cell(pdf.epw, 4.5, pdf.clean(section.description), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)
    pdf.set_text_color(0, 0, 0)
    table = section.table
    if not table.rows:
        pdf.set_font(pdf.face, "", 9)
        pdf.multi_cell(pdf.epw, 5, pdf.clean(section.empty), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        return
    cells = [[pdf.clean(_clip(cell)) for cell in row] for row in table.formatted()]
    headings = [pdf.clean(column.name) for column in table.columns]
    # Column widths follow their content (within limits), so a title gets room and a count does not.
    weights = [
        max(7, min(40, max(len(heading) + 2, *(len(row[i]) for row in cells[:200]))))
        for i, heading in enumerate(headings)
    ]
    numeric = [column.kind not in {"text", "date", "datetime"} for column in table.columns]
    pdf.set_font(pdf.face, "", 8)
    with pdf.table(
        col_widths=tuple(weights),
        text_align=tuple("RIGHT" if n else "LEFT" for n in numeric),
        headings_style=FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=GOLD),
        cell_fill_color=LIGHT,
        cell_fill_mode=TableCellFillMode.ROWS,
        line_height=4.6,
        padding=1.2,
        first_row_as_headings=True,
        repeat_headings=1,
    ) as grid:
        grid.row(headings)
        for row in cells:
            grid.row(row)
    pdf.ln(4)
