"""A pairing's workspace through the test client: its page, needs, practical deeds and their
progress, and the one-helps-one visits; who reaches them and how bad input is refused."""

import datetime

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings
from django.urls import reverse

from activities.models import Commitment, Need
from pairings.models import HelpPairing, HouseholdVisit, Pairing
from tests.factories import (
    make_commitment,
    make_evidence,
    make_help_pairing,
    make_household,
    make_household_visit,
    make_need,
    make_two_pairing_county,
)
from tests.test_activity_views import (
    assert_field_error,
    days_ago,
    db_state,
    field_html,
    messages_of,
    photo,
    stored_files,
    today,
)


def need_form(**overrides):
    data = {
        "title": "村道硬化",
        "description": "进村道路雨天泥泞，群众出行困难。",
        "raised_on": days_ago(1).isoformat(),
    }
    data.update(overrides)
    return data


def commitment_form(need=None, **overrides):
    data = {
        "need": need.pk if need else "",
        "title": "硬化进村道路500米",
        "amount": "30000",
        "due_date": (today() + datetime.timedelta(days=60)).isoformat(),
    }
    data.update(overrides)
    return data


def progress_form(**overrides):
    data = {"status": "done", "progress": "道路已完工验收。", "done_on": today().isoformat()}
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def visit_form(**overrides):
    data = {
        "date": days_ago(1).isoformat(),
        "summary": "了解春耕准备情况，商定甘蔗种苗采购。",
        "help_given": "送去化肥2袋",
    }
    data.update(overrides)
    return data


def url(name, obj):
    return reverse(f"activities:{name}", args=[obj.pk])


class PairingPagesAccessTests(TestCase):
    """Anonymous, out of scope, guessed ids, read-only and wrong methods on the pairing pages."""

    @classmethod
    def setUpTestData(cls):
        cls.w = w = make_two_pairing_county()
        cls.objects = {}
        for side, pairing, organ_member in (
            ("A", w.pairing_a, w.organ_a_member),
            ("B", w.pairing_b, w.organ_b_member),
        ):
            need = make_need(pairing, title=f"对子{side}的需求")
            commitment = make_commitment(pairing, need=need, title=f"对子{side}的实事")
            make_evidence(commitment=commitment)
            household = make_household(pairing.helped, head_name=f"对子{side}农户")
            help_pairing = make_help_pairing(organ_member, household)
            make_household_visit(help_pairing, summary=f"对子{side}的走访记录")
            cls.objects[side] = {
                "pairing": pairing,
                "need": need,
                "commitment": commitment,
                "help pairing": help_pairing,
            }

    def object_requests(self, side):
        """(method, url, data) for every pairing page that takes an object of pairing `side`."""
        o = self.objects[side]
        pairing, commitment, help_pairing = o["pairing"], o["commitment"], o["help pairing"]
        return [
            ("get", url("pairing", pairing), None),
            ("get", url("need_new", pairing), None),
            ("post", url("need_new", pairing), need_form()),
            ("get", url("commitment_new", pairing), None),
            ("post", url("commitment_new", pairing), commitment_form(o["need"])),
            ("get", url("commitment_progress", commitment), None),
            ("post", url("commitment_progress", commitment), progress_form()),
            ("get", url("help_detail", help_pairing), None),
            ("post", url("help_detail", help_pairing), visit_form()),
        ]

    def request(self, method, path, data):
        return (
            getattr(self.client, method)(path, data) if data else getattr(self.client, method)(path)
        )

    def test_anonymous_is_sent_to_the_login_page_from_every_pairing_page(self):
        pages = [
            ("get", reverse("activities:pairings"), None),
            ("get", reverse("activities:help_list"), None),
        ]
        for method, path, data in pages + self.object_requests("A"):
            response = self.request(method, path, data)

            assert response.status_code == 302, (method, path)
            assert response["Location"].startswith(reverse("login")), (method, path)

    def test_users_of_another_pairing_get_404_for_everything_of_pairing_a(self):
        before = db_state()
        for user in (self.w.organ_b_secretary, self.w.village_b_secretary, self.w.supervisor_b):
            self.client.force_login(user)
            for method, path, data in self.object_requests("A"):
                response = self.request(method, path, data)

                assert response.status_code == 404, (user.get_full_name(), method, path)
        assert db_state() == before

    def test_lists_of_another_pairing_show_nothing_of_pairing_a(self):
        self.client.force_login(self.w.village_b_secretary)

        pairings = self.client.get(reverse("activities:pairings")).content.decode()
        helps = self.client.get(reverse("activities:help_list")).content.decode()

        assert "河口村党支部" in pairings and "石门村党支部" not in pairings
        assert "对子B农户" in helps and "对子A农户" not in helps

    def test_guessed_ids_get_404(self):
        self.client.force_login(self.w.staff)
        missing = {
            "pairing": Pairing.objects.order_by("-pk").first().pk + 1000,
            "commitment": Commitment.objects.order_by("-pk").first().pk + 1000,
            "help pairing": HelpPairing.objects.order_by("-pk").first().pk + 1000,
        }
        before = db_state()

        for huge in (False, True):
            pk = {key: 2**63 if huge else value for key, value in missing.items()}
            for name in ("pairing", "need_new", "commitment_new"):
                path = reverse(f"activities:{name}", args=[pk["pairing"]])
                assert self.client.get(path).status_code == 404, path
            for path, data in (
                (reverse("activities:need_new", args=[pk["pairing"]]), need_form()),
                (reverse("activities:commitment_new", args=[pk["pairing"]]), commitment_form()),
                (
                    reverse("activities:commitment_progress", args=[pk["commitment"]]),
                    progress_form(),
                ),
                (reverse("activities:help_detail", args=[pk["help pairing"]]), visit_form()),
            ):
                assert self.client.get(path).status_code == 404, path
                assert self.client.post(path, data).status_code == 404, path
        assert db_state() == before

    def test_trashed_need_and_commitment_are_out_of_reach(self):
        o = self.objects["A"]
        o["commitment"].trash(by=self.w.staff)
        self.client.force_login(self.w.organ_a_secretary)

        assert self.client.get(url("commitment_progress", o["commitment"])).status_code == 404
        page = self.client.get(url("pairing", o["pairing"])).content.decode()
        assert "对子A的实事" not in page
        assert "对子A的需求" in page

    def test_viewer_reads_the_pairing_pages_without_write_links(self):
        self.client.force_login(self.w.viewer)
        o = self.objects["A"]

        listed = self.client.get(reverse("activities:pairings"))
        assert listed.status_code == 200
        assert "石门村党支部" in listed.content.decode()
        assert "河口村党支部" in listed.content.decode()
        page = self.client.get(url("pairing", o["pairing"]))
        assert page.status_code == 200
        html = page.content.decode()
        assert "对子A的需求" in html and "对子A的实事" in html
        for name in ("need_new", "commitment_new"):
            assert url(name, o["pairing"]) not in html
        assert url("commitment_progress", o["commitment"]) not in html
        help_page = self.client.get(url("help_detail", o["help pairing"]))
        assert help_page.status_code == 200
        assert "对子A的走访记录" in help_page.content.decode()
        assert "登记一次走访" not in help_page.content.decode()
        assert "对子A农户" in self.client.get(reverse("activities:help_list")).content.decode()

    def test_viewer_gets_403_for_every_write_and_nothing_changes(self):
        self.client.force_login(self.w.viewer)
        before = db_state()

        for method, path, data in self.object_requests("A"):
            if method == "get" and ("/needs/" not in path and "/commitments/" not in path):
                continue  # the pairing and one-helps-one pages are for reading too
            response = self.request(method, path, data)

            assert response.status_code == 403, (method, path)
        assert db_state() == before

    def test_wrong_methods_get_405_and_change_nothing(self):
        self.client.force_login(self.w.staff)
        o = self.objects["A"]
        before = db_state()

        get_only = [
            reverse("activities:pairings"),
            url("pairing", o["pairing"]),
            reverse("activities:help_list"),
        ]
        get_or_post = [
            url("need_new", o["pairing"]),
            url("commitment_new", o["pairing"]),
            url("commitment_progress", o["commitment"]),
            url("help_detail", o["help pairing"]),
        ]
        for path in get_only:
            for method in ("post", "put", "delete"):
                assert getattr(self.client, method)(path).status_code == 405, (method, path)
        for path in get_or_post:
            for method in ("put", "delete", "patch"):
                assert getattr(self.client, method)(path).status_code == 405, (method, path)
        assert db_state() == before


class NeedsAndCommitmentsTests(TestCase):
    """The village side raises a need, the helping side commits to a deed and tracks it to done."""

    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()

    def setUp(self):
        self.pairing = self.w.pairing_a

    def test_only_the_helping_side_commits_to_a_deed(self):
        self.client.force_login(self.w.village_a_secretary)
        page = self.client.get(url("pairing", self.pairing))
        assert url("commitment_new", self.pairing) not in page.content.decode()
        response = self.client.post(url("commitment_new", self.pairing), commitment_form())
        assert response.status_code == 403
        assert "实事承诺由帮扶方支部登记" in response.content.decode()
        assert not Commitment.objects.exists()

    def test_need_is_committed_to_and_solved_with_evidence(self):
        w = self.w
        self.client.force_login(w.village_a_secretary)
        raised = self.client.post(url("need_new", self.pairing), need_form(), follow=True)

        assert raised.redirect_chain == [(url("pairing", self.pairing), 302)]
        assert messages_of(raised) == ["需求已登记。"]
        need = Need.objects.get()
        assert (need.title, need.raised_by, need.status) == ("村道硬化", w.village_a, "open")
        assert need.raised_on == days_ago(1)
        assert "村道硬化" in raised.content.decode() and "待解决" in raised.content.decode()

        self.client.force_login(w.organ_a_secretary)
        offered = self.client.get(url("commitment_new", self.pairing), {"need": need.pk})
        assert f'<option value="{need.pk}" selected>村道硬化</option>' in field_html(
            offered, "need"
        )
        committed = self.client.post(
            url("commitment_new", self.pairing), commitment_form(need), follow=True
        )
        assert messages_of(committed) == ["实事承诺已登记。"]
        commitment = Commitment.objects.get()
        assert (commitment.need, commitment.status, commitment.amount) == (need, "planned", 30000)
        assert commitment.pairing == self.pairing
        need.refresh_from_db()
        assert need.status == "committed"
        assert "已承诺" in committed.content.decode()

        started = self.client.post(
            url("commitment_progress", commitment),
            progress_form(status="in_progress", progress="已完成路基", done_on=""),
            follow=True,
        )
        assert messages_of(started) == ["进展已保存。"]
        commitment.refresh_from_db()
        assert (commitment.status, commitment.progress) == ("in_progress", "已完成路基")
        need.refresh_from_db()
        assert need.status == "committed"

        files = stored_files()
        done = self.client.post(
            url("commitment_progress", commitment),
            progress_form(evidence=[photo("验收照片.jpg")]),
            follow=True,
        )
        assert messages_of(done) == ["进展已保存。"]
        commitment.refresh_from_db()
        assert (commitment.status, commitment.done_on) == ("done", today())
        assert commitment.progress == "道路已完工验收。"
        evidence = commitment.evidence.get()
        assert (evidence.original_name, evidence.uploaded_by) == (
            "验收照片.jpg",
            w.organ_a_secretary,
        )
        assert len(stored_files()) == len(files) + 2  # the photo and its thumbnail
        need.refresh_from_db()
        assert need.status == "done"
        html = done.content.decode()
        assert '村道硬化 <span class="muted">石门村党支部' in html and "已解决" in html
        assert f"已办结（{today():%Y年%-m月%-d日}办结）" in html

    def test_need_is_solved_only_when_every_deed_for_it_is_done(self):
        need = make_need(self.pairing, status="committed")
        first = make_commitment(self.pairing, need=need)
        make_commitment(self.pairing, need=need)
        self.client.force_login(self.w.organ_a_secretary)

        self.client.post(url("commitment_progress", first), progress_form())

        need.refresh_from_db()
        assert need.status == "committed"

    def test_need_with_a_future_date_or_without_a_title_is_refused(self):
        self.client.force_login(self.w.village_a_secretary)
        tomorrow = (today() + datetime.timedelta(days=1)).isoformat()
        before = db_state()

        future = self.client.post(url("need_new", self.pairing), need_form(raised_on=tomorrow))
        untitled = self.client.post(url("need_new", self.pairing), need_form(title=""))

        assert_field_error(future, "raised_on", "提出日期不能晚于今天。")
        assert f'value="{tomorrow}"' in field_html(future, "raised_on")
        assert 'value="村道硬化"' in field_html(future, "title")
        assert "进村道路雨天泥泞，群众出行困难。</textarea>" in field_html(future, "description")
        assert_field_error(untitled, "title", "这个字段是必填项。")
        assert db_state() == before

    def test_commitment_with_a_negative_amount_is_refused(self):
        need = make_need(self.pairing)
        self.client.force_login(self.w.organ_a_secretary)
        before = db_state()

        response = self.client.post(
            url("commitment_new", self.pairing), commitment_form(need, amount="-500")
        )

        assert_field_error(response, "amount", "确保该值大于或等于0。")
        assert 'value="-500"' in field_html(response, "amount")
        assert 'value="硬化进村道路500米"' in field_html(response, "title")
        assert db_state() == before

    def test_commitment_to_another_pairings_need_is_refused(self):
        other = make_need(self.w.pairing_b)
        self.client.force_login(self.w.organ_a_secretary)
        before = db_state()

        response = self.client.post(url("commitment_new", self.pairing), commitment_form(other))

        assert_field_error(response, "need", "选择一个有效的选项： 该选择不在可用的选项中。")
        assert db_state() == before

    def test_done_without_a_date_is_refused(self):
        commitment = make_commitment(self.pairing, need=make_need(self.pairing, status="committed"))
        self.client.force_login(self.w.organ_a_secretary)
        before, files = db_state(), stored_files()

        response = self.client.post(
            url("commitment_progress", commitment),
            progress_form(done_on="", evidence=[photo()]),
        )

        assert_field_error(response, "done_on", "办结时请填写办结日期。")
        assert "道路已完工验收。</textarea>" in field_html(response, "progress")
        assert db_state() == before
        assert stored_files() == files

    def test_done_in_the_future_is_refused(self):
        commitment = make_commitment(self.pairing)
        self.client.force_login(self.w.organ_a_secretary)
        tomorrow = (today() + datetime.timedelta(days=1)).isoformat()
        before = db_state()

        response = self.client.post(
            url("commitment_progress", commitment), progress_form(done_on=tomorrow)
        )

        assert_field_error(response, "done_on", "办结日期不能晚于今天。")
        assert f'value="{tomorrow}"' in field_html(response, "done_on")
        assert db_state() == before

    def test_progress_upload_of_the_wrong_type_is_refused(self):
        commitment = make_commitment(self.pairing)
        self.client.force_login(self.w.organ_a_secretary)
        page = SimpleUploadedFile(
            "验收单.jpg", b"<html><body>not a photo</body></html>", "image/jpeg"
        )
        before, files = db_state(), stored_files()

        response = self.client.post(
            url("commitment_progress", commitment), progress_form(evidence=[page])
        )

        assert_field_error(
            response,
            "evidence",
            "文件“验收单.jpg”不是支持的格式：只能上传 JPEG、PNG、WebP 图片或 PDF 文件。",
        )
        assert db_state() == before
        assert stored_files() == files

    @override_settings(COBUILD={**settings.COBUILD, "EVIDENCE_MAX_FILES": 2})
    def test_progress_counts_the_files_already_attached(self):
        commitment = make_commitment(self.pairing)
        make_evidence(commitment=commitment)
        make_evidence(commitment=commitment)
        self.client.force_login(self.w.organ_a_secretary)
        before, files = db_state(), stored_files()

        response = self.client.post(
            url("commitment_progress", commitment),
            progress_form(status="in_progress", done_on="", evidence=[photo()]),
        )

        assert_field_error(
            response, "evidence", "每条记录最多 2 个佐证材料文件：已有 2 个，本次又选了 1 个。"
        )
        assert db_state() == before
        assert stored_files() == files

    def test_pairing_list_counts_open_needs(self):
        make_need(self.pairing)
        make_need(self.pairing, status="committed")
        make_need(self.pairing).trash(by=self.w.staff)
        self.client.force_login(self.w.organ_a_secretary)

        html = self.client.get(reverse("activities:pairings")).content.decode()

        assert "待解决需求 1 条" in html


class HelpVisitTests(TestCase):
    """One-helps-one: the helping member's branch or the village logs visits to the household."""

    @classmethod
    def setUpTestData(cls):
        cls.w = w = make_two_pairing_county()
        household = make_household(w.village_a, head_name="岩温")
        cls.help_pairing = make_help_pairing(w.organ_a_member, household, start_date=days_ago(10))

    def test_visit_is_logged_by_either_side(self):
        for user, summary in (
            (self.w.organ_a_secretary, "送去甘蔗种苗"),
            (self.w.village_a_secretary, "了解孩子上学情况"),
        ):
            self.client.force_login(user)

            response = self.client.post(
                url("help_detail", self.help_pairing), visit_form(summary=summary), follow=True
            )

            assert messages_of(response) == ["走访已登记。"]
            visit = HouseholdVisit.objects.get(summary=summary)
            assert (visit.created_by, visit.date) == (user, days_ago(1))
            assert visit.help_given == "送去化肥2袋"
            assert summary in response.content.decode()
        help_list = self.client.get(reverse("activities:help_list")).content.decode()
        assert "走访 2 次" in help_list

    def test_visit_before_the_help_pairing_began_is_refused(self):
        self.client.force_login(self.w.organ_a_secretary)
        before = db_state()
        day = days_ago(20).isoformat()

        response = self.client.post(url("help_detail", self.help_pairing), visit_form(date=day))

        assert_field_error(response, "date", "走访日期必须在一帮一结对的起止日期之内。")
        assert f'value="{day}"' in field_html(response, "date")
        assert 'value="送去化肥2袋"' in field_html(response, "help_given")
        assert db_state() == before

    def test_visit_after_the_help_pairing_ended_is_refused(self):
        HelpPairing.objects.filter(pk=self.help_pairing.pk).update(end_date=days_ago(5))
        self.client.force_login(self.w.organ_a_secretary)
        before = db_state()

        response = self.client.post(
            url("help_detail", self.help_pairing), visit_form(date=days_ago(2).isoformat())
        )

        assert_field_error(response, "date", "走访日期必须在一帮一结对的起止日期之内。")
        assert db_state() == before

    def test_visit_in_the_future_or_without_a_summary_is_refused(self):
        self.client.force_login(self.w.village_a_secretary)
        tomorrow = (today() + datetime.timedelta(days=1)).isoformat()
        before = db_state()

        future = self.client.post(url("help_detail", self.help_pairing), visit_form(date=tomorrow))
        empty = self.client.post(url("help_detail", self.help_pairing), visit_form(summary=""))

        assert_field_error(future, "date", "走访日期不能晚于今天。")
        assert "了解春耕准备情况，商定甘蔗种苗采购。</textarea>" in field_html(future, "summary")
        assert_field_error(empty, "summary", "这个字段是必填项。")
        assert db_state() == before

    def test_viewer_and_supervisor_of_another_township_cannot_log_a_visit(self):
        before = db_state()
        self.client.force_login(self.w.viewer)
        assert (
            self.client.post(url("help_detail", self.help_pairing), visit_form()).status_code == 403
        )
        self.client.force_login(self.w.supervisor_b)
        assert (
            self.client.post(url("help_detail", self.help_pairing), visit_form()).status_code == 404
        )
        assert db_state() == before
