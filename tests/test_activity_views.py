"""The activity pages through the test client: who reaches what, how the form refuses bad input,
the workflow from logging to confirmation, locked periods, uploads and pinned query counts."""

import datetime
import re
import uuid
from pathlib import Path
from unittest import mock

from django.conf import settings
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.test import Client, TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from activities import views
from activities.models import (
    Activity,
    Commitment,
    Evidence,
    Need,
    Outcome,
    Participation,
    PeriodUnlock,
    Regime,
)
from pairings.models import Assignment, HouseholdVisit, Pairing
from tests.factories import (
    make_activity,
    make_branch,
    make_commitment,
    make_evidence,
    make_inspection,
    make_jpeg,
    make_member,
    make_need,
    make_pairing,
    make_period_unlock,
    make_rectification,
    make_two_pairing_county,
    make_user,
    metric,
)
from tests.test_query_counts import QUERIES

Role = Assignment.Role
LOCKED_DAY = datetime.date(2025, 3, 5)
LOCKED_REASON = (
    "2025年3月的活动已过修改期限（期间结束后2025年4月30日锁定），如需修改请联系县委组织部解锁。"
)


def today():
    return timezone.localdate()


def days_ago(days):
    return today() - datetime.timedelta(days=days)


def photo(name="活动照片.jpg", size=(40, 30)):
    return SimpleUploadedFile(name, make_jpeg(size=size), content_type="image/jpeg")


def submitted(pairing, **kwargs):
    """An activity the logging side has submitted (stamped as the database demands)."""
    fields = {"status": "submitted", "submitted_at": timezone.now(), "on_time": True}
    fields.update(kwargs)
    return make_activity(pairing, **fields)


def activity_form(**overrides):
    """What the activity form posts for a correct activity dated two days ago."""
    data = {
        "regime": Regime.objects.get(code="activity_day").pk,
        "category": "study",
        "date": days_ago(2).isoformat(),
        "title": "集体学习党的二十届四中全会精神",
        "place": "石门村党员活动室",
        "summary": "双方党员共同学习，交流体会。",
        "villager_count": "12",
        "evidence_kind": "photo",
        "client_id": str(uuid.uuid4()),
        "draft": "1",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def edit_form(activity, **overrides):
    """The edit form of `activity` as its page shows it, with `overrides` typed in."""
    data = activity_form(
        regime=activity.regime_id or "",
        category=activity.category,
        date=activity.date.isoformat(),
        title=activity.title,
        place=activity.place,
        summary=activity.summary,
        villager_count=str(activity.villager_count),
        client_id=str(activity.client_id),
        version=str(activity.version),
    )
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def db_state():
    """Every row (and history row count) the activity pages may write, for before/after checks."""
    state = {}
    for model in (
        Activity,
        Participation,
        Outcome,
        Evidence,
        Need,
        Commitment,
        PeriodUnlock,
        HouseholdVisit,
    ):
        state[model._meta.label] = list(model.objects.order_by("pk").values())
        state[f"{model._meta.label} history"] = model.history.count()
    return state


def stored_files():
    return sorted(path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file())


def field_html(response, name):
    """The rendered block of one form field: its label, widget, help text and errors."""
    if name == "participants":
        pattern = r'<fieldset class="field participants[^"]*">.*?</fieldset>'
    else:
        pattern = rf'<div class="field[^"]*">\s*<label for="id_{name}">.*?</div>'
    match = re.search(pattern, response.content.decode(), re.S)
    assert match, f"the page has no field {name}"
    return match.group(0)


def assert_field_error(response, name, message):
    """The form came back with `message` shown next to the field `name`."""
    assert response.status_code == 200
    assert "请修改下面标出的内容后再保存。" in response.content.decode()
    block = field_html(response, name)
    assert "field-invalid" in block.split(">", 1)[0], block
    assert f'<p class="field-error" role="alert">{escape(message)}</p>' in block, block


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def detail(activity):
    return reverse("activities:detail", args=[activity.pk])


def action(name, activity):
    return reverse(f"activities:{name}", args=[activity.pk])


def new_for(pairing):
    return f"{reverse('activities:new')}?pairing={pairing.pk}"


class ActivityAccessTests(TestCase):
    """Anonymous, out of scope, guessed ids, read-only and wrong methods, page by page."""

    @classmethod
    def setUpTestData(cls):
        cls.w = w = make_two_pairing_county()
        cls.objects = {}
        for side, pairing in (("A", w.pairing_a), ("B", w.pairing_b)):
            draft = make_activity(pairing, date=days_ago(2), title=f"对子{side}的草稿活动")
            waiting = submitted(pairing, date=days_ago(2), title=f"对子{side}的待确认活动")
            trashed = make_activity(pairing, date=days_ago(3), title=f"对子{side}的已删除活动")
            trashed.trash(by=w.staff)
            evidence = make_evidence(activity=waiting)
            cls.objects[side] = {
                "pairing": pairing,
                "draft": draft,
                "submitted": waiting,
                "trashed": trashed,
                "evidence": evidence,
            }

    def object_requests(self, side):
        """(method, url, data) for every activity page that takes an object of pairing `side`."""
        o = self.objects[side]
        draft, waiting = o["draft"], o["submitted"]
        return [
            ("get", new_for(o["pairing"]), None),
            ("post", new_for(o["pairing"]), activity_form()),
            ("get", detail(draft), None),
            ("get", detail(waiting), None),
            ("get", action("edit", draft), None),
            ("post", action("edit", draft), edit_form(draft, title="改过的标题")),
            ("post", action("submit", draft), {}),
            ("post", action("confirm", waiting), {}),
            ("post", action("return", waiting), {"reason": "照片不清楚"}),
            ("post", action("move_to_trash", draft), {}),
        ]

    def page_requests(self):
        return [
            ("get", reverse("activities:list"), None),
            ("get", reverse("activities:new"), None),
            ("get", reverse("activities:trash"), None),
            ("get", reverse("activities:unlock"), None),
            ("post", reverse("activities:unlock"), {"branch": self.w.organ_a.pk}),
            ("post", action("restore", self.objects["A"]["trashed"]), {}),
        ]

    def request(self, method, url, data):
        return (
            getattr(self.client, method)(url, data) if data else getattr(self.client, method)(url)
        )

    def test_anonymous_is_sent_to_the_login_page_from_every_activity_page(self):
        for method, url, data in self.page_requests() + self.object_requests("A"):
            response = self.request(method, url, data)

            assert response.status_code == 302, (method, url)
            assert response["Location"].startswith(reverse("login")), (method, url)

    def test_users_of_another_pairing_get_404_for_everything_of_pairing_a(self):
        before = db_state()
        for user in (self.w.organ_b_secretary, self.w.village_b_secretary, self.w.supervisor_b):
            self.client.force_login(user)
            for method, url, data in self.object_requests("A"):
                response = self.request(method, url, data)

                assert response.status_code == 404, (user.get_full_name(), method, url)
        assert db_state() == before

    def test_secretary_cannot_restore_and_cannot_tell_whether_an_id_exists(self):
        self.client.force_login(self.w.organ_b_secretary)
        missing = Activity.objects.order_by("-pk").first().pk + 1000

        for pk in (self.objects["A"]["trashed"].pk, self.objects["B"]["trashed"].pk, missing):
            response = self.client.post(reverse("activities:restore", args=[pk]))
            assert response.status_code == 403
        assert Activity.objects.get(pk=self.objects["B"]["trashed"].pk).in_trash

    def test_lists_and_home_of_another_pairing_show_nothing_of_pairing_a(self):
        self.client.force_login(self.w.organ_b_secretary)
        pairing_a = self.objects["A"]["pairing"]

        listed = self.client.get(reverse("activities:list")).content.decode()
        assert "对子B的草稿活动" in listed and "对子B的待确认活动" in listed
        assert "对子A" not in listed and "石门村党支部" not in listed
        filtered = self.client.get(reverse("activities:list"), {"pairing": pairing_a.pk})
        assert "对子A" not in filtered.content.decode()
        assert filtered.context["page"].count == 0
        home = self.client.get(reverse("home")).content.decode()
        assert "石门村党支部" not in home and "对子A" not in home
        choose = self.client.get(reverse("activities:new"))
        assert choose["Location"] == new_for(self.objects["B"]["pairing"])

    def test_evidence_shown_on_an_activity_page_is_404_for_an_unrelated_secretary(self):
        waiting, evidence = self.objects["A"]["submitted"], self.objects["A"]["evidence"]
        file_url = reverse("activities:evidence_file", args=[evidence.pk])
        self.client.force_login(self.w.village_a_secretary)
        page = self.client.get(detail(waiting))
        assert page.status_code == 200
        assert f'href="{file_url}"' in page.content.decode()

        self.client.force_login(self.w.village_b_secretary)

        assert self.client.get(detail(waiting)).status_code == 404
        assert self.client.get(file_url).status_code == 404

    def test_guessed_ids_get_404(self):
        self.client.force_login(self.w.staff)
        missing = Activity.objects.order_by("-pk").first().pk + 1000
        missing_pairing = Pairing.objects.order_by("-pk").first().pk + 1000
        before = db_state()

        for pk in (missing, 2**63):
            for name in ("detail", "edit"):
                assert self.client.get(reverse(f"activities:{name}", args=[pk])).status_code == 404
            for name in ("edit", "submit", "confirm", "return", "move_to_trash", "restore"):
                url = reverse(f"activities:{name}", args=[pk])
                assert self.client.post(url, {"reason": "x"}).status_code == 404, name
        for pairing_id in (missing_pairing, 2**63):
            url = f"{reverse('activities:new')}?pairing={pairing_id}"
            assert self.client.get(url).status_code == 404
            assert self.client.post(url, activity_form()).status_code == 404
        assert db_state() == before

    def test_a_pairing_id_that_is_no_number_gets_404(self):
        self.client.force_login(self.w.organ_a_secretary)
        url = f"{reverse('activities:new')}?pairing=abc"

        assert self.client.get(url).status_code == 404
        assert self.client.post(url, activity_form()).status_code == 404

    def test_trashed_activity_is_404_everywhere_but_the_trash(self):
        trashed = self.objects["A"]["trashed"]
        self.client.force_login(self.w.staff)

        assert self.client.get(detail(trashed)).status_code == 404
        assert self.client.get(action("edit", trashed)).status_code == 404
        assert self.client.post(action("move_to_trash", trashed)).status_code == 404

    def test_viewer_reads_lists_and_activities_without_any_action(self):
        self.client.force_login(self.w.viewer)
        waiting = self.objects["A"]["submitted"]

        listed = self.client.get(reverse("activities:list"))
        assert listed.status_code == 200
        assert "对子A的待确认活动" in listed.content.decode()
        assert "对子B的待确认活动" in listed.content.decode()
        page = self.client.get(detail(waiting))
        assert page.status_code == 200
        html = page.content.decode()
        assert "对子A的待确认活动" in html
        for name in ("edit", "submit", "confirm", "return", "move_to_trash"):
            assert action(name, waiting) not in html

    def test_viewer_gets_403_for_every_write_and_nothing_changes(self):
        self.client.force_login(self.w.viewer)
        o = self.objects["A"]
        draft, waiting = o["draft"], o["submitted"]
        unlock = {"branch": self.w.organ_a.pk, "period": "2025-03", "reason": "补录"}
        before = db_state()

        writes = [
            ("get", reverse("activities:new"), None),
            ("post", reverse("activities:new"), activity_form()),
            ("get", new_for(o["pairing"]), None),
            ("post", new_for(o["pairing"]), activity_form()),
            ("get", action("edit", draft), None),
            ("post", action("edit", draft), edit_form(draft, title="领导改的")),
            ("post", action("submit", draft), {}),
            ("post", action("confirm", waiting), {}),
            ("post", action("return", waiting), {"reason": "照片不清楚"}),
            ("post", action("move_to_trash", draft), {}),
            ("get", reverse("activities:trash"), None),
            ("post", action("restore", o["trashed"]), {}),
            ("get", reverse("activities:unlock"), None),
            ("post", reverse("activities:unlock"), unlock),
        ]
        for method, url, data in writes:
            assert self.request(method, url, data).status_code == 403, (method, url)
        assert db_state() == before

    def test_wrong_methods_get_405_and_change_nothing(self):
        self.client.force_login(self.w.staff)
        o = self.objects["A"]
        draft, waiting = o["draft"], o["submitted"]
        before = db_state()

        post_only = [
            action("submit", draft),
            action("confirm", waiting),
            action("return", waiting),
            action("move_to_trash", draft),
            action("restore", o["trashed"]),
        ]
        get_only = [reverse("activities:list"), detail(draft), reverse("activities:trash")]
        get_or_post = [
            reverse("activities:new"),
            new_for(o["pairing"]),
            action("edit", draft),
            reverse("activities:unlock"),
        ]
        for url in post_only:
            for method in ("get", "put", "delete"):
                assert getattr(self.client, method)(url).status_code == 405, (method, url)
        for url in get_only:
            for method in ("post", "put", "delete"):
                assert getattr(self.client, method)(url).status_code == 405, (method, url)
        for url in get_or_post:
            for method in ("put", "delete", "patch"):
                assert getattr(self.client, method)(url).status_code == 405, (method, url)
        assert db_state() == before


class ActivityFormTests(TestCase):
    """The activity form refuses bad input next to the field, keeps what was typed, saves nothing."""

    @classmethod
    def setUpTestData(cls):
        cls.w = w = make_two_pairing_county()
        cls.draft = make_activity(
            w.pairing_a, date=days_ago(2), title="三月集体学习", place="村部", villager_count=5
        )

    def setUp(self):
        self.client.force_login(self.w.organ_a_secretary)
        self.url = new_for(self.w.pairing_a)

    def test_secretary_with_one_pairing_goes_straight_to_its_form(self):
        response = self.client.get(reverse("activities:new"))

        assert response.status_code == 302
        assert response["Location"] == self.url
        form = self.client.get(self.url)
        assert form.status_code == 200
        html = form.content.decode()
        assert "县财政局机关党支部 ⇄ 石门村党支部" in html
        assert 'name="client_id"' in html
        assert "王建国" in html and "李秀英" in html  # both branches' members
        assert "赵国强" not in html  # not another pairing's

    def test_county_staff_chooses_among_the_pairings(self):
        self.client.force_login(self.w.staff)

        response = self.client.get(reverse("activities:new"))

        assert response.status_code == 200
        html = response.content.decode()
        assert f'href="?pairing={self.w.pairing_a.pk}"' in html
        assert f'href="?pairing={self.w.pairing_b.pk}"' in html

    def test_future_date_is_refused_and_the_typed_values_stay(self):
        before = db_state()
        tomorrow = (today() + datetime.timedelta(days=1)).isoformat()

        response = self.client.post(self.url, activity_form(date=tomorrow))

        assert_field_error(response, "date", "活动日期不能晚于今天。")
        assert f'value="{tomorrow}"' in field_html(response, "date")
        assert 'value="集体学习党的二十届四中全会精神"' in field_html(response, "title")
        assert "双方党员共同学习，交流体会。</textarea>" in field_html(response, "summary")
        assert db_state() == before

    def test_date_after_the_pairing_ended_is_refused(self):
        Pairing.objects.filter(pk=self.w.pairing_a.pk).update(end_date=days_ago(5))
        before = db_state()

        response = self.client.post(self.url, activity_form(date=days_ago(2).isoformat()))

        assert_field_error(
            response,
            "date",
            f"活动日期必须在共建对子的起止日期（2024-01-01至{days_ago(5)}）之内。",
        )
        assert db_state() == before

    def test_date_before_the_pairing_started_is_refused(self):
        Pairing.objects.filter(pk=self.w.pairing_a.pk).update(start_date=days_ago(5))
        before = db_state()

        response = self.client.post(self.url, activity_form(date=days_ago(8).isoformat()))

        assert_field_error(
            response, "date", f"活动日期必须在共建对子的起止日期（{days_ago(5)}至今）之内。"
        )
        assert db_state() == before

    def test_participant_from_outside_the_pairing_is_refused(self):
        outsider = self.w.organ_b_member
        before = db_state()

        response = self.client.post(
            self.url,
            activity_form(participants=[self.w.organ_a_member.pk, outsider.pk]),
        )

        assert_field_error(
            response, "participants", f"选择一个有效的选项。 {outsider.pk} 不在可用的选项中。"
        )
        assert 'value="集体学习党的二十届四中全会精神"' in field_html(response, "title")
        assert db_state() == before

    def test_negative_and_over_the_bound_outcomes_are_refused(self):
        before = db_state()

        response = self.client.post(
            self.url, activity_form(metric_training="-5", metric_donation_money="20000000")
        )

        assert_field_error(response, "metric_training", "确保该值大于或等于0。")
        assert 'value="-5"' in field_html(response, "metric_training")
        assert_field_error(response, "metric_donation_money", "确保该值小于或等于10000000.00。")
        assert 'value="20000000"' in field_html(response, "metric_donation_money")
        assert db_state() == before

    def test_missing_title_is_refused(self):
        before = db_state()

        response = self.client.post(self.url, activity_form(title="", villager_count="30"))

        assert_field_error(response, "title", "这个字段是必填项。")
        assert 'value="30"' in field_html(response, "villager_count")
        assert db_state() == before

    def test_list_filter_with_dates_the_wrong_way_round_shows_the_error(self):
        make_activity(self.w.pairing_a, date=days_ago(1), title="四月集体学习")

        response = self.client.get(
            reverse("activities:list"),
            {"date_from": days_ago(1).isoformat(), "date_to": days_ago(3).isoformat()},
        )

        assert response.status_code == 200
        block = field_html(response, "date_to")
        assert '<p class="field-error" role="alert">截止日期不能早于起始日期。</p>' in block
        assert f'value="{days_ago(3).isoformat()}"' in block
        assert "没有符合条件的活动，请调整筛选条件。" in response.content.decode()

    def test_edit_with_bad_input_changes_nothing(self):
        before = db_state()

        response = self.client.post(
            action("edit", self.draft),
            edit_form(self.draft, title="改过的标题", villager_count="-3"),
        )

        assert_field_error(response, "villager_count", "确保该值大于或等于0。")
        assert 'value="改过的标题"' in field_html(response, "title")
        assert db_state() == before

    def test_the_same_form_posted_twice_creates_one_activity(self):
        data = activity_form(participants=[self.w.organ_a_member.pk, self.w.village_a_member.pk])
        count = Activity.objects.count()

        first = self.client.post(self.url, data, follow=True)
        second = self.client.post(self.url, data, follow=True)

        assert Activity.objects.count() == count + 1
        activity = Activity.objects.get(client_id=data["client_id"])
        assert first.redirect_chain == [(detail(activity), 302)]
        assert messages_of(first) == ["已保存为草稿。"]
        assert second.redirect_chain == [(detail(activity), 302)]
        assert messages_of(second) == ["这条活动已经保存过，没有重复登记。"]
        assert activity.participations.count() == 2
        assert activity.history.count() == 1

    def test_supervisor_must_choose_the_side_to_log_for(self):
        self.client.force_login(self.w.supervisor_a)
        before = db_state()

        response = self.client.post(self.url, activity_form())

        assert_field_error(response, "side", "这个字段是必填项。")
        assert db_state() == before

    def test_secretary_cannot_log_a_new_activity_into_a_locked_period(self):
        # Logging into a closed month needs an unlock (补录); without one the draft would be
        # stuck: in a locked period the secretary can neither edit, submit nor trash it.
        before = db_state()

        response = self.client.post(self.url, activity_form(date=LOCKED_DAY.isoformat()))

        assert_field_error(
            response,
            "date",
            "2025年3月的活动已于2025年4月30日后锁定，不能再登记；如需补录请联系县委组织部解锁。",
        )
        assert db_state() == before


class EditConflictTests(TestCase):
    """Two edits begun on the same version: the second is refused and shown what changed."""

    @classmethod
    def setUpTestData(cls):
        cls.w = w = make_two_pairing_county()
        cls.liaison = make_user(role=Role.SECRETARY, org=w.organ_a, last_name="孙", first_name="丽")
        cls.draft = make_activity(
            w.pairing_a, date=days_ago(2), title="三月集体学习", place="村部", villager_count=5
        )

    def test_second_save_of_the_same_version_is_refused_with_the_changes_shown(self):
        first, second = Client(), Client()
        first.force_login(self.w.organ_a_secretary)
        second.force_login(self.liaison)
        url = action("edit", self.draft)
        for client in (first, second):
            form = client.get(url)
            assert 'name="version" value="1"' in form.content.decode()
        files = stored_files()

        saved = first.post(url, edit_form(self.draft, title="三月集体学习（已更正）"))
        refused = second.post(
            url, edit_form(self.draft, place="村委会议室", evidence=photo(), villager_count="9")
        )

        assert saved.status_code == 302
        assert refused.status_code == 200
        html = refused.content.decode()
        assert "在您编辑期间，这条活动已被他人修改" in html
        assert "<li>活动主题：三月集体学习（已更正）</li>" in html
        assert "<li>修改人：王芳</li>" in html
        assert 'value="村委会议室"' in field_html(refused, "place")  # what they typed stays
        activity = Activity.objects.get(pk=self.draft.pk)
        assert activity.title == "三月集体学习（已更正）"
        assert activity.place == "村部"
        assert activity.villager_count == 5
        assert activity.version == 2
        assert activity.evidence.count() == 0
        assert stored_files() == files

    def test_one_user_in_two_tabs_is_refused_the_same_way(self):
        self.client.force_login(self.w.organ_a_secretary)
        url = action("edit", self.draft)
        stale = edit_form(self.draft, title="第二个标签页的标题")

        assert self.client.post(url, edit_form(self.draft, villager_count="40")).status_code == 302
        refused = self.client.post(url, stale)

        assert "在您编辑期间，这条活动已被他人修改" in refused.content.decode()
        assert "<li>参加群众人数：40</li>" in refused.content.decode()
        activity = Activity.objects.get(pk=self.draft.pk)
        assert (activity.title, activity.villager_count) == ("三月集体学习", 40)


class LockedPeriodTests(TestCase):
    """After month end + LOCK_DELAY_DAYS, secretaries are refused until county staff unlock."""

    @classmethod
    def setUpTestData(cls):
        cls.w = w = make_two_pairing_county()
        cls.draft = make_activity(w.pairing_a, date=LOCKED_DAY, title="三月集体学习")
        cls.waiting = submitted(
            w.pairing_a,
            date=LOCKED_DAY,
            title="三月联席会",
            submitted_at=datetime.datetime(2025, 3, 6, 10, tzinfo=datetime.UTC),
        )

    def assert_refused(self, response):
        assert response.status_code == 403
        assert LOCKED_REASON in response.content.decode()

    def test_secretaries_cannot_edit_submit_confirm_or_trash_in_a_locked_period(self):
        before = db_state()
        self.client.force_login(self.w.organ_a_secretary)

        self.assert_refused(self.client.get(action("edit", self.draft)))
        self.assert_refused(
            self.client.post(action("edit", self.draft), edit_form(self.draft, title="补改"))
        )
        self.assert_refused(self.client.post(action("submit", self.draft)))
        self.assert_refused(self.client.post(action("move_to_trash", self.draft)))
        self.client.force_login(self.w.village_a_secretary)
        self.assert_refused(self.client.post(action("confirm", self.waiting)))
        self.assert_refused(self.client.post(action("return", self.waiting), {"reason": "补"}))

        assert db_state() == before

    def test_activity_page_says_why_it_is_locked_and_offers_no_change(self):
        self.client.force_login(self.w.organ_a_secretary)

        html = self.client.get(detail(self.draft)).content.decode()

        assert "该期间已于2025年4月30日后锁定，支部不能再修改。" in html
        assert action("edit", self.draft) not in html
        assert action("move_to_trash", self.draft) not in html

    def test_lock_delay_comes_from_settings(self):
        last_month = today().replace(day=1) - datetime.timedelta(days=1)
        draft = make_activity(self.w.pairing_a, date=last_month.replace(day=1))
        self.client.force_login(self.w.organ_a_secretary)

        with override_settings(COBUILD={**settings.COBUILD, "LOCK_DELAY_DAYS": 60}):
            assert self.client.get(action("edit", draft)).status_code == 200
        with override_settings(COBUILD={**settings.COBUILD, "LOCK_DELAY_DAYS": 0}):
            assert self.client.get(action("edit", draft)).status_code == 403

    def test_county_staff_unlocks_the_period_and_the_secretary_can_edit_again(self):
        until = today() + datetime.timedelta(days=7)
        self.client.force_login(self.w.staff)
        form = self.client.get(
            reverse("activities:unlock"), {"branch": self.w.organ_a.pk, "period": "2025-03"}
        )
        assert form.status_code == 200
        assert 'value="2025-03"' in field_html(form, "period")

        response = self.client.post(
            reverse("activities:unlock"),
            {
                "branch": self.w.organ_a.pk,
                "period": "2025-03",
                "reason": "补录漏报的联席会记录",
                "until": until.isoformat(),
            },
            follow=True,
        )

        assert response.redirect_chain == [(reverse("activities:list"), 302)]
        assert messages_of(response) == [
            f"已为县财政局机关党支部解锁2025-03，{until:%Y年%-m月%-d日}前可以修改。"
        ]
        unlock = PeriodUnlock.objects.get()
        assert unlock.branch == self.w.organ_a
        assert unlock.unlocked_by == self.w.staff
        assert unlock.reason == "补录漏报的联席会记录"
        assert unlock.until == until
        assert (unlock.period_start, unlock.period_end) == (
            datetime.date(2025, 3, 1),
            datetime.date(2025, 3, 31),
        )
        assert unlock.history.get().history_user == self.w.staff

        self.client.force_login(self.w.organ_a_secretary)
        assert self.client.get(action("edit", self.draft)).status_code == 200
        saved = self.client.post(action("edit", self.draft), edit_form(self.draft, title="补改"))
        assert saved.status_code == 302
        assert Activity.objects.get(pk=self.draft.pk).title == "补改"

    def test_expired_unlock_locks_the_period_again(self):
        make_period_unlock(self.w.organ_a, self.w.staff, period="2025-03", until=days_ago(1))
        self.client.force_login(self.w.organ_a_secretary)

        self.assert_refused(self.client.get(action("edit", self.draft)))

    def test_unlock_with_bad_input_shows_errors_and_records_nothing(self):
        self.client.force_login(self.w.staff)
        data = {
            "branch": self.w.organ_a.pk,
            "period": "2025-13",
            "reason": "补录漏报的联席会记录",
            "until": days_ago(1).isoformat(),
        }
        before = db_state()

        response = self.client.post(reverse("activities:unlock"), data)
        empty = self.client.post(reverse("activities:unlock"), {**data, "reason": ""})

        assert_field_error(response, "period", "月份应在 01 到 12 之间。")
        assert_field_error(response, "until", "解锁截止日期不能早于今天。")
        assert 'value="2025-13"' in field_html(response, "period")
        assert "补录漏报的联席会记录</textarea>" in field_html(response, "reason")
        assert_field_error(empty, "reason", "这个字段是必填项。")
        assert db_state() == before

    def test_only_county_staff_unlock(self):
        data = {
            "branch": self.w.organ_a.pk,
            "period": "2025-03",
            "reason": "补录",
            "until": today().isoformat(),
        }
        for user in (self.w.organ_a_secretary, self.w.supervisor_a):
            self.client.force_login(user)

            assert self.client.get(reverse("activities:unlock")).status_code == 403
            assert self.client.post(reverse("activities:unlock"), data).status_code == 403
        assert not PeriodUnlock.objects.exists()

    def test_county_staff_and_supervisors_over_the_pairing_are_not_blocked(self):
        self.client.force_login(self.w.staff)
        assert self.client.get(action("edit", self.draft)).status_code == 200
        assert self.client.post(action("confirm", self.waiting)).status_code == 302
        self.client.force_login(self.w.supervisor_a)
        response = self.client.post(action("edit", self.draft), edit_form(self.draft, place="村部"))
        assert response.status_code == 302
        assert self.client.post(action("submit", self.draft)).status_code == 302

        draft = Activity.objects.get(pk=self.draft.pk)
        assert (draft.status, draft.place, draft.on_time) == ("submitted", "村部", False)
        assert Activity.objects.get(pk=self.waiting.pk).status == "confirmed"


@override_settings(COBUILD={**settings.COBUILD, "EVIDENCE_MAX_BYTES": 1024})
class EvidenceUploadTests(TestCase):
    """Uploads through the activity form: refused next to the field, nothing saved or stored."""

    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()

    def setUp(self):
        self.client.force_login(self.w.organ_a_secretary)
        self.url = new_for(self.w.pairing_a)
        self.before = db_state()
        self.files = stored_files()

    def assert_nothing_saved(self):
        assert db_state() == self.before
        assert stored_files() == self.files

    def test_file_over_the_size_limit_is_refused(self):
        response = self.client.post(
            self.url, activity_form(evidence=[photo("大照片.jpg", size=(400, 300))])
        )

        assert_field_error(response, "evidence", "文件“大照片.jpg”超过 1 KB 的大小限制。")
        assert 'value="集体学习党的二十届四中全会精神"' in field_html(response, "title")
        self.assert_nothing_saved()

    def test_html_named_png_is_refused_and_the_good_photo_beside_it_is_not_kept(self):
        page = SimpleUploadedFile(
            "photo.png", b"<html><script>alert(document.cookie)</script></html>", "image/png"
        )

        response = self.client.post(self.url, activity_form(evidence=[photo(), page]))

        assert_field_error(
            response,
            "evidence",
            "文件“photo.png”不是支持的格式：只能上传 JPEG、PNG、WebP 图片或 PDF 文件。",
        )
        self.assert_nothing_saved()

    @override_settings(COBUILD={**settings.COBUILD, "EVIDENCE_MAX_FILES": 2})
    def test_too_many_files_are_refused(self):
        response = self.client.post(
            self.url, activity_form(evidence=[photo("1.jpg"), photo("2.jpg"), photo("3.jpg")])
        )

        assert_field_error(
            response, "evidence", "每条记录最多 2 个佐证材料文件：已有 0 个，本次又选了 3 个。"
        )
        self.assert_nothing_saved()

    @override_settings(COBUILD={**settings.COBUILD, "EVIDENCE_MAX_FILES": 2})
    def test_edit_counts_the_files_already_attached(self):
        draft = make_activity(self.w.pairing_a, date=days_ago(2))
        make_evidence(activity=draft)
        make_evidence(activity=draft)
        before, files = db_state(), stored_files()

        response = self.client.post(action("edit", draft), edit_form(draft, evidence=[photo()]))

        assert_field_error(
            response, "evidence", "每条记录最多 2 个佐证材料文件：已有 2 个，本次又选了 1 个。"
        )
        assert db_state() == before
        assert stored_files() == files

    def test_a_good_photo_is_stored_with_the_activity(self):
        response = self.client.post(self.url, activity_form(evidence=[photo()]))

        assert response.status_code == 302
        evidence = Evidence.objects.get()
        assert evidence.activity.title == "集体学习党的二十届四中全会精神"
        assert evidence.original_name == "活动照片.jpg"
        assert evidence.content_type == "image/jpeg"
        assert evidence.uploaded_by == self.w.organ_a_secretary
        assert len(stored_files()) == len(self.files) + 2  # the photo and its thumbnail


class WorkflowTests(TestCase):
    """Logging, submitting, returning, resubmitting, confirming, on-behalf logging and the trash."""

    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()

    def as_user(self, user):
        self.client.force_login(user)
        return self.client

    def test_activity_goes_from_logging_to_confirmation(self):
        w = self.w
        client = self.as_user(w.organ_a_secretary)
        data = activity_form(
            title="学习甘蔗种植技术",
            date=today().isoformat(),
            participants=[w.organ_a_member.pk, w.village_a_member.pk],
            metric_training="30",
            evidence=[photo("培训现场.jpg")],
            draft=None,
            submit="1",
        )

        logged = client.post(new_for(w.pairing_a), data, follow=True)

        activity = Activity.objects.get(title="学习甘蔗种植技术")
        assert logged.redirect_chain == [(detail(activity), 302)]
        assert messages_of(logged) == ["活动已提交，等待对方确认。"]
        assert activity.status == "submitted"
        assert activity.on_time is True
        assert activity.submitted_at is not None
        assert activity.logged_by_branch == w.organ_a
        assert activity.on_behalf_by is None
        assert activity.created_by == w.organ_a_secretary
        assert set(activity.participants.all()) == {w.organ_a_member, w.village_a_member}
        outcome = activity.outcomes.get()
        assert (outcome.metric, outcome.value) == (metric("training"), 30)
        evidence = activity.evidence.get()
        assert evidence.original_name == "培训现场.jpg"
        assert evidence.file.storage.exists(evidence.file.name)
        html = logged.content.decode()
        assert "按时提交" in html and "王建国" in html and "李秀英" in html
        assert "实用技术培训：30人次" in html
        first_stamp = activity.submitted_at

        client = self.as_user(w.village_a_secretary)
        assert "学习甘蔗种植技术" in client.get(reverse("home")).content.decode()  # 等待您确认
        returned = client.post(action("return", activity), {"reason": "请补充参加群众人数"})
        assert returned.status_code == 302
        activity.refresh_from_db()
        assert (activity.status, activity.return_reason) == ("returned", "请补充参加群众人数")

        client = self.as_user(w.organ_a_secretary)
        home = client.get(reverse("home")).content.decode()
        assert "被退回、待修改（1）" in home
        assert "学习甘蔗种植技术" in home and "原因：请补充参加群众人数" in home
        form = client.get(action("edit", activity))
        assert 'value="学习甘蔗种植技术"' in field_html(form, "title")
        # As if the grace days had run out since: a fresh stamp now would say "late".
        with override_settings(COBUILD={**settings.COBUILD, "GRACE_DAYS": -60}):
            fixed = client.post(
                action("edit", activity),
                edit_form(
                    activity,
                    villager_count="25",
                    participants=[w.organ_a_member.pk, w.village_a_member.pk],
                    metric_training="30",
                    draft=None,
                    submit="1",
                ),
                follow=True,
            )
        assert messages_of(fixed) == ["活动已提交，等待对方确认。"]
        activity.refresh_from_db()
        assert (activity.status, activity.villager_count) == ("submitted", 25)
        assert activity.submitted_at == first_stamp
        assert activity.on_time is True  # the first submission's stamp, kept
        assert activity.evidence.count() == 1

        client = self.as_user(w.village_a_secretary)
        confirmed = client.post(action("confirm", activity), follow=True)
        assert messages_of(confirmed) == ["已确认这条活动。"]
        activity.refresh_from_db()
        assert activity.status == "confirmed"
        assert activity.confirmed_by == w.village_a_secretary
        assert activity.confirmed_at is not None

        client = self.as_user(w.staff)
        listed = client.get(reverse("activities:list"), {"status": "confirmed"})
        assert [a.pk for a in listed.context["page"]] == [activity.pk]
        assert "学习甘蔗种植技术" in listed.content.decode()
        assert "已确认" in listed.content.decode()

    def test_supervisor_logs_on_behalf_of_the_village_branch_and_the_partner_confirms(self):
        w = self.w
        client = self.as_user(w.supervisor_a)
        form = client.get(new_for(w.pairing_a))
        assert "石门村党支部（受帮扶方）" in field_html(form, "side")

        response = client.post(
            new_for(w.pairing_a),
            activity_form(
                title="代村支部登记的主题党日",
                side=w.village_a.pk,
                participants=[w.village_a_member.pk],
                draft=None,
                submit="1",
            ),
            follow=True,
        )

        activity = Activity.objects.get(title="代村支部登记的主题党日")
        assert activity.logged_by_branch == w.village_a
        assert activity.on_behalf_by == w.township_a
        assert activity.created_by == w.supervisor_a
        assert activity.status == "submitted"
        assert "上级代办：石门镇党委" in response.content.decode()
        client = self.as_user(w.village_a_secretary)  # the side it was logged for
        assert client.post(action("confirm", activity)).status_code == 403
        client = self.as_user(w.organ_a_secretary)  # the partner
        assert client.post(action("confirm", activity)).status_code == 302
        activity.refresh_from_db()
        assert (activity.status, activity.confirmed_by) == ("confirmed", w.organ_a_secretary)

    def test_return_without_a_reason_is_refused_and_changes_nothing(self):
        activity = submitted(self.w.pairing_a, date=days_ago(2))
        client = self.as_user(self.w.village_a_secretary)
        before = db_state()

        response = client.post(action("return", activity), {"reason": ""}, follow=True)

        assert messages_of(response) == ["请填写退回原因。"]
        assert db_state() == before

    def test_partner_cannot_edit_and_logger_cannot_confirm(self):
        activity = submitted(self.w.pairing_a, date=days_ago(2))
        draft = make_activity(self.w.pairing_a, date=days_ago(2))
        before = db_state()

        client = self.as_user(self.w.organ_a_secretary)
        assert client.post(action("confirm", activity)).status_code == 403
        client = self.as_user(self.w.village_a_secretary)
        assert client.get(action("edit", draft)).status_code == 403
        assert client.post(action("submit", draft)).status_code == 403
        assert client.post(action("move_to_trash", draft)).status_code == 403
        assert db_state() == before

    def test_trashed_activity_is_restored_by_county_staff_only(self):
        draft = make_activity(self.w.pairing_a, date=days_ago(2), title="误登记的活动")
        client = self.as_user(self.w.organ_a_secretary)

        trashed = client.post(action("move_to_trash", draft), follow=True)

        assert trashed.redirect_chain == [(reverse("activities:list"), 302)]
        assert "误登记的活动" not in trashed.content.decode()
        assert client.get(detail(draft)).status_code == 404
        assert client.get(reverse("activities:trash")).status_code == 403
        assert client.post(action("restore", draft)).status_code == 403
        assert Activity.objects.get(pk=draft.pk).deleted_by == self.w.organ_a_secretary

        client = self.as_user(self.w.staff)
        trash = client.get(reverse("activities:trash")).content.decode()
        assert "误登记的活动" in trash and "由 王芳 删除" in trash
        restored = client.post(action("restore", draft), follow=True)
        assert restored.redirect_chain == [(detail(draft), 302)]
        assert messages_of(restored) == ["已恢复。"]
        assert not Activity.objects.get(pk=draft.pk).in_trash
        assert "误登记的活动" not in client.get(reverse("activities:trash")).content.decode()

    def test_submit_that_loses_a_race_reports_only_the_refusal(self):
        draft = make_activity(self.w.pairing_a, date=days_ago(2))
        load = views._activity_for

        def load_then_other_tab_submits(user, pk, queryset=None):
            activity = load(user, pk, queryset)
            Activity.objects.filter(pk=pk).update(
                status="submitted",
                submitted_at=timezone.now(),
                on_time=True,
                version=F("version") + 1,
            )
            return activity

        client = self.as_user(self.w.organ_a_secretary)
        with mock.patch.object(views, "_activity_for", load_then_other_tab_submits):
            response = client.post(action("submit", draft), follow=True)

        assert messages_of(response) == ["该活动的状态已经改变，请刷新后再试。"]


class QueryCountTests(TestCase):
    """The secretary's home and the activity list run the same queries whatever the data size."""

    # The numbers of the page table (tests/test_query_counts.py).
    HOME_QUERIES = QUERIES["home/secretary"]
    STAFF_HOME_QUERIES = QUERIES["home/staff"]  # the dashboard and the set-up checklist (7)
    LIST_QUERIES = QUERIES["activity-list"]

    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()
        cls.fill(cls.w.pairing_a, cls.w.organ_a_member, cls.w.village_a_member, 1, 2025)

    @classmethod
    def fill(cls, pairing, organ_member, village_member, n, year=2025):
        """`n` of everything the home page and the list show, for one pairing."""
        for i in range(n):
            waiting = submitted(pairing, date=days_ago(2), logged_by_branch=pairing.helped)
            Participation.objects.create(activity=waiting, member=organ_member)
            Participation.objects.create(activity=waiting, member=village_member)
            make_activity(
                pairing,
                date=days_ago(3),
                status="returned",
                submitted_at=timezone.now(),
                on_time=True,
                return_reason=f"请补充照片{i}",
            )
            make_activity(pairing, date=days_ago(4), regime=None)
            submitted(
                pairing,
                date=days_ago(5),
                status="confirmed",
                confirmed_at=timezone.now(),
                on_behalf_by=cls.w.township_a,
            )
            need = make_need(pairing)
            make_commitment(pairing, need=need, due_date=days_ago(1))
        inspection = make_inspection(pairing, year=year)
        for _ in range(n):
            make_rectification(inspection, owner=village_member)

    def add_more_data(self):
        w = self.w
        self.fill(w.pairing_a, w.organ_a_member, w.village_a_member, 12, 2024)
        for _ in range(4):
            village = make_branch(w.township_a, sector="rural")
            member = make_member(village)
            self.fill(make_pairing(w.organ_a, village), w.organ_a_member, member, 3)
        self.fill(w.pairing_b, w.organ_b_member, w.village_b_member, 3)

    def count(self, user, url, queries, **params):
        self.client.force_login(user)
        caches["parts"].clear()  # as in the first request of the day: nothing kept
        with self.assertNumQueries(queries):
            response = self.client.get(url, params)
        assert response.status_code == 200
        return response

    def test_secretary_home_runs_a_fixed_number_of_queries(self):
        home = reverse("home")
        small = self.count(self.w.organ_a_secretary, home, self.HOME_QUERIES)
        assert len(small.context["waiting"]) == 1

        self.add_more_data()

        large = self.count(self.w.organ_a_secretary, home, self.HOME_QUERIES)
        assert len(large.context["waiting"]) == 10
        assert len(large.context["my_pairings"]) == 5
        assert len(large.context["overdue_rectifications"]) == 10

    def test_county_staff_home_runs_a_fixed_number_of_queries(self):
        self.count(self.w.staff, reverse("home"), self.STAFF_HOME_QUERIES)
        self.add_more_data()
        self.count(self.w.staff, reverse("home"), self.STAFF_HOME_QUERIES)

    def test_activity_list_runs_a_fixed_number_of_queries(self):
        url = reverse("activities:list")
        for user in (self.w.organ_a_secretary, self.w.staff):
            page = self.count(user, url, self.LIST_QUERIES).context["page"]
            assert page.count == 5  # four, and the inspection's activity
        self.count(self.w.staff, url, self.LIST_QUERIES, status="submitted", q="集体")

        self.add_more_data()

        for user in (self.w.organ_a_secretary, self.w.staff):
            page = self.count(user, url, self.LIST_QUERIES).context["page"]
            assert page.count > 20 and len(page.object_list) == 20
        self.count(self.w.staff, url, self.LIST_QUERIES, status="submitted", q="集体")
        second = self.count(self.w.staff, f"{url}?{page.next_query}", self.LIST_QUERIES)
        assert second.context["page"].has_previous


class WideScopePairingFilterTests(TestCase):
    """A city or province sees thousands of pairings: the list's pairing filter takes a code
    instead of rendering every pairing as an option."""

    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()
        cls.a = make_activity(cls.w.pairing_a, title="石门村集体学习")
        cls.b = make_activity(cls.w.pairing_b, title="河口村集体学习")

    def list_page(self, user, **params):
        self.client.force_login(user)
        return self.client.get(reverse("activities:list"), params)

    def test_few_pairings_are_a_drop_down(self):
        page = self.list_page(self.w.staff).content.decode()
        assert f'<option value="{self.w.pairing_a.pk}">' in page

    @mock.patch("activities.filters.PAIRING_OPTIONS", 1)
    def test_many_pairings_are_filtered_by_code(self):
        page = self.list_page(self.w.staff).content.decode()
        assert '<input type="text" name="pairing"' in page and "<option value" not in re.sub(
            r'<select name="(regime|category|status)".*?</select>', "", page, flags=re.S
        )
        listed = self.list_page(self.w.staff, pairing=self.w.pairing_a.code).content.decode()
        assert "石门村集体学习" in listed and "河口村集体学习" not in listed

    @mock.patch("activities.filters.PAIRING_OPTIONS", 0)
    def test_a_code_outside_the_scope_is_refused_with_a_message(self):
        page = self.list_page(self.w.supervisor_a, pairing=self.w.pairing_b.code).content.decode()
        assert "没有这个编号的共建对子，或不在您的查看范围内。" in page
        assert "河口村集体学习" not in page
