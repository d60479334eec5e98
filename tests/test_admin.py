"""The Django admin, as the system administrator uses it: every page answers, in Chinese.

A small county with one row of every registered model; then, for each model, the changelist
(and a search), the add page, the change page and the history page; the organization tree; the
trash actions instead of delete; who gets in; the autocomplete; and adding a pairing by form.
"""

import datetime
import warnings

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.core.paginator import UnorderedObjectListWarning
from django.test import TestCase
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from activities.models import (
    Activity,
    Inspection,
    InspectionItem,
    InspectionScore,
    Metric,
    Participation,
    PeriodFigure,
    PeriodUnlock,
    Regime,
    RegimeCadence,
)
from cobuild.admin_tools import TrashAdmin
from pairings.models import Assignment, Organization, Pairing, PairingSuspension, Trashable
from reports.models import NotificationPreference
from tests.factories import (
    make_activity,
    make_branch,
    make_commitment,
    make_county,
    make_evidence,
    make_help_pairing,
    make_household,
    make_household_visit,
    make_inspection,
    make_member,
    make_need,
    make_notification,
    make_org,
    make_outcome,
    make_pairing,
    make_period_figure,
    make_period_unlock,
    make_rectification,
    make_situation_report,
    make_user,
    metric,
)

# Pages the system administrator opens but cannot add to: role grants belong to the security
# administrator (三员分立). Login lockouts are the security administrator's alone
# (tests/test_duties.py).
NO_ADD_FOR_SYSTEM_ADMIN = {Assignment}
SECURITY_ADMIN_ONLY = {AccessAttempt, AccessLog, AccessFailureLog}


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


class AdminTestCase(TestCase):
    """A superuser and a small county holding one row of every model the admin shows."""

    @classmethod
    def setUpTestData(cls):
        cls.admin = User.objects.create_superuser("sysadmin", password="Cobuild#2026")
        cls.county = make_county(name="勐腊县委")
        cls.township = make_org(cls.county, kind="committee", sector="rural", name="勐仑镇党委")
        cls.organ = make_branch(cls.county, sector="organ", name="县财政局党支部")
        cls.village = make_branch(cls.township, sector="rural", name="曼旦村党支部")
        cls.other_village = make_branch(cls.township, sector="rural", name="曼边村党支部")
        cls.organ_member = make_member(
            cls.organ, name="李明", post="secretary", phone="13812345678"
        )
        cls.village_member = make_member(cls.village, name="岩温", post="secretary")
        cls.pairing = make_pairing(
            cls.organ,
            cls.village,
            code="GJ001",
            helper_liaison=cls.organ_member,
            helped_liaison=cls.village_member,
        )
        now = datetime.datetime(2025, 3, 6, 9, tzinfo=datetime.UTC)
        cls.activity = make_activity(
            cls.pairing,
            title="学习党的二十届三中全会精神",
            status="submitted",
            submitted_at=now,
            on_time=True,
            villager_count=30,
        )
        Participation.objects.create(activity=cls.activity, member=cls.organ_member)
        Participation.objects.create(activity=cls.activity, member=cls.village_member)
        make_outcome(cls.activity, "training", "30")
        make_evidence(activity=cls.activity)
        inspection = make_inspection(cls.pairing, satisfaction="satisfied")
        for item in InspectionItem.objects.all():
            InspectionScore.objects.create(inspection=inspection, item=item, score=18)
        make_rectification(inspection, owner=cls.village_member)
        need = make_need(cls.pairing, title="修缮灌溉水渠")
        make_commitment(cls.pairing, need=need, title="出资修缮灌溉水渠")
        make_household_visit(
            make_help_pairing(cls.organ_member, make_household(cls.village, head_name="玉香"))
        )
        make_period_figure(cls.village, "rubber_area", "2025")
        make_period_unlock(cls.village, cls.admin, period="2025-03")
        make_notification(cls.admin)
        make_situation_report(cls.county, by=cls.admin)
        NotificationPreference.objects.create(user=cls.admin)
        PairingSuspension.objects.create(
            pairing=cls.pairing, start_date=datetime.date(2025, 7, 1), reason="村两委换届"
        )
        RegimeCadence.objects.create(
            regime=cls.activity.regime,
            valid_from=datetime.date(2026, 1, 1),
            cadence="quarter",
            required=1,
        )
        make_user("staff", role="county_staff", org=cls.county)
        Group.objects.create(name="县委组织部")
        TOTPDevice.objects.create(user=cls.admin, name="验证器")
        StaticDevice.objects.create(user=cls.admin, name="备用验证码")

    def setUp(self):
        self.client.force_login(self.admin)


class EveryModelPageTests(AdminTestCase):
    def test_every_registered_model_has_working_list_search_add_change_and_history_pages(self):
        for model, model_admin in admin.site._registry.items():
            with self.subTest(model=model._meta.label):
                if model in SECURITY_ADMIN_ONLY:
                    assert self.client.get(admin_url(model, "changelist")).status_code == 403
                    continue
                obj = model._default_manager.order_by("pk").first()
                assert obj is not None, "no row to open: add one to setUpTestData"
                urls = [
                    admin_url(model, "changelist"),
                    admin_url(model, "add"),
                    admin_url(model, "change", obj.pk),
                    admin_url(model, "history", obj.pk),
                ]
                if model_admin.search_fields:
                    urls.append(admin_url(model, "changelist") + "?q=党")
                if model in NO_ADD_FOR_SYSTEM_ADMIN:
                    add = urls.pop(1)
                    assert self.client.get(add).status_code == 403, add
                for url in urls:
                    response = self.client.get(url)
                    assert response.status_code == 200, url

    def test_admin_speaks_chinese(self):
        response = self.client.get(admin_url(Organization, "changelist"))
        content = response.content.decode()
        assert "党组织" in content
        assert "互助共建管理平台" in content
        assert "移入回收站" in content

    def test_search_finds_a_pairing_by_a_branch_name(self):
        response = self.client.get(admin_url(Pairing, "changelist") + "?q=曼旦")
        assert list(response.context["cl"].result_list) == [self.pairing]

    def test_member_list_masks_phone_numbers(self):
        content = self.client.get(admin_url(type(self.organ_member), "changelist")).content
        assert "138****5678" in content.decode()
        assert b"13812345678" not in content


class OrganizationTreeTests(AdminTestCase):
    def test_organization_changelist_shows_the_tree_from_its_root(self):
        response = self.client.get(admin_url(Organization, "changelist"))
        assert response.status_code == 200
        assert response.context["treebeard_tree"] is True
        assert list(response.context["cl"].result_list) == [self.county]
        assert 'id="tree-context"' in response.content.decode()

    def test_tree_opens_a_node_to_show_its_children(self):
        url = admin_url(Organization, "changelist") + f"children/{self.county.pk}/"
        response = self.client.get(url)
        assert response.status_code == 200
        html = response.json()["result_html"]
        assert "勐仑镇党委" in html
        assert "县财政局党支部" in html
        assert "曼旦村党支部" not in html

    def test_organization_search_lists_matches_from_the_whole_tree(self):
        response = self.client.get(admin_url(Organization, "changelist") + "?q=曼旦")
        assert response.context["treebeard_tree"] is False
        assert list(response.context["cl"].result_list) == [self.village]


class TrashTests(AdminTestCase):
    def post_action(self, action, *objs):
        model = type(objs[0])
        return self.client.post(
            admin_url(model, "changelist"),
            {"action": action, "_selected_action": [obj.pk for obj in objs]},
        )

    def test_trash_action_moves_a_pairing_to_the_trash_and_restore_brings_it_back(self):
        response = self.post_action("move_to_trash", self.pairing)
        assert response.status_code == 302
        self.pairing.refresh_from_db()
        assert self.pairing.deleted_at is not None
        assert self.pairing.deleted_by == self.admin
        record = self.pairing.history.first()
        assert (record.history_user, record.history_change_reason) == (self.admin, "移入回收站")
        assert self.pairing.activities.count() == 2

        trashed = self.client.get(admin_url(Pairing, "changelist") + "?trash=yes")
        assert list(trashed.context["cl"].result_list) == [self.pairing]

        response = self.post_action("restore_from_trash", self.pairing)
        assert response.status_code == 302
        self.pairing.refresh_from_db()
        assert self.pairing.deleted_at is None
        assert self.pairing.history.first().history_change_reason == "从回收站恢复"

    def test_restoring_a_pairing_that_now_clashes_with_an_active_one_is_refused_politely(self):
        self.post_action("move_to_trash", self.pairing)
        make_pairing(self.village, self.organ, code="GJ002")
        response = self.post_action("restore_from_trash", Pairing.objects.get(pk=self.pairing.pk))
        assert response.status_code == 302
        assert Pairing.objects.get(pk=self.pairing.pk).in_trash
        levels = [message.level for message in get_messages(response.wsgi_request)]
        assert messages.ERROR in levels

    def test_no_trashable_model_offers_a_hard_delete(self):
        trashable = [m for m in admin.site._registry if issubclass(m, Trashable)]
        assert len(trashable) >= 10
        for model in trashable:
            with self.subTest(model=model._meta.label):
                assert isinstance(admin.site._registry[model], TrashAdmin)
                obj = model._default_manager.order_by("pk").first()
                response = self.client.get(admin_url(model, "delete", obj.pk))
                assert response.status_code == 403
                response = self.client.post(admin_url(model, "delete", obj.pk), {"post": "yes"})
                assert response.status_code == 403
                assert model._default_manager.filter(pk=obj.pk).exists()
                actions = self.client.get(admin_url(model, "changelist")).context["action_form"]
                choices = [value for value, _ in actions.fields["action"].choices]
                assert choices == ["", "move_to_trash", "restore_from_trash"]

    def test_regimes_metrics_and_period_unlocks_cannot_be_deleted(self):
        for model in (Regime, Metric, PeriodUnlock):
            with self.subTest(model=model._meta.label):
                if model in SECURITY_ADMIN_ONLY:
                    assert self.client.get(admin_url(model, "changelist")).status_code == 403
                    continue
                obj = model._default_manager.order_by("pk").first()
                response = self.client.post(admin_url(model, "delete", obj.pk), {"post": "yes"})
                assert response.status_code == 403
                assert model._default_manager.filter(pk=obj.pk).exists()


class AccessTests(AdminTestCase):
    def autocomplete(self, model, field, term=""):
        """The admin's autocomplete for `model.field`, and the unordered-pagination warnings."""
        params = {
            "app_label": model._meta.app_label,
            "model_name": model._meta.model_name,
            "field_name": field,
            "term": term,
        }
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnorderedObjectListWarning)
            response = self.client.get(reverse("admin:autocomplete"), params)
        return response, [w for w in caught if w.category is UnorderedObjectListWarning]

    def test_non_staff_user_is_sent_to_the_admin_login(self):
        self.client.force_login(make_user())
        for url in (reverse("admin:index"), admin_url(Pairing, "changelist")):
            response = self.client.get(url)
            assert response.status_code == 302
            assert response.url == f"{reverse('admin:login')}?next={url}"

    def test_anonymous_visitor_is_sent_to_log_in_first(self):
        # LoginRequiredMiddleware answers before the admin does: the site's own login page.
        self.client.logout()
        url = admin_url(Pairing, "changelist")
        response = self.client.get(url)
        assert response.status_code == 302
        assert response.url == f"{reverse('login')}?next={url}"
        assert self.client.get(reverse("admin:login")).status_code == 200

    def test_autocomplete_finds_pairings_for_an_activity(self):
        response, _ = self.autocomplete(Activity, "pairing", "曼旦")
        assert response.status_code == 200
        assert response.json()["results"] == [
            {"id": str(self.pairing.pk), "text": str(self.pairing)}
        ]

    def test_every_autocomplete_field_answers_with_json_in_a_stable_order(self):
        fields = {
            (admin_class.model, field)
            for model_admin in admin.site._registry.values()
            for admin_class in [model_admin, *model_admin.inlines]
            for field in admin_class.autocomplete_fields
        }
        assert len(fields) > 30
        unordered = set()
        for model, field in fields:
            response, warned = self.autocomplete(model, field)
            assert response.status_code == 200, (model, field)
            assert response.json()["results"], (model, field)
            if warned:
                unordered.add(model._meta.get_field(field).related_model._meta.label)
        # Pages of an unordered list may repeat or skip rows as the user scrolls.
        assert not unordered, f"autocomplete without an ordering: {', '.join(sorted(unordered))}"


class PairingFormTests(AdminTestCase):
    def post_pairing(self, **fields):
        data = {
            "code": "GJ101",
            "helper": self.organ.pk,
            "helped": self.other_village.pk,
            "start_date": "2025-01-01",
            "end_date": "",
            "status": "active",
            "helper_liaison": "",
            "helped_liaison": "",
            "agreement": "",
            "goals": "",
            "suspensions-TOTAL_FORMS": "0",
            "suspensions-INITIAL_FORMS": "0",
            "_save": "保存",
        }
        return self.client.post(admin_url(Pairing, "add"), data | fields)

    def test_admin_creates_a_pairing_and_the_history_says_who(self):
        response = self.post_pairing()
        assert response.status_code == 302
        pairing = Pairing.objects.get(code="GJ101")
        assert (pairing.helper, pairing.helped) == (self.organ, self.other_village)
        assert pairing.start_date == datetime.date(2025, 1, 1)
        record = pairing.history.get()
        assert (record.history_type, record.history_user) == ("+", self.admin)

    def test_pairing_a_branch_with_itself_shows_the_chinese_error_and_creates_nothing(self):
        before = Pairing.objects.count()
        response = self.post_pairing(helped=self.organ.pk)
        assert response.status_code == 200
        assert "一个支部不能与自己结对。" in response.content.decode()
        assert Pairing.objects.count() == before

    def test_second_active_pairing_is_explained_in_chinese_and_creates_nothing(self):
        before = Pairing.objects.count()
        response = self.post_pairing(helper=self.village.pk, helped=self.organ.pk)
        assert response.status_code == 200
        [message] = [
            m for errors in response.context["adminform"].form.errors.values() for m in errors
        ]
        assert "共建对子" in message
        assert "pairing_one_active_per_two_branches" not in message
        assert Pairing.objects.count() == before


class PeriodFormTests(AdminTestCase):
    def test_bad_period_in_an_unlock_is_a_form_error_not_a_server_error(self):
        before = PeriodUnlock.objects.count()
        data = {
            "branch": self.village.pk,
            "period": "2025-13",
            "reason": "补录遗漏的活动记录",
            "unlocked_by": self.admin.pk,
            "unlocked_at_0": "2025-05-06",
            "unlocked_at_1": "09:00:00",
            "until": "2025-06-30",
            "_save": "保存",
        }
        response = self.client.post(admin_url(PeriodUnlock, "add"), data)
        assert response.status_code == 200
        assert "月份应在 01 到 12 之间。" in response.content.decode()
        assert PeriodUnlock.objects.count() == before

    def test_figure_entered_again_for_a_period_in_small_letters_is_a_form_error(self):
        make_period_figure(self.village, "rubber_area", "2025-H1")
        before = PeriodFigure.objects.count()
        data = {
            "organization": self.village.pk,
            "metric": metric("rubber_area").pk,
            "period": "2025-h1",
            "value": "1300",
            "entered_by": "",
            "_save": "保存",
        }
        response = self.client.post(admin_url(PeriodFigure, "add"), data)
        assert response.status_code == 200
        assert response.context["adminform"].form.errors
        assert PeriodFigure.objects.count() == before


class InspectionFormTests(AdminTestCase):
    def test_second_inspection_by_the_same_side_in_a_year_is_a_form_error(self):
        first = Inspection.objects.get()
        before = Inspection.objects.count()
        activity = make_activity(self.pairing, category="inspection", title="再次互检")
        data = {
            "pairing": self.pairing.pk,
            "activity": activity.pk,
            "year": first.year,
            "inspector": first.inspector_id,
            "inspected": first.inspected_id,
            "date": first.date.isoformat(),
            "findings": "",
            "satisfaction": "",
            "_save": "保存",
        }
        for prefix in ("scores", "rectifications"):
            data |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0}
        response = self.client.post(admin_url(Inspection, "add"), data)
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors.as_data()
        assert errors, "the form should explain the clash"
        assert "inspection_once_a_year_per_side" not in response.content.decode()
        assert Inspection.objects.count() == before
