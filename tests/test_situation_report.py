"""The situation report (情况汇报): drafted from data like the source, edited in versions,
compared, refreshed without losing the staff's text, printed and exported."""

import datetime
import importlib.util
import io
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from activities.models import Participation
from pairings.models import Assignment
from reports import situation
from reports.models import ReportVersion, SituationReport
from tests.factories import (
    make_branch,
    make_commitment,
    make_county,
    make_inspection,
    make_member,
    make_org,
    make_outcome,
    make_pairing,
    make_period_figure,
    make_rectification,
    make_situation_report,
    make_submitted_activity,
    make_user,
)

Role = Assignment.Role
START, END = datetime.date(2025, 1, 1), datetime.date(2025, 12, 31)
TODAY = datetime.date(2026, 1, 15)
HEADINGS = ["一、基本情况", "二、主要做法和成效", "三、几点体会", "四、存在问题", "五、下步打算"]
DOCX_AVAILABLE = (
    importlib.util.find_spec("reports.docx") is not None
    and importlib.util.find_spec("docx") is not None
)


def activity(pairing, regime_code, day, category="study", *, members=(), **kwargs):
    """A submitted activity, with the members who took part."""
    made = make_submitted_activity(pairing, regime_code, day, category=category, **kwargs)
    for member in members:
        Participation.objects.create(activity=made, member=member)
    return made


def every_month(pairing, regime_code, months, category="study", **kwargs):
    return [
        activity(pairing, regime_code, datetime.date(2025, m, 8), category, **kwargs)
        for m in months
    ]


def make_county_world():
    """A county with two townships and the organs' working committee, and two pairings.

    Pairing A: 县财政局机关党支部 helps 石门村党支部 (石门镇); pairing B: 县农业农村局党支部 helps
    河口村党支部 (河口乡). A user for every role that matters here.
    """
    from types import SimpleNamespace

    w = SimpleNamespace()
    w.county = make_county(name="中共青山县委", code="QS")
    w.township_a = make_org(w.county, kind="committee", sector="rural", name="石门镇党委")
    w.township_b = make_org(w.county, kind="committee", sector="rural", name="河口乡党委")
    w.organs = make_org(w.county, kind="working_committee", sector="organ", name="县直机关工委")
    w.organ_a = make_branch(w.organs, name="县财政局机关党支部")
    w.organ_b = make_branch(w.organs, name="县农业农村局党支部")
    w.village_a = make_branch(w.township_a, sector="rural", name="石门村党支部")
    w.village_b = make_branch(w.township_b, sector="rural", name="河口村党支部")
    w.pairing_a = make_pairing(w.organ_a, w.village_a, code="GJ001")
    w.pairing_b = make_pairing(w.organ_b, w.village_b, code="GJ002")
    w.members = {
        branch: [make_member(branch) for _ in range(2)]
        for branch in (w.organ_a, w.village_a, w.organ_b, w.village_b)
    }
    w.staff = make_user(role=Role.COUNTY_STAFF, org=w.county)
    w.viewer = make_user(role=Role.VIEWER, org=w.county)
    w.supervisor_a = make_user(role=Role.SUPERVISOR, org=w.township_a)
    w.supervisor_b = make_user(role=Role.SUPERVISOR, org=w.township_b)
    w.secretary = make_user(role=Role.SECRETARY, org=w.village_a)
    return w


def make_source_figures(w):
    """Data whose totals are the source's: 130人次, 73710元, 2500亩, 9.3万亩, 22.36万亩.

    Regimes in 2025: 集体活动日 A 12 + B 6 = 18, 交叉学习 A 3, 季度联席会 A 4 + B 2 = 6,
    年度互检 A 1, 日常互助 B 2; and 3 activities outside the regimes (A).
    """
    a, b = w.pairing_a, w.pairing_b
    everyone_a = [*w.members[w.organ_a], *w.members[w.village_a]]
    every_month(a, "activity_day", range(1, 13), members=everyone_a[:3])
    every_month(b, "activity_day", range(1, 7), members=w.members[w.organ_b][:1])
    every_month(a, "cross_learning", (2, 5, 9))
    every_month(a, "joint_meeting", (2, 5, 8, 11), "meeting")
    every_month(b, "joint_meeting", (3, 6), "meeting")
    activity(a, "mutual_inspection", datetime.date(2025, 10, 20), "inspection")
    every_month(b, "daily_help", (4, 10), "visit")
    training = activity(a, None, datetime.date(2025, 4, 12), "training", villager_count=130)
    make_outcome(training, "training", "130")
    drive = activity(a, None, datetime.date(2025, 5, 20), "donation")
    make_outcome(drive, "donation_money", "73710")
    planting = activity(a, None, datetime.date(2025, 6, 15), "project")
    make_outcome(planting, "returning_farmland", "2500")
    make_outcome(planting, "sugarcane", "93000")
    make_period_figure(w.county, "rubber_area", "2025", value=Decimal("223600"))


class SourceFiguresTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = make_county_world()
        make_source_figures(cls.w)

    def draft(self, org=None):
        return situation.draft(org or self.w.county, START, END, today=TODAY)

    def test_the_report_holds_the_sources_figures_in_its_number_style(self):
        text = situation.plain_text(*self.title_and_sections())
        for figure in ("130人次", "73710元", "2500亩", "9.3万亩", "22.36万亩"):
            assert figure in text, figure
        assert "开展实用技术培训等服务达130人次，捐款73710元。" in text
        assert "完成退耕还林2500亩，种植甘蔗9.3万亩，民营橡胶面积达22.36万亩。" in text

    def title_and_sections(self):
        drafted = self.draft()
        return drafted.title, drafted.sections

    def test_the_five_section_headings_come_in_order(self):
        text = situation.plain_text(*self.title_and_sections())
        positions = [text.index(heading) for heading in HEADINGS]
        assert positions == sorted(positions)

    def test_each_regime_is_named_with_its_count(self):
        section = self.draft().sections[1]
        counts = {
            "集体活动日制度": 18,
            "交叉学习月制度": 3,
            "季度联席会制度": 6,
            "年度党建互检制度": 1,
            "日常党建互助制度": 2,
        }
        for name, count in counts.items():
            assert f"落实{name}。开展活动{count}次" in section, name
        assert "此外，各共建对子还开展了五项制度以外的共建活动3次。" in section

    def test_each_regime_states_its_compliance_with_numerator_and_denominator(self):
        section = self.draft().sections[1]
        # 集体活动日: A met 12 months of 12, B 6 of 12 → 18/24.
        assert "落实集体活动日制度。开展活动18次，完成率75%（完成18/24期）" in section
        # 季度联席会: A met 4 quarters, B 2 → 6/8.
        assert "落实季度联席会制度。开展活动6次，完成率75%（完成6/8期）" in section
        assert "落实日常党建互助制度。开展活动2次，该制度不定期开展" in section

    def test_basic_situation_counts_pairings_branches_members_and_participation(self):
        section = self.draft().sections[0]
        assert section.startswith(
            "截至2025年12月31日，全县共有2个机关党支部与2个农村党支部结成互助共建对子2对，"
            "涉及党员8名，其中4名党员参加了共建活动，参与率50%。"
        )
        assert "参加活动的群众达130人次" in section

    def test_title_is_named_after_the_scope(self):
        w = self.w
        assert self.draft().title == "青山县“互助共建”活动开展情况汇报"
        assert self.draft(w.township_a).title == "石门镇“互助共建”活动开展情况汇报"
        assert self.draft(w.organs).title == "县直机关工委“互助共建”活动开展情况汇报"

    def test_a_township_report_counts_only_its_pairings(self):
        section = self.draft(self.w.township_a).sections[0]
        assert section.startswith("截至2025年12月31日，全镇共有1个机关党支部与1个农村党支部")

    def test_staff_sections_are_empty_in_a_draft(self):
        sections = self.draft().sections
        assert sections[2] == "" and sections[4] == ""

    def test_level_two_items_are_set_apart_in_the_document(self):
        document = situation.document(self.draft().sections)
        heading, items = document[1]
        assert heading == "二、主要做法和成效"
        lead_items = [p for p in items if p.lead]
        assert lead_items[0].lead == "（一）落实集体活动日制度。"
        assert lead_items[0].rest.startswith("开展活动18次")


Q1_START, Q1_END = datetime.date(2025, 1, 1), datetime.date(2025, 3, 31)


def good_quarter(pairing, members, *, meeting=True, second_category="training"):
    """A first quarter of 2025 that shows no problem: every member takes part, the joint
    meeting is held, three kinds of activity."""
    every_month(pairing, "activity_day", (1, 2, 3), "study", members=members)
    every_month(pairing, "cross_learning", (1, 2, 3), second_category)
    if meeting:
        activity(pairing, "joint_meeting", datetime.date(2025, 2, 20), "meeting")
    else:
        activity(pairing, None, datetime.date(2025, 2, 20), "visit")


class ProblemTests(TestCase):
    """Section four proposes only the problems the data shows, each citing its pairings."""

    @classmethod
    def setUpTestData(cls):
        cls.w = make_county_world()

    def setUp(self):
        w = self.w
        self.everyone_a = [*w.members[w.organ_a], *w.members[w.village_a]]
        self.everyone_b = [*w.members[w.organ_b], *w.members[w.village_b]]

    def draft(self):
        return situation.draft(self.w.county, Q1_START, Q1_END, today=TODAY)

    def codes(self):
        return [p.code for p in self.draft().problems]

    def test_when_no_problem_shows_the_report_says_so_plainly(self):
        good_quarter(self.w.pairing_a, self.everyone_a)
        good_quarter(self.w.pairing_b, self.everyone_b)
        drafted = self.draft()
        assert drafted.problems == []
        assert drafted.sections[3].startswith("“互助共建”活动开展以来，总体进展顺利。")
        assert "（一）" not in drafted.sections[3]

    def test_donation_only_pairings_are_named_like_the_source(self):
        good_quarter(self.w.pairing_a, self.everyone_a)
        every_month(self.w.pairing_b, None, (1, 2), "donation", members=self.everyone_b)
        drafted = self.draft()
        assert "donation_only" in [p.code for p in drafted.problems]
        section = drafted.sections[3]
        assert (
            "（一）对“互助共建”活动的认识不够全面。有1个共建对子期内开展的活动全是捐款捐物"
            in section
        )
        assert "认为给些钱物就是“互助共建”了" in section
        named = situation.draft(self.w.county, Q1_START, Q1_END, today=TODAY, named=True)
        assert [p.text(1) for p in named.problems] == [p.text(1) for p in drafted.problems]
        (problem,) = [p for p in named.problems if p.code == "donation_only"]
        assert [facts.code for facts, _ in problem.pairings] == ["GJ002"]

    def test_a_study_besides_the_donations_is_not_donation_only(self):
        good_quarter(self.w.pairing_a, self.everyone_a)
        every_month(self.w.pairing_b, None, (1, 2), "donation", members=self.everyone_b)
        activity(self.w.pairing_b, "activity_day", datetime.date(2025, 3, 3), "study")
        assert "donation_only" not in self.codes()

    def test_low_participation_is_below_the_threshold(self):
        good_quarter(self.w.pairing_a, self.everyone_a)
        good_quarter(self.w.pairing_b, self.everyone_b[:1])  # 1 of 4 took part
        drafted = self.draft()
        assert [p.code for p in drafted.problems] == ["low_participation"]
        assert "主要有一个方面：" in drafted.sections[3]
        assert "（一）党员的参与面还不够广。有1个共建对子的党员参与率低于50%" in drafted.sections[3]

    def test_the_participation_threshold_is_a_setting(self):
        good_quarter(self.w.pairing_a, self.everyone_a)
        good_quarter(self.w.pairing_b, self.everyone_b[:2])  # 2 of 4: 50%
        assert self.codes() == []
        with override_settings(COBUILD={**settings.COBUILD, "REPORT_LOW_PARTICIPATION": 0.6}):
            drafted = self.draft()
        assert [p.code for p in drafted.problems] == ["low_participation"]
        assert "党员参与率低于60%" in drafted.sections[3]

    def test_a_missed_joint_meeting_is_a_communication_problem(self):
        good_quarter(self.w.pairing_a, self.everyone_a)
        good_quarter(self.w.pairing_b, self.everyone_b, meeting=False)
        drafted = self.draft()
        assert [p.code for p in drafted.problems] == ["missed_joint_meetings"]
        assert "有1个共建对子未按期召开季度联席会，共缺1期" in drafted.sections[3]

    def test_few_kinds_of_activity_is_little_variety_and_the_limit_is_a_setting(self):
        good_quarter(self.w.pairing_a, self.everyone_a)
        good_quarter(self.w.pairing_b, self.everyone_b, second_category="study")
        drafted = self.draft()
        assert [p.code for p in drafted.problems] == ["few_categories"]
        assert "（一）活动形式创新不多。有1个共建对子期内开展的活动不超过2类" in drafted.sections[3]
        with override_settings(COBUILD={**settings.COBUILD, "REPORT_FEW_CATEGORIES": 1}):
            assert self.codes() == []

    def test_overdue_rectifications_and_unmet_commitments_are_counted_with_their_pairings(self):
        w = self.w
        good_quarter(w.pairing_a, self.everyone_a)
        good_quarter(w.pairing_b, self.everyone_b)
        inspection = make_inspection(w.pairing_b)
        make_rectification(inspection, due_date=datetime.date(2025, 12, 1))
        make_rectification(inspection, due_date=datetime.date(2025, 12, 1))
        make_rectification(inspection, due_date=datetime.date(2026, 3, 1))  # not yet due
        make_rectification(
            inspection,
            due_date=datetime.date(2025, 12, 1),
            status="done",
            done_at=datetime.date(2025, 11, 1),
        )
        make_commitment(w.pairing_a, due_date=datetime.date(2025, 12, 31))
        make_commitment(
            w.pairing_a, status="done", done_on=datetime.date(2025, 3, 1), amount=Decimal("5000")
        )
        drafted = self.draft()
        assert [p.code for p in drafted.problems] == [
            "overdue_rectifications",
            "overdue_commitments",
        ]
        section = drafted.sections[3]
        assert "主要有两个方面：" in section
        assert "（一）互检整改落实还不够到位。年度党建互检发现的问题中，有2项整改事项" in section
        assert "涉及1个共建对子" in section
        assert "（二）承诺的实事还未全部兑现。" in section and "有1件已过承诺完成日期" in section
        assert "共建单位为农村办好事实事1件，投入资金5000元" in drafted.sections[1]

    def test_problems_are_numbered_in_the_sources_order(self):
        good_quarter(self.w.pairing_a, self.everyone_a[:1], meeting=False)
        good_quarter(self.w.pairing_b, self.everyone_b)
        section = self.draft().sections[3]
        assert section.index("（一）党员的参与面") < section.index("（二）共建双方有效沟通")


class CommandTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = make_county_world()
        make_source_figures(cls.w)

    def render(self, fmt, path=None, org="QS"):
        out = io.StringIO()
        args = ["--org", org, "--start", "2025-01-01", "--end", "2025-12-31", "--format", fmt]
        args += ["--today", "2026-01-15"]
        if path:
            args += ["--output", str(path)]
        call_command("render_report", *args, stdout=out)
        return out.getvalue()

    def test_txt_is_the_plain_text_section_by_section(self):
        text = self.render("txt")
        assert text.startswith("青山县“互助共建”活动开展情况汇报\n")
        positions = [text.index(heading) for heading in HEADINGS]
        assert positions == sorted(positions)
        for figure in ("130人次", "73710元", "2500亩", "9.3万亩", "22.36万亩"):
            assert figure in text
        assert SituationReport.objects.count() == 0  # the command drafts, it saves nothing

    def test_html_is_a_standalone_printable_page(self):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "report.html"
            self.render("html", path)
            html = path.read_text(encoding="utf-8")
        assert "<style>" in html and "37mm 26mm 35mm 28mm" in html and "size: A4" in html
        assert "青山县“互助共建”活动开展情况汇报" in html and "22.36万亩" in html
        assert "sidenav" not in html and "print-hint" not in html.split("</style>")[1]

    def test_docx_is_written_when_the_word_module_is_there(self):
        if not DOCX_AVAILABLE:
            self.skipTest("reports.docx or python-docx is not installed")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "report.docx"
            self.render("docx", path)
            import docx

            text = "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
        assert "22.36万亩" in text and "四、存在问题" in text

    def test_an_unknown_organization_or_a_branch_is_refused(self):
        with pytest.raises(CommandError, match="找不到组织编码为 NOPE 的党组织。"):
            self.render("txt", org="NOPE")
        with pytest.raises(CommandError, match="不能是党支部"):
            self.render("txt", org=self.w.village_a.code)
        with pytest.raises(CommandError, match="Word 文档请用 --output 指定文件路径。"):
            self.render("docx")


class ReportPageTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = make_county_world()
        make_source_figures(cls.w)
        cls.report = make_situation_report(cls.w.county, by=cls.w.staff)

    def url(self, name, *args):
        return reverse(name, args=args or [self.report.pk])

    def as_user(self, user):
        self.client.force_login(user)
        return self.client

    def edit_data(self, version=None, **changes):
        version = version or self.report.latest_version()
        data = {
            "title": self.report.title,
            "base": version.number,
            "note": "",
            **dict(zip(ReportVersion.SECTION_FIELDS, version.sections, strict=True)),
        }
        data.update(changes)
        return data


class DraftingPageTests(ReportPageTestCase):
    def test_staff_draft_a_report_from_data_as_version_one(self):
        response = self.as_user(self.w.staff).post(
            reverse("report_new"),
            {"organization": self.w.township_a.pk, "start": "2025-01-01", "end": "2025-12-31"},
        )
        report = SituationReport.objects.get(organization=self.w.township_a)
        assert response.status_code == 302 and response["Location"] == self.url(
            "report_edit", report.pk
        )
        assert report.title == "石门镇“互助共建”活动开展情况汇报"
        assert report.created_by == self.w.staff
        (version,) = report.versions.all()
        assert (version.number, version.kind, version.created_by) == (1, "drafted", self.w.staff)
        assert set(version.generated) == {"1", "2", "4"}
        assert version.section1 == version.generated["1"]
        assert "全镇共有1个机关党支部与1个农村党支部" in version.section1
        assert version.section3 == "" and version.section5 == ""
        assert report.history.first().history_user == self.w.staff

    def test_the_new_report_form_offers_the_committees_the_user_oversees(self):
        response = self.as_user(self.w.supervisor_a).get(reverse("report_new"))
        assert list(response.context["form"].fields["organization"].queryset) == [self.w.township_a]
        response = self.as_user(self.w.staff).get(reverse("report_new"))
        names = [o.name for o in response.context["form"].fields["organization"].queryset]
        assert names[0] == "中共青山县委" and "石门村党支部" not in names

    def test_end_before_start_is_refused_and_nothing_is_drafted(self):
        response = self.as_user(self.w.staff).post(
            reverse("report_new"),
            {"organization": self.w.county.pk, "start": "2025-12-31", "end": "2025-01-01"},
        )
        assert response.status_code == 200
        assert "截止日期不能早于起始日期。" in response.content.decode()
        assert SituationReport.objects.count() == 1

    def test_a_supervisor_cannot_draft_for_another_township(self):
        response = self.as_user(self.w.supervisor_a).post(
            reverse("report_new"),
            {"organization": self.w.township_b.pk, "start": "2025-01-01", "end": "2025-12-31"},
        )
        assert response.status_code == 200 and response.context["form"].errors["organization"]
        assert SituationReport.objects.count() == 1

    def test_the_report_page_shows_the_document(self):
        html = self.as_user(self.w.viewer).get(self.url("report_detail")).content.decode()
        assert "青山县“互助共建”活动开展情况汇报" in html
        for heading in HEADINGS:
            assert heading in html
        assert '<span class="doc-lead">（一）落实集体活动日制度。</span>开展活动18次' in html
        assert "刷新数据" not in html  # viewers read only

    def test_the_print_view_is_a_standalone_a4_page_without_navigation(self):
        response = self.as_user(self.w.staff).get(self.url("report_print"))
        html = response.content.decode()
        assert "css/report.css" in html and "sidenav" not in html and "topbar" not in html
        assert '<h1 class="doc-title">青山县“互助共建”活动开展情况汇报</h1>' in html
        assert "22.36万亩" in html
        css = (Path(settings.BASE_DIR) / "static/css/report.css").read_text(encoding="utf-8")
        assert "size: A4;" in css and "margin: 37mm 26mm 35mm 28mm;" in css
        assert "counter(page)" in css and "font-size: 16pt" in css and "font-size: 22pt" in css


class VersionTests(ReportPageTestCase):
    def test_saving_adds_a_version_and_never_overwrites_one(self):
        client = self.as_user(self.w.staff)
        data = self.edit_data(section3="（一）统一认识是前提。多次组织共建单位召开座谈会。")
        response = client.post(self.url("report_edit"), {**data, "note": "补充几点体会"})
        assert response.status_code == 302
        first, second = self.report.versions.order_by("number")
        assert first.section3 == ""
        assert second.section3 == "（一）统一认识是前提。多次组织共建单位召开座谈会。"
        assert (second.number, second.kind, second.note) == (2, "edited", "补充几点体会")
        assert second.generated == first.generated
        assert second.created_by == self.w.staff

    def test_text_from_a_browser_is_stored_with_plain_newlines(self):
        self.as_user(self.w.staff).post(
            self.url("report_edit"),
            self.edit_data(section5="（一）加强学习。\r\n\r\n（二）完善制度。  \r\n"),
        )
        assert self.report.latest_version().section5 == "（一）加强学习。\n\n（二）完善制度。"

    def test_saving_unchanged_text_adds_no_version(self):
        response = self.as_user(self.w.staff).post(self.url("report_edit"), self.edit_data())
        assert response.status_code == 302
        assert self.report.versions.count() == 1

    def test_a_blank_title_is_refused_and_nothing_is_saved(self):
        response = self.as_user(self.w.staff).post(
            self.url("report_edit"), self.edit_data(title="", section3="新文字")
        )
        assert response.status_code == 200 and response.context["form"].errors["title"]
        assert self.report.versions.count() == 1

    def test_a_version_cannot_be_changed(self):
        version = self.report.latest_version()
        version.section3 = "改写"
        with pytest.raises(ValueError, match="汇报版本只能新增，不能修改。"):
            version.save()

    def test_saving_over_a_newer_version_keeps_both_and_says_so(self):
        client = self.as_user(self.w.staff)
        stale = self.edit_data(section3="甲的体会")
        client.post(self.url("report_edit"), self.edit_data(section3="乙的体会"))
        response = client.post(self.url("report_edit"), stale, follow=True)
        assert [v.section3 for v in self.report.versions.order_by("number")] == [
            "",
            "乙的体会",
            "甲的体会",
        ]
        assert "您编辑期间已有人保存了第2版" in response.content.decode()

    def test_compare_marks_removed_and_added_text_in_words_not_colour_only(self):
        client = self.as_user(self.w.staff)
        old = self.report.latest_version().section1
        new = old.replace("参与率50%", "参与率为50%") + "\n\n新增的一段。"
        client.post(self.url("report_edit"), self.edit_data(section1=new))
        response = client.get(self.url("report_versions"), {"a": 1, "b": 2})
        assert response.status_code == 200
        heading, rows, changed = response.context["comparison"][2][0]
        assert heading == "一、基本情况" and changed
        kinds = [row.kind for row in rows]
        assert kinds == ["removed", "added", "same", "added"]
        assert ("ins", "为") in rows[1].segments
        html = response.content.decode()
        assert "－ 删除" in html and "＋ 新增" in html and "<ins>为</ins>" in html
        assert '二、主要做法和成效 <span class="muted">（没有变化）</span>' in html

    def test_versions_page_lists_every_version(self):
        self.as_user(self.w.staff).post(self.url("report_edit"), self.edit_data(section3="体会"))
        response = self.client.get(self.url("report_versions"))
        assert [v.number for v in response.context["versions"]] == [2, 1]
        assert response.context["comparison"][0].number == 1  # the last two by default

    def test_an_old_version_can_be_read_printed_and_exported(self):
        self.as_user(self.w.staff).post(self.url("report_edit"), self.edit_data(section3="体会"))
        response = self.client.get(self.url("report_detail"), {"version": 1})
        assert response.context["version"].number == 1
        assert "您正在查看第1版" in response.content.decode()
        assert self.client.get(self.url("report_print"), {"version": 9}).status_code == 404
        assert self.client.get(self.url("report_detail"), {"version": "x"}).status_code == 404


class RefreshTests(ReportPageTestCase):
    def add_training(self, people="20"):
        made = activity(self.w.pairing_b, None, datetime.date(2025, 7, 2), "training")
        make_outcome(made, "training", people)

    def test_refresh_keeps_the_staffs_text_and_rewrites_untouched_data_sections(self):
        client = self.as_user(self.w.staff)
        v1 = self.report.latest_version()
        edited_first = "截至年底，全县共建对子运行良好。"
        client.post(
            self.url("report_edit"),
            self.edit_data(section1=edited_first, section3="几点体会的文字", section5="下步打算"),
        )
        self.add_training()
        response = client.post(self.url("report_refresh"), follow=True)
        v3 = self.report.latest_version()
        assert (v3.number, v3.kind, v3.created_by) == (3, "refreshed", self.w.staff)
        assert v3.section1 == edited_first  # edited: kept
        assert "150人次" in v3.section2 and "130人次" not in v3.section2  # untouched: rewritten
        assert v3.section4 == v1.section4  # the problems did not change
        assert (v3.section3, v3.section5) == ("几点体会的文字", "下步打算")
        assert "共开展共建活动34次" in v3.generated["1"]  # the new data, kept beside the text
        html = response.content.decode()
        assert "一、基本情况：数据有变化，但这一部分您修改过，已保留您的文字" in html
        assert "刷新后这一部分的数据有变化" in html
        assert "共开展共建活动34次" in html  # the generated text to copy from

    def test_refresh_without_a_change_in_the_data_adds_no_version(self):
        response = self.as_user(self.w.staff).post(self.url("report_refresh"), follow=True)
        assert self.report.versions.count() == 1
        assert "数据没有变化，没有生成新版本。" in response.content.decode()

    def test_a_section_edited_back_to_the_generated_text_is_rewritten_again(self):
        client = self.as_user(self.w.staff)
        v1 = self.report.latest_version()
        client.post(self.url("report_edit"), self.edit_data(section1="临时文字"))
        client.post(self.url("report_edit"), self.edit_data(section1=v1.section1))
        self.add_training()
        client.post(self.url("report_refresh"))
        assert "共开展共建活动34次" in self.report.latest_version().section1


class AccessTests(ReportPageTestCase):
    def test_anonymous_visitors_are_sent_to_login(self):
        for url in (reverse("report_list"), self.url("report_detail"), self.url("report_print")):
            response = self.client.get(url)
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))

    def test_branch_secretaries_have_no_reports(self):
        client = self.as_user(self.w.secretary)
        for url in (reverse("report_list"), reverse("report_new"), self.url("report_detail")):
            assert client.get(url).status_code == 403, url
        assert client.post(self.url("report_refresh")).status_code == 403

    def test_viewers_read_but_change_nothing(self):
        client = self.as_user(self.w.viewer)
        for name in ("report_detail", "report_versions", "report_print"):
            assert client.get(self.url(name)).status_code == 200, name
        assert client.get(self.url("report_export", self.report.pk, "txt")).status_code == 200
        assert client.get(reverse("report_list")).status_code == 200
        assert client.get(self.url("report_edit")).status_code == 403
        assert client.post(self.url("report_edit"), self.edit_data(section3="x")).status_code == 403
        assert client.post(self.url("report_refresh")).status_code == 403
        assert client.post(self.url("report_trash")).status_code == 403
        new = {"organization": self.w.county.pk, "start": "2025-01-01", "end": "2025-12-31"}
        assert client.post(reverse("report_new"), new).status_code == 403
        assert self.report.versions.count() == 1 and SituationReport.objects.count() == 1

    def test_a_report_outside_the_users_scope_is_not_found(self):
        client = self.as_user(self.w.supervisor_a)
        for name in ("report_detail", "report_edit", "report_versions", "report_print"):
            assert client.get(self.url(name)).status_code == 404, name
        assert client.post(self.url("report_refresh")).status_code == 404
        assert client.get(self.url("report_export", self.report.pk, "xlsx")).status_code == 404
        assert self.report not in client.get(reverse("report_list")).context["page"]

    def test_a_townships_report_is_read_by_the_county_not_by_the_other_township(self):
        report = make_situation_report(self.w.township_a, by=self.w.supervisor_a)
        url = reverse("report_detail", args=[report.pk])
        assert self.as_user(self.w.supervisor_a).get(url).status_code == 200
        assert self.as_user(self.w.viewer).get(url).status_code == 200
        assert (
            self.as_user(self.w.staff).get(reverse("report_edit", args=[report.pk])).status_code
            == 200
        )
        assert self.as_user(self.w.supervisor_b).get(url).status_code == 404

    def test_wrong_methods_are_refused(self):
        client = self.as_user(self.w.staff)
        assert client.get(self.url("report_refresh")).status_code == 405
        assert client.get(self.url("report_trash")).status_code == 405
        assert client.post(self.url("report_print")).status_code == 405
        assert client.post(self.url("report_detail")).status_code == 405
        assert client.post(reverse("report_list")).status_code == 405
        assert client.put(self.url("report_edit")).status_code == 405

    def test_reports_go_to_the_trash_and_county_staff_restore_them(self):
        client = self.as_user(self.w.staff)
        assert client.post(self.url("report_trash")).status_code == 302
        self.report.refresh_from_db()
        assert self.report.in_trash and self.report.deleted_by == self.w.staff
        assert client.get(self.url("report_detail")).status_code == 404
        response = client.get(reverse("report_list"))
        assert response.context["trashed"] == [self.report]
        assert self.as_user(self.w.supervisor_a).post(self.url("report_restore")).status_code == 403
        assert self.as_user(self.w.staff).post(self.url("report_restore")).status_code == 302
        self.report.refresh_from_db()
        assert not self.report.in_trash and self.report.versions.count() == 1


class AdminTests(ReportPageTestCase):
    def test_the_admin_lists_reports_with_their_versions_read_only(self):
        from django.contrib.auth.models import User

        self.client.force_login(User.objects.create_superuser("sysadmin"))
        change = reverse("admin:reports_situationreport_change", args=[self.report.pk])
        for url in (
            reverse("admin:reports_situationreport_changelist") + "?q=青山",
            change,
            reverse("admin:reports_situationreport_history", args=[self.report.pk]),
        ):
            assert self.client.get(url).status_code == 200, url
        assert "根据数据起草" in self.client.get(change).content.decode()
        delete = reverse("admin:reports_situationreport_delete", args=[self.report.pk])
        assert self.client.get(delete).status_code == 403


class ExportTests(ReportPageTestCase):
    def test_plain_text_export(self):
        response = self.as_user(self.w.viewer).get(self.url("report_export", self.report.pk, "txt"))
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert "attachment" in response["Content-Disposition"]
        text = response.content.decode()
        assert text.startswith("青山县“互助共建”活动开展情况汇报\n")
        assert "\u3000\u3000一、基本情况\n" in text and "22.36万亩" in text

    def test_the_statistics_annex_opens_in_excel_with_numerators_and_denominators(self):
        response = self.as_user(self.w.staff).get(self.url("report_export", self.report.pk, "xlsx"))
        workbook = load_workbook(io.BytesIO(response.content))
        assert workbook.sheetnames == ["基本情况", "按制度", "按乡镇和工委", "成效", "存在问题"]
        regimes = {row[0]: row for row in workbook["按制度"].iter_rows(min_row=2, values_only=True)}
        assert regimes["集体活动日制度"][:5] == ("集体活动日制度", 18, 18, 24, 75)
        assert regimes["其他（制度以外）"][1] == 3
        orgs = {
            row[0]: row for row in workbook["按乡镇和工委"].iter_rows(min_row=2, values_only=True)
        }
        assert set(orgs) == {"石门镇党委", "河口乡党委", "县直机关工委"}
        assert orgs["县直机关工委"][1] == 2
        outcomes = {row[0]: row for row in workbook["成效"].iter_rows(min_row=2, values_only=True)}
        assert outcomes["民营橡胶面积"][3:] == (223600, "22.36万亩")
        assert outcomes["种植甘蔗"][4] == "9.3万亩"
        problems = list(workbook["存在问题"].iter_rows(min_row=2, values_only=True))
        assert ("党员的参与面还不够广", "GJ002") in [row[:2] for row in problems]

    def test_word_export_when_the_word_module_is_there(self):
        response = self.as_user(self.w.staff).get(self.url("report_export", self.report.pk, "docx"))
        if not DOCX_AVAILABLE:
            assert response.status_code == 404
            return
        assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument")
        import docx

        paragraphs = [p.text for p in docx.Document(io.BytesIO(response.content)).paragraphs]
        assert "一、基本情况" in paragraphs and any("22.36万亩" in p for p in paragraphs)

    def test_word_blocks_follow_the_sections(self):
        sections = [
            "甲段。\n\n乙段。",
            "",
            "（一）统一认识是前提\n正文。\n（二）领导重视是关键。",
            "",
            "",
        ]
        blocks = situation.docx_blocks(sections)
        assert blocks[:4] == [
            ("heading1", "一、基本情况"),
            ("paragraph", "甲段。"),
            ("paragraph", "乙段。"),
            ("heading1", "二、主要做法和成效"),
        ]
        assert ("heading2", "（一）统一认识是前提") in blocks and ("paragraph", "正文。") in blocks
        assert ("paragraph", "（二）领导重视是关键。") in blocks  # a one-sentence item

    def test_an_unknown_format_is_not_found(self):
        assert (
            self.as_user(self.w.staff)
            .get(self.url("report_export", self.report.pk, "pdf"))
            .status_code
            == 404
        )


def add_pairings(w, count):
    """More pairings with everything a report reads: activities of every kind, members taking
    part, outcomes, done and overdue deeds, overdue rectifications."""
    for n in range(count):
        village = make_branch(w.township_b, sector="rural")
        members = [make_member(village), make_member(village)]
        pairing = make_pairing(w.organ_b, village)
        every_month(pairing, "activity_day", (1, 4), members=members)
        activity(pairing, "joint_meeting", datetime.date(2025, 2, 2), "meeting")
        made = activity(pairing, None, datetime.date(2025, 5, 5), "donation")
        make_outcome(made, "donation_money", "100")
        make_commitment(pairing, due_date=datetime.date(2025, 6, 30))
        make_commitment(pairing, status="done", done_on=datetime.date(2025, 6, 1))
        if n % 3 == 0:
            make_rectification(make_inspection(pairing), due_date=datetime.date(2025, 9, 1))


class QueryCountTests(ReportPageTestCase):
    """The draft and the report pages run a fixed number of queries whatever the data size."""

    def counts(self):
        client = self.as_user(self.w.staff)
        counts = {}
        caches["parts"].clear()  # each round starts from the same cache: nothing kept
        with CaptureQueriesContext(connection) as captured:
            situation.draft(self.w.county, START, END, today=TODAY)
        counts["draft"] = len(captured.captured_queries)
        new = {"organization": self.w.county.pk, "start": "2025-01-01", "end": "2025-12-31"}
        gets = {
            "detail": self.url("report_detail"),
            "edit": self.url("report_edit"),
            "versions": self.url("report_versions"),
            "print": self.url("report_print"),
            "xlsx": self.url("report_export", self.report.pk, "xlsx"),
            "list": reverse("report_list"),
        }
        with CaptureQueriesContext(connection) as captured:
            assert client.post(reverse("report_new"), new).status_code == 302
        counts["new"] = len(captured.captured_queries)
        versions = self.report.versions.count()
        activity(self.w.pairing_a, None, datetime.date(2025, 12, 1), "visit")  # the data changes
        with CaptureQueriesContext(connection) as captured:
            assert client.post(self.url("report_refresh")).status_code == 302
        counts["refresh"] = len(captured.captured_queries)
        assert self.report.versions.count() == versions + 1
        for name, url in gets.items():
            with CaptureQueriesContext(connection) as captured:
                assert client.get(url).status_code == 200, name
            counts[name] = len(captured.captured_queries)
        return counts

    def test_queries_do_not_grow_with_the_data(self):
        small = self.counts()
        add_pairings(self.w, 40)
        large = self.counts()
        assert small == large
        # With an empty parts cache: a county's facts read its roll-up again (regimes and one
        # query), as its part keeps the roll-up without a row per pairing. A POST also reads the
        # stamps before and after its view (reports.middleware).
        bounds = {"draft": 25, "new": 40, "refresh": 38, "xlsx": 30, "detail": 8, "edit": 8}
        assert all(large[name] <= most for name, most in bounds.items()), large
