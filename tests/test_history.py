"""Every domain model keeps a change history: who, when, what."""

import tempfile

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper
from django.test import TestCase
from simple_history.models import HistoricalChanges

from tests.factories import make_branch, make_county, make_member, make_pairing


class HistoryTests(TestCase):
    def test_every_domain_model_has_a_history(self):
        missing = [
            model._meta.label
            for app in ("pairings", "activities")
            for model in apps.get_app_config(app).get_models()
            if not issubclass(model, HistoricalChanges)
            and not hasattr(model, "history")
            # Sign-in state, not domain data: a history of live session keys would keep
            # credentials after the sessions end (the audit log records sign-ins).
            and model._meta.label not in {"pairings.UserSecurity", "pairings.UserSession"}
            # Derived sums (activities/summaries.py), rebuilt at will from the rows they count,
            # and those rows keep their histories.
            and model._meta.label
            not in {
                "activities.ActivitySummary",
                "activities.OutcomeSummary",
                "activities.ParticipantYear",
            }
        ]
        assert missing == []

    def test_a_change_records_who_when_and_what(self):
        county = make_county()
        pairing = make_pairing(make_branch(county), make_branch(county, "rural"))
        staff = User.objects.create_user("staff")
        pairing.goals = "修通村道"
        pairing._history_user = staff
        pairing.save()
        latest, first = pairing.history.all()[:2]
        assert latest.history_user == staff and latest.history_type == "~"
        assert latest.history_date is not None
        assert [c.field for c in latest.diff_against(first).changes] == ["goals"]

    def test_trash_and_restore_are_recorded_with_their_reason(self):
        county = make_county()
        member = make_member(make_branch(county))
        staff = User.objects.create_user("staff")
        member.trash(by=staff)
        member.restore(by=staff)
        reasons = list(member.history.values_list("history_change_reason", "history_user"))
        assert reasons[:2] == [("从回收站恢复", staff.pk), ("移入回收站", staff.pk)]


class SqliteSettingsTests(TestCase):
    def test_sqlite_runs_in_wal_mode_enforces_foreign_keys_and_waits_for_locks(self):
        with tempfile.TemporaryDirectory() as folder:
            wrapper = DatabaseWrapper(
                {
                    **connection.settings_dict,
                    "ENGINE": "django.db.backends.sqlite3",
                    "NAME": f"{folder}/check.sqlite3",
                    "OPTIONS": settings.SQLITE_OPTIONS,
                },
                alias="sqlite_check",
            )
            try:
                with wrapper.cursor() as cursor:
                    pragmas = {}
                    for name in ("journal_mode", "foreign_keys", "busy_timeout"):
                        cursor.execute(f"PRAGMA {name}")
                        pragmas[name] = cursor.fetchone()[0]
            finally:
                wrapper.close()
        assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 20000}
        assert settings.SQLITE_OPTIONS["transaction_mode"] == "IMMEDIATE"
