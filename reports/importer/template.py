"""The downloadable template (共建台账导入模板.xlsx) and the export of the ledger (导出台账).

Both write the same five sheets with the same headers, so an exported ledger is a filled template:
imported again, it changes nothing. Text cells are written formula-safe (reports/xlsx.py).
"""

import io
from collections import defaultdict

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from activities.models import Activity, Metric, Outcome, Participation, PeriodFigure, Regime
from pairings import access
from pairings.models import Member, Organization, Pairing
from reports.importer import spec
from reports.xlsx import add_sheet

TEMPLATE_NAME = "共建台账导入模板.xlsx"
EXAMPLE_MARK = spec.EXAMPLE_MARK
TEMPLATE_ROWS = 5000  # rows that get drop-down lists and formats in the template


def activity_metrics():
    """The metrics with a column on the activity sheet: active flows, as the activity form."""
    return list(Metric.objects.filter(is_active=True, aggregation=Metric.Aggregation.FLOW))


def regime_labels():
    return [r.short_name for r in Regime.objects.filter(is_active=True)] + [spec.OTHER_REGIME]


def headers_of(sheet, metrics):
    headers = list(spec.HEADERS[sheet])
    if sheet == spec.ACTIVITIES:
        headers += [spec.metric_header(m) for m in metrics]
    return headers


def _save(workbook):
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


INSTRUCTIONS = [
    ("共建台账导入模板：填写说明", ""),
    ("", ""),
    (
        "总体要求",
        "工作簿须为 .xlsx 格式；各表表头须与模板一致（列的顺序可以调整，多余的列会被忽略）。",
    ),
    ("", "不需要导入的表可以删除；各表可引用本文件其他表中的编码，也可引用系统中已有的编码。"),
    ("", f"以“{EXAMPLE_MARK}”开头的示例行不会导入，可以保留或删除。"),
    ("", "导入前会先预检：列出将新增、更新、不变的行和每一个问题；确认后才一次性写入。"),
    ("", "同一文件重复导入不会产生任何变化；导入不会删除系统中已有的数据。"),
    ("组织", "组织编码：字母、数字、下划线或短横线，最多32位，全县唯一。"),
    (
        "",
        "上级组织编码：新组织必须挂在已有组织或本表中的组织之下；已有组织的上级不能通过导入调整。",
    ),
    (
        "",
        "组织类别：县委、党委、党工委、党总支、党支部；所属领域：机关、农村、企业、学校、社区、其他。",
    ),
    (
        "党员",
        "所在支部编码须为党支部或党总支；性别：男、女；党内职务：书记、副书记、委员、党员（默认党员）。",
    ),
    ("", "在职党员：是、否（默认否）；党员状态：正式、预备（默认正式）；联系电话选填。"),
    ("共建对子", "帮扶支部和受帮扶支部须为不同的党支部；结束日期选填，不能早于开始日期。"),
    ("", "两个支部之间同一时间只能有一个进行中的共建对子；结束日期早于今天的对子导入为“已结束”。"),
    ("活动记录", "一行一条活动：对子编号、活动日期、制度、活动主题相同的行视为同一条活动。"),
    ("", "制度：集体活动日、交叉学习、季度联席会、年度互检、日常互助、其他（也可填制度全称）。"),
    ("", "活动类别：学习、会议、培训、捐款捐物、实事项目、走访慰问、检查、其他。"),
    ("", "活动日期须在共建对子的起止日期之内，且不晚于今天。"),
    ("", "参加党员编号：多个编号用顿号、逗号或分号隔开，须为该对子双方支部的党员。"),
    ("", "“名称(单位)”各列填写该活动的成效数值（不能为负数），不涉及的留空。"),
    ("", "导入的活动记为“已确认”，并标注为台账导入。"),
    ("统计数据", "按组织和期间填写的数据（如民营橡胶面积）：指标填指标名称。"),
    ("", "期间：2025（年）、2025-H1（半年）、2025-Q4（季度）或 2025-06（月）；数值不能为负数。"),
    (
        "日期",
        "日期可写作 2025-03-05、2025/3/5、2025.3.5、2025年3月5日 或 20250305，也可以是Excel日期。",
    ),
]


def template_workbook():
    """The template: instructions, then the five sheets with drop-downs, text columns, an example."""
    metrics = activity_metrics()
    workbook = Workbook()
    instructions = workbook.active
    instructions.title = spec.INSTRUCTIONS
    for r, (topic, text) in enumerate(INSTRUCTIONS, start=1):
        instructions.cell(row=r, column=1, value=topic).font = Font(bold=True)
        instructions.cell(row=r, column=2, value=text).alignment = Alignment(wrap_text=True)
    instructions["A1"].font = Font(bold=True, size=14)
    instructions.column_dimensions["A"].width = 14
    instructions.column_dimensions["B"].width = 100

    example_outcomes = {m.code: "" for m in metrics}
    example_outcomes.update({"training": 30, "donation_money": ""})
    examples = {
        spec.ORGS: ["X0101", "城关镇东村党支部", "X01", "党支部", "农村"],
        spec.MEMBERS: ["M000123", "张三", "男", "X0101", "书记", "否", "正式", "13800138000"],
        spec.PAIRINGS: ["PD001", "J001", "X0101", "2024-01-01", ""],
        spec.ACTIVITIES: [
            "PD001",
            "2025-03-05",
            "集体活动日",
            "培训",
            "甘蔗种植技术培训",
            "东村村委会",
            "M000123、M000456",
            25,
            *[example_outcomes[m.code] for m in metrics],
        ],
        spec.FIGURES: ["X01", "民营橡胶面积", "2025", 12000],
    }
    for sheet in spec.SHEETS:
        headers = headers_of(sheet, metrics)
        row = list(examples[sheet])
        row[0] = f"{EXAMPLE_MARK}{row[0]}"
        worksheet = add_sheet(workbook, sheet, headers, [row])
        for cell in worksheet[2]:
            cell.font = Font(italic=True, color="808080")
        worksheet["A2"].comment = Comment(f"示例行：以“{EXAMPLE_MARK}”开头的行不会导入。", "模板")
        _format_columns(worksheet, sheet, headers)
    return _save(workbook)


def _format_columns(worksheet, sheet, headers):
    last = TEMPLATE_ROWS + 1
    for col, header in enumerate(headers, start=1):
        letter = get_column_letter(col)
        cells = f"{letter}2:{letter}{last}"
        if (sheet, header) in spec.TEXT_COLUMNS:
            worksheet.column_dimensions[letter].number_format = "@"
        if (sheet, header) in spec.DATE_COLUMNS:
            worksheet.column_dimensions[letter].number_format = "yyyy-mm-dd"
        choices = spec.CHOICES.get((sheet, header))
        if sheet == spec.ACTIVITIES and header == "制度":
            choices = regime_labels()
        if choices:
            validation = DataValidation(
                type="list",
                formula1='"' + ",".join(choices) + '"',
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="请从列表中选择",
                error=f"{header}应为：{'、'.join(choices)}",
            )
            validation.add(cells)
            worksheet.add_data_validation(validation)
        if header in ("群众人数", "数值") or header.endswith(")"):
            validation = DataValidation(
                type="decimal",
                operator="greaterThanOrEqual",
                formula1="0",
                allow_blank=True,
                showErrorMessage=True,
                error="请填写不小于0的数字。",
            )
            validation.add(cells)
            worksheet.add_data_validation(validation)


# -- export --------------------------------------------------------------------------------------


def export_workbook(user=None):
    """The ledger as it stands, in the template's five sheets (the user's scope; all without one).

    Phones are masked, as in every export; a masked phone re-imported keeps the stored number.
    Activities are those that count (submitted or confirmed), with their living participants.
    """
    metrics = activity_metrics()
    orgs = Organization.objects.alive()
    if user is not None:
        orgs = access.organizations_under_scope(user)
    orgs = list(orgs.order_by("path").only("pk", "code", "name", "kind", "sector", "path", "depth"))
    code_by_path = {o.path: o.code for o in orgs}
    org_ids = {o.pk for o in orgs}
    org_rows = [
        [
            o.code,
            o.name,
            code_by_path.get(o.path[: -Organization.steplen], "") if o.depth > 1 else "",
            o.get_kind_display(),
            o.get_sector_display(),
        ]
        for o in orgs
    ]
    if user is not None and orgs:
        # A staff root's own parent is outside the scope: it stays as stored (an unchanged row).
        parents = {
            o.path[: -Organization.steplen] for o in orgs if o.depth > 1
        } - code_by_path.keys()
        found = dict(Organization.objects.filter(path__in=parents).values_list("path", "code"))
        for o, row in zip(orgs, org_rows, strict=True):
            if o.depth > 1 and not row[2]:
                row[2] = found.get(o.path[: -Organization.steplen], "")
    members = (
        Member.objects.alive()
        .filter(branch_id__in=org_ids)
        .select_related("branch")
        .order_by("branch__path", "code")
    )
    status_label = {v: k for k, v in spec.MEMBER_STATUSES.items()}
    member_rows = [
        [
            m.code,
            m.name,
            m.get_gender_display() if m.gender else "",
            m.branch.code,
            m.get_post_display(),
            "是" if m.in_service else "否",
            status_label[m.status],
            m.masked_phone if m.phone else "",
        ]
        for m in members.iterator(chunk_size=2000)
    ]
    pairings = list(
        Pairing.objects.alive()
        .filter(helper_id__in=org_ids, helped_id__in=org_ids)
        .select_related("helper", "helped")
        .order_by("code")
    )
    pairing_rows = [
        [p.code, p.helper.code, p.helped.code, p.start_date, p.end_date] for p in pairings
    ]
    activity_rows = _activity_rows(pairings, metrics)
    figures = (
        PeriodFigure.objects.filter(organization_id__in=org_ids)
        .select_related("organization", "metric")
        .order_by("organization__path", "metric__order", "period_start", "period")
    )
    figure_rows = [[f.organization.code, f.metric.name, f.period, f.value] for f in figures]
    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet, rows in (
        (spec.ORGS, org_rows),
        (spec.MEMBERS, member_rows),
        (spec.PAIRINGS, pairing_rows),
        (spec.ACTIVITIES, activity_rows),
        (spec.FIGURES, figure_rows),
    ):
        add_sheet(workbook, sheet, headers_of(sheet, metrics), rows)
    return _save(workbook)


def _activity_rows(pairings, metrics):
    code_of = {p.pk: p.code for p in pairings}
    regimes = {r.pk: r.short_name for r in Regime.objects.all()}
    labels = dict(Activity.Category.choices)
    rows = []
    for start in range(0, len(pairings), 500):
        ids = [p.pk for p in pairings[start : start + 500]]
        activities = list(
            Activity.objects.counted()
            .filter(pairing_id__in=ids)
            .order_by("pairing_id", "date", "pk")
            .values_list(
                "pk",
                "pairing_id",
                "date",
                "regime_id",
                "category",
                "title",
                "place",
                "villager_count",
            )
        )
        people = defaultdict(list)
        for activity_id, code in (
            Participation.objects.filter(
                activity__pairing_id__in=ids,
                activity__deleted_at__isnull=True,
                member__deleted_at__isnull=True,
            )
            .order_by("member__code")
            .values_list("activity_id", "member__code")
        ):
            people[activity_id].append(code)
        values = defaultdict(dict)
        for activity_id, metric_id, value in Outcome.objects.filter(
            activity__pairing_id__in=ids, activity__deleted_at__isnull=True
        ).values_list("activity_id", "metric_id", "value"):
            values[activity_id][metric_id] = value
        for pk, pairing_id, day, regime_id, category, title, place, villagers in activities:
            rows.append(
                [
                    code_of[pairing_id],
                    day,
                    regimes.get(regime_id, spec.OTHER_REGIME),
                    labels[category],
                    title,
                    place,
                    "、".join(people[pk]),
                    villagers,
                    *[values[pk].get(m.pk) for m in metrics],
                ]
            )
    return rows
