"""Workbooks for the ledger-import tests: the template filled with a small county, and variants."""

import datetime
import io

from openpyxl import Workbook, load_workbook

from activities.models import Activity, Outcome, Participation, PeriodFigure
from pairings.models import Member, Organization, Pairing
from reports.importer import spec
from reports.importer.template import activity_metrics, headers_of, template_workbook
from reports.models import ImportRun
from tests.factories import make_county, make_user

TRAINING = "实用技术培训(人次)"
DONATION = "捐款(元)"


def small_county_rows():
    """青山县 in the template's sheets: its root (already in the database) and what hangs under it."""
    return {
        spec.ORGS: [
            ["QS", "青山县委", "", "县委", "其他"],
            ["QS-J", "县直机关工委", "QS", "党工委", "机关"],
            ["QS-T1", "城关镇党委", "QS", "党委", "农村"],
            ["QS-J01", "县财政局机关党支部", "QS-J", "党支部", "机关"],
            ["QS-J02", "县农业农村局党支部", "QS-J", "党支部", "机关"],
            ["QS-V01", "东村党支部", "QS-T1", "党支部", "农村"],
            ["QS-V02", "西村党支部", "QS-T1", "党支部", "农村"],
        ],
        spec.MEMBERS: [
            ["M01", "王建国", "男", "QS-J01", "书记", "是", "正式", "13800138001"],
            ["M02", "刘芳", "女", "QS-J01", "党员", "是", "预备", ""],
            ["M03", "李秀英", "女", "QS-V01", "书记", "否", "正式", "13900139003"],
            ["M04", "张强", "男", "QS-V01", "委员", "否", "正式", ""],
            ["M05", "赵国强", "男", "QS-J02", "书记", "是", "正式", ""],
            ["M06", "陈玉兰", "女", "QS-V02", "党员", "否", "正式", ""],
        ],
        spec.PAIRINGS: [
            ["P01", "QS-J01", "QS-V01", datetime.date(2024, 1, 1), None],
            ["P02", "QS-J02", "QS-V02", datetime.date(2024, 1, 1), datetime.date(2025, 12, 31)],
        ],
        spec.ACTIVITIES: [
            # 对子, 日期, 制度, 类别, 主题, 地点, 参加党员, 群众, then metric columns by header
            [
                "P01",
                datetime.date(2025, 3, 5),
                "集体活动日",
                "学习",
                "学习新党章",
                "东村村委会",
                "M01、M03",
                12,
                {TRAINING: None},
            ],
            [
                "P01",
                datetime.date(2025, 4, 10),
                "季度联席会",
                "会议",
                "二季度联席会",
                "财政局",
                "M01,M02;M03,M04",
                0,
                {},
            ],
            [
                "P01",
                datetime.date(2025, 5, 20),
                "其他",
                "培训",
                "甘蔗种植技术培训",
                "东村",
                "M02、M04",
                35,
                {TRAINING: 35},
            ],
            [
                "P02",
                datetime.date(2025, 6, 1),
                "",
                "捐款捐物",
                "抗旱捐款",
                "西村",
                "M05、M06",
                20,
                {DONATION: 5000},
            ],
        ],
        spec.FIGURES: [["QS-T1", "民营橡胶面积", "2025", 12000]],
    }


def activity_row(values, headers):
    """A row of the activity sheet laid out under `headers` (metric values from the dict)."""
    *fixed, metrics = values
    row = list(fixed) + [None] * (len(headers) - len(fixed))
    for header, value in metrics.items():
        row[headers.index(header)] = value
    return row


def filled_template(rows=None):
    """The downloaded template with `rows` appended under each sheet's example row."""
    rows = small_county_rows() if rows is None else rows
    book = load_workbook(io.BytesIO(template_workbook()))
    metrics = activity_metrics()
    for sheet in spec.SHEETS:
        headers = headers_of(sheet, metrics)
        for values in rows.get(sheet, []):
            if sheet == spec.ACTIVITIES:
                values = activity_row(values, headers)
            book[sheet].append(values)
    return save(book)


def plain_workbook(rows=None, *, order=None, drop=(), hidden=(), headers=None):
    """A workbook written from scratch (not the template): sheets in `order`, some hidden."""
    rows = small_county_rows() if rows is None else rows
    metrics = activity_metrics()
    book = Workbook()
    book.remove(book.active)
    for sheet in order or spec.SHEETS:
        if sheet in drop:
            continue
        sheet_headers = (headers or {}).get(sheet) or headers_of(sheet, metrics)
        worksheet = book.create_sheet(sheet)
        worksheet.append(sheet_headers)
        for values in rows.get(sheet, []):
            if sheet == spec.ACTIVITIES:
                values = activity_row(values, headers_of(sheet, metrics))
            worksheet.append(values)
        if sheet in hidden:
            worksheet.sheet_state = "hidden"
    return save(book)


def save(book):
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def make_small_county_root():
    """The county root as an admin sets it up before the first import, and its staff user."""
    root = make_county(code="QS", name="青山县委")
    staff = make_user(role="county_staff", org=root)
    return root, staff


MODELS = (Organization, Member, Pairing, Activity, Participation, Outcome, PeriodFigure, ImportRun)


def snapshot():
    """Every row of every model an import writes, to assert that nothing changed."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in MODELS}
