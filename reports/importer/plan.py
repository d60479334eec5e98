"""Compare a read workbook with the database: what each row creates or updates, and problems.

Rows refer to rows of the same file or to what is already in the database, whichever holds the
code (the file wins: its row is what the database will hold). References are resolved with
dictionaries loaded in a few queries per sheet (in chunks), never a query per row.

Identity of each row, so that importing the same file twice changes nothing the second time:
- 组织, 党员, 共建对子: their codes;
- 统计数据: (organization, metric, period);
- 活动记录: (pairing, date, regime, title), the ledger's natural key. It is matched against every
  activity of the pairing in the database, however it was logged, so an exported ledger re-imports
  as unchanged. A new imported activity's client_id is uuid5 of that key, so an imported activity
  moved to the trash is recognised (and the row refused) rather than imported a second time.
"""

import datetime
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils import timezone

from activities.models import Activity, Metric, Outcome, Participation, PeriodFigure, Regime
from activities.periods import Period
from pairings import access
from pairings.models import Member, Organization, OrgKind, Pairing, phone_validator
from reports.importer import normalize, spec
from reports.importer.normalize import Invalid
from reports.importer.problems import Problem

CHUNK = 900  # codes per IN (...) query: well under SQLite's variable limit
ACTIVITY_NAMESPACE = uuid.UUID("6f1c7a52-2b4e-4f0e-9a57-3d1c0b6e2a10")
BRANCH_KINDS = set(Organization.BRANCH_KINDS)
MASKED_PHONE = re.compile(r"^\d{3}\*{4}\d{4}$")
PREVIEW_ROWS = 200  # rows listed per sheet and kind in the preview (counts are always complete)


def activity_client_id(pairing_code, day, regime_code, title):
    return uuid.uuid5(ACTIVITY_NAMESPACE, f"{pairing_code}|{day.isoformat()}|{regime_code}|{title}")


def chunks(items, size=CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class SheetPlan:
    name: str
    present: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    created_rows: list = field(default_factory=list)  # [(row, label)]
    updated_rows: list = field(default_factory=list)  # [(row, label, changes)]

    def create(self, row, label):
        self.created += 1
        if len(self.created_rows) < PREVIEW_ROWS:
            self.created_rows.append((row, label))

    def update(self, row, label, changes):
        self.updated += 1
        if len(self.updated_rows) < PREVIEW_ROWS:
            self.updated_rows.append((row, label, "；".join(changes)))

    @property
    def counts(self):
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


@dataclass
class Plan:
    sheets: dict
    problems: list
    warnings: list
    org_creates: list = field(default_factory=list)  # in tree order, paths computed
    org_updates: list = field(default_factory=list)  # [(org, fields)]
    member_creates: list = field(default_factory=list)
    member_updates: list = field(default_factory=list)
    pairing_creates: list = field(default_factory=list)
    pairing_updates: list = field(default_factory=list)
    # [(activity, member objects, {metric: value})]
    activity_creates: list = field(default_factory=list)
    # [(activity, fields, member objects or None, {metric: value or None} changed only)]
    activity_updates: list = field(default_factory=list)
    figure_creates: list = field(default_factory=list)
    figure_updates: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.problems

    @property
    def changes(self):
        return any(s.created or s.updated for s in self.sheets.values())

    @property
    def counts(self):
        return {name: s.counts for name, s in self.sheets.items() if s.present}


@dataclass
class Row:
    """A data row: its number, and its values by header."""

    sheet: object
    number: int
    values: tuple

    def raw(self, header):
        index = self.sheet.columns.get(header, self.sheet.extra.get(header))
        return self.values[index] if index is not None and index < len(self.values) else None


class Planner:
    def __init__(self, workbook, *, user=None, today=None):
        self.book = workbook
        self.user = user
        self.today = today or timezone.localdate()
        self.now = timezone.now()
        self.problems = list(workbook.problems)
        self.warnings = [f"工作表“{t}”不是模板中的表，已忽略。" for t in workbook.ignored_sheets]
        self.sheets = {name: SheetPlan(name) for name in spec.SHEETS}
        self.plan = Plan(self.sheets, self.problems, self.warnings)
        paths = access.scope_of(user).write_paths if user is not None else None
        self.scope_paths = paths  # None: the command line, no scope limit
        # Codes whose own rows have problems: references to them are not reported again.
        self.codes_by_row = {name: {} for name in spec.SHEETS}
        self.broken = {name: set() for name in spec.SHEETS}
        self.quiet = []  # (sheet, row) skipped for a problem reported on another row

    # -- helpers -------------------------------------------------------------------------------

    def problem(self, row, header, reason, value=None):
        sheet = row.sheet
        raw = row.raw(header) if value is None and header else value
        self.problems.append(
            Problem(
                sheet.name,
                row.number,
                sheet.letter(header) if header else "",
                header or "",
                "" if raw is None else str(raw),
                reason,
            )
        )

    def cell(self, row, header, parse, *, required=False, **kwargs):
        """The clean value of a cell, or None after recording the problem."""
        raw = row.raw(header)
        try:
            value = parse(raw, **kwargs)
        except Invalid as error:
            self.problem(row, header, str(error))
            return None
        if value is None and required:
            self.problem(row, header, f"“{header}”不能为空。")
        return value

    def note_code(self, sheet, row, code):
        if code:
            self.codes_by_row[sheet][row.number] = code

    def marks(self):
        """Grows whenever a row gets a problem, reported here or on the row it refers to."""
        return len(self.problems) + len(self.quiet)

    def skip_quietly(self, row):
        self.quiet.append((row.sheet.name, row.number))

    def mark_broken(self, sheet):
        bad_rows = {p.row for p in self.problems if p.sheet == sheet}
        bad_rows |= {number for name, number in self.quiet if name == sheet}
        self.broken[sheet] = {
            code for number, code in self.codes_by_row[sheet].items() if number in bad_rows
        }

    def in_scope(self, path):
        if self.scope_paths is None:
            return True
        return any(path.startswith(p) for p in self.scope_paths)

    def rows(self, name):
        sheet = self.book.sheets.get(name)
        if sheet is None:
            return []
        self.sheets[name].present = True
        self.sheets[name].rows = len(sheet.rows)
        missing = [h for h in spec.HEADERS[name] if h not in sheet.columns]
        if missing:
            return []  # reported when read; rows of a sheet without its headers are not read
        return [Row(sheet, number, values) for number, values in sheet.rows]

    # -- the whole plan ----------------------------------------------------------------------

    def build(self):
        org_rows = self.rows(spec.ORGS)
        member_rows = self.rows(spec.MEMBERS)
        pairing_rows = self.rows(spec.PAIRINGS)
        activity_rows = self.rows(spec.ACTIVITIES)
        figure_rows = self.rows(spec.FIGURES)
        self.load_organizations(org_rows, member_rows, pairing_rows, figure_rows)
        self.plan_organizations(org_rows)
        self.mark_broken(spec.ORGS)
        self.load_members(member_rows, activity_rows)
        self.plan_members(member_rows)
        self.mark_broken(spec.MEMBERS)
        self.load_pairings(pairing_rows, activity_rows)
        self.plan_pairings(pairing_rows)
        self.mark_broken(spec.PAIRINGS)
        self.plan_activities(activity_rows)
        self.plan_figures(figure_rows)
        return self.plan

    # -- organizations ------------------------------------------------------------------------

    def load_organizations(self, org_rows, member_rows, pairing_rows, figure_rows):
        codes = set()
        for rows, headers in (
            (org_rows, ("组织编码", "上级组织编码")),
            (member_rows, ("所在支部编码",)),
            (pairing_rows, ("帮扶支部编码", "受帮扶支部编码")),
            (figure_rows, ("组织编码",)),
        ):
            for row in rows:
                for header in headers:
                    try:
                        code = normalize.code(row.raw(header))
                    except Invalid:
                        continue
                    if code:
                        codes.add(code)
        self.db_orgs = {}
        self.trashed_org_codes = set()
        for part in chunks(codes):
            for org in Organization.objects.filter(code__in=part).only(
                "pk", "code", "name", "kind", "sector", "path", "depth", "numchild", "deleted_at"
            ):
                if org.deleted_at is None:
                    self.db_orgs[org.code] = org
                else:
                    self.trashed_org_codes.add(org.code)
        parent_paths = {
            o.path[: -Organization.steplen] for o in self.db_orgs.values() if o.depth > 1
        }
        self.code_by_path = {o.path: o.code for o in self.db_orgs.values()}
        for part in chunks(parent_paths - set(self.code_by_path)):
            self.code_by_path.update(
                Organization.objects.filter(path__in=part).values_list("path", "code")
            )
        # The organization each code will denote after the import: a file row or the database.
        self.orgs = dict(self.db_orgs)

    def plan_organizations(self, rows):
        sheet = self.sheets[spec.ORGS]
        seen = {}
        wanted = {}  # code → (row, name, parent code, kind, sector)
        for row in rows:
            code = self.cell(row, "组织编码", normalize.code, required=True)
            self.note_code(spec.ORGS, row, code)
            name = self.cell(row, "组织名称", normalize.plain, required=True)
            parent = self.cell(row, "上级组织编码", normalize.code)
            kind = self.cell(
                row, "组织类别", normalize.choice, required=True, choices=spec.ORG_KINDS
            )
            sector = self.cell(
                row, "所属领域", normalize.choice, required=True, choices=spec.SECTORS
            )
            if name and len(name) > 100:
                self.problem(row, "组织名称", "组织名称不能超过100个字符。")
                name = None
            if not code:
                continue
            if code in seen:
                self.problem(row, "组织编码", f"组织编码与第{seen[code]}行重复。")
                continue
            seen[code] = row.number
            if code in self.trashed_org_codes:
                self.problem(
                    row, "组织编码", "该组织编码属于回收站中的组织，请先恢复或改用其他编码。"
                )
                continue
            if parent == code:
                self.problem(row, "上级组织编码", "上级组织不能是自己。")
                continue
            if None in (name, kind, sector):
                continue
            wanted[code] = (row, name, parent, kind, sector)

        new = {}
        for code, (row, name, parent, kind, sector) in wanted.items():
            existing = self.db_orgs.get(code)
            if existing is None:
                new[code] = (row, name, parent, kind, sector)
                continue
            if not self.in_scope(existing.path):
                self.problem(row, "组织编码", "该组织编码已被您管辖范围以外的组织使用。")
                continue
            db_parent = self.code_by_path.get(existing.path[: -Organization.steplen])
            if (parent or None) != (db_parent if existing.depth > 1 else None):
                self.problem(
                    row,
                    "上级组织编码",
                    f"与系统中的上级组织（{db_parent or '无'}）不一致；导入不调整组织隶属关系，"
                    "请在系统管理中移动该组织。",
                )
                continue
            if (kind in BRANCH_KINDS) != (existing.kind in BRANCH_KINDS):
                self.problem(
                    row, "组织类别", "不能在党支部（党总支）与上级党组织类别之间改变组织类别。"
                )
                continue
            changes = []
            for attr, label, value, shown in (
                ("name", "组织名称", name, name),
                ("kind", "组织类别", kind, OrgKind(kind).label),
                ("sector", "所属领域", sector, Organization.Sector(sector).label),
            ):
                if getattr(existing, attr) != value:
                    changes.append(f"{label}：{self._label(existing, attr)}→{shown}")
                    setattr(existing, attr, value)
            if changes:
                self.plan.org_updates.append(existing)
                sheet.update(row.number, f"{code} {name}", changes)
            else:
                sheet.unchanged += 1

        # New organizations: resolve parents (in the file or the database), refuse cycles and
        # out-of-scope parents, then number them as treebeard would, in one pass per level.
        resolved = {}  # code → Organization (unsaved)
        state = {}

        def resolve(code, trail):
            if code in resolved:
                return resolved[code]
            if state.get(code) == "bad":
                return None
            row, name, parent, kind, sector = new[code]
            org = Organization(code=code, name=name, kind=kind, sector=sector)
            if not parent:
                if self.scope_paths is not None:
                    self.problem(
                        row, "上级组织编码", "请填写上级组织编码：新组织必须隶属于您管辖的组织。"
                    )
                    state[code] = "bad"
                    return None
                org.parent_node = None
            elif parent in trail:
                self.problem(row, "上级组织编码", "上级组织关系形成了循环。")
                state[code] = "bad"
                return None
            elif parent in new:
                parent_org = resolve(parent, trail | {code})
                if parent_org is None:
                    if state.get(code) != "bad":
                        self.problem(row, "上级组织编码", f"上级组织“{parent}”本身有问题，见该行。")
                    state[code] = "bad"
                    return None
                org.parent_node = parent_org
            elif parent in self.db_orgs:
                parent_org = self.db_orgs[parent]
                if not self.in_scope(parent_org.path):
                    self.problem(row, "上级组织编码", f"未找到组织编码“{parent}”。")
                    state[code] = "bad"
                    return None
                org.parent_node = parent_org
            else:
                self.problem(
                    row, "上级组织编码", f"未找到组织编码“{parent}”（表中和系统中都没有）。"
                )
                state[code] = "bad"
                return None
            if org.parent_node is not None and org.parent_node.kind == OrgKind.BRANCH:
                self.problem(row, "上级组织编码", "党支部之下不能再设组织。")
                state[code] = "bad"
                return None
            resolved[code] = org
            return org

        for code in new:
            resolve(code, frozenset())
        self._number_new_organizations(resolved, new)
        for code, org in resolved.items():
            row = new[code][0]
            self.orgs[code] = org
            sheet.create(row.number, f"{code} {org.name}")

    def _label(self, obj, attr):
        return (
            getattr(obj, f"get_{attr}_display")()
            if attr in ("kind", "sector")
            else getattr(obj, attr)
        )

    def _number_new_organizations(self, resolved, new):
        """Paths for new nodes: appended after the parent's last child, siblings in code order."""
        children = defaultdict(list)
        for org in resolved.values():
            children[id(org.parent_node)].append(org)
        existing_parents = {
            id(o.parent_node): o.parent_node
            for o in resolved.values()
            if o.parent_node is not None and o.parent_node.pk
        }
        last_child = {}
        paths = [p.path for p in existing_parents.values()]
        for part in chunks(paths, 200):
            query = Organization.objects.none()
            for path in part:
                depth = len(path) // Organization.steplen + 1
                query = query | Organization.objects.filter(path__startswith=path, depth=depth)
            for path in query.order_by().values_list("path", flat=True):
                parent_path = path[: -Organization.steplen]
                last_child[parent_path] = max(last_child.get(parent_path, ""), path)
        roots = children.get(id(None), [])
        if roots:
            last_root = Organization.objects.filter(depth=1).order_by("-path").first()
            position = Organization._str2int(last_root.path) if last_root else 0
        order = []
        queue = []
        for org in sorted(roots, key=lambda o: o.code):
            position += 1
            org.path = Organization._get_path("", 1, position)
            org.depth = 1
            queue.append(org)
        for parent in existing_parents.values():
            kids = sorted(children[id(parent)], key=lambda o: o.code)
            last = last_child.get(parent.path)
            start = Organization._str2int(last[-Organization.steplen :]) if last else 0
            for i, kid in enumerate(kids, start=start + 1):
                kid.path = Organization._get_path(parent.path, parent.depth + 1, i)
                kid.depth = parent.depth + 1
                queue.append(kid)
            parent.numchild += len(kids)
            if parent not in self.plan.org_updates:
                self.plan.org_updates.append(parent)
        while queue:
            org = queue.pop(0)
            kids = sorted(children.get(id(org), []), key=lambda o: o.code)
            org.numchild = len(kids)
            order.append(org)
            for i, kid in enumerate(kids, start=1):
                kid.path = Organization._get_path(org.path, org.depth + 1, i)
                kid.depth = org.depth + 1
                queue.append(kid)
        for org in order:
            if org.depth > 6:
                self.problem(new[org.code][0], "上级组织编码", "组织层级不能超过6级。")
        self.plan.org_creates = [o for o in order if o.depth <= 6]

    def org_ref(self, row, header, *, branch=False, required=True):
        """The organization a cell names (file or database, in scope), or None with a problem."""
        code = self.cell(row, header, normalize.code, required=required)
        if not code:
            return None
        if code in self.broken[spec.ORGS]:
            self.skip_quietly(row)  # its own row's problem says why
            return None
        org = self.orgs.get(code)
        if org is None or (org.pk and not self.in_scope(org.path)):
            self.problem(row, header, f"未找到组织编码“{code}”（表中和系统中都没有）。")
            return None
        if branch and org.kind not in BRANCH_KINDS:
            self.problem(row, header, f"“{code}”{org.name}不是党支部或党总支。")
            return None
        return org

    # -- members ------------------------------------------------------------------------------

    def load_members(self, member_rows, activity_rows):
        codes = set()
        for row in member_rows:
            try:
                code = normalize.code(row.raw("党员编号"))
            except Invalid:
                continue
            if code:
                codes.add(code)
        for row in activity_rows:
            codes.update(
                normalize.split_codes(row.raw("参加党员编号"), spec.PARTICIPANT_SEPARATORS)
            )
        self.db_members = {}
        self.trashed_member_codes = set()
        for part in chunks(codes):
            for member in (
                Member.objects.filter(code__in=part)
                .select_related("branch")
                .only(*MEMBER_FIELDS, "deleted_at", "branch__path", "branch__code", "branch__name")
            ):
                if member.deleted_at is None:
                    self.db_members[member.code] = member
                else:
                    self.trashed_member_codes.add(member.code)
        self.members = dict(self.db_members)

    def plan_members(self, rows):
        sheet = self.sheets[spec.MEMBERS]
        seen = {}
        for row in rows:
            before = self.marks()
            code = self.cell(row, "党员编号", normalize.code, required=True)
            self.note_code(spec.MEMBERS, row, code)
            name = self.cell(row, "姓名", normalize.plain, required=True)
            gender = self.cell(row, "性别", normalize.choice, choices=spec.GENDERS) or ""
            branch = self.org_ref(row, "所在支部编码", branch=True)
            post = self.cell(row, "党内职务", normalize.choice, choices=spec.POSTS) or "member"
            in_service = self.cell(row, "在职党员", normalize.choice, choices=spec.YES_NO)
            status = self.cell(
                row,
                "党员状态",
                normalize.choice,
                choices=spec.MEMBER_STATUSES,
                aliases=spec.MEMBER_STATUS_ALIASES,
            )
            phone = self.cell(row, "联系电话", normalize.text) or ""
            if name and len(name) > 50:
                self.problem(row, "姓名", "姓名不能超过50个字符。")
                name = None
            if not code:
                continue
            if code in seen:
                self.problem(row, "党员编号", f"党员编号与第{seen[code]}行重复。")
                continue
            seen[code] = row.number
            if code in self.trashed_member_codes:
                self.problem(
                    row, "党员编号", "该党员编号属于回收站中的党员，请先恢复或改用其他编号。"
                )
                continue
            existing = self.db_members.get(code)
            if existing is not None and not self.in_scope(existing.branch.path):
                self.problem(row, "党员编号", "该党员编号已被您管辖范围以外的党员使用。")
                continue
            if existing is not None and phone and phone == existing.masked_phone:
                phone = existing.phone  # an exported (masked) phone keeps the stored one
            elif phone and (MASKED_PHONE.match(phone) or "*" in phone):
                self.problem(
                    row, "联系电话", "这是打码显示的号码，无法导入；请填写完整号码或留空。"
                )
                continue
            elif phone:
                try:
                    phone_validator(phone)
                except ValidationError:
                    self.problem(row, "联系电话", "请输入有效的联系电话（5到20位数字）。")
                    continue
            if self.marks() > before:
                continue
            values = {
                "name": name,
                "gender": gender,
                "post": post,
                "in_service": bool(in_service),
                "status": status or "full",
                "phone": phone,
            }
            if existing is None:
                member = Member(code=code, branch=branch, **values)
                self.plan.member_creates.append(member)
                self.members[code] = member
                sheet.create(row.number, f"{code} {name}")
                continue
            changes = []
            for attr, value in values.items():
                if getattr(existing, attr) != value:
                    changes.append(MEMBER_LABELS[attr])
                    setattr(existing, attr, value)
            if existing.branch_id != branch.pk or branch.pk is None:
                changes.append(f"所在支部：{existing.branch.code}→{branch.code}")
                existing.branch = branch
            if changes:
                self.plan.member_updates.append(existing)
                sheet.update(row.number, f"{code} {name}", changes)
            else:
                sheet.unchanged += 1

    # -- pairings ------------------------------------------------------------------------------

    def load_pairings(self, pairing_rows, activity_rows):
        codes = set()
        for rows in (pairing_rows, activity_rows):
            for row in rows:
                try:
                    code = normalize.code(row.raw("对子编号"))
                except Invalid:
                    continue
                if code:
                    codes.add(code)
        self.db_pairings = {}
        self.trashed_pairing_codes = set()
        for part in chunks(codes):
            for pairing in Pairing.objects.filter(code__in=part).select_related("helper", "helped"):
                if pairing.deleted_at is None:
                    self.db_pairings[pairing.code] = pairing
                else:
                    self.trashed_pairing_codes.add(pairing.code)
        self.pairings = dict(self.db_pairings)
        # Every activity of those pairings, by its natural key, with its people and figures.
        ids = [p.pk for p in self.db_pairings.values()]
        self.db_activities = {}
        self.activity_span = {}
        self.trashed_client_ids = set()
        by_id = {}
        for part in chunks(ids, 500):
            activities = Activity.objects.filter(pairing_id__in=part).only(*ACTIVITY_FIELDS)
            for activity in activities.order_by("pk"):
                if activity.deleted_at is not None:
                    if activity.imported:
                        self.trashed_client_ids.add(activity.client_id)
                    continue
                key = (activity.pairing_id, activity.date, activity.regime_id, activity.title)
                self.db_activities.setdefault(key, activity)
                activity.member_ids = set()
                activity.values = {}
                by_id[activity.pk] = activity
                low, high = self.activity_span.get(activity.pairing_id, (activity.date,) * 2)
                self.activity_span[activity.pairing_id] = (
                    min(low, activity.date),
                    max(high, activity.date),
                )
            for activity_id, member_id in Participation.objects.filter(
                activity__pairing_id__in=part
            ).values_list("activity_id", "member_id"):
                if activity_id in by_id:
                    by_id[activity_id].member_ids.add(member_id)
            for activity_id, metric_id, value in Outcome.objects.filter(
                activity__pairing_id__in=part
            ).values_list("activity_id", "metric_id", "value"):
                if activity_id in by_id:
                    by_id[activity_id].values[metric_id] = value
        # Active pairings in the database between the branches the file names (one per two).
        branch_ids = {o.pk for o in self.orgs.values() if o.pk}
        self.db_active = {}
        for part in chunks(branch_ids, 400):
            for pairing in (
                Pairing.objects.alive()
                .filter(status=Pairing.Status.ACTIVE, helper_id__in=part)
                .only("pk", "code", "helper_id", "helped_id")
            ):
                self.db_active[pairing.code] = frozenset((pairing.helper_id, pairing.helped_id))

    def plan_pairings(self, rows):
        sheet = self.sheets[spec.PAIRINGS]
        seen = {}
        active = dict(self.db_active)  # code → branch pair, as the import leaves them
        placed = {}
        for row in rows:
            code = self.cell(row, "对子编号", normalize.code, required=True)
            self.note_code(spec.PAIRINGS, row, code)
            helper = self.org_ref(row, "帮扶支部编码", branch=True)
            helped = self.org_ref(row, "受帮扶支部编码", branch=True)
            start = self.cell(row, "开始日期", normalize.date, required=True)
            end = self.cell(row, "结束日期", normalize.date)
            if not code:
                continue
            if code in seen:
                self.problem(row, "对子编号", f"对子编号与第{seen[code]}行重复。")
                continue
            seen[code] = row.number
            if code in self.trashed_pairing_codes:
                self.problem(
                    row, "对子编号", "该对子编号属于回收站中的共建对子，请先恢复或改用其他编号。"
                )
                continue
            if helper is not None and helper is helped:
                self.problem(row, "受帮扶支部编码", "一个支部不能与自己结对。")
                continue
            if start and end and end < start:
                self.problem(row, "结束日期", "结束日期不能早于开始日期。")
                continue
            if start and start < datetime.date(2000, 1, 1):
                self.problem(row, "开始日期", "开始日期不能早于2000年。")
                continue
            if None in (helper, helped, start):
                continue
            existing = self.db_pairings.get(code)
            if existing is not None and not (
                self.in_scope(existing.helper.path) or self.in_scope(existing.helped.path)
            ):
                self.problem(row, "对子编号", "该对子编号已被您管辖范围以外的共建对子使用。")
                continue
            ended = end is not None and end < self.today
            if existing is None:
                pairing = Pairing(
                    code=code,
                    helper=helper,
                    helped=helped,
                    start_date=start,
                    end_date=end,
                    status=Pairing.Status.ENDED if ended else Pairing.Status.ACTIVE,
                )
                self.pairings[code] = pairing
                self.plan.pairing_creates.append(pairing)
                sheet.create(row.number, f"{code} {helper.name}⇄{helped.name}")
                status = pairing.status
            else:
                if existing.helper_id != helper.pk or existing.helped_id != helped.pk:
                    self.problem(
                        row,
                        "帮扶支部编码",
                        f"与系统中该对子的双方（{existing.helper.code}、{existing.helped.code}）"
                        "不一致；导入不更换对子的支部。",
                    )
                    continue
                span = self.activity_span.get(existing.pk)
                if span and (span[0] < start or (end and span[1] > end)):
                    self.problem(
                        row,
                        "开始日期" if span[0] < start else "结束日期",
                        f"该对子已有活动日期在{span[0]}至{span[1]}之间，起止日期须包含它们。",
                    )
                    continue
                changes = []
                if existing.start_date != start:
                    changes.append(f"开始日期：{existing.start_date}→{start}")
                    existing.start_date = start
                if existing.end_date != end:
                    changes.append(f"结束日期：{existing.end_date or '无'}→{end or '无'}")
                    existing.end_date = end
                    if ended:
                        existing.status = Pairing.Status.ENDED
                    elif existing.status == Pairing.Status.ENDED:
                        existing.status = Pairing.Status.ACTIVE
                if changes:
                    self.plan.pairing_updates.append(existing)
                    sheet.update(row.number, f"{code} {helper.name}⇄{helped.name}", changes)
                else:
                    sheet.unchanged += 1
                status = existing.status
            active.pop(code, None)
            if status == Pairing.Status.ACTIVE:
                pair = frozenset((id(helper), id(helped)))
                if pair in placed:
                    self.problem(
                        row,
                        "受帮扶支部编码",
                        f"这两个支部之间已有进行中的共建对子（第{placed[pair]}行）。",
                    )
                    continue
                placed[pair] = row.number
                if helper.pk and helped.pk:
                    others = [c for c, p in active.items() if p == {helper.pk, helped.pk}]
                    if others:
                        self.problem(
                            row,
                            "受帮扶支部编码",
                            f"这两个支部之间已有进行中的共建对子（{others[0]}）。",
                        )

    # -- activities -----------------------------------------------------------------------------

    def metric_columns(self, sheet):
        """Metric columns of the activity sheet ({header: Metric}); others are noted and ignored."""
        metrics = {spec.metric_header(m): m for m in Metric.objects.all()}
        columns = {}
        for header in sheet.extra:
            metric = metrics.get(header)
            if metric is None:
                self.warnings.append(f"活动记录表的“{header}”列不是系统中的成效指标，已忽略。")
            elif not metric.is_active or metric.aggregation != Metric.Aggregation.FLOW:
                self.warnings.append(
                    f"活动记录表的“{header}”列不是按活动累加的启用指标，已忽略；存量指标请填在统计数据表。"
                )
            else:
                columns[header] = metric
        return columns

    def plan_activities(self, rows):
        sheet_plan = self.sheets[spec.ACTIVITIES]
        if not rows:
            return
        regimes = {}
        for regime in Regime.objects.all():
            regimes[normalize.header(regime.short_name)] = regime
            regimes[normalize.header(regime.name)] = regime
        metric_columns = self.metric_columns(rows[0].sheet)
        seen = {}
        for row in rows:
            before = self.marks()
            pairing = self.pairing_ref(row)
            day = self.cell(row, "活动日期", normalize.date, required=True)
            regime_text = normalize.header(row.raw("制度"))
            regime = None
            if regime_text and regime_text != spec.OTHER_REGIME:
                regime = regimes.get(regime_text)
                if regime is None:
                    options = "、".join([r.short_name for r in Regime.objects.all()] + ["其他"])
                    self.problem(row, "制度", f"应为以下之一：{options}（或制度全称）。")
            category = self.cell(
                row, "活动类别", normalize.choice, required=True, choices=spec.CATEGORIES
            )
            title = self.cell(row, "活动主题", normalize.plain, required=True)
            place = self.cell(row, "地点", normalize.plain) or ""
            villagers = self.cell(row, "群众人数", normalize.integer) or 0
            if title and len(title) > 200:
                self.problem(row, "活动主题", "活动主题不能超过200个字符。")
            if len(place) > 100:
                self.problem(row, "地点", "地点不能超过100个字符。")
            if day and day > self.today:
                self.problem(row, "活动日期", "活动日期不能晚于今天。")
            elif day and day < datetime.date(2000, 1, 1):
                self.problem(row, "活动日期", "活动日期不能早于2000年。")
            elif day and pairing is not None and not pairing.covers(day):
                self.problem(
                    row,
                    "活动日期",
                    f"活动日期不在共建对子的起止日期（{pairing.start_date}至"
                    f"{pairing.end_date or '今'}）之内。",
                )
            members = []
            for member_code in dict.fromkeys(
                normalize.split_codes(row.raw("参加党员编号"), spec.PARTICIPANT_SEPARATORS)
            ):
                if member_code in self.broken[spec.MEMBERS]:
                    self.skip_quietly(row)
                    continue
                member = self.members.get(member_code)
                if member is None or (member.pk and not self.in_scope(member.branch.path)):
                    self.problem(row, "参加党员编号", f"未找到党员编号“{member_code}”。")
                    continue
                if pairing is not None and member.branch.code not in (
                    pairing.helper.code,
                    pairing.helped.code,
                ):
                    self.problem(
                        row,
                        "参加党员编号",
                        f"党员“{member_code}”{member.name}（{member.branch.name}）"
                        "不属于该对子的双方支部。",
                    )
                    continue
                members.append(member)
            outcomes = {}
            for header, metric in metric_columns.items():
                value = self.cell(row, header, normalize.decimal)
                if value is not None and metric.max_value is not None and value > metric.max_value:
                    self.problem(
                        row,
                        header,
                        f"数值超过该指标单次上限 {metric.max_value.normalize():f}{metric.unit}。",
                    )
                    continue
                outcomes[metric] = value
            if self.marks() > before or pairing is None:
                continue
            regime_code = regime.code if regime else ""
            key = (pairing.code, day, regime_code, title)
            if key in seen:
                self.problem(
                    row,
                    "活动主题",
                    f"与第{seen[key]}行是同一条活动（对子、日期、制度、主题均相同）。",
                )
                continue
            seen[key] = row.number
            label = f"{pairing.code} {day} {title}"
            existing = None
            if pairing.pk:
                existing = self.db_activities.get(
                    (pairing.pk, day, regime.pk if regime else None, title)
                )
            if existing is not None and existing.status != Activity.Status.CONFIRMED:
                # A secretary's entry still in the workflow is theirs to finish, not the ledger's.
                self.problem(
                    row,
                    "活动主题",
                    f"系统中已有同一条活动，状态为“{existing.get_status_display()}”，尚未确认；"
                    "请先在系统中确认或删除它，再导入这一行。",
                )
                continue
            if existing is None:
                client_id = activity_client_id(pairing.code, day, regime_code, title)
                if client_id in self.trashed_client_ids:
                    self.problem(
                        row,
                        "活动主题",
                        "这条活动此前已导入，后被移入回收站；如需要请在回收站恢复，或从表中删去这一行。",
                    )
                    continue
                activity = Activity(
                    pairing=pairing,
                    regime=regime,
                    category=category,
                    date=day,
                    title=title,
                    place=place,
                    villager_count=villagers,
                    status=Activity.Status.CONFIRMED,
                    logged_by_branch=pairing.helper,
                    created_by=self.user,
                    created_at=self.now,
                    submitted_at=self.now,
                    on_time=True,
                    confirmed_at=self.now,
                    confirmed_by=self.user,
                    client_id=client_id,
                    imported=True,
                )
                self.plan.activity_creates.append(
                    (activity, members, {m: v for m, v in outcomes.items() if v is not None})
                )
                sheet_plan.create(row.number, label)
                continue
            changes, fields = [], {}
            for attr, label_text, value in (
                ("category", "活动类别", category),
                ("place", "地点", place),
                ("villager_count", "群众人数", villagers),
            ):
                if getattr(existing, attr) != value:
                    changes.append(label_text)
                    fields[attr] = value
            new_members = None
            if {m.pk for m in members} != existing.member_ids or any(m.pk is None for m in members):
                changes.append("参加党员")
                new_members = members
            changed_outcomes = {}
            for metric, value in outcomes.items():
                if existing.values.get(metric.pk) != value:
                    changed_outcomes[metric] = value
                    changes.append(spec.metric_header(metric))
            if changes:
                self.plan.activity_updates.append((existing, fields, new_members, changed_outcomes))
                sheet_plan.update(row.number, label, changes)
            else:
                sheet_plan.unchanged += 1

    def pairing_ref(self, row):
        code = self.cell(row, "对子编号", normalize.code, required=True)
        if not code:
            return None
        if code in self.broken[spec.PAIRINGS]:
            self.skip_quietly(row)
            return None
        pairing = self.pairings.get(code)
        if pairing is None or (
            pairing.pk
            and not (self.in_scope(pairing.helper.path) or self.in_scope(pairing.helped.path))
        ):
            self.problem(row, "对子编号", f"未找到对子编号“{code}”（表中和系统中都没有）。")
            return None
        return pairing

    # -- period figures -------------------------------------------------------------------------

    def plan_figures(self, rows):
        sheet = self.sheets[spec.FIGURES]
        if not rows:
            return
        metrics = {}
        for metric in Metric.objects.all():
            for name in (metric.name, spec.metric_header(metric), metric.code):
                metrics[normalize.header(name)] = metric
        org_ids = {o.pk for o in self.orgs.values() if o.pk}
        existing = {}
        for part in chunks(org_ids):
            for figure in PeriodFigure.objects.filter(organization_id__in=part):
                existing[(figure.organization_id, figure.metric_id, figure.period)] = figure
        seen = {}
        for row in rows:
            before = self.marks()
            org = self.org_ref(row, "组织编码")
            metric = metrics.get(normalize.header(row.raw("指标")))
            if not normalize.header(row.raw("指标")):
                self.problem(row, "指标", "“指标”不能为空。")
            elif metric is None:
                self.problem(
                    row, "指标", "未找到该指标，请填写系统中的指标名称，如“民营橡胶面积”。"
                )
            period = self.cell(row, "期间", period_code, required=True)
            value = self.cell(row, "数值", normalize.decimal, required=True)
            if self.marks() > before:
                continue
            key = (org.code, metric.pk, period.code)
            if key in seen:
                self.problem(row, "期间", f"与第{seen[key]}行重复（同一组织、指标和期间）。")
                continue
            seen[key] = row.number
            label = f"{org.code} {metric.name} {period.code}"
            figure = existing.get((org.pk, metric.pk, period.code)) if org.pk else None
            if figure is None:
                self.plan.figure_creates.append(
                    PeriodFigure(
                        organization=org,
                        metric=metric,
                        period=period.code,
                        period_start=period.start,
                        period_end=period.end,
                        value=value,
                        entered_by=self.user,
                    )
                )
                sheet.create(row.number, label)
            elif figure.value != value:
                sheet.update(
                    row.number, label, [f"数值：{figure.value.normalize():f}→{value.normalize():f}"]
                )
                figure.value = value
                self.plan.figure_updates.append(figure)
            else:
                sheet.unchanged += 1


MEMBER_FIELDS = ("pk", "code", "name", "gender", "branch", "post", "in_service", "status", "phone")
MEMBER_LABELS = {
    "name": "姓名",
    "gender": "性别",
    "post": "党内职务",
    "in_service": "在职党员",
    "status": "党员状态",
    "phone": "联系电话",
}
ACTIVITY_FIELDS = (
    "pk",
    "pairing",
    "regime",
    "date",
    "title",
    "category",
    "place",
    "villager_count",
    "deleted_at",
    "imported",
    "client_id",
    "version",
    "status",
)


def period_code(value):
    """A period from 2025, 2025-H1, 2025-Q4, 2025-06 (also 2025-6, 2025年6月, an Excel month)."""
    if isinstance(value, datetime.datetime | datetime.date):
        return Period.month(value.year, value.month)
    cleaned = normalize.text(value)
    if cleaned is None:
        return None
    cleaned = cleaned.replace(" ", "").upper()
    match = re.match(r"^(\d{4})(?:[-/.年](\d{1,2})月?)?年?$", cleaned)
    if match and match[2]:
        cleaned = f"{match[1]}-{int(match[2]):02d}"
    elif match:
        cleaned = match[1]
    try:
        return Period.parse(cleaned)
    except ValidationError as error:
        raise Invalid(error.messages[0]) from error


def build_plan(workbook, *, user=None, today=None):
    return Planner(workbook, user=user, today=today).build()
