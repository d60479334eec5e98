"""The county staff's set-up checklist ticks itself from the data and goes away when done."""

from django.core.cache import caches
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pairings.models import Role
from reports.models import SetupConfirmation, SetupStep
from tests.factories import make_county, make_member, make_org, make_pairing, make_user


def steps(response):
    return {step.key: step.done for step in response.context["checklist"].steps}


class ChecklistTests(TestCase):
    def setUp(self):
        self.county = make_county(name="中共新县县委", kind="county")
        self.staff = make_user(role=Role.COUNTY_STAFF, org=self.county)
        self.client.force_login(self.staff)

    def test_an_empty_county_sees_every_step_open_with_a_link_to_where_it_is_done(self):
        response = self.client.get(reverse("home"))
        self.assertEqual(set(steps(response).values()), {False})
        self.assertContains(response, "开始使用")
        self.assertContains(response, "已完成 0/6")
        for name in ("setup_regimes", "setup_metrics", "setup_accounts"):
            self.assertContains(response, f'href="{reverse(name)}"')

    def test_steps_tick_themselves_as_rows_arrive_and_the_checklist_leaves_when_done(self):
        township = make_org(self.county, kind="committee", sector="rural")
        village = make_org(township, kind="branch", sector="rural")
        organ = make_org(self.county, kind="branch", sector="organ")
        self.assertEqual(steps(self.client.get(reverse("home")))["organizations"], True)
        make_member(village)
        make_pairing(organ, village)
        done = steps(self.client.get(reverse("home")))
        self.assertTrue(done["members"] and done["pairings"])
        self.assertFalse(done["accounts"])
        make_user(role=Role.SECRETARY, org=organ)
        self.assertFalse(steps(self.client.get(reverse("home")))["accounts"])  # village still
        make_user(role=Role.SECRETARY, org=village)
        self.assertTrue(steps(self.client.get(reverse("home")))["accounts"])

        for name in ("setup_regimes", "setup_metrics"):
            self.assertContains(self.client.get(reverse(name)), "确认")
            self.assertRedirects(self.client.post(reverse(name)), reverse("setup"))
        self.assertFalse(SetupConfirmation.objects.filter(step=SetupStep.COMPLETE).exists())
        response = self.client.get(reverse("home"))
        self.assertIsNone(response.context["checklist"])
        self.assertNotContains(response, "开始使用")
        self.assertTrue(
            SetupConfirmation.objects.filter(
                organization=self.county, step=SetupStep.COMPLETE
            ).exists()
        )
        # The set-up page still shows the steps.
        self.assertContains(self.client.get(reverse("setup")), "已完成 6/6")

    def test_a_completed_checklist_costs_the_home_page_one_query(self):
        def home_queries():
            caches["parts"].clear()  # the confirmation changes no figure: no stamp is renewed
            with CaptureQueriesContext(connection) as captured:
                self.client.get(reverse("home"))
            return len(captured.captured_queries)

        pending = home_queries()
        SetupConfirmation.objects.create(
            organization=self.county, step=SetupStep.COMPLETE, confirmed_by=self.staff
        )
        self.assertEqual(home_queries(), pending - 6)  # the checklist's own six queries

    def test_confirming_twice_keeps_one_confirmation(self):
        self.client.post(reverse("setup_regimes"))
        self.client.post(reverse("setup_regimes"))
        self.assertEqual(SetupConfirmation.objects.filter(step=SetupStep.REGIMES).count(), 1)
        self.assertContains(self.client.get(reverse("setup_regimes")), "已于")

    def test_the_accounts_page_lists_paired_branches_nobody_can_log_in_for(self):
        organ = make_org(self.county, name="县林业局党支部")
        village = make_org(self.county, name="岭头村党支部", sector="rural")
        make_org(self.county, name="未结对党支部")
        make_pairing(organ, village)
        make_user(role=Role.SECRETARY, org=organ)
        response = self.client.get(reverse("setup_accounts"))
        self.assertContains(response, "岭头村党支部")
        self.assertNotContains(response, "县林业局党支部")
        self.assertNotContains(response, "未结对党支部")


class WhoSetsUpTests(TestCase):
    def test_only_county_staff_reach_the_set_up_pages(self):
        county = make_county(kind="county")
        others = [
            make_user(role=role, org=county)
            for role in (Role.SUPERVISOR, Role.VIEWER, Role.AUDITOR, Role.SECRETARY)
        ]
        for user in others:
            self.client.force_login(user)
            for name in ("setup", "setup_regimes", "setup_metrics", "setup_accounts"):
                self.assertEqual(self.client.get(reverse(name)).status_code, 404, (user, name))
            self.assertEqual(self.client.post(reverse("setup_regimes")).status_code, 404)
        self.assertFalse(SetupConfirmation.objects.exists())
