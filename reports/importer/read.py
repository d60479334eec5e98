"""Check an uploaded file is a plain .xlsx workbook, then read its sheets by header name.

Nothing is opened with openpyxl before the zip container has passed the checks: size, a real zip
holding a workbook (not a macro workbook, whatever the file is called), and the unpacked sizes
(a zip bomb is refused by its declared sizes and ratios before a byte is inflated).
"""

import io
import re
import zipfile
from dataclasses import dataclass, field

from django.conf import settings
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from reports.importer import normalize, spec
from reports.importer.problems import Problem, Refused

WORKBOOK_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
MACRO_TYPES = (b"macroEnabled", b"vbaProject")
MAX_ENTRIES = 5000
MAX_ROWS = 200_000  # data rows per sheet; a county's ledger of many years fits well within
HEADER_SEARCH_ROWS = 10


def _mb(n):
    return f"{n / 1024 / 1024:.0f}MB"


def check_upload(data, filename):
    """Refuse (Refused) anything but a plain .xlsx workbook of sane size."""
    limits = settings.COBUILD
    name = (filename or "").strip().lower()
    if name.endswith((".xlsm", ".xltm", ".xlam")):
        raise Refused("不接受含宏的工作簿（.xlsm），请在Excel中另存为 .xlsx 后再导入。")
    if name.endswith((".xls", ".et", ".csv")):
        raise Refused("只接受 .xlsx 格式的工作簿，请在Excel或WPS中另存为 .xlsx 后再导入。")
    if not name.endswith(".xlsx"):
        raise Refused("只接受 .xlsx 格式的工作簿。")
    if len(data) > limits["IMPORT_MAX_BYTES"]:
        raise Refused(f"文件超过 {_mb(limits['IMPORT_MAX_BYTES'])} 的上限，请分批导入。")
    if not data:
        raise Refused("文件是空的。")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise Refused(
            "文件不是有效的 .xlsx 工作簿（可能是改了扩展名的其他文件），请在Excel中另存为 .xlsx。"
        ) from error
    with archive:
        if len(infos) > MAX_ENTRIES:
            raise Refused("文件结构异常（包含的部件过多），拒绝导入。")
        unpacked = sum(info.file_size for info in infos)
        if unpacked > limits["IMPORT_MAX_UNPACKED_BYTES"]:
            raise Refused("文件解压后过大，疑似压缩炸弹，拒绝导入。")
        for info in infos:
            packed = max(info.compress_size, 1)
            if (
                info.file_size > 1024 * 1024
                and info.file_size / packed > limits["IMPORT_MAX_RATIO"]
            ):
                raise Refused("文件压缩比异常，疑似压缩炸弹，拒绝导入。")
        names = {info.filename for info in infos}
        if any("vbaproject" in n.lower() for n in names):
            raise Refused("不接受含宏的工作簿（.xlsm），请在Excel中另存为 .xlsx 后再导入。")
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise Refused("文件不是有效的 .xlsx 工作簿，请在Excel中另存为 .xlsx。")
        if archive.getinfo("[Content_Types].xml").file_size > 1024 * 1024:
            raise Refused("文件结构异常，拒绝导入。")
        types = archive.read("[Content_Types].xml")
    if any(marker in types for marker in MACRO_TYPES):
        raise Refused("不接受含宏的工作簿（.xlsm），请在Excel中另存为 .xlsx 后再导入。")
    if WORKBOOK_TYPE not in types:
        raise Refused("文件不是普通的 .xlsx 工作簿（可能是模板或其他格式），请另存为 .xlsx。")


@dataclass
class Sheet:
    """One data sheet: where each known header is, and the non-empty rows under it."""

    name: str  # the contract name (组织 …)
    title: str  # as the file spells it
    header_row: int
    columns: dict  # header → 0-based column index
    extra: dict  # other non-empty headers → column index
    rows: list = field(default_factory=list)  # [(row number, tuple of values)]

    def letter(self, header):
        index = self.columns.get(header, self.extra.get(header))
        return get_column_letter(index + 1) if index is not None else ""


@dataclass
class Workbook:
    sheets: dict  # contract name → Sheet
    problems: list
    ignored_sheets: list


def _sheet_key(title):
    return normalize.header(title)


def _find_header(rows, wanted):
    """The row (0-based among `rows`) that holds most of the wanted headers."""
    best, best_hits = 0, 0
    for index, row in enumerate(rows):
        hits = sum(1 for value in row if normalize.header(value) in wanted)
        if hits > best_hits:
            best, best_hits = index, hits
    return best


def read_workbook(data):
    """Read the five data sheets (any order, hidden or not) of an already checked file."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds on broken files
        raise Refused(
            "无法读取该工作簿，文件可能已损坏，请在Excel中另存为 .xlsx 后再导入。"
        ) from error
    sheets, problems, ignored = {}, [], []
    try:
        for worksheet in book.worksheets:
            key = _sheet_key(worksheet.title)
            if key not in spec.SHEETS:
                if key != spec.INSTRUCTIONS:
                    ignored.append(worksheet.title)
                continue
            if key in sheets:
                problems.append(
                    Problem(key, None, "", "", worksheet.title, f"工作簿中有两张“{key}”表。")
                )
                continue
            worksheet.reset_dimensions()  # some writers declare wrong dimensions
            sheets[key] = _read_sheet(key, worksheet, problems)
    finally:
        book.close()
    return Workbook(sheets, problems, ignored)


def _read_sheet(name, worksheet, problems):
    wanted = set(spec.HEADERS[name])
    rows = worksheet.iter_rows(values_only=True)
    top = []
    for row in rows:
        top.append(row)
        if len(top) >= HEADER_SEARCH_ROWS:
            break
    header_index = _find_header(top, wanted)
    header_cells = top[header_index] if top else ()
    columns, extra = {}, {}
    for index, value in enumerate(header_cells):
        title = normalize.header(value)
        if not title:
            continue
        if title in columns or title in extra:
            problems.append(
                Problem(
                    name,
                    header_index + 1,
                    get_column_letter(index + 1),
                    title,
                    str(value),
                    f"表头“{title}”重复出现。",
                )
            )
            continue
        (columns if title in wanted else extra)[title] = index
    missing = [h for h in spec.HEADERS[name] if h not in columns]
    for title in missing:
        problems.append(Problem(name, header_index + 1, "", title, "", f"缺少必填表头“{title}”。"))
    sheet = Sheet(name, worksheet.title, header_index + 1, columns, extra)
    wanted_indexes = sorted({*columns.values(), *extra.values()})
    width = (wanted_indexes[-1] + 1) if wanted_indexes else 0

    first = columns.get(spec.HEADERS[name][0])

    def keep(number, row):
        row = tuple(row[:width]) + (None,) * (width - len(row))
        if not any(_filled(row[i]) for i in wanted_indexes):
            return
        if first is not None and str(row[first] or "").strip().startswith(spec.EXAMPLE_MARK):
            return  # the template's example row
        sheet.rows.append((number, row))
        if len(sheet.rows) > MAX_ROWS:
            raise Refused(f"“{name}”表超过{MAX_ROWS}行，请分成几个文件导入。")

    for offset, row in enumerate(top[header_index + 1 :], start=header_index + 2):
        keep(offset, row)
    for offset, row in enumerate(rows, start=len(top) + 1):
        keep(offset, row)
    return sheet


BLANK = re.compile(r"^\s*$")


def _filled(value):
    if value is None:
        return False
    if isinstance(value, str):
        return not BLANK.match(value)
    return True
