"""Excel exports: one way to write a sheet, safe from formula injection.

openpyxl makes any string starting with "=" a formula; spreadsheet programs also run cells
starting with +, -, @, a tab or a carriage return. Every text cell written here is stored as
text whatever it starts with; numbers stay numbers. Sheets have a frozen header row and column
widths fitted to their content. `list_export` is how a list page hands the user what they see,
and records the export in the audit log.
"""

import datetime
import io
from decimal import Decimal

from django.http import HttpResponse
from django.utils import timezone
from django.utils.encoding import escape_uri_path
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RISKY_START = ("=", "+", "-", "@", "\t", "\r")
HEADER_FILL = PatternFill("solid", fgColor="F2DCDB")


def _write(cell, value):
    if isinstance(value, bool):
        value = "是" if value else "否"
    if isinstance(value, (int, float, Decimal, datetime.date)) or value is None:
        cell.value = value
        if isinstance(value, datetime.date):
            cell.number_format = "yyyy-mm-dd"
        return
    cell.value = str(value)
    cell.data_type = "s"  # text, never a formula
    if cell.value.startswith(RISKY_START):
        cell.quotePrefix = True


def add_sheet(workbook, title, headers, rows):
    """A sheet with a frozen, bold header row and column widths that fit the content."""
    sheet = workbook.create_sheet(title[:31])
    widths = [max(8, _width(h)) for h in headers]
    for col, header in enumerate(headers, start=1):
        cell = sheet.cell(row=1, column=col)
        _write(cell, header)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center")
    for r, row in enumerate(rows, start=2):
        for col, value in enumerate(row, start=1):
            _write(sheet.cell(row=r, column=col), value)
            widths[col - 1] = max(widths[col - 1], min(60, _width(value)))
    for col, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(col)].width = width + 2
    sheet.freeze_panes = "A2"
    return sheet


def _width(value):
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)  # CJK characters are double width


def workbook_response(filename, sheets):
    """An .xlsx download of `sheets`: [(title, headers, rows), …]."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, headers, rows in sheets:
        add_sheet(workbook, title, headers, rows)
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{escape_uri_path(filename)}"
    return response


def list_export(request, *, what, title, headers, rows):
    """The rows a list page shows (with its filters), as an .xlsx download, recorded as an export.

    `what` names the list in the audit log; the filters are the request's query string.
    """
    from cobuild import audit

    rows = [list(row) for row in rows]
    audit.record_export(request, what=what, title=title, rows=len(rows))
    stamp = timezone.localdate().isoformat()
    return workbook_response(f"{title}_{stamp}.xlsx", [(title, headers, rows)])
