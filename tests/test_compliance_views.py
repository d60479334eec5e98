"""The compliance pages: the summary by regime and organization, the matrix, their exports."""

import datetime
import io
import re

from django.core.cache import caches
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from activities.models import Activity, Regime
from pairings import access
from pairings.models import Assignment
from reports.compliance_views import SUMMARY_LIST_LIMIT
from tests.factories import (
    make_branch,
    make_pairing,
    make_two_pairing_county,
    make_user,
)

Role = Assignment.Role
YEAR_2025 = {"start": "2025-01-01", "end": "2025-12-31"}


def joint_meeting(pairing, day, **kwargs):
    fields = {
        "pairing": pairing,
        "regime": Regime.objects.get(code="joint_meeting"),
        "category": "meeting",
        "date": day,
        "title": f"{day:%Y年%m月}联席会",
        "logged_by_branch": pairing.helper,
        "status": "confirmed",
        "submitted_at": datetime.datetime(day.year, day.month, day.day, 20, tzinfo=datetime.UTC),
        "on_time": True,
        "confirmed_at": datetime.datetime(day.year, day.month, day.day, 21, tzinfo=datetime.UTC),
    }
    fields.update(kwargs)
    return Activity.objects.create(**fields)


class CompliancePageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = w = make_two_pairing_county()
        # Pairing A met its joint meetings in Q1, Q2 and Q4 of 2025 but missed Q3; B met none.
        for day in (datetime.date(2025, 2, 10), datetime.date(2025, 5, 10)):
            joint_meeting(w.pairing_a, day)
        joint_meeting(w.pairing_a, datetime.date(2025, 11, 10), on_time=False)
        cls.auditor = make_user(role=Role.AUDITOR, org=w.county)

    def get(self, user, name, **params):
        self.client.force_login(user)
        return self.client.get(reverse(name), params)

    def test_anonymous_visitors_are_sent_to_login(self):
        for name in ("compliance", "compliance_matrix"):
            response = self.client.get(reverse(name))
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))

    def test_auditor_without_domain_scope_is_refused(self):
        assert self.get(self.auditor, "compliance").status_code == 403
        assert self.get(self.auditor, "compliance_matrix").status_code == 403

    def test_summary_shows_each_rate_with_numerator_and_denominator(self):
        response = self.get(self.w.viewer, "compliance", **YEAR_2025, regime="joint_meeting")
        met, on_time = response.context["by_regime"][Regime.objects.get(code="joint_meeting")]
        # 2 pairings × 4 quarters due; A met 3 (one of them late), B met none.
        assert (met.num, met.den) == (3, 8)
        assert (on_time.num, on_time.den) == (2, 8)
        html = response.content.decode()
        assert "37.5%（3/8）" in html and "25%（2/8）" in html

    def test_rollup_by_township_counts_a_pairing_under_each_side(self):
        response = self.get(self.w.staff, "compliance", **YEAR_2025, regime="joint_meeting")
        by_org = {org.name: rates[0] for org, rates in response.context["by_org"].items()}
        assert by_org["石门镇党委"].num == 3 and by_org["石门镇党委"].den == 4
        assert (by_org["河口乡党委"].num, by_org["河口乡党委"].den) == (0, 4)
        assert (by_org["县直机关工委"].num, by_org["县直机关工委"].den) == (3, 8)

    def test_matrix_shows_the_missed_quarter_with_a_symbol_and_links_to_its_activities(self):
        response = self.get(self.w.staff, "compliance_matrix", **YEAR_2025, regime="joint_meeting")
        html = response.content.decode()
        pairing_link = reverse("activities:pairing", args=[self.w.pairing_a.pk])
        row = html.split(f'href="{pairing_link}"')[1].split("</tr>")[0]
        cells = re.findall(r'<td class="cell cell-(\w+)"><a href="([^"]+)"', row)
        assert [state for state, _ in cells] == ["met", "met", "missed", "late"]
        assert "✗" in html and "未完成" in html  # not by colour only
        link = cells[2][1]
        assert "date_from=2025-07-01" in link and "date_to=2025-09-30" in link
        assert f"pairing={self.w.pairing_a.pk}" in link

    def test_secretary_sees_only_their_own_pairing(self):
        response = self.get(self.w.village_a_secretary, "compliance_matrix", **YEAR_2025)
        assert [pairing for pairing, _ in response.context["rows"]] == [self.w.pairing_a]
        response = self.get(
            self.w.village_a_secretary, "compliance", org=self.w.township_b.pk, **YEAR_2025
        )
        assert "河口村党支部" not in response.content.decode()

    def test_a_scope_outside_the_users_reach_shows_nothing_of_it(self):
        response = self.get(self.w.supervisor_a, "compliance_matrix", org=self.w.township_b.pk)
        assert [pairing for pairing, _ in response.context["rows"]] == [self.w.pairing_a]

    def test_end_before_start_is_a_chinese_error(self):
        response = self.get(self.w.staff, "compliance", start="2025-12-31", end="2025-01-01")
        assert "截止日期不能早于起始日期。" in response.content.decode()

    def test_summary_exports_every_table_to_excel(self):
        response = self.get(self.w.staff, "compliance", export="xlsx", **YEAR_2025)
        assert response["Content-Type"].startswith("application/vnd.openxmlformats")
        workbook = load_workbook(io.BytesIO(response.content))
        assert workbook.sheetnames == ["按制度", "按组织", "本期未完成", "上期未完成", "明细"]
        sheet = workbook["按制度"]
        assert [c.value for c in sheet[1]] == [
            "制度",
            "完成",
            "应完成",
            "完成率（%）",
            "按时",
            "按时率（%）",
        ]
        assert sheet.freeze_panes == "A2"
        rows = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert rows["季度联席会制度"][1:4] == (3, 8, 37.5)

    def test_the_lists_link_each_pairing_by_its_branches_and_the_export_lists_them_all(self):
        w, pairing = self.w, self.w.pairing_b  # B never held a joint meeting
        page = self.get(w.staff, "compliance")
        href = reverse("activities:pairing", args=[pairing.pk])
        item = f'<a href="{href}">{pairing.helper.name} ⇄ {pairing.helped.name}</a>'
        assert item in page.content.decode()
        workbook = load_workbook(io.BytesIO(self.get(w.staff, "compliance", export="xlsx").content))
        for sheet, total in (("本期未完成", "not_done_total"), ("上期未完成", "missed_total")):
            rows = list(workbook[sheet].iter_rows(min_row=2, values_only=True))
            assert len(rows) == page.context[total] > 0
        rows = workbook["本期未完成"].iter_rows(min_row=2, values_only=True)
        assert (pairing.code, pairing.helper.name, pairing.helped.name, "季度联席会制度") in {
            row[:4] for row in rows
        }

    def test_exported_text_that_looks_like_a_formula_stays_text(self):
        w = self.w
        evil = make_branch(w.township_a, sector="rural", name='=HYPERLINK("http://x","y")')
        make_pairing(w.organ_a, evil)
        response = self.get(w.staff, "compliance_matrix", export="xlsx", **YEAR_2025)
        sheet = load_workbook(io.BytesIO(response.content)).active
        cells = [
            c for row in sheet.iter_rows() for c in row if c.value and "HYPERLINK" in str(c.value)
        ]
        assert cells and all(c.data_type == "s" for c in cells)
        assert cells[0].value == '=HYPERLINK("http://x","y")'

    def queries(self, name):
        caches["parts"].clear()  # each round computes the county's lists part, layout included
        with CaptureQueriesContext(connection) as captured:
            assert self.client.get(reverse(name), YEAR_2025).status_code == 200
        return len(captured.captured_queries)

    def add_pairings(self, count):
        w = self.w
        for _ in range(count):
            village = make_branch(w.township_b, sector="rural")
            joint_meeting(make_pairing(w.organ_b, village), datetime.date(2025, 3, 3))

    def test_pages_run_the_same_number_of_queries_for_10_and_300_pairings(self):
        self.client.force_login(self.w.staff)
        self.add_pairings(8)
        ten = {name: self.queries(name) for name in ("compliance", "compliance_matrix")}
        self.add_pairings(290)
        assert access.visible_pairings(self.w.staff).count() == 300
        three_hundred = {name: self.queries(name) for name in ("compliance", "compliance_matrix")}
        assert ten == three_hundred
        assert three_hundred["compliance"] <= 16 and three_hundred["compliance_matrix"] <= 12
        # The summary's lists show their first rows and say how many there are.
        response = self.client.get(reverse("compliance"), YEAR_2025)
        for name in ("not_done", "missed"):
            assert len(response.context[name]) == SUMMARY_LIST_LIMIT
            assert response.context[f"{name}_total"] > 300  # every pairing, in several regimes
        html = response.content.decode()
        assert f"本期还未完成（{response.context['not_done_total']}）" in html
        assert html.count(f"这里列出前{SUMMARY_LIST_LIMIT}项") == 2
