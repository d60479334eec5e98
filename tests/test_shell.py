"""The UI shell: login, logout, the home page per role, and the headers every page carries."""

from django.test import TestCase
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from pairings.models import Assignment
from tests.factories import (
    make_activity,
    make_branch,
    make_county,
    make_member,
    make_org,
    make_pairing,
    make_user,
)
from tests.test_query_counts import QUERIES

Role = Assignment.Role


class ShellTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.county = make_county(name="青山县委")
        township = make_org(cls.county, kind="committee", sector="rural", name="石门镇党委")
        cls.organs = organs = make_org(
            cls.county, kind="working_committee", sector="organ", name="县直机关工委"
        )
        cls.organ = make_branch(organs, name="县财政局机关党支部")
        cls.village = make_branch(township, sector="rural", name="石门村党支部")
        other_village = make_branch(township, sector="rural", name="河口村党支部")
        cls.pairing = make_pairing(cls.organ, cls.village)
        make_pairing(make_branch(organs, name="县教育局党支部"), other_village)
        for branch in (cls.organ, cls.village, other_village):
            make_member(branch)
        cls.staff = make_user("county", role=Role.COUNTY_STAFF, org=cls.county)
        cls.secretary = make_user("village_secretary", role=Role.SECRETARY, org=cls.village)
        cls.organ_secretary = make_user("organ_secretary", role=Role.SECRETARY, org=cls.organ)
        cls.leader = make_user("leader", role=Role.VIEWER, org=cls.county)
        cls.auditor = make_user("auditor", role=Role.AUDITOR, org=cls.county)
        cls.admin = make_user("admin", is_staff=True, is_superuser=True)

    def test_anonymous_visitor_is_sent_to_the_login_page(self):
        response = self.client.get(reverse("home"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    def test_login_page_is_chinese_and_fits_a_phone(self):
        response = self.client.get(reverse("login"))
        assert response.status_code == 200
        html = response.content.decode()
        assert '<html lang="zh-Hans">' in html
        assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
        assert "用户名" in html and "密码" in html

    def test_wrong_password_shows_a_chinese_error_and_logs_nobody_in(self):
        response = self.client.post(reverse("login"), {"username": "county", "password": "wrong"})
        assert response.status_code == 200
        assert "请输入一个正确的" in response.content.decode()
        assert "_auth_user_id" not in self.client.session

    def test_login_then_home_then_logout(self):
        # County staff sign in with a second factor (tests/test_identity.py covers the steps).
        device = TOTPDevice.objects.create(user=self.staff, name="验证器")
        response = self.client.post(
            reverse("login"), {"username": "county", "password": "Cobuild#2026"}, follow=True
        )
        assert response.redirect_chain[-1][0] == f"{reverse('otp_verify')}?next=/"
        response = self.client.post(
            reverse("otp_verify"), {"code": f"{totp(device.bin_key):06d}", "next": "/"}, follow=True
        )
        assert response.redirect_chain[-1][0] == reverse("home")
        assert "县委组织部" in response.content.decode()
        response = self.client.post(reverse("logout"))
        assert response.status_code == 302
        assert self.client.get(reverse("home")).status_code == 302

    def test_logout_by_get_is_refused(self):
        self.client.force_login(self.staff)
        assert self.client.get(reverse("logout")).status_code == 405

    def test_home_tells_county_staff_what_they_can_do_with_county_figures(self):
        self.client.force_login(self.staff)
        response = self.client.get(reverse("home"))
        html = response.content.decode()
        assert "设立和调整共建对子" in html
        figures = response.context["dashboard"]["figures"]
        assert figures.pairings == 2
        assert figures.organ_branches + figures.village_branches == 4

    def test_home_shows_a_secretary_only_their_pairing_and_what_awaits_them(self):
        make_activity(
            self.pairing,
            status="submitted",
            submitted_at="2025-03-06T10:00:00+08:00",
            on_time=True,
            logged_by_branch=self.organ,
        )
        self.client.force_login(self.secretary)
        response = self.client.get(reverse("home"))
        html = response.content.decode()
        assert [pairing for pairing, _ in response.context["my_pairings"]] == [self.pairing]
        assert "县财政局机关党支部" in html and "县教育局党支部" not in html
        assert "等待您确认（1）" in html
        assert "dashboard" not in response.context
        # The partner who logged it is not asked to confirm their own activity.
        self.client.force_login(self.organ_secretary)
        assert "等待您确认" not in self.client.get(reverse("home")).content.decode()

    def test_home_tells_the_viewer_auditor_and_admin_their_part(self):
        for user, text in (
            (self.leader, "只读"),
            (self.auditor, "审计记录"),
            (self.admin, "系统管理员"),
        ):
            self.client.force_login(user)
            assert text in self.client.get(reverse("home")).content.decode()
        assert "dashboard" not in self.client.get(reverse("home")).context

    def test_only_the_system_admin_sees_the_admin_link(self):
        self.client.force_login(self.admin)
        assert reverse("admin:index") in self.client.get(reverse("home")).content.decode()
        self.client.force_login(self.staff)
        assert reverse("admin:index") not in self.client.get(reverse("home")).content.decode()

    def test_pages_carry_a_strict_csp_and_no_inline_script(self):
        self.client.force_login(self.staff)
        response = self.client.get(reverse("home"))
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "object-src 'none'" in csp
        assert "<script>" not in response.content.decode()
        assert response["X-Frame-Options"] == "DENY"

    def test_home_runs_a_fixed_number_of_queries_whatever_the_data(self):
        self.client.force_login(self.secretary)
        with self.assertNumQueries(QUERIES["home/secretary"]) as before:
            self.client.get(reverse("home"))
        for _ in range(5):
            make_activity(self.pairing)
            make_pairing(make_branch(self.organs), make_branch(self.county, "rural"))
        with self.assertNumQueries(len(before.captured_queries)):
            self.client.get(reverse("home"))
