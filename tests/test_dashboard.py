"""The dashboard (home of county staff, supervisors and viewers) and a pairing's report card."""

import datetime
import re
from decimal import Decimal

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pairings.models import Assignment
from reports import charts
from tests.factories import (
    make_activity,
    make_branch,
    make_commitment,
    make_inspection,
    make_member,
    make_org,
    make_outcome,
    make_pairing,
    make_participation,
    make_period_figure,
    make_rectification,
    make_submitted_activity,
    make_two_pairing_county,
    make_user,
)
from tests.test_query_counts import QUERIES

Role = Assignment.Role
YEAR_2025 = {"period": "custom", "start": "2025-01-01", "end": "2025-12-31"}
# Pinned: session, user, scope, the filter's regimes and organizations, the figures (15), the
# compliance roll-up (regimes and 1 in SQL), the roll-up organizations (2), pairings and
# activities by pairing, overdue deeds and rectifications by pairing, the pairings those lists
# name, the unread count; and the set-up checklist (7) while the county has
# not completed it (one query once it has: tests/test_setup.py).
# The numbers are those of the page table (tests/test_query_counts.py).
DASHBOARD_QUERIES = QUERIES["home/staff"]
CARD_QUERIES = QUERIES["pairing-card"]


def build_2025(w):
    """Hand-countable 2025 for the two-pairing county.

    Pairing A (石门镇): joint meetings in Q1, Q2 (on time) and Q4 (late), none in Q3; one
    activity day in March with three members and 20 villagers, 130 person-times of training and
    73710 yuan of donations. Pairing B (河口乡): one donation outside the regimes. A draft counts
    for nothing. Members: eight in the four branches, four of whom took part.
    """
    for day, on_time in (
        (datetime.date(2025, 2, 10), True),
        (datetime.date(2025, 5, 10), True),
        (datetime.date(2025, 11, 10), False),
    ):
        make_submitted_activity(
            w.pairing_a,
            "joint_meeting",
            day,
            on_time=on_time,
            category="meeting",
            title=f"{day.month}月联席会",
        )
    study = make_submitted_activity(
        w.pairing_a,
        "activity_day",
        datetime.date(2025, 3, 5),
        status="confirmed",
        title="三月集体学习",
        villager_count=20,
    )
    extra = make_member(w.village_a, name="张小红")
    make_member(w.village_a)
    make_member(w.organ_b)
    make_member(w.organ_b)
    for member in (w.organ_a_member, w.village_a_member, extra):
        make_participation(study, member)
    make_outcome(study, "training", "130")
    make_outcome(study, "donation_money", "73710")
    donation = make_submitted_activity(
        w.pairing_b, None, datetime.date(2025, 7, 1), category="donation", title="抗旱捐款"
    )
    make_participation(donation, w.organ_b_member)
    make_activity(w.pairing_b, date=datetime.date(2025, 8, 1), title="草稿不计")
    make_period_figure(w.village_a, "rubber_area", "2025", value=Decimal("93000"))
    make_period_figure(w.village_a, "rubber_area", "2024", value=Decimal("85000"))
    make_commitment(
        w.pairing_a,
        title="修缮灌溉水渠",
        status="done",
        done_on=datetime.date(2025, 6, 1),
        amount=Decimal("5000"),
    )
    make_commitment(w.pairing_b, title="硬化村道", due_date=datetime.date(2025, 1, 31))
    inspection = make_inspection(w.pairing_a, date=datetime.date(2025, 6, 10))
    make_rectification(inspection, due_date=datetime.date(2025, 9, 30))


class DashboardTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()
        build_2025(cls.w)
        cls.auditor = make_user(role=Role.AUDITOR, org=cls.w.county)

    def get(self, user, **params):
        self.client.force_login(user)
        return self.client.get(reverse("home"), params)


class DashboardAccessTests(DashboardTestCase):
    def test_anonymous_visitor_is_sent_to_login(self):
        response = self.client.get(reverse("home"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    def test_secretary_still_gets_their_own_home(self):
        response = self.get(self.w.village_a_secretary)
        assert "dashboard" not in response.context
        assert [p for p, _ in response.context["my_pairings"]] == [self.w.pairing_a]

    def test_the_greeting_names_each_assignment_but_none_to_a_deleted_organization(self):
        user = self.w.village_a_secretary
        Assignment.objects.create(user=user, organization=self.w.county, role=Role.VIEWER)
        gone = make_branch(self.w.county, name="已撤销支部")
        Assignment.objects.create(user=user, organization=gone, role=Role.SECRETARY)
        gone.trash(by=self.w.staff)

        html = self.get(user).content.decode()

        greeting = html[html.index("您的身份：") : html.index("</p>", html.index("您的身份："))]
        assert f"{self.w.village_a.name}·支部书记/联络员" in greeting
        assert f"{self.w.county.name}·领导（只读）" in greeting
        assert "已撤销支部" not in greeting

    def test_viewer_reads_the_dashboard_and_can_change_nothing(self):
        response = self.get(self.w.viewer, **YEAR_2025)
        assert response.status_code == 200
        assert response.context["dashboard"]["figures"].pairings == 2
        html = response.content.decode()
        assert "登记活动" not in html
        assert html.count('method="post"') == 1  # only the logout button

    def test_auditor_gets_no_dashboard(self):
        response = self.get(self.auditor, **YEAR_2025)
        assert "dashboard" not in response.context
        assert "审计记录" in response.content.decode()

    def test_the_dashboard_only_answers_get(self):
        self.client.force_login(self.w.staff)
        assert self.client.post(reverse("home")).status_code == 405


class DashboardFigureTests(DashboardTestCase):
    def test_headline_figures_and_rates_with_numerator_and_denominator(self):
        response = self.get(self.w.staff, **YEAR_2025)
        d = response.context["dashboard"]
        f = d["figures"]
        assert (f.pairings, f.organ_branches, f.village_branches, f.members) == (2, 2, 2, 8)
        assert (f.participants, f.activities, f.villagers) == (4, 5, 20)
        html = response.content.decode()
        assert '50%<small class="stat-ratio">（4/8）</small>' in html  # member participation
        # Due in 2025: 2 pairings × (12 + 12 + 4 + 1) periods; met 4 (3 joint meetings and
        # March's activity day), 3 of them on time.
        met, on_time = d["total"]
        assert (met.num, met.den, on_time.num) == (4, 58, 3)
        assert str(met) in html and str(met) == "6.9%（4/58）"
        assert "37.5%（3/8）" in html and "25%（2/8）" in html  # joint meetings

    def test_every_active_outcome_in_the_report_number_style(self):
        html = self.get(self.w.staff, **YEAR_2025).content.decode()
        assert "9.3万亩" in html  # the village's 2025 stock, not the 2024 one
        assert "130人次" in html and "73710元" in html
        assert "0件" in html  # an active metric with nothing yet still shows
        assert "5000元" in html  # the deed done

    def test_activities_by_regime_and_category(self):
        d = self.get(self.w.staff, **YEAR_2025).context["dashboard"]
        counts = {(r.code if r else None): n for r, n, *_ in d["regime_rows"]}
        assert counts["joint_meeting"] == 3 and counts["activity_day"] == 1 and counts[None] == 1
        rows = {(r.code if r else None): (met, on_time) for r, _, met, on_time in d["regime_rows"]}
        assert rows["daily_help"] == (None, None) and rows[None] == (None, None)  # counted only
        assert dict(d["figures"].by_category)["捐款捐物"] == 1

    def test_open_and_overdue_rectifications_and_commitments_link_to_their_lists(self):
        response = self.get(self.w.staff, **YEAR_2025)
        d = response.context["dashboard"]
        f = d["figures"]
        assert (f.open_rectifications, f.overdue_rectifications) == (1, 1)
        assert (f.open_commitments, f.overdue_commitments) == (1, 1)
        assert d["overdue_commitments"] == [(self.w.pairing_b, 1)]
        html = response.content.decode()
        rectifications = reverse("activities:rectification_list")
        assert f'href="{rectifications}?overdue=1"' in html
        assert f"{rectifications}?overdue=1&amp;pairing={self.w.pairing_a.pk}" in html
        assert reverse("activities:pairing", args=[self.w.pairing_b.pk]) in html

    def test_pairings_at_risk_are_those_that_missed_most_with_links(self):
        response = self.get(self.w.staff, **YEAR_2025)
        at_risk = response.context["dashboard"]["at_risk"]
        # B missed all 29 due periods; A missed 25 (11 activity days, 12 cross learnings,
        # one joint meeting, the inspection year).
        assert [(r.pairing, r.missed) for r in at_risk] == [
            (self.w.pairing_b, 29),
            (self.w.pairing_a, 25),
        ]
        assert str(at_risk[1].met) == "13.8%（4/29）"
        html = response.content.decode()
        assert reverse("activities:pairing", args=[self.w.pairing_a.pk]) in html
        assert "季度联席会1期" in html

    def test_table_by_township_and_committee_clicks_through_to_the_organization(self):
        response = self.get(self.w.staff, **YEAR_2025)
        rows = {org.name: row for org, *row in response.context["dashboard"]["org_rows"]}
        url, pairings, activities, met, on_time = rows["石门镇党委"]
        assert (pairings, activities, str(met), str(on_time)) == (
            1,
            4,
            "13.8%（4/29）",
            "10.3%（3/29）",
        )
        assert rows["河口乡党委"][1:3] == [1, 1] and str(rows["河口乡党委"][3]) == "0%（0/29）"
        assert rows["县直机关工委"][1:3] == [2, 5]
        assert url == (
            f"{reverse('home')}?org={self.w.township_a.pk}&period=custom"
            "&start=2025-01-01&end=2025-12-31"
        )
        assert f'href="{url.replace("&", "&amp;")}"' in response.content.decode()
        # Following it shows that township only.
        scoped = self.client.get(url).context["dashboard"]
        assert scoped["figures"].pairings == 1 and scoped["figures"].activities == 4
        assert scoped["values"]["org"] == self.w.township_a

    def test_monthly_chart_is_an_accessible_svg_without_style_or_script(self):
        response = self.get(self.w.staff, **YEAR_2025)
        html = response.content.decode()
        assert "style=" not in html and "<style" not in html
        # Scripts only from static files (the offline outbox's), none inline.
        assert all(" src=" in tag for tag in re.findall(r"<script\b[^>]*>", html))
        svg = re.search(r'<svg class="chart chart-columns[^>]*>', html).group(0)
        assert 'role="img"' in svg
        label = re.search(r'aria-label="([^"]*)"', svg).group(1)
        assert label.startswith("每月活动次数（2025年1月1日至2025年12月31日）：")
        assert "2025年3月1次" in label and "2025年8月0次" in label  # the draft is not counted
        assert "<title>" in html
        d = response.context["dashboard"]
        assert len(d["monthly"]) == 12 and dict(d["monthly"])["2025年2月"] == 1
        assert '<th scope="row">2025年2月</th>' in html  # the numbers as a table too

    def test_labels_in_a_chart_are_escaped(self):
        svg = charts.bar_chart([("<b>&", 3)], title='"x"', unit="次")
        assert "<b>" not in svg and "&lt;b&gt;&amp;" in svg
        assert 'aria-label="&quot;x&quot;：&lt;b&gt;&amp;3次"' in svg
        svg = charts.column_chart([("1月<", 2)], title="t")
        assert "1月&lt;" in svg and "style" not in svg


class DashboardChooserTests(DashboardTestCase):
    def test_this_year_is_the_default(self):
        today = timezone.localdate()
        values = self.get(self.w.staff).context["dashboard"]["values"]
        assert values["period"] == "year"
        assert (values["start"], values["end"]) == (
            datetime.date(today.year, 1, 1),
            datetime.date(today.year, 12, 31),
        )

    def test_period_presets(self):
        today = timezone.localdate()
        last = today.year - 1
        make_submitted_activity(self.w.pairing_b, "daily_help", datetime.date(last, 4, 1))
        d = self.get(self.w.staff, period="last_year").context["dashboard"]
        assert (d["values"]["start"], d["values"]["end"]) == (
            datetime.date(last, 1, 1),
            datetime.date(last, 12, 31),
        )
        assert d["values"]["label"] == f"{last}年"
        assert dict((r.code if r else None, n) for r, n, *_ in d["regime_rows"])["daily_help"] == 1
        for key, months in (("half", 6), ("quarter", 3), ("month", 1)):
            values = self.get(self.w.staff, period=key).context["dashboard"]["values"]
            assert values["start"] <= today <= values["end"]
            span = (values["end"].year - values["start"].year) * 12 + values["end"].month
            assert span - values["start"].month + 1 == months

    def test_the_chooser_is_in_chinese_and_keeps_the_scope(self):
        response = self.get(self.w.staff, org=self.w.township_a.pk, period="quarter")
        html = response.content.decode()
        for label in ("本年度", "上年度", "本半年", "本季度", "本月", "自定义"):
            assert label in html
        links = dict(
            (label, url) for label, url, _ in response.context["dashboard"]["period_links"]
        )
        assert links["上年度"] == f"/?org={self.w.township_a.pk}&period=last_year"
        assert [current for *_, current in response.context["dashboard"]["period_links"]] == [
            False,
            False,
            False,
            True,
            False,
        ]

    def test_custom_dates_without_a_period_are_a_custom_range(self):
        response = self.get(self.w.staff, start="2025-03-01", end="2025-03-31")
        values = response.context["dashboard"]["values"]
        assert (values["period"], values["start"], values["end"]) == (
            "custom",
            datetime.date(2025, 3, 1),
            datetime.date(2025, 3, 31),
        )

    def test_end_before_start_is_a_chinese_error_and_the_default_period(self):
        response = self.get(self.w.staff, period="custom", start="2025-12-31", end="2025-01-01")
        assert "截止日期不能早于起始日期。" in response.content.decode()
        assert response.context["dashboard"]["values"]["period"] == "year"

    def test_a_custom_range_longer_than_five_years_is_refused(self):
        response = self.get(self.w.staff, period="custom", start="2015-01-01", end="2025-12-31")
        assert "自定义期间最长5年。" in response.content.decode()
        assert response.context["dashboard"]["values"]["period"] == "year"

    def test_many_months_keep_their_numbers_in_the_table_and_the_label(self):
        response = self.get(self.w.staff, period="custom", start="2023-01-01", end="2025-12-31")
        d = response.context["dashboard"]
        assert len(d["monthly"]) == 36
        svg = str(d["monthly_chart"])
        assert "chart-value" not in svg  # too many columns for a value over each
        assert "2025年2月1次" in svg and "<title>2025年2月：1次</title>" in svg

    def test_an_organization_out_of_reach_is_not_offered_and_ignored(self):
        w = self.w
        response = self.get(w.supervisor_a, org=w.township_b.pk, **YEAR_2025)
        d = response.context["dashboard"]
        assert w.township_b not in d["form"].fields["org"].queryset
        assert d["values"]["org"] is None
        assert d["figures"].pairings == 1 and d["figures"].activities == 4
        html = response.content.decode()
        assert "河口村党支部" not in html and "河口乡党委" not in html

    def test_the_scope_list_shows_two_levels_and_still_takes_a_deeper_organization(self):
        """A province would list thousands of committees: the list holds the user's own
        organization and the level under it, and the one chosen; a deeper committee (reached
        from the by-organization table) is still a valid choice."""
        w = self.w
        deeper = make_org(w.township_a, kind="committee", sector="rural", name="石门片区党委")

        def listed(response):
            return re.findall(r'<option value="(\d+)"', response.content.decode())

        shown = listed(self.get(w.staff, **YEAR_2025))
        assert {str(w.county.pk), str(w.township_a.pk), str(w.township_b.pk)} <= set(shown)
        assert str(deeper.pk) not in shown

        response = self.get(w.staff, org=deeper.pk, **YEAR_2025)
        assert response.context["dashboard"]["values"]["org"] == deeper
        assert str(deeper.pk) in listed(response)
        assert "石门片区党委 · 互助共建情况" in response.content.decode()
        # A chosen value that is no number (a superscript two passes str.isdigit) is ignored.
        response = self.get(w.staff, org="²", **YEAR_2025)
        assert (
            response.status_code == 200 and response.context["dashboard"]["values"]["org"] is None
        )


class DashboardQueryTests(DashboardTestCase):
    def count_queries(self):
        with CaptureQueriesContext(connection) as captured:
            assert self.client.get(reverse("home"), YEAR_2025).status_code == 200
        return len(captured.captured_queries)

    def test_the_same_number_of_queries_whatever_the_data(self):
        w = self.w
        self.client.force_login(w.staff)
        before = self.count_queries()
        township = make_org(w.county, kind="committee", sector="rural", name="新设乡党委")
        for i in range(12):
            village = make_branch(township, sector="rural")
            pairing = make_pairing(w.organ_b if i % 2 else w.organ_a, village)
            member = make_member(village)
            for month in (1, 4, 7):
                activity = make_submitted_activity(
                    pairing, "joint_meeting", datetime.date(2025, month, 9), on_time=i % 3 > 0
                )
                make_participation(activity, member)
                make_outcome(activity, "projects", "1")
            make_commitment(pairing, due_date=datetime.date(2025, 2, 1))
            make_rectification(make_inspection(pairing), due_date=datetime.date(2025, 3, 1))
            make_period_figure(village, "rubber_area", "2025", value=Decimal("12000"))
        assert self.count_queries() == before == DASHBOARD_QUERIES


class PairingCardTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()
        build_2025(cls.w)

    def card(self, user, pairing, **params):
        self.client.force_login(user)
        return self.client.get(reverse("pairing_card", args=[pairing.pk]), params)

    def test_anonymous_visitor_is_sent_to_login(self):
        response = self.client.get(reverse("pairing_card", args=[self.w.pairing_a.pk]))
        assert response.status_code == 302

    def test_a_pairing_out_of_scope_is_not_found(self):
        assert self.card(self.w.supervisor_b, self.w.pairing_a).status_code == 404
        assert self.card(self.w.village_b_secretary, self.w.pairing_a).status_code == 404

    def test_the_pairing_page_links_to_its_card(self):
        self.client.force_login(self.w.village_a_secretary)
        html = self.client.get(reverse("activities:pairing", args=[self.w.pairing_a.pk]))
        assert reverse("pairing_card", args=[self.w.pairing_a.pk]) in html.content.decode()

    def test_compliance_by_regime_with_each_period(self):
        response = self.card(self.w.village_a_secretary, self.w.pairing_a, year=2025)
        rows = {regime.code: row for regime, *row in response.context["regime_rows"]}
        count, met, on_time, cells = rows["joint_meeting"]
        assert (count, str(met), str(on_time)) == (3, "75%（3/4）", "50%（2/4）")
        assert [(label, cell.state) for label, _, _, cell in cells] == [
            ("第一季度", "met"),
            ("第二季度", "met"),
            ("第三季度", "missed"),
            ("第四季度", "late"),
        ]
        assert rows["daily_help"][3] is None  # counted, not required
        html = response.content.decode()
        assert "75%（3/4）" in html and "未完成" in html
        assert "style=" not in html

    def test_outcomes_needs_deeds_and_inspections_of_the_year(self):
        html = self.card(self.w.organ_a_secretary, self.w.pairing_a, year=2025).content.decode()
        assert "130人次" in html and "73710元" in html
        assert "办结实事1件，金额5000元" in html
        assert "整改事项（截至今天）：未完成 1 项，其中逾期 1 项" in html
        assert "县财政局机关党支部检查石门村党支部" in html

    def test_timeline_lists_activities_inspections_and_deeds_newest_first(self):
        response = self.card(self.w.staff, self.w.pairing_a, year=2025)
        timeline = response.context["timeline"]
        assert [(e.date.isoformat(), e.kind) for e in timeline] == [
            ("2025-11-10", "季度联席会"),
            ("2025-06-10", "党建互检"),
            ("2025-06-01", "实事办结"),
            ("2025-05-10", "季度联席会"),
            ("2025-03-05", "集体活动日"),
            ("2025-02-10", "季度联席会"),
        ]
        assert "党员3人 · 群众20人" in timeline[4].detail

    def test_a_year_outside_the_pairing_falls_back_to_the_latest(self):
        today = timezone.localdate()
        for year in ("1999", "abc"):
            assert self.card(self.w.staff, self.w.pairing_a, year=year).context["year"] == (
                today.year
            )

    def test_the_same_number_of_queries_whatever_the_data(self):
        self.client.force_login(self.w.staff)
        url = reverse("pairing_card", args=[self.w.pairing_a.pk])
        with CaptureQueriesContext(connection) as before:
            self.client.get(url, {"year": 2025})
        for month in range(1, 13):
            activity = make_submitted_activity(
                self.w.pairing_a, "cross_learning", datetime.date(2025, month, 20)
            )
            make_participation(activity, self.w.village_a_member)
            make_outcome(activity, "training", "10")
            make_commitment(self.w.pairing_a, status="done", done_on=datetime.date(2025, month, 21))
        with CaptureQueriesContext(connection) as after:
            html = self.client.get(url, {"year": 2025}).content.decode()
        assert len(after.captured_queries) == len(before.captured_queries) == CARD_QUERIES
        assert "250人次" in html
