"""The offline outbox's side of the new-activity view: the same entry sent twice (the outbox after
a lost answer, the service worker and the page at once, a double tap) is one activity; the
outbox's fetch() is answered in JSON it can act on; and nothing queued under one account is
logged under another."""

from unittest import mock

from django.db import IntegrityError
from django.test import TestCase
from django.urls import reverse

from activities import workflow
from activities.models import Activity, Evidence
from tests.factories import make_activity, make_two_pairing_county
from tests.test_activity_views import activity_form, db_state, detail, new_for, photo

JSON = {"HTTP_ACCEPT": "application/json"}


class OutboxSendTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()

    def setUp(self):
        self.user = self.w.organ_a_secretary
        self.client.force_login(self.user)
        self.url = new_for(self.w.pairing_a)

    def send(self, data, **headers):
        headers = {"HTTP_X_COBUILD_USER": str(self.user.pk), **headers}
        return self.client.post(self.url, data, **JSON, **headers)

    def test_the_same_entry_sent_twice_is_one_activity(self):
        data = activity_form(submit="1", draft=None, evidence=[photo()])
        resend = activity_form(
            client_id=data["client_id"], submit="1", draft=None, evidence=[photo()]
        )

        first = self.send(data)
        after_first = db_state()
        second = self.send(resend)

        activity = Activity.objects.get(client_id=data["client_id"])
        assert db_state() == after_first  # the resend wrote nothing
        assert first.status_code == 201
        assert first.json() == {
            "status": "created",
            "id": activity.pk,
            "client_id": data["client_id"],
            "url": detail(activity),
        }
        assert second.status_code == 200
        assert second.json()["status"] == "duplicate"
        assert second.json()["url"] == detail(activity)
        assert Activity.objects.filter(pairing=self.w.pairing_a).count() == 1
        assert activity.status == Activity.Status.SUBMITTED
        assert Evidence.objects.filter(activity=activity).count() == 1

    def test_an_entry_the_form_already_posted_is_not_logged_again_by_the_outbox(self):
        data = activity_form()
        self.client.post(self.url, data)

        response = self.send(data)

        assert response.status_code == 200
        assert response.json()["status"] == "duplicate"
        assert Activity.objects.filter(client_id=data["client_id"]).count() == 1

    def test_two_sends_racing_past_the_check_give_the_first_ones_activity(self):
        """Both sends find nothing saved yet; the second one's insert hits the unique client_id."""
        data = activity_form()
        first = self.send(data)
        existing = Activity.objects.get(client_id=data["client_id"])
        before = db_state()

        with mock.patch("activities.views._already_saved", return_value=None):
            second = self.send(data)

        assert second.status_code == 200
        assert second.json()["url"] == detail(existing)
        assert first.json()["id"] == existing.pk
        assert db_state() == before

    def test_a_wrong_entry_is_answered_with_its_errors_and_saves_nothing(self):
        before = db_state()

        response = self.send(activity_form(title="", villager_count="-3", date="2099-01-01"))

        assert response.status_code == 400
        body = response.json()
        assert body["status"] == "invalid"
        assert body["message"] == "请修改下面标出的内容后再保存。"
        assert body["errors"] == {
            "date": ["活动日期不能晚于今天。"],
            "title": ["这个字段是必填项。"],
            "villager_count": ["确保该值大于或等于0。"],
        }
        assert body["labels"]["title"] == "活动主题"
        assert db_state() == before

    def test_an_entry_queued_under_another_account_is_not_logged_under_this_one(self):
        before = db_state()

        response = self.send(activity_form(), HTTP_X_COBUILD_USER=str(self.user.pk + 1000))

        assert response.status_code == 409
        assert response.json()["status"] == "wrong_user"
        assert db_state() == before

    def test_a_client_id_of_an_activity_out_of_scope_does_not_reveal_or_touch_it(self):
        other = make_activity(self.w.pairing_b, title="河口村的活动")
        before = db_state()

        response = self.send(activity_form(client_id=str(other.client_id)))

        # The unique client_id refuses the insert; the answer does not name that activity.
        assert response.status_code == 200
        assert response.json() == {"status": "duplicate", "url": reverse("activities:list")}
        assert db_state() == before

    def test_an_entry_sent_again_after_its_activity_was_trashed_is_not_logged_again(self):
        data = activity_form()
        self.send(data)
        Activity.objects.get(client_id=data["client_id"]).trash(by=self.w.staff)
        before = db_state()

        response = self.send(data)

        assert response.status_code == 200
        assert response.json()["status"] == "duplicate"
        assert db_state() == before

    def test_the_page_without_javascript_still_gets_redirects(self):
        data = activity_form()

        first = self.client.post(self.url, data)
        second = self.client.post(self.url, data)

        activity = Activity.objects.get(client_id=data["client_id"])
        assert first.status_code == second.status_code == 302
        assert first["Location"] == second["Location"] == detail(activity)

    def test_an_unexpected_integrity_error_is_not_swallowed(self):
        with (
            mock.patch.object(workflow, "create_activity", side_effect=IntegrityError("other")),
            self.assertRaises(IntegrityError),
        ):
            self.send(activity_form())


class ServiceWorkerTests(TestCase):
    def test_the_service_worker_is_served_at_the_root_without_logging_in(self):
        response = self.client.get(reverse("service_worker"))

        assert response.status_code == 200
        assert response["Content-Type"] == "text/javascript; charset=utf-8"
        assert response["Service-Worker-Allowed"] == "/"
        assert "no-cache" in response["Cache-Control"]
        body = response.content.decode()
        assert 'importScripts("/static/js/outbox.js")' in body
        assert "/activities/new/" in body.replace("\\/", "/")
