"""`manage.py bench` prints one JSON line per figure, on whatever data is there."""

import datetime
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from activities.models import Activity
from tests.factories import make_submitted_activity, make_two_pairing_county

PAGES = [
    "trivial",
    "dashboard",
    "dashboard_cold",
    "compliance_matrix",
    "compliance_summary",
    "activity_list",
    "secretary_home",
    "dashboard_after_write",  # a secretary's submitted activity just before each run
    "activity_submit",  # that submission, which computes the county's year part
]
REPORT = ["report_draft", "report_draft_cold", "docx_export"]
# The chore that computes every county's parts after midnight or a change they all read.
WARMING = ["warm_parts"]
# Not pages as users meet them (a write, the chore, the pages that chore spares): no goal.
NO_GOAL = {"activity_submit", "warm_parts", "dashboard_cold", "report_draft_cold"}


def run(*args):
    out = StringIO()
    call_command("bench", "--runs", "2", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.django_db
def test_every_page_and_the_report_get_a_line_with_their_figures(tmp_path):
    w = make_two_pairing_county()
    make_submitted_activity(w.pairing_a, "activity_day", datetime.date.today())
    rows = run()
    assert [r["figure"] for r in rows] == ["data", *PAGES, *REPORT, *WARMING]
    assert rows[0]["pairings"] == 2
    for row in rows[1:]:
        assert row["median_ms"] > 0 and row["p95_ms"] >= row["median_ms"]
    for row in rows[2:]:
        judged = row["figure"] not in NO_GOAL
        assert row["ratio_to_trivial"] > 0 and ("meets_goal" in row) == judged
        assert isinstance(row.get("meets_goal", False), bool)
    assert all(row["queries"] > 0 for row in rows[1:8])
    # The writes were rolled back, and the dashboard after a write read the part they computed.
    assert Activity.objects.count() == 1
    after_write = next(r for r in rows if r["figure"] == "dashboard_after_write")
    warm = next(r for r in rows if r["figure"] == "dashboard")
    assert after_write["queries"] == warm["queries"]

    baseline = tmp_path / "county.jsonl"
    baseline.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    city = run("--scale", "city", "--baseline", str(baseline))
    assert city[0]["scale"] == "city"
    assert all("meets_goal" not in r for r in city[1:10])  # the city goal is growth
    growth = [r for r in city if r["figure"].startswith("growth_")]
    assert [r["figure"] for r in growth] == [
        f"growth_{name}" for name in [*PAGES, *REPORT, *WARMING]
    ]
    for row in growth:
        if row["figure"].removeprefix("growth_") in NO_GOAL:
            assert "meets_goal" not in row
        else:
            assert row["meets_goal"] == (row["growth"] <= 2)


@pytest.mark.django_db
def test_at_province_scale_the_goal_is_the_dashboard_under_a_second_on_postgresql():
    from django.db import connection

    w = make_two_pairing_county()
    make_submitted_activity(w.pairing_a, "activity_day", datetime.date.today())
    rows = {r["figure"]: r for r in run("--scale", "province")}
    judged = ["dashboard", "dashboard_after_write"]
    assert [name for name, r in rows.items() if "meets_goal" in r] == judged
    on_postgresql = connection.vendor == "postgresql"
    for name in judged:
        assert rows[name]["meets_goal"] == (on_postgresql and rows[name]["median_ms"] < 1000)


@pytest.mark.django_db
def test_a_scope_without_pairings_is_refused_with_a_message():
    from tests.factories import make_county

    make_county()
    with pytest.raises(CommandError, match="没有共建对子"):
        run()


@pytest.mark.django_db
def test_each_page_is_printed_as_soon_as_it_is_measured(monkeypatch):
    # A province run takes many minutes; the pages measured so far must not wait for the report.
    from reports import situation

    w = make_two_pairing_county()
    make_submitted_activity(w.pairing_a, "activity_day", datetime.date.today())
    out = StringIO()
    printed_before_the_report = []
    draft = situation.draft

    def watched_draft(*args, **kwargs):
        printed_before_the_report.append(out.getvalue())
        return draft(*args, **kwargs)

    monkeypatch.setattr(situation, "draft", watched_draft)
    call_command("bench", "--runs", "1", stdout=out)
    lines = printed_before_the_report[0].splitlines()
    assert [json.loads(line)["figure"] for line in lines] == ["data", *PAGES]
    assert "ratio_to_trivial" in json.loads(lines[2])


@pytest.mark.django_db
def test_no_background_chore_runs_beside_the_pages_measured(monkeypatch):
    # The day's first request starts computing every county's parts in the background: during a
    # bench that would compete with the pages measured, so the bench keeps such chores unrun.
    from django.core.cache import caches
    from django.test import override_settings
    from django.utils import timezone

    from reports import tasks
    from tests.test_tasks import THREAD, drain

    w = make_two_pairing_county()
    make_submitted_activity(w.pairing_a, "activity_day", datetime.date.today())
    caches["default"].delete(tasks.warm_daily_key(timezone.localdate()))
    warmed = []
    warm = tasks.warm
    monkeypatch.setattr(tasks, "warm", lambda today: warmed.append(today) or warm(today))
    with override_settings(TASKS=THREAD):
        run()
        drain()
    assert warmed == [timezone.localdate()]  # the bench's own warm_parts figure, no other
    # … and the app servers sharing the cache still warm the day's parts after their first request.
    assert caches["default"].get(tasks.warm_daily_key(timezone.localdate())) is None
