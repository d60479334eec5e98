"""The ledger workbook's sheets and columns: the contract with the county's Excel files.

Sheet names and header strings are exact; values are matched after normalisation (normalize.py).
"""

from activities.models import Category
from pairings.models import Gender, OrgKind, Post, Sector

ORGS = "组织"
MEMBERS = "党员"
PAIRINGS = "共建对子"
ACTIVITIES = "活动记录"
FIGURES = "统计数据"
SHEETS = (ORGS, MEMBERS, PAIRINGS, ACTIVITIES, FIGURES)
INSTRUCTIONS = "填写说明"
EXAMPLE_MARK = "【示例】"  # rows starting with it are the template's examples, never imported

HEADERS = {
    ORGS: ["组织编码", "组织名称", "上级组织编码", "组织类别", "所属领域"],
    MEMBERS: [
        "党员编号",
        "姓名",
        "性别",
        "所在支部编码",
        "党内职务",
        "在职党员",
        "党员状态",
        "联系电话",
    ],
    PAIRINGS: ["对子编号", "帮扶支部编码", "受帮扶支部编码", "开始日期", "结束日期"],
    ACTIVITIES: [
        "对子编号",
        "活动日期",
        "制度",
        "活动类别",
        "活动主题",
        "地点",
        "参加党员编号",
        "群众人数",
    ],
    FIGURES: ["组织编码", "指标", "期间", "数值"],
}

# Fixed values: the label in the file → the stored value.
ORG_KINDS = {k.label: k.value for k in OrgKind}
SECTORS = {s.label: s.value for s in Sector}
GENDERS = {g.label: g.value for g in Gender}
POSTS = {p.label: p.value for p in Post}
YES_NO = {"是": True, "否": False}
MEMBER_STATUSES = {"正式": "full", "预备": "probationary"}
# Also accepted: the stored labels in full (正式党员, 预备党员).
MEMBER_STATUS_ALIASES = {"正式党员": "full", "预备党员": "probationary"}
CATEGORIES = {c.label: c.value for c in Category}
OTHER_REGIME = "其他"

# Drop-down lists of the template, by (sheet, header).
CHOICES = {
    (ORGS, "组织类别"): list(ORG_KINDS),
    (ORGS, "所属领域"): list(SECTORS),
    (MEMBERS, "性别"): list(GENDERS),
    (MEMBERS, "党内职务"): list(POSTS),
    (MEMBERS, "在职党员"): list(YES_NO),
    (MEMBERS, "党员状态"): list(MEMBER_STATUSES),
    (ACTIVITIES, "活动类别"): list(CATEGORIES),
}

# Columns whose values are codes or phone numbers: text format in the template.
TEXT_COLUMNS = {
    (ORGS, "组织编码"),
    (ORGS, "上级组织编码"),
    (MEMBERS, "党员编号"),
    (MEMBERS, "所在支部编码"),
    (MEMBERS, "联系电话"),
    (PAIRINGS, "对子编号"),
    (PAIRINGS, "帮扶支部编码"),
    (PAIRINGS, "受帮扶支部编码"),
    (ACTIVITIES, "对子编号"),
    (ACTIVITIES, "参加党员编号"),
    (FIGURES, "组织编码"),
    (FIGURES, "期间"),
}
DATE_COLUMNS = {
    (PAIRINGS, "开始日期"),
    (PAIRINGS, "结束日期"),
    (ACTIVITIES, "活动日期"),
}

PARTICIPANT_SEPARATORS = "、,;"


def metric_header(metric):
    """The activity sheet's column for a metric: 名称(单位)."""
    return f"{metric.name}({metric.unit})"
