"""Chores after a request: the thread backend (cobuild.tasks) and computing every county's
parts in the background (reports.tasks, reports.middleware)."""

import datetime
import threading

import pytest
from django.core.cache import caches
from django.db import connection
from django.http import HttpResponse
from django.tasks import default_task_backend, task
from django.tasks.base import TaskResultStatus
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cobuild import tasks as thread_tasks
from reports import middleware, parts, tasks
from tests.factories import make_org, make_submitted_activity
from tests.test_parts import _kept_year_part, make_region

THREAD = {"default": {"BACKEND": "cobuild.tasks.ThreadBackend"}}

ran = []


@task
def note(word):
    ran.append((word, threading.current_thread().name))
    if word == "fail":
        raise ValueError("任务失败")
    return word


def drain():
    """Wait until the thread backend has run everything enqueued so far."""
    thread_tasks._worker.submit(lambda: None).result(timeout=60)


@override_settings(TASKS=THREAD)
def test_the_thread_backend_runs_tasks_after_enqueue_one_at_a_time_in_order(caplog):
    ran.clear()
    gate = threading.Event()
    thread_tasks._worker.submit(gate.wait, 10)  # the worker is busy: nothing runs yet
    results = [note.enqueue(word) for word in ["一", "fail", "三"]]
    assert ran == [] and all(r.status == TaskResultStatus.READY for r in results)
    # The same task with the same arguments, still waiting: one run serves both.
    assert note.enqueue("一") is results[0]
    gate.set()
    drain()
    assert [word for word, _ in ran] == ["一", "fail", "三"]
    again = note.enqueue("一")  # the first has run: this one runs too
    drain()
    assert again is not results[0] and [word for word, _ in ran][-1] == "一"
    assert {name.split("_")[0] for _, name in ran} == {"cobuild-task"}
    assert [r.status for r in results] == [
        TaskResultStatus.SUCCESSFUL,
        TaskResultStatus.FAILED,
        TaskResultStatus.SUCCESSFUL,
    ]
    assert results[0].return_value == "一"
    assert "ValueError: 任务失败" in results[1].errors[0].traceback
    assert "state=FAILED" in caplog.text


def test_a_worker_that_stops_finishes_its_running_task_and_drops_the_waiting_ones(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(thread_tasks, "_worker", ThreadPoolExecutor(max_workers=1))
    monkeypatch.setattr(thread_tasks, "_waiting", {})
    ran.clear()
    gate = threading.Event()
    with override_settings(TASKS=THREAD):
        running = thread_tasks._worker.submit(gate.wait, 10)
        note.enqueue("等待中")
        thread_tasks.stop()
        gate.set()
        assert running.result(timeout=10) is True  # the running one finished
        with pytest.raises(RuntimeError):
            note.enqueue("等待中")  # not the dropped one's result: the process is ending
    thread_tasks._worker.shutdown(wait=True)
    assert ran == [] and thread_tasks._waiting == {}


def _enqueued():
    return [r.task.name for r in default_task_backend.results]


def _write(view_body):
    """Run `view_body` as a POST through the middleware, as a writing view would."""

    def view(request):
        view_body()
        return HttpResponse("好")

    handler = middleware.RefreshPartsMiddleware(view)
    handler.warmed_on = timezone.localdate()  # the day's warming is another test's
    return handler(RequestFactory().post("/写"))


@pytest.mark.django_db
def test_a_write_in_few_counties_is_computed_by_its_request_and_a_wider_one_in_the_background():
    w = make_region(counties=parts.REFRESH_LIMIT + 1)
    today = timezone.localdate()
    default_task_backend.results.clear()

    _write(lambda: make_submitted_activity(w.pairings[0], "activity_day", today))
    assert _kept_year_part(w.counties[0], today) is not None
    assert _enqueued() == []

    def in_every_county():
        for pairing in w.pairings[::2]:  # one pairing in each county
            make_submitted_activity(pairing, "activity_day", today)

    _write(in_every_county)
    assert all(_kept_year_part(county, today) is None for county in w.counties)
    assert _enqueued() == ["warm_parts"]

    # A new township: every county's figures may change.
    _write(lambda: make_org(w.counties[0], kind="committee", sector="rural", name="新设乡党委"))
    assert _enqueued() == ["warm_parts", "warm_parts"]


@pytest.mark.django_db
def test_the_first_request_of_a_day_starts_warming_every_county_once(monkeypatch):
    make_region()
    default_task_backend.results.clear()
    day = datetime.date(2026, 6, 1)
    monkeypatch.setattr(timezone, "localdate", lambda: day)
    caches["default"].delete(tasks.warm_daily_key(day))
    app = middleware.RefreshPartsMiddleware(lambda request: HttpResponse("好"))
    another_process = middleware.RefreshPartsMiddleware(lambda request: HttpResponse("好"))

    app(RequestFactory().get("/"))
    app(RequestFactory().get("/"))
    another_process(RequestFactory().get("/"))  # the shared cache says it is done
    assert _enqueued() == ["warm_parts"]

    day = datetime.date(2026, 6, 2)
    app(RequestFactory().get("/"))
    assert _enqueued() == ["warm_parts", "warm_parts"]


def test_warm_parts_in_the_background_keeps_every_county_s_parts_for_the_next_page(
    migration_rows, client
):
    # Transactional: the task's thread has its own connection and reads what is committed.
    w = make_region(counties=3)
    today = timezone.localdate()
    make_submitted_activity(w.pairings[0], "activity_day", today)
    with override_settings(TASKS=THREAD):
        result = tasks.warm_parts.enqueue()
        drain()
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    assert result.return_value == [["中共青山市委", 3]]
    assert all(_kept_year_part(county, today) is not None for county in w.counties)
    client.force_login(w.staff)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("home"), {"period": "year"})
    assert page.context["dashboard"]["figures"].activities == 1
    assert not [q for q in queries.captured_queries if "activities_activitysummary" in q["sql"]]


def test_gunicorn_stops_a_worker_s_chores_when_the_worker_ends(monkeypatch):
    import runpy
    from pathlib import Path

    stopped = []
    monkeypatch.setattr(thread_tasks, "stop", lambda: stopped.append(True))
    config = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
    config["worker_exit"](server=None, worker=None)
    assert stopped == [True]
