"""The annual mutual inspection through the test client: recording one with its scores and
rectification items, its page, the rectification flow between the two sides, overdue items, the
list, who reaches what, how bad input is refused, and pinned query counts."""

import datetime
import re
from decimal import Decimal
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from activities import compliance
from activities.models import (
    Activity,
    Evidence,
    Inspection,
    InspectionItem,
    InspectionScore,
    Rectification,
)
from pairings.models import Pairing
from tests.factories import (
    make_evidence,
    make_inspection,
    make_inspection_score,
    make_member,
    make_period_unlock,
    make_rectification,
    make_two_pairing_county,
)
from tests.test_activity_views import (
    assert_field_error,
    days_ago,
    messages_of,
    photo,
    stored_files,
    today,
)
from tests.test_query_counts import QUERIES

OVERDUE = '<strong class="tag tag-overdue">已逾期</strong>'
SCORES = ["18", "17.5", "19", "16", "18"]  # 88.5 of 100 over the five default items


def items():
    return list(InspectionItem.objects.filter(is_active=True))


def rect_rows(*rows, total=3):
    """The rectification formset as posted: `rows` filled in, the rest of `total` left blank."""
    data = {
        "rect-TOTAL_FORMS": str(total),
        "rect-INITIAL_FORMS": "0",
        "rect-MIN_NUM_FORMS": "0",
        "rect-MAX_NUM_FORMS": "50",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"rect-{i}-{key}"] = value.pk if hasattr(value, "pk") else value
    return data


def row(description="党员活动室制度上墙", owner=None, due=None):
    return {
        "description": description,
        "owner": owner if owner is not None else "",
        "due_date": (due or today() + datetime.timedelta(days=30)).isoformat(),
    }


def inspection_form(*rows, total=3, **overrides):
    """What the inspection form posts: a full score sheet, findings, satisfaction, the rows."""
    day = overrides.pop("date", days_ago(3))
    data = {
        "year": str(day.year),
        "date": day.isoformat(),
        "findings": "三会一课记录不全，党员活动室制度未上墙。",
        "satisfaction": "satisfied",
        "submit": "1",
    }
    for item, score in zip(items(), SCORES, strict=True):
        data[f"score_{item.pk}"] = score
    data.update(rect_rows(*rows, total=total))
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def step_form(step, **fields):
    data = {"step": step}
    data.update({f"{step}-{key}": value for key, value in fields.items()})
    return data


def db_state():
    """Every row (and history row count) the inspection pages may write."""
    state = {}
    for model in (Activity, Inspection, InspectionScore, Rectification, Evidence):
        state[model._meta.label] = list(model.objects.order_by("pk").values())
        state[f"{model._meta.label} history"] = model.history.count()
    return state


def url(name, obj=None):
    return reverse(f"activities:{name}", args=[obj.pk] if obj is not None else [])


def assert_choice_error(response, name, message):
    """The form came back with `message` shown in the radio group `name`."""
    assert response.status_code == 200
    html = response.content.decode()
    assert "请修改下面标出的内容后再保存。" in html
    match = re.search(
        rf'<fieldset class="field choice-row([^"]*)" id="{name}">.*?</fieldset>', html, re.S
    )
    assert match, f"the page has no radio group {name}"
    assert "field-invalid" in match.group(1), match.group(0)
    assert f'<p class="field-error" role="alert">{escape(message)}</p>' in match.group(0)


def error_box(response):
    """The error box at the top of a form (non-field errors)."""
    html = response.content.decode()
    start = html.index('<div class="form-error" role="alert">')
    return html[start : html.index("</div>", start)]


class InspectionPagesAccessTests(TestCase):
    """Anonymous, out of scope, guessed ids, read-only and wrong methods, page by page."""

    @classmethod
    def setUpTestData(cls):
        cls.w = w = make_two_pairing_county()
        cls.objects = {}
        for side, pairing in (("A", w.pairing_a), ("B", w.pairing_b)):
            inspection = make_inspection(pairing, year=2025, findings=f"对子{side}的检查发现")
            rectification = make_rectification(inspection, description=f"对子{side}的整改事项")
            make_evidence(rectification=rectification)
            cls.objects[side] = {
                "pairing": pairing,
                "inspection": inspection,
                "rectification": rectification,
            }

    def object_requests(self, side):
        o = self.objects[side]
        return [
            ("get", url("inspection_new", o["pairing"]), None),
            ("post", url("inspection_new", o["pairing"]), inspection_form()),
            ("get", url("inspection_detail", o["inspection"]), None),
            ("get", url("rectification_update", o["rectification"]), None),
            ("post", url("rectification_update", o["rectification"]), step_form("start")),
        ]

    def request(self, method, path, data):
        return (
            getattr(self.client, method)(path, data) if data else getattr(self.client, method)(path)
        )

    def test_anonymous_is_sent_to_the_login_page_from_every_inspection_page(self):
        before = db_state()
        for method, path, data in [
            ("get", url("rectification_list"), None),
            *self.object_requests("A"),
        ]:
            response = self.request(method, path, data)

            assert response.status_code == 302, (method, path)
            assert response["Location"].startswith(reverse("login")), (method, path)
        assert db_state() == before

    def test_users_of_another_pairing_get_404_for_everything_of_pairing_a(self):
        before = db_state()
        for user in (self.w.organ_b_secretary, self.w.village_b_secretary, self.w.supervisor_b):
            self.client.force_login(user)
            for method, path, data in self.object_requests("A"):
                response = self.request(method, path, data)

                assert response.status_code == 404, (user.get_full_name(), method, path)
        assert db_state() == before

    def test_list_of_another_pairing_shows_nothing_of_pairing_a(self):
        self.client.force_login(self.w.village_b_secretary)

        html = self.client.get(url("rectification_list")).content.decode()

        assert "对子B的整改事项" in html and "对子A的整改事项" not in html

    def test_guessed_ids_get_404(self):
        self.client.force_login(self.w.staff)
        before = db_state()
        missing = {
            "inspection_new": Pairing.objects.order_by("-pk").first().pk + 1000,
            "inspection_detail": Inspection.objects.order_by("-pk").first().pk + 1000,
            "rectification_update": Rectification.objects.order_by("-pk").first().pk + 1000,
        }

        for name, pk in missing.items():
            for guess in (pk, 2**63):
                path = reverse(f"activities:{name}", args=[guess])
                assert self.client.get(path).status_code == 404, path
                if name != "inspection_detail":
                    assert self.client.post(path, step_form("start")).status_code == 404, path
        assert db_state() == before

    def test_trashed_inspection_and_its_items_are_out_of_reach(self):
        o = self.objects["A"]
        o["inspection"].trash(by=self.w.staff)
        self.client.force_login(self.w.organ_a_secretary)

        assert self.client.get(url("inspection_detail", o["inspection"])).status_code == 404
        assert self.client.get(url("rectification_update", o["rectification"])).status_code == 404
        assert "对子A的整改事项" not in self.client.get(url("rectification_list")).content.decode()
        pairing_page = self.client.get(url("pairing", o["pairing"])).content.decode()
        assert url("inspection_detail", o["inspection"]) not in pairing_page

    def test_viewer_reads_the_inspection_and_its_items_without_forms(self):
        self.client.force_login(self.w.viewer)
        o = self.objects["A"]

        detail = self.client.get(url("inspection_detail", o["inspection"]))
        item = self.client.get(url("rectification_update", o["rectification"]))
        listed = self.client.get(url("rectification_list"))
        pairing_page = self.client.get(url("pairing", o["pairing"])).content.decode()

        assert detail.status_code == item.status_code == listed.status_code == 200
        assert "对子A的检查发现" in detail.content.decode()
        assert "对子A的整改事项" in item.content.decode()
        assert item.context["step_forms"] == []
        assert 'name="step"' not in item.content.decode()
        assert "对子A的整改事项" in listed.content.decode()
        assert "对子B的整改事项" in listed.content.decode()
        assert url("inspection_detail", o["inspection"]) in pairing_page
        assert url("inspection_new", o["pairing"]) not in pairing_page

    def test_viewer_gets_403_for_every_write_and_nothing_changes(self):
        self.client.force_login(self.w.viewer)
        before = db_state()

        for method, path, data in self.object_requests("A"):
            if method == "get" and "/new/" not in path:
                continue  # the inspection and rectification pages are for reading too
            response = self.request(method, path, data)

            assert response.status_code == 403, (method, path)
        assert db_state() == before

    def test_wrong_methods_get_405_and_change_nothing(self):
        self.client.force_login(self.w.staff)
        o = self.objects["A"]
        before = db_state()

        for path in (url("inspection_detail", o["inspection"]), url("rectification_list")):
            for method in ("post", "put", "delete"):
                assert getattr(self.client, method)(path).status_code == 405, (method, path)
        for path in (
            url("inspection_new", o["pairing"]),
            url("rectification_update", o["rectification"]),
        ):
            for method in ("put", "delete", "patch"):
                assert getattr(self.client, method)(path).status_code == 405, (method, path)
        assert db_state() == before


class RecordInspectionTests(TestCase):
    """One side inspects the other: the activity, the inspection, its scores and items."""

    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()

    def setUp(self):
        self.pairing = self.w.pairing_a

    def record_as_staff(self):
        self.client.force_login(self.w.staff)
        response = self.client.post(
            url("inspection_new", self.pairing),
            inspection_form(date=datetime.date(2025, 11, 20), side=self.w.organ_a.pk, year=2025),
        )
        assert response.status_code == 302, error_box(response)
        return Inspection.objects.get()

    def test_trashing_the_inspections_activity_trashes_the_inspection_and_restore_brings_both(self):
        inspection = self.record_as_staff()
        activity = inspection.activity
        self.client.post(reverse("activities:move_to_trash", args=[activity.pk]))
        inspection.refresh_from_db()
        assert inspection.in_trash
        assert not Inspection.objects.alive().exists()
        self.client.post(reverse("activities:restore", args=[activity.pk]))
        inspection.refresh_from_db()
        assert not inspection.in_trash

    def test_the_inspections_activity_keeps_its_regime_and_date_when_edited(self):
        inspection = self.record_as_staff()
        activity = inspection.activity
        Activity.objects.filter(pk=activity.pk).update(status="returned", return_reason="补充")
        form = self.client.get(reverse("activities:edit", args=[activity.pk])).context["form"]
        assert form.fields["regime"].disabled and form.fields["date"].disabled

    def test_secretary_records_a_past_years_inspection_that_meets_the_regime(self):
        w = self.w
        make_period_unlock(w.organ_a, w.staff, period="2025", until=today())
        self.client.force_login(w.organ_a_secretary)
        day = datetime.date(2025, 11, 20)
        page = self.client.get(url("inspection_new", self.pairing)).content.decode()
        assert "县财政局机关党支部" in page and "石门村党支部" in page
        assert 'name="side"' not in page

        response = self.client.post(
            url("inspection_new", self.pairing),
            inspection_form(
                row("三会一课记录补齐", owner=w.village_a_member, due=datetime.date(2026, 1, 31)),
                row("党员活动室制度上墙", due=datetime.date(2025, 12, 31)),
                date=day,
            ),
            follow=True,
        )

        inspection = Inspection.objects.get()
        assert response.redirect_chain == [(url("inspection_detail", inspection), 302)]
        assert messages_of(response) == ["互检已记录，互检活动已提交，等待对方确认。"]
        assert (inspection.pairing, inspection.year, inspection.date) == (self.pairing, 2025, day)
        assert (inspection.inspector, inspection.inspected) == (w.organ_a, w.village_a)
        assert inspection.findings == "三会一课记录不全，党员活动室制度未上墙。"
        assert inspection.satisfaction == "satisfied"
        activity = Activity.objects.get()
        assert inspection.activity == activity
        assert activity.regime.code == "mutual_inspection"
        assert (activity.category, activity.date) == ("inspection", day)
        assert activity.title == "2025年度党建互检：县财政局机关党支部检查石门村党支部"
        assert (activity.logged_by_branch, activity.on_behalf_by) == (w.organ_a, None)
        assert activity.created_by == w.organ_a_secretary
        assert activity.status == "submitted" and activity.submitted_at is not None
        # Stamped once, as submit_activity stamps: 2025's inspection is late after 2026-01-10.
        assert activity.on_time is False
        assert activity.on_time == compliance.is_on_time(
            activity, timezone.localdate(activity.submitted_at)
        )
        assert "检查得分：88.5分（满分100分）" in activity.summary
        scores = {s.item.name: s.score for s in inspection.scores.select_related("item")}
        assert scores == {
            "组织生活": Decimal("18"),
            "制度建设": Decimal("17.5"),
            "阵地建设": Decimal("19"),
            "党员管理": Decimal("16"),
            "台账资料": Decimal("18"),
        }
        rectifications = list(inspection.rectifications.order_by("due_date"))
        assert [(r.description, r.owner, r.due_date, r.status) for r in rectifications] == [
            ("党员活动室制度上墙", None, datetime.date(2025, 12, 31), "open"),
            ("三会一课记录补齐", w.village_a_member, datetime.date(2026, 1, 31), "open"),
        ]
        assert all(r.history.get().history_user == w.organ_a_secretary for r in rectifications)
        html = response.content.decode()
        assert "88.5" in html and "/ 100分" in html
        assert "满意" in html and "待确认" in html
        assert html.count(OVERDUE) == 2  # both items are past their dates and still open

        evaluation = compliance.evaluate(
            Pairing.objects.filter(pk=self.pairing.pk),
            datetime.date(2025, 1, 1),
            datetime.date(2025, 12, 31),
            regime_codes={"mutual_inspection"},
        )
        [cell] = evaluation.cells
        assert (cell.period.code, cell.due, cell.met, cell.count) == ("2025", True, True, 1)
        assert cell.state == compliance.State.LATE

        self.client.force_login(w.village_a_secretary)
        confirmed = self.client.post(url("confirm", activity), follow=True)
        assert messages_of(confirmed) == ["已确认这条活动。"]
        activity.refresh_from_db()
        assert activity.status == "confirmed"

    def test_inspection_counts_only_once_its_year_has_ended(self):
        w = self.w
        self.client.force_login(w.village_a_secretary)
        day = days_ago(3)

        self.client.post(url("inspection_new", self.pairing), inspection_form(date=day))

        activity = Activity.objects.get()
        assert activity.on_time is True
        assert activity.logged_by_branch == w.village_a
        assert Inspection.objects.get().inspected == w.organ_a
        pairings = Pairing.objects.filter(pk=self.pairing.pk)
        year_start, year_end = datetime.date(day.year, 1, 1), datetime.date(day.year, 12, 31)
        [now] = compliance.evaluate(
            pairings, year_start, year_end, regime_codes={"mutual_inspection"}
        ).cells
        [after] = compliance.evaluate(
            pairings,
            year_start,
            year_end,
            regime_codes={"mutual_inspection"},
            today=datetime.date(day.year + 1, 1, 1),
        ).cells
        assert (now.state, now.count) == (compliance.State.CURRENT, 1)
        assert (after.state, after.met) == (compliance.State.MET, True)

    def test_county_staff_records_for_a_chosen_side_in_a_locked_year(self):
        w = self.w
        self.client.force_login(w.staff)
        page = self.client.get(url("inspection_new", self.pairing)).content.decode()
        assert "石门村党支部检查县财政局机关党支部" in page

        response = self.client.post(
            url("inspection_new", self.pairing),
            inspection_form(
                row(
                    "机关党支部补齐学习记录", owner=w.organ_a_member, due=datetime.date(2025, 9, 1)
                ),
                date=datetime.date(2025, 6, 10),
                side=str(w.village_a.pk),
            ),
        )

        assert response.status_code == 302
        inspection = Inspection.objects.get()
        assert (inspection.inspector, inspection.inspected) == (w.village_a, w.organ_a)
        assert inspection.activity.logged_by_branch == w.village_a
        assert inspection.activity.on_behalf_by == w.county
        assert inspection.activity.title == "2025年度党建互检：石门村党支部检查县财政局机关党支部"
        assert inspection.rectifications.get().owner == w.organ_a_member

    def test_secretary_cannot_record_in_a_locked_period(self):
        self.client.force_login(self.w.organ_a_secretary)
        before = db_state()

        response = self.client.post(
            url("inspection_new", self.pairing), inspection_form(date=datetime.date(2025, 6, 10))
        )

        assert_field_error(
            response,
            "date",
            "2025年6月已于2025年7月30日后锁定，不能再记录互检；如需补录请联系县委组织部解锁。",
        )
        assert db_state() == before

    def test_second_inspection_by_the_same_side_in_a_year_is_refused(self):
        w = self.w
        year = days_ago(3).year
        make_inspection(self.pairing, inspector=w.organ_a, year=year, date=days_ago(5))
        self.client.force_login(w.organ_a_secretary)
        before = db_state()

        response = self.client.post(
            url("inspection_new", self.pairing), inspection_form(row(owner=w.village_a_member))
        )

        assert response.status_code == 200
        assert "县财政局机关党支部：该方本年度已对这个共建对子做过互检。" in error_box(response)
        assert db_state() == before

        self.client.force_login(w.village_a_secretary)
        other_side = self.client.post(url("inspection_new", self.pairing), inspection_form())
        assert other_side.status_code == 302
        assert Inspection.objects.filter(inspector=w.village_a, year=year).count() == 1

    def test_second_inspection_for_a_chosen_side_is_refused_on_that_choice(self):
        w = self.w
        make_inspection(self.pairing, inspector=w.organ_a, year=2025)
        self.client.force_login(w.supervisor_a)
        before = db_state()

        response = self.client.post(
            url("inspection_new", self.pairing),
            inspection_form(date=datetime.date(2025, 8, 1), side=str(w.organ_a.pk)),
        )

        assert_choice_error(
            response, "side", "县财政局机关党支部：该方本年度已对这个共建对子做过互检。"
        )
        assert db_state() == before

    def test_duplicate_posted_at_the_same_moment_is_refused_by_the_database(self):
        w = self.w
        make_inspection(self.pairing, inspector=w.organ_a, year=days_ago(3).year)
        self.client.force_login(w.organ_a_secretary)
        before = db_state()

        with mock.patch.object(Inspection, "clean"):  # both forms checked before either saved
            response = self.client.post(url("inspection_new", self.pairing), inspection_form())

        assert response.status_code == 200
        assert "县财政局机关党支部：该方本年度已对这个共建对子做过互检。" in error_box(response)
        assert db_state() == before

    def test_score_over_the_maximum_negative_too_precise_or_missing_is_refused(self):
        self.client.force_login(self.w.organ_a_secretary)
        first, second, third, fourth, _ = items()
        before = db_state()

        response = self.client.post(
            url("inspection_new", self.pairing),
            inspection_form(
                **{
                    f"score_{first.pk}": "20.5",
                    f"score_{second.pk}": "-1",
                    f"score_{third.pk}": "17.25",
                    f"score_{fourth.pk}": "",
                }
            ),
        )

        assert_field_error(response, f"score_{first.pk}", "得分不能超过满分20分。")
        assert_field_error(response, f"score_{second.pk}", "得分不能为负数。")
        assert_field_error(response, f"score_{third.pk}", "得分最多保留一位小数。")
        assert_field_error(response, f"score_{fourth.pk}", "请为“党员管理”打分。")
        assert 'value="20.5"' in response.content.decode()
        assert db_state() == before

    def test_unknown_satisfaction_is_refused(self):
        self.client.force_login(self.w.organ_a_secretary)
        before = db_state()

        response = self.client.post(
            url("inspection_new", self.pairing), inspection_form(satisfaction="great")
        )

        assert_choice_error(
            response, "satisfaction", "选择一个有效的选项。 great 不在可用的选项中。"
        )
        assert db_state() == before

    def test_dates_in_the_future_outside_the_year_or_before_the_pairing_are_refused(self):
        self.client.force_login(self.w.staff)
        tomorrow = today() + datetime.timedelta(days=1)
        before = db_state()

        future = self.client.post(
            url("inspection_new", self.pairing),
            inspection_form(date=tomorrow, side=str(self.w.organ_a.pk)),
        )
        other_year = self.client.post(
            url("inspection_new", self.pairing),
            inspection_form(date=datetime.date(2025, 6, 1), year="2024", side=""),
        )
        early = self.client.post(
            url("inspection_new", self.pairing),
            inspection_form(date=datetime.date(2023, 12, 1), side=str(self.w.organ_a.pk)),
        )

        assert_field_error(future, "date", "检查日期不能晚于今天。")
        assert_field_error(other_year, "date", "检查日期必须在所填年度之内。")
        assert_choice_error(other_year, "side", "这个字段是必填项。")
        assert_field_error(
            early, "date", "检查日期必须在共建对子的起止日期（2024-01-01至今）之内。"
        )
        assert db_state() == before

    def test_owner_from_the_inspecting_side_is_refused(self):
        w = self.w
        self.client.force_login(w.staff)
        before = db_state()

        response = self.client.post(
            url("inspection_new", self.pairing),
            inspection_form(
                row(owner=w.village_a_member),
                row(owner=w.organ_a_member),
                side=str(w.organ_a.pk),
            ),
        )

        assert_field_error(response, "rect-1-owner", "责任人必须是被检查方支部的党员。")
        assert db_state() == before

    def test_secretary_is_offered_only_the_inspected_sides_members(self):
        w = self.w
        self.client.force_login(w.organ_a_secretary)
        before = db_state()

        page = self.client.get(url("inspection_new", self.pairing)).content.decode()
        response = self.client.post(
            url("inspection_new", self.pairing), inspection_form(row(owner=w.organ_a_member))
        )

        assert "李秀英" in page and "王建国" not in page
        assert_field_error(
            response, "rect-0-owner", "选择一个有效的选项： 该选择不在可用的选项中。"
        )
        assert db_state() == before

    def test_half_filled_or_early_rectification_rows_are_refused(self):
        self.client.force_login(self.w.organ_a_secretary)
        before = db_state()

        response = self.client.post(
            url("inspection_new", self.pairing),
            inspection_form(
                {"description": "整改台账", "due_date": ""},
                row(due=days_ago(10)),
            ),
        )

        assert_field_error(response, "rect-0-due_date", "这个字段是必填项。")
        assert_field_error(response, "rect-1-due_date", "整改期限不能早于检查日期。")
        assert "整改台账</textarea>" in response.content.decode()
        assert db_state() == before

    def test_more_rows_keeps_what_was_typed_and_saves_nothing(self):
        w = self.w
        self.client.force_login(w.organ_a_secretary)
        typed = [row(f"整改事项{i}", owner=w.village_a_member) for i in range(3)]
        data = inspection_form(*typed, findings="发现的问题")
        del data["submit"]
        data["more_rows"] = "1"

        response = self.client.post(url("inspection_new", self.pairing), data)

        assert response.status_code == 200
        html = response.content.decode()
        assert 'name="rect-TOTAL_FORMS" value="6"' in html
        assert "整改事项2</textarea>" in html and "发现的问题</textarea>" in html
        assert f'<option value="{w.village_a_member.pk}" selected>' in html
        assert 'value="17.5"' in html
        assert "field-error" not in html
        assert not Inspection.objects.exists()

        four = [*typed, row("整改事项3")]
        saved = self.client.post(
            url("inspection_new", self.pairing), inspection_form(*four, total=6)
        )
        assert saved.status_code == 302
        assert Rectification.objects.count() == 4


class RectificationFlowTests(TestCase):
    """The inspected side starts and finishes an item; the inspecting side verifies it."""

    @classmethod
    def setUpTestData(cls):
        cls.w = w = make_two_pairing_county()
        cls.inspection = make_inspection(
            w.pairing_a, inspector=w.organ_a, year=days_ago(10).year, date=days_ago(10)
        )

    def setUp(self):
        self.item = make_rectification(
            self.inspection,
            description="党员活动室制度上墙",
            owner=self.w.village_a_member,
            due_date=today() + datetime.timedelta(days=20),
        )

    def post(self, user, data, **kwargs):
        self.client.force_login(user)
        return self.client.post(url("rectification_update", self.item), data, **kwargs)

    def test_inspected_side_starts_and_finishes_with_a_date_and_evidence(self):
        w = self.w
        started = self.post(
            w.village_a_secretary, step_form("start", note="已联系制作"), follow=True
        )

        assert messages_of(started) == ["已开始整改。"]
        self.item.refresh_from_db()
        assert self.item.status == "in_progress"

        files = stored_files()
        done = self.post(
            w.village_a_secretary,
            step_form(
                "done",
                day=days_ago(1).isoformat(),
                note="制度牌已上墙",
                evidence=[photo("上墙照片.jpg")],
            ),
            follow=True,
        )

        assert done.redirect_chain == [(url("rectification_update", self.item), 302)]
        assert messages_of(done) == ["已整改完成。"]
        self.item.refresh_from_db()
        assert (self.item.status, self.item.done_at) == ("done", days_ago(1))
        evidence = self.item.evidence.get()
        assert (evidence.original_name, evidence.uploaded_by) == (
            "上墙照片.jpg",
            w.village_a_secretary,
        )
        assert len(stored_files()) == len(files) + 2  # the photo and its thumbnail
        reasons = list(
            self.item.history.order_by("history_date").values_list(
                "history_change_reason", flat=True
            )
        )
        assert reasons == [None, "开始整改：已联系制作", "整改完成：制度牌已上墙"]
        html = done.content.decode()
        assert "整改完成：制度牌已上墙" in html and "已完成" in html
        assert url("evidence_thumbnail", evidence) in html
        assert 'value="start"' not in html and 'value="done"' not in html

        self.client.force_login(w.organ_a_secretary)
        assert self.client.get(url("evidence_file", evidence)).status_code == 200

    def test_quick_fix_goes_straight_to_done(self):
        self.post(self.w.village_a_secretary, step_form("done", day=today().isoformat()))

        self.item.refresh_from_db()
        assert (self.item.status, self.item.done_at) == ("done", today())

    def test_inspecting_side_verifies_a_done_item(self):
        Rectification.objects.filter(pk=self.item.pk).update(status="done", done_at=days_ago(2))

        response = self.post(
            self.w.organ_a_secretary, step_form("verify", day=today().isoformat()), follow=True
        )

        assert messages_of(response) == ["已验收通过。"]
        self.item.refresh_from_db()
        assert (self.item.status, self.item.verified_at) == ("verified", today())
        assert "已验收" in response.content.decode()
        assert response.context["step_forms"] == []

    def test_supervisor_over_the_pairing_verifies_a_done_item(self):
        Rectification.objects.filter(pk=self.item.pk).update(status="done", done_at=days_ago(2))

        self.post(self.w.supervisor_a, step_form("verify", day=days_ago(1).isoformat()))

        self.item.refresh_from_db()
        assert (self.item.status, self.item.verified_at) == ("verified", days_ago(1))

    def test_inspecting_side_sends_a_done_item_back_with_a_note(self):
        Rectification.objects.filter(pk=self.item.pk).update(status="done", done_at=days_ago(2))

        response = self.post(
            self.w.organ_a_secretary, step_form("reopen", note="照片看不清制度内容"), follow=True
        )

        assert messages_of(response) == ["已退回重新整改。"]
        self.item.refresh_from_db()
        assert (self.item.status, self.item.done_at) == ("in_progress", None)
        assert "退回重新整改：照片看不清制度内容" in response.content.decode()

    def test_sending_back_without_a_note_is_refused(self):
        Rectification.objects.filter(pk=self.item.pk).update(status="done", done_at=days_ago(2))
        before = db_state()

        response = self.post(self.w.organ_a_secretary, step_form("reopen", note=""))

        assert_field_error(response, "reopen-note", "请填写退回原因。")
        assert db_state() == before

    def test_impossible_transitions_are_refused_and_change_nothing(self):
        w = self.w
        inspecting, inspected = w.organ_a_secretary, w.village_a_secretary
        dates = {"verified": {"done_at": days_ago(3), "verified_at": days_ago(2)}}
        for status, user, step, refusal in (
            ("open", inspecting, "verify", "当前为“待整改”，不能验收通过。"),
            ("open", inspecting, "reopen", "当前为“待整改”，不能退回重新整改。"),
            ("in_progress", inspected, "start", "当前为“整改中”，不能开始整改。"),
            ("verified", inspected, "done", "当前为“已验收”，不能整改完成。"),
            ("verified", inspecting, "verify", "当前为“已验收”，不能验收通过。"),
        ):
            Rectification.objects.filter(pk=self.item.pk).update(
                status=status, **dates.get(status, {})
            )
            before = db_state()

            response = self.post(user, step_form(step, day=today().isoformat(), note="说明"))

            assert response.status_code == 200, (status, step)
            assert f"该整改事项{refusal}" in error_box(response), (status, step)
            assert db_state() == before, (status, step)

    def test_each_side_takes_only_its_own_steps(self):
        w = self.w
        Rectification.objects.filter(pk=self.item.pk).update(status="done", done_at=days_ago(2))
        before = db_state()

        for user, step, reason in (
            (w.organ_a_secretary, "start", "整改由被检查方支部办理。"),
            (w.staff, "done", "整改由被检查方支部办理。"),
            (w.village_a_secretary, "verify", "验收由检查方支部或指导该对子的上级党组织办理。"),
            (w.village_a_secretary, "reopen", "验收由检查方支部或指导该对子的上级党组织办理。"),
        ):
            response = self.post(user, step_form(step, day=today().isoformat(), note="说明"))

            assert response.status_code == 403, (user.get_full_name(), step)
            assert reason in response.content.decode()
        assert db_state() == before

    def test_each_side_is_offered_only_its_own_steps(self):
        w = self.w
        self.client.force_login(w.village_a_secretary)
        inspected = self.client.get(url("rectification_update", self.item))
        self.client.force_login(w.organ_a_secretary)
        inspecting = self.client.get(url("rectification_update", self.item))

        assert [s for s, _, _ in inspected.context["step_forms"]] == ["start", "done"]
        assert inspecting.context["step_forms"] == []  # nothing to verify until it is done

    def test_unknown_step_is_refused(self):
        before = db_state()

        response = self.post(self.w.village_a_secretary, {"step": "delete"})

        assert response.status_code == 400
        assert "无法识别的操作" in response.content.decode()
        assert db_state() == before

    def test_done_dates_in_the_future_or_before_the_inspection_are_refused(self):
        before = db_state()
        tomorrow = (today() + datetime.timedelta(days=1)).isoformat()

        future = self.post(self.w.village_a_secretary, step_form("done", day=tomorrow))
        early = self.post(
            self.w.village_a_secretary, step_form("done", day=days_ago(11).isoformat())
        )

        assert_field_error(future, "done-day", "完成日期不能晚于今天。")
        assert_field_error(
            early, "done-day", f"完成日期不能早于检查日期（{days_ago(10):%Y年%-m月%-d日}）。"
        )
        assert db_state() == before

    def test_verification_before_the_item_was_done_is_refused(self):
        Rectification.objects.filter(pk=self.item.pk).update(status="done", done_at=days_ago(2))
        before = db_state()

        response = self.post(
            self.w.organ_a_secretary, step_form("verify", day=days_ago(3).isoformat())
        )

        assert_field_error(
            response, "verify-day", f"验收日期不能早于完成日期（{days_ago(2):%Y年%-m月%-d日}）。"
        )
        assert db_state() == before

    def test_evidence_of_the_wrong_type_is_refused(self):
        page = SimpleUploadedFile("照片.jpg", b"<html>not a photo</html>", "image/jpeg")
        before, files = db_state(), stored_files()

        response = self.post(
            self.w.village_a_secretary,
            step_form("done", day=today().isoformat(), evidence=[page]),
        )

        assert_field_error(
            response,
            "done-evidence",
            "文件“照片.jpg”不是支持的格式：只能上传 JPEG、PNG、WebP 图片或 PDF 文件。",
        )
        assert db_state() == before
        assert stored_files() == files


class OverdueAndListTests(TestCase):
    """Overdue items say so in words; the list puts them first and filters."""

    @classmethod
    def setUpTestData(cls):
        cls.w = w = make_two_pairing_county()
        inspection = make_inspection(w.pairing_a, year=2025)
        cls.overdue = make_rectification(
            inspection, description="逾期的整改事项", due_date=days_ago(1)
        )
        cls.upcoming = make_rectification(
            inspection, description="未到期的整改事项", due_date=today()
        )
        cls.done_late = make_rectification(
            inspection,
            description="已完成的整改事项",
            due_date=days_ago(30),
            status="done",
            done_at=days_ago(5),
        )
        cls.verified = make_rectification(
            inspection,
            description="已验收的整改事项",
            due_date=days_ago(60),
            status="verified",
            done_at=days_ago(50),
            verified_at=days_ago(40),
        )
        cls.inspection = inspection
        other = make_inspection(w.pairing_b, year=2025)
        make_rectification(other, description="河口村的整改事项", due_date=days_ago(3))

    def list_rows(self, **params):
        response = self.client.get(url("rectification_list"), params)
        assert response.status_code == 200
        return [r.description for r in response.context["page"]]

    def test_overdue_item_is_marked_with_the_word_on_every_page(self):
        self.client.force_login(self.w.village_a_secretary)

        overdue = self.client.get(url("rectification_update", self.overdue)).content.decode()
        upcoming = self.client.get(url("rectification_update", self.upcoming)).content.decode()
        done = self.client.get(url("rectification_update", self.done_late)).content.decode()
        detail = self.client.get(url("inspection_detail", self.inspection)).content.decode()
        listed = self.client.get(url("rectification_list")).content.decode()

        assert OVERDUE in overdue
        assert OVERDUE not in upcoming and OVERDUE not in done
        assert detail.count(OVERDUE) == 1 and listed.count(OVERDUE) == 1
        item = detail[detail.index("逾期的整改事项") :]
        assert item.index(OVERDUE) < item.index("未到期的整改事项")

    def test_list_puts_overdue_items_first_within_the_users_scope(self):
        self.client.force_login(self.w.organ_a_secretary)

        assert self.list_rows() == [
            "逾期的整改事项",
            "已验收的整改事项",
            "已完成的整改事项",
            "未到期的整改事项",
        ]

    def test_list_filters_by_status_overdue_and_pairing(self):
        self.client.force_login(self.w.staff)

        assert self.list_rows(overdue="on") == ["河口村的整改事项", "逾期的整改事项"]
        assert self.list_rows(status="verified") == ["已验收的整改事项"]
        assert self.list_rows(status="unfinished") == [
            "河口村的整改事项",
            "逾期的整改事项",
            "未到期的整改事项",
        ]
        assert self.list_rows(overdue="on", pairing=self.w.pairing_a.pk) == ["逾期的整改事项"]
        assert self.list_rows(status="nonsense") == []

    def test_pairing_page_lists_its_inspections_and_offers_to_record_one(self):
        self.client.force_login(self.w.village_a_secretary)

        html = self.client.get(url("pairing", self.w.pairing_a)).content.decode()

        assert "2025年度：县财政局机关党支部检查石门村党支部" in html
        assert url("inspection_detail", self.inspection) in html
        assert url("inspection_new", self.w.pairing_a) in html
        assert f"{url('rectification_list')}?pairing={self.w.pairing_a.pk}" in html


class InspectionQueryCountTests(TestCase):
    """The inspection page and the rectification list run the same queries whatever the rows."""

    # The numbers of the page table (tests/test_query_counts.py).
    INSPECTION_QUERIES = QUERIES["inspection-detail"]
    LIST_QUERIES = QUERIES["rectification-list"]  # the owners in a query of their own

    @classmethod
    def setUpTestData(cls):
        cls.w = w = make_two_pairing_county()
        cls.inspection = make_inspection(w.pairing_a, year=2025)
        make_inspection_score(cls.inspection, items()[0])
        make_rectification(cls.inspection, owner=w.village_a_member)

    def add_more_rows(self):
        w = self.w
        for item in items()[1:]:
            make_inspection_score(self.inspection, item, "15.5")
        for i in range(25):
            owner = make_member(w.village_a) if i % 2 else None
            rectification = make_rectification(
                self.inspection, owner=owner, due_date=days_ago(i - 10)
            )
            make_evidence(rectification=rectification)
        second = make_inspection(w.pairing_a, inspector=w.village_a, year=2025)
        make_rectification(second, owner=w.organ_a_member)

    def count(self, user, path, queries, **params):
        self.client.force_login(user)
        with self.assertNumQueries(queries):
            response = self.client.get(path, params)
        assert response.status_code == 200
        return response

    def test_inspection_page_runs_a_fixed_number_of_queries(self):
        path = url("inspection_detail", self.inspection)
        for user in (self.w.organ_a_secretary, self.w.staff):
            self.count(user, path, self.INSPECTION_QUERIES)

        self.add_more_rows()

        for user in (self.w.organ_a_secretary, self.w.staff):
            response = self.count(user, path, self.INSPECTION_QUERIES)
            assert len(response.context["rectifications"]) == 26
            assert response.context["totals"]["total"] == Decimal("80")

    def test_rectification_list_runs_a_fixed_number_of_queries(self):
        path = url("rectification_list")
        for user in (self.w.village_a_secretary, self.w.staff):
            self.count(user, path, self.LIST_QUERIES)

        self.add_more_rows()

        for user in (self.w.village_a_secretary, self.w.staff):
            page = self.count(user, path, self.LIST_QUERIES).context["page"]
            assert page.count == 27 and len(page.object_list) == 20
        self.count(self.w.staff, path, self.LIST_QUERIES, overdue="on", page=2)
