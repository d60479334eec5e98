"""What real ledger files look like (they must import) and what must be refused (nothing changes)."""

import copy
import datetime
import io
import zipfile
from unittest import mock

import pytest
from django.conf import settings
from django.test import TestCase, override_settings
from openpyxl import load_workbook

from activities.models import Activity, PeriodFigure
from pairings.models import Member, Organization, Pairing
from reports.importer import normalize, run_import, spec
from reports.importer.normalize import Invalid
from reports.importer.template import export_workbook
from tests.factories import make_org, make_user
from tests.import_helpers import (
    TRAINING,
    filled_template,
    make_small_county_root,
    plain_workbook,
    save,
    small_county_rows,
    snapshot,
)


class ImportCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.root, cls.staff = make_small_county_root()

    def imports(self, data, filename="台账.xlsx"):
        result = run_import(data, filename, user=self.staff, apply=True)
        assert result.ok, result.refused or result.problems
        return result

    def refused(self, data, filename="台账.xlsx"):
        """The import is refused as a whole or row by row, and nothing changes."""
        before = snapshot()
        result = run_import(data, filename, user=self.staff, apply=True)
        assert not result.ok
        assert result.run is None
        assert snapshot() == before
        return result

    def problem(self, data, *, sheet, row, column):
        result = self.refused(data)
        found = [p for p in result.problems if (p.sheet, p.row, p.column) == (sheet, row, column)]
        assert found, result.problems
        return found[0]


def rows_with(change):
    rows = small_county_rows()
    change(rows)
    return rows


class MessyInputTests(ImportCase):
    def test_full_width_digits_and_letters_are_read_as_half_width(self):
        def change(rows):
            rows["党员"][0][0] = "Ｍ０１"
            rows["党员"][0][3] = "ＱＳ－Ｊ０１"
            rows["党员"][0][7] = "１３８００１３８００１"
            rows["共建对子"][0][0] = "Ｐ０１"
            rows["活动记录"][0][6] = "Ｍ０１，Ｍ０３"  # full-width comma too
            rows["活动记录"][0][7] = "１２"

        self.imports(filled_template(rows_with(change)))
        member = Member.objects.get(code="M01")
        assert member.branch.code == "QS-J01" and member.phone == "13800138001"
        activity = Activity.objects.get(title="学习新党章")
        assert activity.pairing.code == "P01" and activity.villager_count == 12
        assert activity.participants.count() == 2

    def test_spaces_and_line_breaks_around_values_are_dropped(self):
        def change(rows):
            rows["组织"][5][:5] = [" QS-V01\n", "\n东村党支部 ", " QS-T1", "党支部\n", " 农村 "]
            rows["党员"][2][1] = "  李秀英\r\n"
            rows["活动记录"][0][4] = "\n学习新党章  "
            rows["活动记录"][0][2] = " 集体活动日\n"
            rows["活动记录"][0][6] = "M01 、\nM03"

        self.imports(filled_template(rows_with(change)))
        assert Organization.objects.get(code="QS-V01").name == "东村党支部"
        assert Member.objects.get(code="M03").name == "李秀英"
        activity = Activity.objects.get(title="学习新党章")
        assert activity.regime.code == "activity_day" and activity.participants.count() == 2

    def test_dates_as_excel_dates_or_text_in_every_common_spelling(self):
        spellings = [
            datetime.datetime(2025, 3, 5),
            45721,  # the Excel serial number of 2025-03-05
            "2025-03-05",
            "2025/3/5",
            "2025.3.5",
            "2025年3月5日",
            "20250305",
            " 2025-3-5 ",
        ]
        for spelling in spellings:
            assert normalize.date(spelling) == datetime.date(2025, 3, 5), spelling

        def change(rows):
            rows["活动记录"][0][1] = "2025年3月5日"
            rows["活动记录"][1][1] = "2025/4/10"
            rows["活动记录"][2][1] = "20250520"
            rows["活动记录"][3][1] = "2025.6.1"
            rows["共建对子"][0][3] = "2024年1月1日"
            rows["共建对子"][1][3] = 45292  # 2024-01-01

        self.imports(filled_template(rows_with(change)))
        assert sorted(Activity.objects.values_list("date", flat=True)) == [
            datetime.date(2025, 3, 5),
            datetime.date(2025, 4, 10),
            datetime.date(2025, 5, 20),
            datetime.date(2025, 6, 1),
        ]
        assert Pairing.objects.get(code="P02").start_date == datetime.date(2024, 1, 1)

    def test_impossible_dates_and_garbage_are_problems(self):
        for value in ("2025-02-30", "下月初", "2025-13-01", -5):
            with pytest.raises(Invalid):
                normalize.date(value)

    def test_numbers_stored_as_text_and_codes_stored_as_numbers(self):
        def change(rows):
            rows["活动记录"][2][7] = "35"
            rows["活动记录"][2][8] = {TRAINING: " 35 "}
            rows["统计数据"][0][3] = "12,000"
            rows["统计数据"][0][2] = 2025  # a year typed as a number
            rows["党员"][5][0] = 10086  # a member code typed as a number
            rows["活动记录"][3][6] = "M05、10086"
            rows["党员"][0][7] = 13800138001.0  # a phone number stored as a number

        self.imports(filled_template(rows_with(change)))
        activity = Activity.objects.get(title="甘蔗种植技术培训")
        assert activity.villager_count == 35 and activity.outcomes.get().value == 35
        assert PeriodFigure.objects.get().value == 12000
        assert PeriodFigure.objects.get().period == "2025"
        assert Member.objects.filter(code="10086").exists()
        assert Member.objects.get(code="M01").phone == "13800138001"

    def test_empty_trailing_rows_and_columns_are_ignored(self):
        book = load_workbook(io.BytesIO(filled_template()))
        for sheet in spec.SHEETS:
            worksheet = book[sheet]
            last = worksheet.max_row
            for r in range(last + 1, last + 40):
                worksheet.cell(row=r, column=1, value="  " if r % 2 else None)
                worksheet.cell(row=r, column=3, value="")
            worksheet.cell(row=1, column=30, value=None)
            worksheet.cell(row=2, column=28, value=" ")
            worksheet.cell(row=last + 60, column=40).number_format = "@"  # formatted, empty
        result = self.imports(save(book))
        assert result.plan.counts["党员"]["created"] == 6
        assert result.plan.counts["活动记录"]["created"] == 4

    def test_hidden_sheets_are_read_as_any_other(self):
        data = plain_workbook(hidden=("党员", "统计数据"))
        result = self.imports(data)
        assert result.plan.counts["党员"]["created"] == 6
        assert PeriodFigure.objects.count() == 1

    def test_a_sheet_with_its_columns_in_another_order(self):
        book = load_workbook(io.BytesIO(plain_workbook()))
        for sheet in ("党员", "活动记录"):
            worksheet = book[sheet]
            rows = [list(r) for r in worksheet.iter_rows(values_only=True)]
            worksheet.delete_rows(1, worksheet.max_row)
            for row in rows:
                worksheet.append(list(reversed(row)))
        result = self.imports(save(book))
        assert result.plan.counts["活动记录"]["created"] == 4
        assert Member.objects.get(code="M02").status == "probationary"
        assert Activity.objects.get(title="甘蔗种植技术培训").outcomes.get().value == 35

    def test_sheets_in_another_order_and_a_title_row_above_the_headers(self):
        data = plain_workbook(order=list(reversed(spec.SHEETS)))
        book = load_workbook(io.BytesIO(data))
        book["组织"].insert_rows(1)
        book["组织"]["A1"] = "青山县党组织名册（2025年）"
        result = self.imports(save(book))
        assert result.plan.counts["组织"]["created"] == 6


class RefusedFileTests(ImportCase):
    def test_a_file_that_is_not_xlsx_is_refused(self):
        result = self.refused(b"a,b,c\n1,2,3\n", "台账.csv")
        assert "只接受 .xlsx" in result.refused

    def test_a_macro_workbook_is_refused_whatever_it_is_called(self):
        data = filled_template()
        archive = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(archive, "w") as target:
            for item in source.infolist():
                content = source.read(item.filename)
                if item.filename == "[Content_Types].xml":
                    content = content.replace(
                        b"spreadsheetml.sheet.main+xml",
                        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                    )
                target.writestr(item, content)
            target.writestr("xl/vbaProject.bin", b"\x00" * 64)
        for name in ("台账.xlsm", "台账.xlsx"):
            result = self.refused(archive.getvalue(), name)
            assert "含宏" in result.refused

    def test_a_renamed_file_is_refused(self):
        result = self.refused(b"\xd0\xcf\x11\xe0 old xls or anything else", "台账.xlsx")
        assert "不是有效的 .xlsx" in result.refused
        docx = io.BytesIO()
        with zipfile.ZipFile(docx, "w") as archive:
            archive.writestr("[Content_Types].xml", "<Types/>")
            archive.writestr("word/document.xml", "<w:document/>")
        result = self.refused(docx.getvalue(), "台账.xlsx")
        assert "不是有效的 .xlsx" in result.refused

    def test_a_file_over_the_size_limit_is_refused(self):
        data = filled_template()
        limits = {**settings.COBUILD, "IMPORT_MAX_BYTES": len(data) - 1}
        with override_settings(COBUILD=limits):
            result = self.refused(data)
        assert "上限" in result.refused

    def test_a_zip_bomb_is_refused_before_it_is_unpacked(self):
        bomb = io.BytesIO()
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
            with zipfile.ZipFile(io.BytesIO(filled_template())) as source:
                for item in source.infolist():
                    archive.writestr(item.filename, source.read(item.filename))
            archive.writestr("xl/worksheets/sheet9.xml", b"\x00" * (30 * 1024 * 1024))
        data = bomb.getvalue()
        assert len(data) < 100 * 1024
        result = self.refused(data)
        assert "压缩炸弹" in result.refused

    def test_a_sheet_with_too_many_rows_is_refused(self):
        with mock.patch("reports.importer.read.MAX_ROWS", 3):
            result = self.refused(filled_template())
        assert result.refused == "“组织”表超过3行，请分成几个文件导入。"

    def test_a_missing_required_header(self):
        headers = {
            "党员": [
                "党员编号",
                "性别",
                "所在支部编码",
                "党内职务",
                "在职党员",
                "党员状态",
                "联系电话",
            ]
        }
        rows = small_county_rows()
        for row in rows["党员"]:
            del row[1]
        problem = self.problem(
            plain_workbook(rows, headers=headers), sheet="党员", row=1, column=""
        )
        assert problem.reason == "缺少必填表头“姓名”。"

    def test_a_reference_to_an_unknown_code(self):
        def change(rows):
            rows["党员"][1][3] = "QS-X99"
            rows["活动记录"][0][0] = "P77"
            rows["活动记录"][1][6] = "M01、M404"

        data = filled_template(rows_with(change))
        problem = self.problem(data, sheet="党员", row=4, column="D")
        assert problem.value == "QS-X99"
        assert problem.reason == "未找到组织编码“QS-X99”（表中和系统中都没有）。"
        problem = self.problem(data, sheet="活动记录", row=3, column="A")
        assert "未找到对子编号“P77”" in problem.reason
        problem = self.problem(data, sheet="活动记录", row=4, column="G")
        assert problem.reason == "未找到党员编号“M404”。"

    def test_a_duplicate_code_in_the_file(self):
        def change(rows):
            rows["组织"].append(["QS-V01", "东村党支部（重复）", "QS-T1", "党支部", "农村"])
            rows["党员"].append(["M03", "李秀英", "女", "QS-V01", "书记", "否", "正式", ""])
            rows["共建对子"].append(["P01", "QS-J02", "QS-V01", "2024-01-01", ""])

        data = filled_template(rows_with(change))
        assert (
            self.problem(data, sheet="组织", row=10, column="A").reason == "组织编码与第8行重复。"
        )
        assert self.problem(data, sheet="党员", row=9, column="A").reason == "党员编号与第5行重复。"
        assert (
            self.problem(data, sheet="共建对子", row=5, column="A").reason
            == "对子编号与第3行重复。"
        )

    def test_a_branch_paired_with_itself(self):
        def change(rows):
            rows["共建对子"][1][1] = "QS-V02"

        problem = self.problem(
            filled_template(rows_with(change)), sheet="共建对子", row=4, column="C"
        )
        assert problem.reason == "一个支部不能与自己结对。"

    def test_a_date_out_of_the_pairings_range(self):
        def change(rows):
            rows["活动记录"][3][1] = datetime.date(2026, 1, 15)  # P02 ended 2025-12-31

        problem = self.problem(
            filled_template(rows_with(change)), sheet="活动记录", row=6, column="B"
        )
        assert problem.reason == "活动日期不在共建对子的起止日期（2024-01-01至2025-12-31）之内。"

    def test_a_future_date_is_refused(self):
        def change(rows):
            rows["活动记录"][0][1] = datetime.date.today() + datetime.timedelta(days=30)

        problem = self.problem(
            filled_template(rows_with(change)), sheet="活动记录", row=3, column="B"
        )
        assert problem.reason == "活动日期不能晚于今天。"

    def test_a_negative_figure(self):
        def change(rows):
            rows["活动记录"][2][8] = {TRAINING: -35}
            rows["统计数据"][0][3] = "-12000"
            rows["活动记录"][1][7] = -3

        data = filled_template(rows_with(change))
        assert self.problem(data, sheet="活动记录", row=5, column="I").reason == "数值不能为负数。"
        assert self.problem(data, sheet="统计数据", row=3, column="D").reason == "数值不能为负数。"
        assert self.problem(data, sheet="活动记录", row=4, column="H").reason == "数值不能为负数。"

    def test_a_member_in_an_activity_who_belongs_to_neither_branch(self):
        def change(rows):
            rows["活动记录"][0][6] = "M01、M05"  # M05 is in QS-J02, not in pairing P01

        problem = self.problem(
            filled_template(rows_with(change)), sheet="活动记录", row=3, column="G"
        )
        assert problem.reason == "党员“M05”赵国强（县农业农村局党支部）不属于该对子的双方支部。"

    def test_a_wrong_fixed_value_names_the_allowed_ones(self):
        def change(rows):
            rows["党员"][0][2] = "男性"
            rows["活动记录"][0][3] = "联欢"

        data = filled_template(rows_with(change))
        assert (
            self.problem(data, sheet="党员", row=3, column="C").reason == "应为以下之一：男、女。"
        )
        assert "学习、会议、培训" in self.problem(data, sheet="活动记录", row=3, column="D").reason

    def test_one_bad_row_stops_the_whole_file(self):
        def change(rows):
            rows["统计数据"][0][2] = "2025年第五季度"

        result = self.refused(filled_template(rows_with(change)))
        assert len(result.problems) == 1
        assert Member.objects.count() == 0

    def test_a_second_active_pairing_between_the_same_branches(self):
        def change(rows):
            rows["共建对子"].append(["P03", "QS-V01", "QS-J01", "2025-01-01", ""])

        problem = self.problem(
            filled_template(rows_with(change)), sheet="共建对子", row=5, column="C"
        )
        assert "已有进行中的共建对子" in problem.reason

    def test_an_existing_organization_is_not_moved_by_an_import(self):
        self.imports(filled_template())
        rows = copy.deepcopy(small_county_rows())
        rows["组织"][5][2] = "QS-J"
        problem = self.problem(filled_template(rows), sheet="组织", row=8, column="C")
        assert "导入不调整组织隶属关系" in problem.reason


class ScopeTests(ImportCase):
    def test_staff_of_a_township_reach_only_what_lies_under_it(self):
        township = make_org(self.root, code="QS-T9", kind="committee", sector="rural")
        other = make_org(self.root, code="QS-T8", kind="committee", sector="rural")
        user = make_user(role="county_staff", org=township)
        rows = {
            "组织": [
                ["QS-T9V1", "九村党支部", "QS-T9", "党支部", "农村"],
                ["QS-T8V1", "八村党支部", "QS-T8", "党支部", "农村"],
            ]
        }
        before = snapshot()
        result = run_import(filled_template(rows), "a.xlsx", user=user, apply=True)
        assert [(p.row, p.column, p.reason) for p in result.problems] == [
            (4, "C", "未找到组织编码“QS-T8”。")
        ]
        assert snapshot() == before
        assert other.pk

    def test_a_township_staffs_export_re_imports_with_no_changes(self):
        self.imports(filled_template())
        township = Organization.objects.get(code="QS-T1")
        user = make_user(role="county_staff", org=township)
        result = run_import(export_workbook(user), "t.xlsx", user=user, apply=True)
        assert result.ok, result.problems
        assert not result.plan.changes
        assert result.plan.counts["组织"]["unchanged"] == 3
        assert result.plan.counts["党员"]["unchanged"] == 3
