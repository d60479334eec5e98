"""The error workbook: the uploaded file itself, each bad cell filled red with a comment giving
the reason, and a 问题清单 sheet listing every problem."""

import io

from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill

from reports.importer import normalize
from reports.xlsx import add_sheet

BAD = PatternFill("solid", fgColor="FFC7CE")
LIST_SHEET = "问题清单"


def error_workbook(data, problems):
    """The uploaded workbook (bytes, already checked) with `problems` marked; returns bytes."""
    book = load_workbook(io.BytesIO(data))
    sheets = {normalize.header(ws.title): ws for ws in book.worksheets}
    reasons = {}
    for problem in problems:
        sheet = sheets.get(problem.sheet)
        if sheet is None or not problem.row:
            continue
        address = f"{problem.column or 'A'}{problem.row}"
        reasons.setdefault((sheet.title, address), []).append(
            problem.reason if problem.column else f"{problem.header}：{problem.reason}"
        )
    for (title, address), texts in reasons.items():
        cell = book[title][address]
        cell.fill = BAD
        comment = Comment("\n".join(dict.fromkeys(texts)), "导入预检")
        comment.width, comment.height = 300, 40 + 20 * len(texts)
        cell.comment = comment
    if LIST_SHEET in book.sheetnames:
        del book[LIST_SHEET]
    sheet = add_sheet(
        book,
        LIST_SHEET,
        ["工作表", "行", "列", "列名", "原值", "问题"],
        [[p.sheet, p.row, p.column, p.header, p.value, p.reason] for p in problems],
    )
    book.move_sheet(sheet, offset=-(len(book.sheetnames) - 1))
    book.active = 0
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
