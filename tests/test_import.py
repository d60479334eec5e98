"""The ledger import: template, a small county in and out again, idempotence."""

import datetime
import io
from decimal import Decimal

from django.test import TestCase
from openpyxl import load_workbook

from activities.models import Activity, Metric, Outcome, Participation, PeriodFigure
from pairings.models import Member, Organization, Pairing
from reports.importer import run_import, spec
from reports.importer.template import TEMPLATE_NAME, export_workbook, template_workbook
from reports.models import ImportRun
from tests.factories import make_activity, make_member, make_participation
from tests.import_helpers import (
    DONATION,
    TRAINING,
    filled_template,
    make_small_county_root,
    small_county_rows,
    snapshot,
)


class TemplateTests(TestCase):
    def test_template_has_the_instructions_and_the_five_sheets_with_exact_headers(self):
        book = load_workbook(io.BytesIO(template_workbook()))
        assert TEMPLATE_NAME == "共建台账导入模板.xlsx"
        assert book.sheetnames == ["填写说明", "组织", "党员", "共建对子", "活动记录", "统计数据"]
        assert [c.value for c in book["组织"][1]] == [
            "组织编码",
            "组织名称",
            "上级组织编码",
            "组织类别",
            "所属领域",
        ]
        assert [c.value for c in book["党员"][1]] == [
            "党员编号",
            "姓名",
            "性别",
            "所在支部编码",
            "党内职务",
            "在职党员",
            "党员状态",
            "联系电话",
        ]
        assert [c.value for c in book["共建对子"][1]] == [
            "对子编号",
            "帮扶支部编码",
            "受帮扶支部编码",
            "开始日期",
            "结束日期",
        ]
        assert [c.value for c in book["活动记录"][1]] == [
            "对子编号",
            "活动日期",
            "制度",
            "活动类别",
            "活动主题",
            "地点",
            "参加党员编号",
            "群众人数",
            "实用技术培训(人次)",
            "捐款(元)",
            "捐物折价(元)",
            "实事项目(件)",
            "退耕还林(亩)",
            "种植甘蔗(亩)",
        ]
        assert [c.value for c in book["统计数据"][1]] == ["组织编码", "指标", "期间", "数值"]

    def test_template_offers_drop_down_lists_and_text_columns_for_codes_and_phones(self):
        book = load_workbook(io.BytesIO(template_workbook()))
        lists = {
            (sheet, str(v.sqref)[0]): v.formula1
            for sheet in spec.SHEETS
            for v in book[sheet].data_validations.dataValidation
            if v.type == "list"
        }
        assert lists[("组织", "D")] == '"县委,党委,党工委,党总支,党支部"'
        assert lists[("组织", "E")] == '"机关,农村,企业,学校,社区,其他"'
        assert lists[("党员", "C")] == '"男,女"'
        assert lists[("党员", "E")] == '"书记,副书记,委员,党员"'
        assert lists[("党员", "F")] == '"是,否"'
        assert lists[("党员", "G")] == '"正式,预备"'
        assert lists[("活动记录", "C")] == '"集体活动日,交叉学习,季度联席会,年度互检,日常互助,其他"'
        assert "捐款捐物" in lists[("活动记录", "D")]
        assert book["党员"].column_dimensions["A"].number_format == "@"
        assert book["党员"].column_dimensions["H"].number_format == "@"
        assert book["组织"].column_dimensions["C"].number_format == "@"

    def test_template_has_an_example_row_that_is_never_imported(self):
        make_small_county_root()
        book = load_workbook(io.BytesIO(template_workbook()))
        assert book["党员"]["A2"].value.startswith("【示例】")
        before = snapshot()
        result = run_import(template_workbook(), TEMPLATE_NAME, apply=True)
        assert result.ok
        assert not result.plan.changes
        assert snapshot()["Member"] == before["Member"]


class SmallCountyTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.root, cls.staff = make_small_county_root()

    def imported(self, data=None, **kwargs):
        result = run_import(
            data or filled_template(), "青山县台账.xlsx", user=self.staff, apply=True, **kwargs
        )
        assert result.ok, result.refused or result.problems
        return result

    def test_filled_template_imports_the_county(self):
        result = self.imported()
        assert result.plan.counts == {
            "组织": {"created": 6, "updated": 0, "unchanged": 1},
            "党员": {"created": 6, "updated": 0, "unchanged": 0},
            "共建对子": {"created": 2, "updated": 0, "unchanged": 0},
            "活动记录": {"created": 4, "updated": 0, "unchanged": 0},
            "统计数据": {"created": 1, "updated": 0, "unchanged": 0},
        }
        # The tree is the one treebeard would build.
        assert Organization.objects.find_problems() == ([], [], [], [], [])
        village = Organization.objects.get(code="QS-V01")
        assert Organization.objects.get_parent(village).code == "QS-T1"
        assert village.kind == "branch" and village.sector == "rural"
        assert Organization.objects.get(code="QS").numchild == 2
        township = Organization.objects.get(code="QS-T1")
        children = Organization.objects.get_children(township)
        assert [o.code for o in children] == ["QS-V01", "QS-V02"]
        member = Member.objects.get(code="M02")
        assert (member.gender, member.post, member.in_service, member.status) == (
            "female",
            "member",
            True,
            "probationary",
        )
        assert member.branch.code == "QS-J01"
        assert Pairing.objects.get(code="P01").status == "active"
        assert Pairing.objects.get(code="P02").status == "ended"  # ended before today

    def test_imported_activities_are_confirmed_records_marked_as_imported(self):
        self.imported()
        activity = Activity.objects.get(title="甘蔗种植技术培训")
        assert activity.status == Activity.Status.CONFIRMED
        assert activity.imported
        assert activity.on_time is True
        assert activity.created_by == self.staff and activity.confirmed_by == self.staff
        assert activity.logged_by_branch.code == "QS-J01"
        assert activity.regime is None
        assert activity.villager_count == 35
        assert sorted(activity.participants.values_list("code", flat=True)) == ["M02", "M04"]
        assert activity.outcomes.get().value == Decimal("35.00")
        meeting = Activity.objects.get(title="二季度联席会")
        assert meeting.regime.code == "joint_meeting"
        assert meeting.participants.count() == 4
        donation = Activity.objects.get(title="抗旱捐款")
        assert donation.outcomes.get(metric__code="donation_money").value == 5000
        assert PeriodFigure.objects.get().value == 12000

    def test_the_import_is_recorded_with_who_and_which_file(self):
        data = filled_template()
        result = self.imported(data)
        run = ImportRun.objects.get()
        assert result.run == run
        assert run.user == self.staff and run.filename == "青山县台账.xlsx"
        assert run.size == len(data) and len(run.sha256) == 64
        assert run.counts["党员"]["created"] == 6
        history = Member.objects.get(code="M01").history.get()
        assert history.history_user == self.staff
        assert history.history_change_reason == "Excel导入：青山县台账.xlsx"

    def test_preview_changes_nothing(self):
        before = snapshot()
        result = run_import(filled_template(), "a.xlsx", user=self.staff)
        assert result.ok and result.plan.changes
        assert snapshot() == before

    def test_importing_the_same_file_twice_changes_nothing_the_second_time(self):
        data = filled_template()
        self.imported(data)
        before = snapshot()
        history = Member.history.count() + Activity.history.count()
        result = self.imported(data)
        assert not result.plan.changes
        assert result.plan.counts["活动记录"] == {"created": 0, "updated": 0, "unchanged": 4}
        after = snapshot()
        assert after.pop("ImportRun") != before.pop("ImportRun")  # the run itself is recorded
        assert after == before
        assert Member.history.count() + Activity.history.count() == history

    def test_export_re_imports_with_no_changes(self):
        self.imported()
        exported = export_workbook(self.staff)
        book = load_workbook(io.BytesIO(exported))
        assert book.sheetnames == list(spec.SHEETS)
        assert book["党员"]["H2"].value == "138****8001"  # phones are masked in exports
        before = snapshot()
        result = self.imported(exported)
        assert not result.plan.changes, [s.updated_rows for s in result.plan.sheets.values()]
        assert result.plan.counts["组织"]["unchanged"] == 7
        assert result.plan.counts["活动记录"]["unchanged"] == 4
        before.pop("ImportRun")
        after = snapshot()
        after.pop("ImportRun")
        assert after == before
        assert Member.objects.get(code="M01").phone == "13800138001"  # kept, not masked

    def test_a_phone_in_any_format_survives_its_masked_export(self):
        self.imported()
        Member.objects.filter(code="M01").update(phone="+8613812345678")
        exported = export_workbook(self.staff)
        assert load_workbook(io.BytesIO(exported))["党员"]["H2"].value == "+86****5678"
        result = self.imported(exported)
        assert result.ok and not result.plan.changes
        assert Member.objects.get(code="M01").phone == "+8613812345678"

    def test_an_unconfirmed_activity_with_the_same_key_is_a_problem_not_an_update(self):
        self.imported()
        meeting = Activity.objects.get(title="二季度联席会")
        Activity.objects.filter(pk=meeting.pk).update(status=Activity.Status.DRAFT, imported=False)
        before = snapshot()
        result = run_import(filled_template(), "a.xlsx", user=self.staff)
        assert not result.ok
        assert any("尚未确认" in p.reason for p in result.problems)
        assert snapshot() == before
        assert Activity.objects.get(pk=meeting.pk).status == Activity.Status.DRAFT

    def test_export_includes_activities_logged_in_the_platform(self):
        self.imported()
        pairing = Pairing.objects.get(code="P01")
        logged = make_activity(
            pairing,
            title="平台登记的活动",
            status="confirmed",
            submitted_at=datetime.datetime(2025, 7, 2, tzinfo=datetime.UTC),
            on_time=True,
            confirmed_at=datetime.datetime(2025, 7, 3, tzinfo=datetime.UTC),
            date=datetime.date(2025, 7, 1),
        )
        make_participation(logged, Member.objects.get(code="M03"))
        result = self.imported(export_workbook(self.staff))
        assert not result.plan.changes
        assert result.plan.counts["活动记录"]["unchanged"] == 5

    def test_free_text_keeps_its_chinese_punctuation_and_round_trips(self):
        rows = small_county_rows()
        rows["活动记录"][0][4] = "学习（新党章）：第一讲，ＡＢ班"
        rows["组织"][5][1] = "东村党支部（一）"
        self.imported(filled_template(rows))
        assert Activity.objects.filter(title="学习（新党章）：第一讲，ＡＢ班").exists()
        assert Organization.objects.get(code="QS-V01").name == "东村党支部（一）"
        result = self.imported(export_workbook(self.staff))
        assert not result.plan.changes

    def test_a_changed_row_is_an_update_recorded_in_the_history(self):
        self.imported()
        rows = small_county_rows()
        rows["党员"][0][1] = "王建军"
        rows["活动记录"][2][6] = "M02"
        rows["活动记录"][2][8] = {TRAINING: 40}
        rows["统计数据"][0][3] = 13000
        result = self.imported(filled_template(rows))
        assert result.plan.counts["党员"] == {"created": 0, "updated": 1, "unchanged": 5}
        assert result.plan.counts["活动记录"] == {"created": 0, "updated": 1, "unchanged": 3}
        member = Member.objects.get(code="M01")
        assert member.name == "王建军"
        assert member.history.first().history_type == "~"
        activity = Activity.objects.get(title="甘蔗种植技术培训")
        assert list(activity.participants.values_list("code", flat=True)) == ["M02"]
        assert activity.outcomes.get().value == 40
        assert activity.version == 2
        assert PeriodFigure.objects.get().value == 13000

    def test_an_emptied_metric_cell_removes_the_figure(self):
        self.imported()
        rows = small_county_rows()
        rows["活动记录"][3][8] = {DONATION: None}
        self.imported(filled_template(rows))
        assert not Outcome.objects.filter(activity__title="抗旱捐款").exists()

    def test_sheets_may_be_absent_and_rows_refer_to_the_database(self):
        self.imported()
        rows = {
            spec.ACTIVITIES: [
                [
                    "P01",
                    datetime.date(2025, 8, 1),
                    "交叉学习",
                    "学习",
                    "八月交叉学习",
                    "",
                    "M01、M04",
                    0,
                    {},
                ]
            ]
        }
        result = self.imported(filled_template(rows))
        assert result.plan.counts["活动记录"]["created"] == 1
        assert result.plan.counts["组织"] == {"created": 0, "updated": 0, "unchanged": 0}
        assert Activity.objects.get(title="八月交叉学习").participants.count() == 2

    def test_an_imported_activity_in_the_trash_is_not_imported_again(self):
        self.imported()
        activity = Activity.objects.get(title="学习新党章")
        activity.trash(by=self.staff)
        before = snapshot()
        result = run_import(filled_template(), "a.xlsx", user=self.staff, apply=True)
        assert not result.ok
        assert "回收站" in result.problems[0].reason
        assert snapshot() == before

    def test_activities_logged_in_the_platform_join_existing_members(self):
        self.imported()
        branch = Organization.objects.get(code="QS-V01")
        make_member(branch, code="M99", name="新党员")
        rows = {
            spec.ACTIVITIES: [
                [
                    "P01",
                    datetime.date(2025, 9, 1),
                    "日常互助",
                    "走访慰问",
                    "走访困难党员",
                    "",
                    "M99",
                    0,
                    {},
                ]
            ]
        }
        self.imported(filled_template(rows))
        assert Participation.objects.filter(member__code="M99").count() == 1

    def test_a_metric_column_the_system_does_not_know_is_ignored_with_a_warning(self):
        make = load_workbook(io.BytesIO(filled_template()))
        sheet = make["活动记录"]
        sheet.cell(row=1, column=20, value="修路(米)")
        sheet.cell(row=3, column=20, value=300)
        buffer = io.BytesIO()
        make.save(buffer)
        result = self.imported(buffer.getvalue())
        assert any("修路(米)" in w for w in result.plan.warnings)
        assert Metric.objects.filter(name="修路").count() == 0


class QueryCountTests(TestCase):
    def count_queries(self, data):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            result = run_import(data, "bench.xlsx", apply=True)
        assert result.ok, result.problems[:3]
        return len(queries)

    def test_queries_grow_with_batches_not_rows(self):
        from reports.management.commands.bench_import import county_workbook

        small = self.count_queries(county_workbook(members=200, activities=50, prefix="S"))
        large = self.count_queries(county_workbook(members=400, activities=200, prefix="L"))
        assert large == small
        again = self.count_queries(county_workbook(members=400, activities=200, prefix="L"))
        assert again < small


class ImportedActivityPageTests(TestCase):
    def test_the_activity_page_says_it_came_from_the_ledger(self):
        _root, staff = make_small_county_root()
        run_import(filled_template(), "a.xlsx", user=staff, apply=True)
        self.client.force_login(staff)
        activity = Activity.objects.get(title="学习新党章")
        assert "台账导入" in self.client.get(activity.get_absolute_url()).text
