"""List exports: each list hands over what the user sees, with its filters and scope, as a safe
.xlsx (text never runs as a formula, figures stay numbers, phones masked by the one rule), and
each export is recorded in the audit log."""

import datetime
import io

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from cobuild.models import AuditEvent
from pairings import access
from pairings.models import Pairing
from tests.factories import (
    make_activity,
    make_inspection,
    make_member,
    make_need,
    make_rectification,
    make_two_pairing_county,
)

HYPERLINK = '=HYPERLINK("http://x","y")'
RISKY = [HYPERLINK, "+1+1", "-1+1", "@SUM(1)", "\t=1+1", "\r=1"]


def workbook(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    return load_workbook(io.BytesIO(response.content))


def rows_of(response):
    sheet = workbook(response).active
    return [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)]


class ExportTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        w = cls.w = make_two_pairing_county()
        w.organ_a_member.phone = "13812345678"
        w.organ_a_member.save()
        w.village_a_member.phone = "13900001111"
        w.village_a_member.save()
        w.pairing_a.helper_liaison = w.organ_a_member
        w.pairing_a.helped_liaison = w.village_a_member
        w.pairing_a.save()
        cls.risky = make_activity(
            w.pairing_a, title=HYPERLINK, villager_count=12, category="meeting"
        )
        cls.study_a = make_activity(w.pairing_a, title="集体学习A", category="study")
        cls.study_b = make_activity(w.pairing_b, title="集体学习B", category="study")

    def export(self, user, name, args=(), **params):
        self.client.force_login(user)
        return self.client.get(reverse(name, args=args), {**params, "export": "xlsx"})


class SafeWorkbookTests(ExportTestCase):
    def test_a_hyperlink_formula_opens_in_openpyxl_as_text_not_as_a_formula(self):
        response = self.export(self.w.staff, "activities:list")
        sheet = workbook(response).active
        cell = next(row[1] for row in sheet.iter_rows(min_row=2) if row[1].value == HYPERLINK)
        assert cell.data_type == "s"
        assert cell.value == HYPERLINK
        assert "<f>" not in response.content.decode("latin-1")

    def test_every_risky_start_is_written_as_text(self):
        for name in RISKY:
            make_member(self.w.village_a, name=name)
        sheet = workbook(self.export(self.w.staff, "pairings:members")).active
        cells = {row[1].value: row[1] for row in sheet.iter_rows(min_row=2)}
        for name in RISKY:
            assert cells[name].data_type == "s", repr(name)
            assert cells[name].quotePrefix, repr(name)

    def test_figures_stay_numbers_and_dates_stay_dates(self):
        sheet = workbook(self.export(self.w.staff, "activities:list")).active
        row = next(r for r in sheet.iter_rows(min_row=2) if r[1].value == HYPERLINK)
        villagers = row[9]
        assert (villagers.value, villagers.data_type) == (12, "n")
        assert row[0].is_date
        assert row[0].value.date() == self.risky.date

    def test_the_header_row_is_frozen_and_columns_fit_their_content(self):
        sheet = workbook(self.export(self.w.staff, "activities:list")).active
        assert sheet.freeze_panes == "A2"
        assert sheet["A1"].value == "活动日期"
        assert sheet["A1"].font.bold
        assert sheet.column_dimensions["B"].width >= len(HYPERLINK)
        assert sheet.column_dimensions["D"].width >= 2 * len("县财政局机关党支部")


class PhoneTests(ExportTestCase):
    def test_county_staff_and_the_members_own_secretary_see_the_phone(self):
        member = self.w.organ_a_member
        assert access.phone_for(self.w.staff, member) == "13812345678"
        assert access.phone_for(self.w.organ_a_secretary, member) == "13812345678"

    def test_everyone_else_sees_it_masked(self):
        member = self.w.organ_a_member
        for user in (self.w.supervisor_a, self.w.viewer, self.w.village_a_secretary):
            assert access.phone_for(user, member) == "138****5678"

    def test_the_member_roster_masks_phones_on_the_page_and_in_the_export(self):
        self.client.force_login(self.w.supervisor_a)
        page = self.client.get(reverse("pairings:members")).content.decode()
        assert "139****1111" in page and "13900001111" not in page
        rows = rows_of(self.export(self.w.supervisor_a, "pairings:members"))
        phones = {row[1]: row[7] for row in rows}
        assert phones["李秀英"] == "139****1111"
        staff_rows = rows_of(self.export(self.w.staff, "pairings:members"))
        assert {row[1]: row[7] for row in staff_rows}["李秀英"] == "13900001111"

    def test_a_secretary_sees_their_own_liaisons_phone_and_the_partners_masked(self):
        rows = rows_of(self.export(self.w.organ_a_secretary, "activities:pairings"))
        (row,) = rows
        assert row[7:11] == ["王建国", "13812345678", "李秀英", "139****1111"]


class ListExportTests(ExportTestCase):
    def recorded(self, what):
        """The latest export of list `what`."""
        exports = AuditEvent.objects.filter(event=AuditEvent.Kind.EXPORT, object_id=what)
        return exports.latest("pk")

    def test_activities_export_honours_filters_and_scope(self):
        rows = rows_of(self.export(self.w.staff, "activities:list", category="study"))
        assert sorted(row[1] for row in rows) == ["集体学习A", "集体学习B"]
        rows = rows_of(self.export(self.w.organ_b_secretary, "activities:list"))
        assert [row[1] for row in rows] == ["集体学习B"]

    def test_the_export_holds_exactly_the_rows_the_page_lists(self):
        self.client.force_login(self.w.supervisor_a)
        page = self.client.get(reverse("activities:list"), {"category": "study"})
        shown = [a.title for a in page.context["page"]]
        rows = rows_of(self.export(self.w.supervisor_a, "activities:list", category="study"))
        assert [row[1] for row in rows] == shown == ["集体学习A"]

    def test_an_export_is_recorded_with_its_list_filters_and_row_count(self):
        self.export(self.w.staff, "activities:list", category="study", page="2")
        event = self.recorded("activities")
        assert event.username == self.w.staff.username
        assert event.object_type == "list"
        assert event.object_repr == "活动（category=study）"
        assert event.detail == {"filters": {"category": ["study"]}, "rows": 2}

    def test_pairings_export_honours_filters_and_scope(self):
        rows = rows_of(self.export(self.w.supervisor_a, "activities:pairings"))
        assert [row[0] for row in rows] == [self.w.pairing_a.code]
        Pairing.objects.filter(pk=self.w.pairing_b.pk).update(status="ended")
        rows = rows_of(self.export(self.w.staff, "activities:pairings", status="ended"))
        assert [row[0] for row in rows] == [self.w.pairing_b.code]
        assert self.recorded("pairings").detail["rows"] == 1

    def test_needs_export_honours_filters_and_scope(self):
        make_need(self.w.pairing_a, title="修水渠")
        make_need(self.w.pairing_a, title="建桥", status="done")
        make_need(self.w.pairing_b, title="修路")
        rows = rows_of(self.export(self.w.village_a_secretary, "activities:need_list"))
        assert {row[0] for row in rows} == {"建桥", "修水渠"}
        rows = rows_of(self.export(self.w.staff, "activities:need_list", status="open"))
        assert {row[0] for row in rows} == {"修水渠", "修路"}
        assert self.recorded("needs").detail == {"filters": {"status": ["open"]}, "rows": 2}

    def test_rectifications_export_honours_filters_and_scope(self):
        make_rectification(make_inspection(self.w.pairing_a), description="台账不全")
        make_rectification(
            make_inspection(self.w.pairing_b),
            description="制度上墙",
            status="verified",
            done_at=datetime.date(2025, 8, 1),
            verified_at=datetime.date(2025, 8, 5),
        )
        rows = rows_of(self.export(self.w.supervisor_a, "activities:rectification_list"))
        assert [row[0] for row in rows] == ["台账不全"]
        rows = rows_of(
            self.export(self.w.staff, "activities:rectification_list", status="verified")
        )
        assert [row[0] for row in rows] == ["制度上墙"]
        assert rows[0][6] == datetime.datetime(2025, 9, 30)

    def test_organizations_export_honours_filters_and_scope(self):
        rows = rows_of(self.export(self.w.supervisor_a, "pairings:organizations", kind="branch"))
        # The township's own village, and the organ branch it is paired with.
        assert sorted(row[1] for row in rows) == ["县财政局机关党支部", "石门村党支部"]
        by_name = {row[1]: row for row in rows}
        assert by_name["石门村党支部"][4] == "石门镇党委"
        assert by_name["石门村党支部"][5] == 1

    def test_members_export_honours_filters_and_scope(self):
        rows = rows_of(self.export(self.w.supervisor_a, "pairings:members"))
        assert sorted(row[1] for row in rows) == ["李秀英", "王建国"]
        rows = rows_of(
            self.export(self.w.staff, "pairings:members", branch=str(self.w.village_b.pk))
        )
        assert [row[1] for row in rows] == ["陈玉兰"]

    def test_compliance_exports_are_recorded(self):
        self.export(self.w.staff, "compliance", start="2025-01-01", end="2025-12-31")
        event = self.recorded("compliance")
        assert event.detail["filters"] == {"start": ["2025-01-01"], "end": ["2025-12-31"]}

    def test_bad_filters_export_nothing(self):
        rows = rows_of(
            self.export(
                self.w.staff, "activities:list", date_from="2025-05-01", date_to="2025-01-01"
            )
        )
        assert rows == []


class ListPageTests(ExportTestCase):
    def test_each_list_links_its_export_with_the_current_filters(self):
        self.client.force_login(self.w.staff)
        for name, query in (
            ("activities:list", "category=study"),
            ("activities:pairings", "status=active"),
            ("activities:need_list", "status=open"),
            ("activities:rectification_list", "status=open"),
            ("pairings:organizations", "kind=branch"),
            ("pairings:members", "post=member"),
        ):
            page = self.client.get(f"{reverse(name)}?{query}&page=1").content.decode()
            assert f'href="?{query}&amp;export=xlsx"' in page, name

    def test_rosters_are_for_county_staff_supervisors_and_viewers(self):
        for user in (self.w.staff, self.w.supervisor_a, self.w.viewer):
            self.client.force_login(user)
            assert self.client.get(reverse("pairings:organizations")).status_code == 200
            assert self.client.get(reverse("pairings:members")).status_code == 200
        self.client.force_login(self.w.village_a_secretary)
        assert self.client.get(reverse("pairings:members")).status_code == 403
        assert self.export(self.w.village_a_secretary, "pairings:members").status_code == 403

    def test_anonymous_users_are_sent_to_log_in(self):
        self.client.logout()
        response = self.client.get(reverse("pairings:members"), {"export": "xlsx"})
        assert response.status_code == 302


class ConstantQueryTests(ExportTestCase):
    def count(self, user, name):
        self.client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            assert self.client.get(reverse(name), {"export": "xlsx"}).status_code == 200
        return len(queries)

    def test_exports_take_the_same_number_of_queries_whatever_their_size(self):
        names = [
            "activities:list",
            "activities:pairings",
            "activities:need_list",
            "activities:rectification_list",
            "pairings:organizations",
            "pairings:members",
        ]
        before = {name: self.count(self.w.staff, name) for name in names}
        inspection = make_inspection(self.w.pairing_b)
        for n in range(3):
            make_activity(self.w.pairing_b)
            make_need(self.w.pairing_b)
            make_rectification(inspection)
            make_member(self.w.village_b, phone=f"1370000000{n}")
        assert {name: self.count(self.w.staff, name) for name in names} == before

    def test_list_pages_take_the_same_number_of_queries_whatever_their_size(self):
        names = ["activities:need_list", "pairings:organizations", "pairings:members"]
        make_need(self.w.pairing_a)
        self.client.force_login(self.w.staff)
        before = {}
        for name in names:
            with CaptureQueriesContext(connection) as queries:
                self.client.get(reverse(name))
            before[name] = len(queries)
        for _ in range(3):
            make_need(self.w.pairing_b)
            make_member(self.w.village_b, phone="13700000000")
        for name in names:
            with CaptureQueriesContext(connection) as queries:
                self.client.get(reverse(name))
            assert len(queries) == before[name], name


class PinnedQueryTests(ExportTestCase):
    def test_new_list_pages_take_a_fixed_number_of_queries(self):
        make_need(self.w.pairing_a)
        self.client.force_login(self.w.staff)
        # session, user, assignments, count, page rows, the notification bell; plus the pairing
        # or branch choices of the filter form, or the parents of the listed organizations
        for name, queries in (
            ("activities:need_list", 7),
            ("pairings:organizations", 7),
            ("pairings:members", 7),
        ):
            with self.assertNumQueries(queries):
                assert self.client.get(reverse(name)).status_code == 200

    def test_an_export_takes_a_fixed_number_of_queries(self):
        self.client.force_login(self.w.staff)
        # session, user, assignments, the rows, the audit row
        with self.assertNumQueries(5):
            self.client.get(reverse("pairings:members"), {"export": "xlsx"})
