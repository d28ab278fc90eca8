"""The monthly report as a PowerPoint deck (python-pptx), 16:9, for the steering committee:
title, summary, volumes, distribution, the month's indicators, indicators against targets,
13-month trends, quality incentive, main events and malfunctions, escalations in progress,
ticket package. Every slide is drawn on the blank layout with the same title band and
footer, so the deck looks the same in PowerPoint and LibreOffice Impress.
"""

from __future__ import annotations

import io
from typing import Any

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.util import Cm, Pt

from reports.content import MonthlyReport, TableBlock, T2

BLUE = RGBColor(0x00, 0x00, 0x91)
RED = RGBColor(0xE1, 0x00, 0x0F)
GREY = RGBColor(0x3A, 0x3A, 0x3A)
WHITE = RGBColor(0xFF, 0xFF, 0xFF)
STRIPE = RGBColor(0xF5, 0xF5, 0xFE)
STATUS_FILL = {"met": RGBColor(0xD5, 0xF0, 0xDC), "missed": RGBColor(0xFB, 0xD5, 0xD5),
               "no_data": RGBColor(0xEE, 0xEE, 0xEE), "in_progress": RGBColor(0xFF, 0xF3, 0xC4),
               "measured": RGBColor(0xE8, 0xED, 0xFF)}
ALIGN = {"l": PP_ALIGN.LEFT, "r": PP_ALIGN.RIGHT, "c": PP_ALIGN.CENTER}
FONT = "Arial"
W, H = Cm(33.867), Cm(19.05)
MARGIN = Cm(1.3)


class Deck:
    def __init__(self, footer: str) -> None:
        self.prs = Presentation()
        self.prs.slide_width, self.prs.slide_height = W, H
        self.blank = self.prs.slide_layouts[6]
        self.footer = footer
        self.count = 0

    def _text(self, slide: Any, left: int, top: int, width: int, height: int, text: str, *, size: float = 14,
              bold: bool = False, colour: RGBColor = GREY, align: Any = PP_ALIGN.LEFT) -> Any:
        box = slide.shapes.add_textbox(left, top, width, height)
        tf = box.text_frame
        tf.word_wrap = True
        p = tf.paragraphs[0]
        p.alignment = align
        r = p.add_run()
        r.text = text
        r.font.size, r.font.bold, r.font.name = Pt(size), bold, FONT
        r.font.color.rgb = colour
        return box

    def slide(self, title: str) -> Any:
        self.count += 1
        s = self.prs.slides.add_slide(self.blank)
        band = s.shapes.add_shape(1, 0, 0, W, Cm(0.35))
        band.fill.solid()
        band.fill.fore_color.rgb = BLUE
        band.line.fill.background()
        self._text(s, MARGIN, Cm(0.8), W - 2 * MARGIN, Cm(1.6), title, size=24, bold=True, colour=BLUE)
        self._text(s, MARGIN, H - Cm(1.1), W - 2 * MARGIN - Cm(2), Cm(0.8), self.footer, size=9)
        self._text(s, W - MARGIN - Cm(2), H - Cm(1.1), Cm(2), Cm(0.8), str(self.count), size=9, align=PP_ALIGN.RIGHT)
        return s

    def bullets(self, slide: Any, items: list[str], left: int, top: int, width: int, height: int,
                size: float = 14) -> None:
        box = slide.shapes.add_textbox(left, top, width, height)
        tf = box.text_frame
        tf.word_wrap = True
        for i, item in enumerate(items):
            p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
            p.space_after = Pt(6)
            r = p.add_run()
            r.text = f"•  {item}"
            r.font.size, r.font.name = Pt(size), FONT
            r.font.color.rgb = GREY

    def picture(self, slide: Any, png: bytes, left: int, top: int, width: int, height: int) -> None:
        """The picture as large as fits the box (aspect kept), centred in it."""
        from PIL import Image

        with Image.open(io.BytesIO(png)) as im:
            w, h = im.size
        scale = min(width / w, height / h)
        pw, ph = int(w * scale), int(h * scale)
        slide.shapes.add_picture(io.BytesIO(png), left + (width - pw) // 2, top + (height - ph) // 2,
                                 width=pw, height=ph)

    def table(self, slide: Any, block: TableBlock, left: int, top: int, width: int, *, size: float = 11,
              max_rows: int | None = None, row_height: float = 0.75) -> None:
        rows = block.rows[:max_rows] if max_rows else block.rows
        if not rows:
            self._text(slide, left, top, width, Cm(1), "Aucune ligne.", size=size)
            return
        shape = slide.shapes.add_table(len(rows) + 1, len(block.columns), left, top, width,
                                       Cm(row_height * (len(rows) + 1)))
        table = shape.table
        total = sum(block.widths)
        for i, w in enumerate(block.widths):
            table.columns[i].width = int(width * w / total)
        for i, name in enumerate(block.columns):
            self._cell(table.cell(0, i), name, size, bold=True, colour=WHITE, fill=BLUE, align=ALIGN[block.align[i]])
        for r_i, row in enumerate(rows):
            status = block.status[r_i] if r_i < len(block.status) else None
            for i, value in enumerate(row):
                fill = STRIPE if r_i % 2 else WHITE
                if status and block.status_col == i:
                    fill = STATUS_FILL.get(status, WHITE)
                self._cell(table.cell(r_i + 1, i), str(value).replace("\n", " — "), size, fill=fill,
                           align=ALIGN[block.align[i]])
            table.rows[r_i + 1].height = Cm(row_height)
        table.rows[0].height = Cm(row_height)

    @staticmethod
    def _cell(cell: Any, text: str, size: float, *, bold: bool = False, colour: RGBColor = GREY,
              fill: RGBColor | None = None, align: Any = PP_ALIGN.LEFT) -> None:
        cell.text = ""
        p = cell.text_frame.paragraphs[0]
        p.alignment = align
        r = p.add_run()
        r.text = text
        r.font.size, r.font.bold, r.font.name = Pt(size), bold, FONT
        r.font.color.rgb = colour
        cell.margin_left = cell.margin_right = Cm(0.12)
        cell.margin_top = cell.margin_bottom = Cm(0.05)
        cell.vertical_anchor = MSO_ANCHOR.MIDDLE
        if fill is not None:
            cell.fill.solid()
            cell.fill.fore_color.rgb = fill

    def save(self) -> bytes:
        buf = io.BytesIO()
        self.prs.save(buf)
        return buf.getvalue()


def render(report: MonthlyReport) -> bytes:
    deck = Deck(f"{report.title} — {report.subtitle}")
    content_w = W - 2 * MARGIN
    top = Cm(2.8)

    # 1. title
    deck.count += 1
    s = deck.prs.slides.add_slide(deck.blank)
    bg = s.shapes.add_shape(1, 0, 0, Cm(1.2), H)
    bg.fill.solid()
    bg.fill.fore_color.rgb = BLUE
    bg.line.fill.background()
    deck._text(s, Cm(3), Cm(4.0), Cm(28), Cm(1.2), report.cover_lines[0], size=16)
    deck._text(s, Cm(3), Cm(5.6), Cm(28), Cm(2.2), report.title, size=36, bold=True, colour=BLUE)
    deck._text(s, Cm(3), Cm(8.0), Cm(28), Cm(1.6), report.subtitle, size=28, bold=True, colour=BLUE)
    deck.bullets(s, report.cover_lines[1:], Cm(3), Cm(11), Cm(28), Cm(5), size=13)

    # 2. summary
    s = deck.slide("Synthèse du mois")
    kf = TableBlock(["Chiffre clé", "Valeur"], [[a, b] for a, b in report.key_figures], ["l", "l"], [1.3, 1.7])
    deck.table(s, kf, MARGIN, top, int(content_w * 0.46), size=12, row_height=0.95)
    deck.bullets(s, report.summary, MARGIN + int(content_w * 0.5), top, int(content_w * 0.5), Cm(14), size=12)

    # 3. volumes
    s = deck.slide("Volumes par canal sur 13 mois")
    body_h = H - top - Cm(1.5)
    deck.picture(s, report.charts["volumes"], MARGIN, top, content_w, body_h)

    # 4. distribution
    if "request_types" in report.charts:
        s = deck.slide("Sollicitations du mois par type de demande")
        deck.picture(s, report.charts["request_types"], MARGIN, top, content_w, body_h)

    # 5. indicators of the month
    s = deck.slide(f"Indicateurs de niveau de service — {report.subtitle.lower()}")
    deck.table(s, report.indicator_table, MARGIN, top, content_w, size=10.5, row_height=0.82)

    # 6. against targets
    s = deck.slide("Indicateurs de traitement contre leurs objectifs")
    deck.picture(s, report.charts["targets"], MARGIN, top, content_w, body_h)

    # 7+. trends, four per slide
    trend_ids = [k for k in report.charts if k.startswith("trend-")]
    ordered = [f"trend-{i}" for i in T2 if f"trend-{i}" in report.charts] + \
              [k for k in trend_ids if k.split("trend-")[1] not in T2]
    for page in range(0, len(ordered), 4):
        s = deck.slide("Évolution sur 13 mois" + (f" ({page // 4 + 1}/{(len(ordered) + 3) // 4})"
                                                   if len(ordered) > 4 else ""))
        cell_w = (content_w - Cm(1)) // 2
        cell_h = (H - top - Cm(1.6)) // 2
        for j, key in enumerate(ordered[page:page + 4]):
            left = MARGIN + (j % 2) * (cell_w + Cm(1))
            y = top + (j // 2) * cell_h
            deck.picture(s, report.charts[key], left, y, cell_w, cell_h - Cm(0.2))

    # incentive
    s = deck.slide("Incitation au maintien de la qualité")
    deck.table(s, report.incentive_table, MARGIN, top, content_w, size=10.5, row_height=0.8)

    # events and malfunctions
    s = deck.slide("Faits marquants et écarts")
    half = int(content_w * 0.49)
    deck._text(s, MARGIN, top, half, Cm(1), "Faits marquants", size=16, bold=True, colour=BLUE)
    deck.bullets(s, report.notable[:8] or ["Aucun fait marquant relevé automatiquement."], MARGIN, top + Cm(1.2),
                 half, Cm(13), size=12)
    deck._text(s, MARGIN + half + Cm(0.8), top, half, Cm(1), "Écarts à analyser", size=16, bold=True, colour=BLUE)
    deck.bullets(s, report.malfunctions[:8] or ["Aucun indicateur pénalisable sous son objectif."],
                 MARGIN + half + Cm(0.8), top + Cm(1.2), half, Cm(13), size=12)

    # escalations
    s = deck.slide("Escalades en cours au N2 et au N3")
    deck.table(s, report.escalation_table, MARGIN, top, content_w, size=10, max_rows=12, row_height=0.8)
    if len(report.escalation_table.rows) > 12:
        deck._text(s, MARGIN, H - Cm(2.1), content_w, Cm(0.8),
                   "Les plus anciennes ; la liste complète figure dans le rapport et dans l'export XLSX.", size=10)

    # package
    if "package" in report.charts:
        s = deck.slide("Consommation du forfait annuel de tickets")
        deck.picture(s, report.charts["package"], MARGIN, top, content_w, body_h)
    return deck.save()
