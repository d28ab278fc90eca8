"""XLSX (openpyxl, write-only: a million rows stay cheap) and CSV renderings of the flat
sheets of ``exports``. Each sheet is an Excel table (a pivot table can use it directly:
Insert ▸ PivotTable ▸ the table's name), with a frozen, filtered header row, typed cells and
French number formats. CSV: one file per sheet, UTF-8 with a byte-order mark (Excel opens it
as UTF-8), comma-separated (RFC 4180), ISO dates, decimal points.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Sequence
from datetime import datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from reports.exports import Sheet

FORMATS = {
    "int": "#,##0",
    "float": "#,##0.0##",
    "pct": "0.0%",
    "datetime": "dd/mm/yyyy hh:mm:ss",
    "flag": "0",
}
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="000091")


def xlsx(sheets: Sequence[Sheet], *, title: str = "", subject: str = "") -> bytes:
    wb = Workbook(write_only=True)
    wb.properties.title = title
    wb.properties.subject = subject
    wb.properties.creator = "Guichet"
    wb.properties.language = "fr-FR"
    for sheet in sheets:
        ws = wb.create_sheet(sheet.name[:31])
        for i, col in enumerate(sheet.columns, start=1):
            ws.column_dimensions[get_column_letter(i)].width = col.width
        ws.freeze_panes = "A2"
        header = []
        for col in sheet.columns:
            cell = WriteOnlyCell(ws, value=col.name)
            cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="center")
            header.append(cell)
        ws.append(header)
        kinds = [c.kind for c in sheet.columns]
        styled = [i for i, k in enumerate(kinds) if k in FORMATS]
        for row in sheet.rows:
            values: list = list(row)
            for i in styled:
                v = values[i]
                if v is None:
                    continue
                cell = WriteOnlyCell(ws, value=v)
                cell.number_format = FORMATS[kinds[i]]
                values[i] = cell
            ws.append(values)
        last = get_column_letter(len(sheet.columns))
        n = max(len(sheet.rows), 1) + 1
        if sheet.rows:
            table = Table(displayName=sheet.table or sheet.name, ref=f"A1:{last}{n}")
            # write-only worksheets cannot read the header back: name the columns here
            table.tableColumns = [TableColumn(id=i, name=c.name) for i, c in enumerate(sheet.columns, start=1)]
            table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
            with warnings.catch_warnings():  # openpyxl warns in write-only mode whatever: columns are named above
                warnings.simplefilter("ignore", UserWarning)
                ws.add_table(table)
        else:
            ws.auto_filter.ref = f"A1:{last}1"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _csv_value(v: object) -> object:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat(sep=" ", timespec="seconds")
    if isinstance(v, float):
        return repr(round(v, 6))
    return v


def csv_bytes(sheet: Sheet) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([c.name for c in sheet.columns])
    for row in sheet.rows:
        w.writerow([_csv_value(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def csv_zip(sheets: Sequence[Sheet], prefix: str) -> bytes:
    """Every sheet as ``<prefix>-<sheet>.csv`` in one ZIP."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for sheet in sheets:
            z.writestr(f"{prefix}-{sheet.name.lower()}.csv", csv_bytes(sheet))
    return buf.getvalue()
