"""The import pages for county staff, and the import_workbook command."""

import datetime
import io
import re
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError
from django.test import TestCase
from django.urls import reverse
from openpyxl import load_workbook

from activities.models import Activity
from cobuild.models import AuditEvent
from pairings.models import Member, Organization, Pairing
from reports.importer import run_import
from reports.models import ImportRun
from tests.factories import make_branch, make_pairing, make_user
from tests.import_helpers import (
    filled_template,
    make_small_county_root,
    small_county_rows,
    snapshot,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(data, name="青山县台账.xlsx"):
    return SimpleUploadedFile(name, data, content_type=XLSX)


def bad_rows():
    rows = small_county_rows()
    rows["党员"][1][3] = "QS-X99"
    return rows


class ImportPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.root, cls.staff = make_small_county_root()
        cls.secretary = make_user(role="secretary", org=make_branch(cls.root, code="QS-B0"))

    def setUp(self):
        self.client.force_login(self.staff)

    def preview(self, data, name="青山县台账.xlsx"):
        return self.client.post(reverse("import_upload"), {"file": upload(data, name)})

    def test_staff_see_the_import_page_with_the_template_and_the_export(self):
        response = self.client.get(reverse("import_home"))
        assert response.status_code == 200
        assert reverse("import_template").encode() in response.content
        assert "导出台账" in response.text
        template = self.client.get(reverse("import_template"))
        assert template["Content-Type"] == XLSX
        assert (
            "%E5%85%B1%E5%BB%BA%E5%8F%B0%E8%B4%A6%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.xlsx"
            in (template["Content-Disposition"])
        )  # 共建台账导入模板.xlsx

    def test_the_import_page_lists_the_users_runs_in_constant_queries(self):
        for n in range(12):
            ImportRun.objects.create(
                user=self.staff, filename=f"第{n}批.xlsx", sha256="0" * 64, size=1, counts={}
            )
        # Session, user, scope, unread reminders, the runs.
        with self.assertNumQueries(5):
            response = self.client.get(reverse("import_home"))
        assert response.text.count("批.xlsx") == 10

    def test_the_nav_links_to_the_import_for_county_staff_only(self):
        assert reverse("import_home") in self.client.get(reverse("home")).text
        self.client.force_login(self.secretary)
        assert reverse("import_home") not in self.client.get(reverse("home")).text

    def test_others_are_refused(self):
        self.client.force_login(self.secretary)
        for name in ("import_home", "import_template", "export_ledger"):
            assert self.client.get(reverse(name)).status_code == 403
        before = snapshot()
        assert self.preview(filled_template()).status_code == 403
        assert self.client.post(reverse("import_confirm"), {"digest": "0" * 64}).status_code == 403
        assert snapshot() == before

    def test_anonymous_users_are_sent_to_log_in(self):
        self.client.logout()
        response = self.client.get(reverse("import_home"))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    def test_wrong_methods(self):
        assert self.client.get(reverse("import_upload")).status_code == 405
        assert self.client.get(reverse("import_confirm")).status_code == 405
        assert self.client.post(reverse("import_home")).status_code == 405

    def test_upload_previews_and_changes_nothing_until_confirmed(self):
        before = snapshot()
        response = self.preview(filled_template())
        assert response.status_code == 200
        assert "确认导入" in response.text
        assert "第8行 新增 QS-V01 东村党支部" in response.text
        sheets = {s.name: s for s in response.context["sheets"]}
        assert (sheets["党员"].created, sheets["组织"].unchanged) == (6, 1)
        assert snapshot() == before
        digest = response.context["digest"]
        response = self.client.post(
            reverse("import_confirm"), {"digest": digest, "filename": "青山县台账.xlsx"}
        )
        run = ImportRun.objects.get()
        assert response.status_code == 302 and response["Location"] == reverse(
            "import_result", args=[run.pk]
        )
        assert run.user == self.staff
        assert Member.objects.count() == 6 and Activity.objects.filter(imported=True).count() == 4
        recorded = AuditEvent.objects.get(event=AuditEvent.Kind.IMPORT)
        assert (recorded.username, recorded.object_id) == (self.staff.username, str(run.pk))
        assert recorded.detail["counts"]["党员"]["created"] == 6
        summary = self.client.get(response["Location"])
        assert "已导入：青山县台账.xlsx" in summary.text
        # The stored upload is gone: confirming twice is a 404, never a second import.
        again = self.client.post(
            reverse("import_confirm"), {"digest": digest, "filename": "x.xlsx"}
        )
        assert again.status_code == 404

    def test_the_same_file_again_previews_no_change_and_offers_no_confirmation(self):
        data = filled_template()
        response = self.preview(data)
        self.client.post(reverse("import_confirm"), {"digest": response.context["digest"]})
        response = self.preview(data)
        assert "不会产生任何变化" in response.text
        assert "确认导入" not in response.text

    def test_problems_are_listed_with_sheet_row_column_value_and_reason(self):
        before = snapshot()
        response = self.preview(filled_template(bad_rows()))
        assert response.status_code == 200
        assert "发现 1 个问题" in response.text
        assert "确认导入" not in response.text
        problem = response.context["problems"][0]
        assert (problem.sheet, problem.row, problem.column, problem.value) == (
            "党员",
            4,
            "D",
            "QS-X99",
        )
        assert "未找到组织编码“QS-X99”" in response.text
        assert snapshot() == before

    def test_the_error_workbook_marks_the_bad_cells_with_the_reason(self):
        response = self.preview(filled_template(bad_rows()))
        errors = self.client.get(reverse("import_errors", args=[response.context["digest"]]))
        assert errors.status_code == 200 and errors["Content-Type"] == XLSX
        book = load_workbook(io.BytesIO(errors.content))
        assert book.sheetnames[0] == "问题清单"
        cell = book["党员"]["D4"]
        assert cell.fill.fgColor.rgb.endswith("FFC7CE")
        assert "未找到组织编码“QS-X99”" in cell.comment.text
        assert book["问题清单"]["F2"].value.startswith("未找到组织编码")
        assert book["党员"]["D3"].comment is None

    def test_a_refused_file_is_explained_next_to_the_upload(self):
        before = snapshot()
        response = self.preview(b"not a workbook", "台账.xls")
        assert response.status_code == 400
        assert "只接受 .xlsx" in response.text
        assert snapshot() == before

    def test_confirm_plans_again_and_refuses_a_problem_that_appeared_since(self):
        response = self.preview(filled_template())
        digest = response.context["digest"]
        # Meanwhile someone sets up pairing P01 between other branches.
        organ = make_branch(self.root, code="QS-Z1")
        village = make_branch(self.root, code="QS-Z2", sector="rural")
        make_pairing(organ, village, code="P01")
        before = snapshot()
        response = self.client.post(reverse("import_confirm"), {"digest": digest})
        assert response.status_code == 409
        assert "出现了新的问题" in response.text
        assert snapshot() == before

    def test_confirm_of_an_unknown_upload_is_a_404(self):
        for digest in ("0" * 64, "../../etc/passwd", "abc"):
            response = self.client.post(reverse("import_confirm"), {"digest": digest})
            assert response.status_code == 404
        assert self.client.get(reverse("import_errors", args=["f" * 64])).status_code == 404

    def test_another_users_upload_cannot_be_confirmed(self):
        response = self.preview(filled_template())
        other = make_user(role="county_staff", org=self.root)
        self.client.force_login(other)
        response = self.client.post(
            reverse("import_confirm"), {"digest": response.context["digest"]}
        )
        assert response.status_code == 404
        assert not Member.objects.exists()

    def test_export_downloads_the_ledger_in_the_templates_sheets(self):
        response = self.preview(filled_template())
        self.client.post(reverse("import_confirm"), {"digest": response.context["digest"]})
        export = self.client.get(reverse("export_ledger"))
        assert export.status_code == 200 and export["Content-Type"] == XLSX
        book = load_workbook(io.BytesIO(export.content))
        assert book.sheetnames == ["组织", "党员", "共建对子", "活动记录", "统计数据"]
        assert book["活动记录"].max_row == 5
        assert book["党员"]["H2"].value == "138****8001"


class ImportCommandTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.root, cls.staff = make_small_county_root()

    def write(self, tmp, data):
        path = f"{tmp}/台账.xlsx"
        with open(path, "wb") as file:
            file.write(data)
        return path

    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path):
        self.tmp = tmp_path

    def run_command(self, *args):
        out = io.StringIO()
        call_command("import_workbook", *args, stdout=out)
        return out.getvalue()

    def test_dry_run_prints_the_preview_and_changes_nothing(self):
        path = self.write(self.tmp, filled_template())
        before = snapshot()
        out = self.run_command(path, "--dry-run")
        assert "党员：新增6行，更新0行，不变0行" in out
        assert "预检通过" in out
        assert snapshot() == before

    def test_import_applies_and_a_second_run_changes_nothing(self):
        path = self.write(self.tmp, filled_template())
        out = self.run_command(path)
        assert "已导入" in out
        assert Organization.objects.count() == 7 and Pairing.objects.count() == 2
        assert ImportRun.objects.get().user is None
        before = snapshot()
        out = self.run_command(path, "--user", self.staff.username)
        assert "活动记录：新增0行，更新0行，不变4行" in out
        after = snapshot()
        assert len(after.pop("ImportRun")) == 2
        before.pop("ImportRun")
        assert after == before

    def test_problems_are_printed_and_the_command_exits_1_changing_nothing(self):
        path = self.write(self.tmp, filled_template(bad_rows()))
        before = snapshot()
        out = io.StringIO()
        with pytest.raises(CommandError) as error:
            call_command("import_workbook", path, stdout=out)
        assert error.value.returncode == 1
        assert "有1个问题，未做任何修改" in str(error.value)
        assert re.search(
            r"党员 第4行D列“所在支部编码”（原值：QS-X99）：未找到组织编码", out.getvalue()
        )
        assert snapshot() == before

    def test_a_refused_file_exits_1(self):
        path = f"{self.tmp}/台账.xlsm"
        with open(path, "wb") as file:
            file.write(filled_template())
        with pytest.raises(CommandError, match="含宏"):
            call_command("import_workbook", path, stdout=io.StringIO())

    def test_the_same_file_on_the_command_line_and_in_the_browser_gives_the_same_result(self):
        path = self.write(self.tmp, filled_template())
        self.run_command(path)
        assert Activity.objects.filter(imported=True, date=datetime.date(2025, 3, 5)).count() == 1


class ConcurrentWriteTests(TestCase):
    def test_a_write_the_database_refuses_rolls_everything_back(self):
        _root, staff = make_small_county_root()
        before = snapshot()
        with mock.patch(
            "reports.importer.apply.Pairing.objects.bulk_create",
            side_effect=IntegrityError("duplicate key"),
        ):
            result = run_import(filled_template(), "a.xlsx", user=staff, apply=True)
        assert "未做任何修改" in result.refused
        assert snapshot() == before
