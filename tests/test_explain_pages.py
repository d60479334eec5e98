"""`manage.py explain_pages`: every page's statements EXPLAINed on PostgreSQL, big seq scans
reported and failing the run; on SQLite it refuses."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase

from reports.management.commands.explain_pages import BIG_TABLES, seq_scans
from tests.factories import make_activity, make_two_pairing_county

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")


def test_the_big_tables_are_the_real_ones():
    assert BIG_TABLES == [
        "activities_activity",
        "activities_participation",
        "activities_outcome",
        "pairings_member",
    ]


def test_seq_scans_are_found_at_any_depth_and_only_on_the_tables_asked_for():
    plan = [
        {
            "Plan": {
                "Node Type": "Hash Join",
                "Plans": [
                    {"Node Type": "Seq Scan", "Relation Name": "pairings_pairing"},
                    {
                        "Node Type": "Hash",
                        "Plans": [{"Node Type": "Seq Scan", "Relation Name": "pairings_member"}],
                    },
                    {"Node Type": "Index Scan", "Relation Name": "activities_activity"},
                ],
            }
        }
    ]
    assert [n["Relation Name"] for n in seq_scans(plan, set(BIG_TABLES))] == ["pairings_member"]
    assert seq_scans(plan, {"activities_activity"}) == []


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite only")
@pytest.mark.django_db
def test_it_refuses_to_run_on_sqlite():
    with pytest.raises(CommandError, match="只能在 PostgreSQL 上运行"):
        call_command("explain_pages", stdout=io.StringIO())


@on_postgresql
class ExplainPagesTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()
        for _ in range(3):
            make_activity(cls.w.pairing_a)

    def run_command(self, *args):
        out = io.StringIO()
        call_command("explain_pages", *args, stdout=out)
        return out.getvalue()

    def planner(self, **settings):
        with connection.cursor() as cursor:
            for name, value in settings.items():
                cursor.execute(f"SET LOCAL {name} = {value}")

    def test_a_page_whose_plan_reads_the_activities_whole_fails_and_says_where(self):
        # No index paths: the activity list can only read the table from end to end.
        self.planner(enable_indexscan="off", enable_bitmapscan="off", enable_indexonlyscan="off")
        out = io.StringIO()
        with pytest.raises(CommandError, match="处大表顺序扫描"):
            call_command("explain_pages", "--page", "activity-list", stdout=out)
        report = out.getvalue()
        assert "✗ activity-list  /activities/  200" in report
        assert "Seq Scan activities_activity" in report
        assert 'FROM "activities_activity"' in report

    def test_a_page_planned_through_indexes_passes(self):
        self.planner(enable_seqscan="off")
        report = self.run_command("--page", "activity-list", "--page", "login")
        assert "✓ activity-list  /activities/  200  9 条语句" in report
        assert "✓ login" in report
        assert "2 个页面，没有大表顺序扫描。" in report

    def test_the_widest_county_staff_account_is_used_unless_named(self):
        report = self.run_command("--page", "login")
        assert f"staff: {self.w.staff.username}（青山县委）" in report
        with pytest.raises(CommandError, match="不是县委组织部账号"):
            self.run_command("--username", self.w.viewer.username)

    def test_an_unknown_page_is_refused(self):
        with pytest.raises(CommandError, match="没有这些页面：nowhere"):
            self.run_command("--page", "nowhere")
