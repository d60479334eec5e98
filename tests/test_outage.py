"""A database outage answers 503 with a Chinese page and never a false success; a retried
submission (the same form posted again, or twice at once) creates no duplicate."""

import datetime
import uuid
from unittest import mock

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import InterfaceError, OperationalError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from activities import views, workflow
from activities.models import Activity, Regime
from tests.factories import make_two_pairing_county

pytestmark = pytest.mark.django_db

OUTAGE_PAGE = "数据库暂时无法连接"
SECRET_DETAIL = 'connection to server at "10.9.8.7", port 5432 failed: Connection refused'


@pytest.fixture
def county():
    return make_two_pairing_county()


@pytest.fixture
def secretary_client(county):
    client = Client(raise_request_exception=False)
    client.force_login(county.organ_a_secretary)
    return client


def new_activity_url(pairing):
    return f"{reverse('activities:new')}?pairing={pairing.pk}"


def activity_post(county, **overrides):
    data = {
        "regime": Regime.objects.get(code="activity_day").pk,
        "category": "study",
        "date": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
        "title": "停电演练：集体学习",
        "place": "石门村党员活动室",
        "villager_count": "3",
        "evidence_kind": "photo",
        "participants": [county.organ_a_member.pk, county.village_a_member.pk],
        "client_id": str(uuid.uuid4()),
        "submit": "1",
    }
    data.update(overrides)
    return data


def assert_outage_page(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert OUTAGE_PAGE in body
    assert "再次提交同一份表单即可，不会重复登记" in body
    # Nothing of the error itself reaches the browser.
    assert "10.9.8.7" not in body
    assert "OperationalError" not in body
    assert "Traceback" not in body


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_write_during_an_outage_answers_503_and_saves_nothing(county, secretary_client, error):
    data = activity_post(county)
    with mock.patch.object(workflow, "create_activity", side_effect=error(SECRET_DETAIL)):
        response = secretary_client.post(new_activity_url(county.pairing_a), data)

    assert_outage_page(response)
    assert not Activity.objects.filter(client_id=data["client_id"]).exists()


def test_a_database_error_outside_the_view_also_answers_503(county, secretary_client):
    """The session is read by middleware before any view runs: handler500 maps that error."""
    with mock.patch.object(SessionStore, "load", side_effect=OperationalError(SECRET_DETAIL)):
        response = secretary_client.get(reverse("activities:list"))

    assert_outage_page(response)


def test_a_database_error_in_a_page_view_answers_503_not_500(county, secretary_client):
    with mock.patch.object(views, "keyset_page", side_effect=OperationalError(SECRET_DETAIL)):
        response = secretary_client.get(reverse("activities:list"))

    assert_outage_page(response)


def test_other_errors_stay_a_plain_500(county, secretary_client):
    with mock.patch.object(views, "keyset_page", side_effect=ValueError("boom")):
        response = secretary_client.get(reverse("activities:list"))

    assert response.status_code == 500
    assert OUTAGE_PAGE not in response.content.decode()


def test_the_site_answers_again_once_the_database_is_back(county, secretary_client):
    data = activity_post(county)
    url = new_activity_url(county.pairing_a)
    with mock.patch.object(workflow, "create_activity", side_effect=OperationalError("down")):
        assert secretary_client.post(url, data).status_code == 503

    # The same form sent again after the outage is saved, once.
    response = secretary_client.post(url, data)
    activity = Activity.objects.get(client_id=data["client_id"])
    assert response.status_code == 302
    assert response["Location"] == activity.get_absolute_url()
    assert activity.participations.count() == 2
    assert activity.status == Activity.Status.SUBMITTED

    again = secretary_client.post(url, data)
    assert again.status_code == 302
    assert again["Location"] == activity.get_absolute_url()
    assert Activity.objects.filter(client_id=data["client_id"]).count() == 1


def test_two_copies_of_one_form_arriving_at_once_create_one_activity(county, secretary_client):
    """Both requests pass the "already saved?" check before either commits: the database's
    unique client_id refuses the second, which is sent to the first's page, not to a 500."""
    data = activity_post(county)
    url = new_activity_url(county.pairing_a)
    assert secretary_client.post(url, data).status_code == 302
    first = Activity.objects.get(client_id=data["client_id"])

    with mock.patch.object(views, "_already_saved", return_value=None):
        response = secretary_client.post(url, data)

    assert response.status_code == 302
    assert response["Location"] == first.get_absolute_url()
    assert Activity.objects.filter(client_id=data["client_id"]).count() == 1
    assert first.participations.count() == 2
    assert first.history.count() == 1
