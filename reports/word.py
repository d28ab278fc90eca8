"""The monthly report as a Word document (python-docx): A4, Arial (Liberation Sans where
Arial is absent), a cover page, a contents list, numbered sections, tables with a repeated
header row and coloured results, charts with captions, an appendix in landscape, page
numbers in the footer. Opens cleanly in Word and LibreOffice.
"""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from reports.content import Bullets, ChartBlock, ChartGrid, MonthlyReport, Paragraph, Section, TableBlock

BLUE = RGBColor(0x00, 0x00, 0x91)
GREY = RGBColor(0x3A, 0x3A, 0x3A)
FONT = "Arial"
STATUS_FILL = {"met": "D5F0DC", "missed": "FBD5D5", "no_data": "EEEEEE", "in_progress": "FFF3C4",
               "measured": "E8EDFF"}
ALIGN = {"l": WD_ALIGN_PARAGRAPH.LEFT, "r": WD_ALIGN_PARAGRAPH.RIGHT, "c": WD_ALIGN_PARAGRAPH.CENTER}


def _shade(cell: Any, fill: str) -> None:
    tc_pr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    tc_pr.append(shd)


def _repeat_header(row: Any) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)


def _no_split(row: Any) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:cantSplit")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)


def _field(paragraph: Any, instr: str) -> None:
    """A Word field (PAGE, NUMPAGES) with a placeholder result."""
    run = paragraph.add_run()
    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    run._r.append(begin)
    run = paragraph.add_run()
    text = OxmlElement("w:instrText")
    text.set(qn("xml:space"), "preserve")
    text.text = f" {instr} "
    run._r.append(text)
    run = paragraph.add_run()
    sep = OxmlElement("w:fldChar")
    sep.set(qn("w:fldCharType"), "separate")
    run._r.append(sep)
    paragraph.add_run("1")
    run = paragraph.add_run()
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run._r.append(end)


def _styles(doc: Any) -> None:
    styles = doc.styles
    normal = styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(10)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    normal.paragraph_format.space_after = Pt(4)
    normal.paragraph_format.line_spacing = 1.1
    for name, size, colour in (("Heading 1", 15, BLUE), ("Heading 2", 12, BLUE), ("Title", 26, BLUE)):
        st = styles[name]
        st.font.name = FONT
        st.font.size = Pt(size)
        st.font.bold = True
        st.font.color.rgb = colour
        rpr = st.element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = OxmlElement("w:rFonts")
            rpr.append(fonts)
        for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
            fonts.set(qn(attr), FONT)
        for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            if fonts.get(qn(attr)) is not None:
                del fonts.attrib[qn(attr)]
    styles["Heading 1"].paragraph_format.space_before = Pt(14)
    styles["Heading 1"].paragraph_format.space_after = Pt(6)
    styles["Heading 1"].paragraph_format.keep_with_next = True
    styles["Heading 2"].paragraph_format.space_before = Pt(10)
    styles["Heading 2"].paragraph_format.space_after = Pt(4)
    styles["Heading 2"].paragraph_format.keep_with_next = True


def _page(section: Any, landscape: bool = False) -> None:
    a4 = (Cm(21.0), Cm(29.7))
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = a4[1], a4[0]
    else:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = a4
    section.left_margin = section.right_margin = Cm(2.0)
    section.top_margin = Cm(2.0)
    section.bottom_margin = Cm(1.8)


def _usable_width(section: Any) -> float:
    return (section.page_width - section.left_margin - section.right_margin) / 360000  # EMU → cm


def _footer(section: Any, text: str) -> None:
    section.footer.is_linked_to_previous = False
    p = section.footer.paragraphs[0]
    p.text = ""
    p.style.font.size = Pt(8)
    p.style.font.color.rgb = GREY
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    r = p.add_run(f"{text} — page ")
    r.font.size = Pt(8)
    r.font.color.rgb = GREY
    _field(p, "PAGE")
    r = p.add_run(" sur ")
    r.font.size = Pt(8)
    r.font.color.rgb = GREY
    _field(p, "NUMPAGES")
    for run in p.runs:
        run.font.size = Pt(8)


def _table(doc: Any, block: TableBlock, width_cm: float) -> None:
    if not block.rows:
        p = doc.add_paragraph("Aucune ligne.")
        p.runs[0].italic = True
        return
    ncols = len(block.columns)
    table = doc.add_table(rows=1, cols=ncols)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    total = sum(block.widths) or ncols
    widths = [Cm(width_cm * w / total) for w in block.widths]
    size = Pt(block.font_size)
    hdr = table.rows[0]
    _repeat_header(hdr)
    for i, name in enumerate(block.columns):
        cell = hdr.cells[i]
        cell.width = widths[i]
        _shade(cell, "000091")
        para = cell.paragraphs[0]
        para.alignment = ALIGN.get(block.align[i], WD_ALIGN_PARAGRAPH.LEFT)
        run = para.add_run(name)
        run.bold = True
        run.font.size = size
        run.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
    for r_i, row in enumerate(block.rows):
        cells = table.add_row().cells
        _no_split(table.rows[-1])
        status = block.status[r_i] if r_i < len(block.status) else None
        for i, value in enumerate(row):
            cell = cells[i]
            cell.width = widths[i]
            lines = str(value).split("\n")
            para = cell.paragraphs[0]
            para.alignment = ALIGN.get(block.align[i], WD_ALIGN_PARAGRAPH.LEFT)
            para.paragraph_format.space_after = Pt(0)
            for j, line in enumerate(lines):
                run = para.add_run(line)
                run.font.size = size
                if j == 0 and len(lines) > 1:
                    run.bold = True
                if j < len(lines) - 1:
                    run.add_break()
            cell_status = block.cells[r_i][i] if r_i < len(block.cells) else None
            if cell_status in ("met", "missed"):
                _shade(cell, STATUS_FILL[cell_status])
            elif status and block.status_col is not None and i == block.status_col:
                _shade(cell, STATUS_FILL.get(status, "FFFFFF"))
            elif r_i % 2 == 1:
                _shade(cell, "F5F5FE")
    for i, col in enumerate(table.columns):
        col.width = widths[i]
    if block.caption:
        cap = doc.add_paragraph(block.caption)
        cap.runs[0].italic = True
        cap.runs[0].font.size = Pt(8)
    doc.add_paragraph().paragraph_format.space_after = Pt(2)


def _chart(doc: Any, block: ChartBlock) -> None:
    doc.add_picture(io.BytesIO(block.png), width=Cm(block.width_cm))
    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    if block.caption:
        cap = doc.add_paragraph(block.caption)
        cap.alignment = WD_ALIGN_PARAGRAPH.CENTER
        cap.runs[0].italic = True
        cap.runs[0].font.size = Pt(8)
        cap.runs[0].font.color.rgb = GREY


def _grid(doc: Any, grid: ChartGrid, width_cm: float) -> None:
    cols = grid.columns
    rows = (len(grid.charts) + cols - 1) // cols
    table = doc.add_table(rows=rows, cols=cols)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    cell_w = Cm(width_cm / cols)
    for i, block in enumerate(grid.charts):
        cell = table.cell(i // cols, i % cols)
        cell.width = cell_w
        para = cell.paragraphs[0]
        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        para.add_run().add_picture(io.BytesIO(block.png), width=Cm(width_cm / cols - 0.3))
    for row in table.rows:
        _no_split(row)


def _blocks(doc: Any, blocks: list[Any], width_cm: float) -> None:
    for block in blocks:
        if isinstance(block, Section):
            doc.add_heading(block.title, level=block.level)
            _blocks(doc, block.blocks, width_cm)
        elif isinstance(block, Paragraph):
            p = doc.add_paragraph(block.text)
            if block.style == "note":
                for r in p.runs:
                    r.italic = True
                    r.font.size = Pt(8.5)
                    r.font.color.rgb = GREY
        elif isinstance(block, Bullets):
            for item in block.items:
                doc.add_paragraph(item, style="List Bullet")
        elif isinstance(block, TableBlock):
            _table(doc, block, width_cm)
        elif isinstance(block, ChartBlock):
            _chart(doc, block)
        elif isinstance(block, ChartGrid):
            _grid(doc, block, width_cm)


def render(report: MonthlyReport) -> bytes:
    doc = Document()
    _styles(doc)
    props = doc.core_properties
    props.title = f"{report.title} — {report.subtitle}"
    props.subject = report.cover_lines[0]
    props.author = "Guichet"
    props.language = "fr-FR"
    section = doc.sections[0]
    _page(section)
    _footer(section, f"{report.title} — {report.subtitle}")
    width = _usable_width(section)

    # cover
    for _ in range(5):
        doc.add_paragraph()
    p = doc.add_paragraph()
    r = p.add_run(report.cover_lines[0])
    r.font.size = Pt(13)
    r.font.color.rgb = GREY
    doc.add_paragraph(report.title, style="Title")
    p = doc.add_paragraph()
    r = p.add_run(report.subtitle)
    r.font.size = Pt(20)
    r.bold = True
    r.font.color.rgb = BLUE
    for _ in range(3):
        doc.add_paragraph()
    for line in report.cover_lines[1:]:
        p = doc.add_paragraph(line)
        p.runs[0].font.size = Pt(10.5)
    p = doc.add_paragraph()
    p.add_run().add_break(WD_BREAK.PAGE)

    # contents
    doc.add_heading("Sommaire", level=1)
    for s in report.sections:
        doc.add_paragraph(s.title)
        for sub in s.blocks:
            if isinstance(sub, Section):
                q = doc.add_paragraph(sub.title)
                q.paragraph_format.left_indent = Cm(0.8)
                q.paragraph_format.space_after = Pt(1)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    first = True
    for s in report.sections:
        if s.landscape:
            new = doc.add_section(WD_SECTION.NEW_PAGE)
            _page(new, landscape=True)
            width = _usable_width(new)
        elif not first and s.title.startswith("Annexe A"):
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        first = False
        doc.add_heading(s.title, level=1)
        _blocks(doc, s.blocks, width)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
