"""The audit log: append-only in the database (SQLite and PostgreSQL alike), kept 180 days,
written by every source in the same transaction as the action, read by the audit admin alone."""

import datetime
import io
from unittest import mock

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from activities.models import Need, PeriodUnlock
from cobuild import audit
from cobuild.models import AuditEvent
from pairings.models import Assignment
from tests.factories import (
    make_activity,
    make_evidence,
    make_need,
    make_two_pairing_county,
    make_user,
)

Kind = AuditEvent.Kind
PASSWORD = "Cobuild#2026"


def make_event(*, days_old=0, **fields):
    """An audit row; an old one is inserted with its old time (only UPDATE and DELETE are
    refused, never INSERT)."""
    values = {"event": Kind.LOGIN, "username": "someone"}
    values.update(fields)
    if days_old:
        values["time"] = timezone.now() - datetime.timedelta(days=days_old)
    return AuditEvent.objects.create(**values)


def refused(sql, params):
    """Run one raw statement in its own savepoint; True if the database refused it."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError:
        return True
    return False


def events(kind, **lookup):
    return AuditEvent.objects.filter(event=kind, **lookup).order_by("pk")


class ImmutabilityTests(TestCase):
    """Run on SQLite and on PostgreSQL (DATABASE_URL): each database has its own triggers."""

    def test_the_database_refuses_to_update_an_audit_row(self):
        event = make_event(username="alice")
        assert refused("UPDATE cobuild_auditevent SET username = %s WHERE id = %s", ["x", event.pk])
        event.refresh_from_db()
        assert event.username == "alice"

    def test_the_database_refuses_to_delete_a_young_audit_row(self):
        event = make_event()
        assert refused("DELETE FROM cobuild_auditevent WHERE id = %s", [event.pk])
        assert AuditEvent.objects.filter(pk=event.pk).exists()

    def test_the_database_refuses_to_delete_every_row_at_once(self):
        make_event()
        make_event()
        assert refused("DELETE FROM cobuild_auditevent", [])
        assert AuditEvent.objects.count() >= 2

    def test_orm_update_save_and_delete_are_refused(self):
        event = make_event(username="alice")
        for action in (
            lambda: AuditEvent.objects.filter(pk=event.pk).update(username="x"),
            lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
            lambda: event.delete(),
        ):
            with pytest.raises(DatabaseError), transaction.atomic():
                action()
        event.username = "mallory"
        with pytest.raises(DatabaseError), transaction.atomic():
            event.save()
        assert AuditEvent.objects.get(pk=event.pk).username == "alice"

    def test_an_old_row_may_be_deleted_but_never_changed(self):
        old = make_event(days_old=200)
        assert refused("UPDATE cobuild_auditevent SET outcome = %s WHERE id = %s", ["x", old.pk])
        assert not refused("DELETE FROM cobuild_auditevent WHERE id = %s", [old.pk])
        assert not AuditEvent.objects.filter(pk=old.pk).exists()

    def test_a_row_just_inside_the_retention_period_is_kept(self):
        event = make_event(days_old=179)
        assert refused("DELETE FROM cobuild_auditevent WHERE id = %s", [event.pk])

    def test_deleting_a_user_keeps_their_audit_rows(self):
        user = make_user(username="leaving")
        self.client.force_login(user)
        assert events(Kind.LOGIN, user_id=user.pk).count() == 1
        user.delete()
        row = events(Kind.LOGIN, username="leaving").get()
        assert row.user_id is not None


class PurgeTests(TestCase):
    def test_purge_refuses_a_date_inside_the_retention_period(self):
        event = make_event()
        too_recent = timezone.localdate() - datetime.timedelta(days=100)
        with pytest.raises(CommandError, match="至少保留180天"):
            call_command("purge_audit", "--before", too_recent.isoformat())
        assert AuditEvent.objects.filter(pk=event.pk).exists()

    def test_purge_deletes_only_the_rows_before_the_date(self):
        old = make_event(days_old=400)
        older_than_retention = make_event(days_old=250)
        young = make_event()
        before = timezone.localdate() - datetime.timedelta(days=300)
        out = io.StringIO()
        call_command("purge_audit", "--before", before.isoformat(), stdout=out)
        assert "已删除1条" in out.getvalue()
        assert not AuditEvent.objects.filter(pk=old.pk).exists()
        assert AuditEvent.objects.filter(pk__in=[older_than_retention.pk, young.pk]).count() == 2

    def test_dry_run_deletes_nothing(self):
        old = make_event(days_old=400)
        before = timezone.localdate() - datetime.timedelta(days=300)
        out = io.StringIO()
        call_command("purge_audit", "--before", before.isoformat(), "--dry-run", stdout=out)
        assert "将删除1条" in out.getvalue()
        assert AuditEvent.objects.filter(pk=old.pk).exists()


class SourceTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()
        cls.activity = make_activity(cls.w.pairing_a)

    def test_login_is_recorded_with_user_role_and_address(self):
        self.client.post(
            reverse("login"),
            {"username": self.w.staff.username, "password": PASSWORD},
            REMOTE_ADDR="10.1.2.3",
        )
        row = events(Kind.LOGIN).get()
        assert (row.user_id, row.username) == (self.w.staff.pk, self.w.staff.username)
        assert row.role == "县委组织部"
        assert row.ip_address == "10.1.2.3"
        assert row.outcome == AuditEvent.Outcome.SUCCESS

    def test_failed_login_is_recorded_with_the_name_tried(self):
        response = self.client.post(
            reverse("login"), {"username": "nobody", "password": "wrong"}, REMOTE_ADDR="10.9.9.9"
        )
        assert response.status_code == 200
        row = events(Kind.LOGIN_FAILED).get()
        assert (row.username, row.user_id, row.ip_address) == ("nobody", None, "10.9.9.9")
        assert row.outcome == AuditEvent.Outcome.FAILURE

    def test_logout_is_recorded(self):
        self.client.force_login(self.w.viewer)
        self.client.post(reverse("logout"))
        assert events(Kind.LOGOUT, user_id=self.w.viewer.pk).count() == 1

    def test_lockout_and_two_factor_writers_record_their_events(self):
        audit.record_lockout(username="locked", ip_address="10.0.0.7")
        audit.record_two_factor(None, user=self.w.staff, action="verify", ok=False)
        lockout = events(Kind.LOCKOUT).get()
        assert (lockout.username, lockout.outcome) == ("locked", AuditEvent.Outcome.REFUSED)
        two_factor = events(Kind.TWO_FACTOR).get()
        assert (two_factor.user_id, two_factor.outcome) == (self.w.staff.pk, "failure")
        assert two_factor.detail == {"action": "verify"}

    def test_role_and_scope_changes_are_recorded(self):
        user = make_user()
        assignment = Assignment(
            user=user, organization=self.w.township_a, role=Assignment.Role.SUPERVISOR
        )
        assignment._history_user = self.w.staff
        assignment.save()
        assignment.role = Assignment.Role.VIEWER
        assignment.save()
        assignment.delete()
        rows = list(events(Kind.ROLE_CHANGE, detail__target_user_id=user.pk))
        assert [r.detail["action"] for r in rows] == ["create", "change", "delete"]
        assert rows[0].username == self.w.staff.username
        assert rows[0].detail["role"] == "supervisor"
        assert rows[0].detail["organization_id"] == self.w.township_a.pk

    def test_account_changes_and_their_groups_are_recorded(self):
        user = User.objects.create_user("newcomer", password=PASSWORD)
        user.is_staff = True
        user.save()
        group = Group.objects.create(name="系统管理员")
        user.groups.add(group)
        rows = list(AuditEvent.objects.filter(object_type="auth.user", object_id=str(user.pk)))
        assert [r.event for r in rows] == [Kind.CREATE, Kind.CHANGE, Kind.ROLE_CHANGE]
        assert (rows[0].detail["is_staff"], rows[1].detail["is_staff"]) == (False, True)
        assert rows[2].detail == {"action": "add", "related": "auth.group", "ids": [group.pk]}

    def test_a_login_is_not_recorded_as_an_account_change(self):
        self.client.post(
            reverse("login"), {"username": self.w.viewer.username, "password": PASSWORD}
        )
        assert not events(Kind.CHANGE, object_type="auth.user").exists()
        assert events(Kind.LOGIN).count() == 1

    def test_a_record_created_through_a_page_is_recorded(self):
        self.client.force_login(self.w.village_a_secretary)
        self.client.post(
            reverse("activities:need_new", args=[self.w.pairing_a.pk]),
            {"title": "村道硬化", "description": "", "raised_on": timezone.localdate().isoformat()},
            REMOTE_ADDR="10.0.0.5",
        )
        need = Need.objects.get(title="村道硬化")
        row = events(Kind.CREATE, object_type="activities.need").get()
        assert row.object_id == str(need.pk)
        assert row.object_repr == "需求与困难：村道硬化"
        assert (row.username, row.ip_address) == (self.w.village_a_secretary.username, "10.0.0.5")
        assert row.role == "支部书记/联络员"

    def test_changes_trash_restore_and_deletes_are_recorded(self):
        need = make_need(self.w.pairing_a)
        need.status = Need.Status.DONE
        need.save()
        need.trash(by=self.w.staff)
        need.restore(by=self.w.staff)
        pk = need.pk
        need.delete()
        kinds = list(
            AuditEvent.objects.filter(object_type="activities.need", object_id=str(pk))
            .order_by("pk")
            .values_list("event", flat=True)
        )
        assert kinds == [Kind.CREATE, Kind.CHANGE, Kind.TRASH, Kind.RESTORE, Kind.DELETE]

    def test_a_period_unlock_is_recorded_as_such(self):
        self.client.force_login(self.w.staff)
        until = timezone.localdate() + datetime.timedelta(days=7)
        self.client.post(
            reverse("activities:unlock"),
            {
                "branch": self.w.village_a.pk,
                "period": "2025-03",
                "reason": "补录",
                "until": until.isoformat(),
            },
        )
        unlock = PeriodUnlock.objects.get()
        row = events(Kind.PERIOD_UNLOCK).get()
        assert (row.object_id, row.username) == (str(unlock.pk), self.w.staff.username)
        assert row.detail["branch_id"] == self.w.village_a.pk

    def test_an_evidence_download_is_recorded(self):
        evidence = make_evidence(activity=self.activity)
        self.client.force_login(self.w.village_a_secretary)
        response = self.client.get(reverse("activities:evidence_file", args=[evidence.pk]))
        assert response.status_code == 200
        row = events(Kind.EVIDENCE_DOWNLOAD).get()
        assert (row.object_type, row.object_id) == ("activities.evidence", str(evidence.pk))
        assert row.user_id == self.w.village_a_secretary.pk

    def test_out_of_scope_access_is_recorded_as_a_refusal(self):
        self.client.force_login(self.w.organ_b_secretary)
        response = self.client.get(reverse("activities:detail", args=[self.activity.pk]))
        assert response.status_code == 404
        row = events(Kind.REFUSED).get()
        assert row.outcome == AuditEvent.Outcome.REFUSED
        assert (row.object_type, row.object_id) == ("activities.activity", str(self.activity.pk))
        assert row.detail["status"] == 404
        assert row.detail["path"] == reverse("activities:detail", args=[self.activity.pk])

    def test_a_refused_write_is_recorded_though_the_write_is_rolled_back(self):
        self.client.force_login(self.w.viewer)
        response = self.client.post(
            reverse("activities:need_new", args=[self.w.pairing_a.pk]),
            {"title": "不应保存", "raised_on": timezone.localdate().isoformat()},
        )
        assert response.status_code == 403
        assert not Need.objects.filter(title="不应保存").exists()
        row = events(Kind.REFUSED).get()
        assert (row.detail["status"], row.detail["method"]) == (403, "POST")
        assert row.object_type == "pairings.pairing"

    def test_a_403_outside_access_py_is_recorded_once(self):
        self.client.force_login(self.w.viewer)
        assert self.client.get(reverse("activities:trash")).status_code == 403
        row = events(Kind.REFUSED).get()
        assert row.detail["status"] == 403
        assert "回收站" in row.detail["message"]

    def test_reading_pages_writes_nothing(self):
        self.client.force_login(self.w.staff)
        before = AuditEvent.objects.count()
        for name in ("activities:list", "activities:pairings", "compliance"):
            assert self.client.get(reverse(name)).status_code == 200
        assert AuditEvent.objects.count() == before


class FailedAuditWriteTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()

    def test_a_write_fails_when_its_audit_row_cannot_be_written(self):
        self.client.force_login(self.w.village_a_secretary)
        with (
            mock.patch.object(AuditEvent, "save", side_effect=DatabaseError("disk full")),
            pytest.raises(DatabaseError),
        ):
            self.client.post(
                reverse("activities:need_new", args=[self.w.pairing_a.pk]),
                {"title": "审计失败", "raised_on": timezone.localdate().isoformat()},
            )
        assert not Need.objects.filter(title="审计失败").exists()
        assert not Need.history.filter(title="审计失败").exists()

    def test_a_download_fails_when_its_audit_row_cannot_be_written(self):
        evidence = make_evidence(activity=make_activity(self.w.pairing_a))
        self.client.force_login(self.w.village_a_secretary)
        with (
            mock.patch.object(AuditEvent, "save", side_effect=DatabaseError("disk full")),
            pytest.raises(DatabaseError),
        ):
            self.client.get(reverse("activities:evidence_file", args=[evidence.pk]))

    def test_a_login_fails_when_its_audit_row_cannot_be_written(self):
        with (
            mock.patch.object(AuditEvent, "save", side_effect=DatabaseError("disk full")),
            pytest.raises(DatabaseError),
        ):
            self.client.post(
                reverse("login"), {"username": self.w.staff.username, "password": PASSWORD}
            )
        assert "_auth_user_id" not in self.client.session


class AuditPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()
        cls.auditor = make_user(username="auditor", role=Assignment.Role.AUDITOR, org=cls.w.county)
        now = timezone.now()
        cls.old = AuditEvent.objects.create(
            event=Kind.LOGIN, username="alice", time=now - datetime.timedelta(days=30)
        )
        cls.failed = AuditEvent.objects.create(
            event=Kind.LOGIN_FAILED, username="bob", outcome="failure", time=now
        )
        cls.export = AuditEvent.objects.create(
            event=Kind.EXPORT,
            username="alice",
            object_type="list",
            object_id="members",
            object_repr="党员",
            time=now,
        )

    def search(self, **params):
        self.client.force_login(self.auditor)
        response = self.client.get(reverse("audit:search"), params)
        assert response.status_code == 200
        return [event for event, _ in response.context["rows"]]

    def test_only_the_audit_admin_reaches_the_audit_log(self):
        for user in (self.w.staff, self.w.viewer, self.w.village_a_secretary):
            self.client.force_login(user)
            assert self.client.get(reverse("audit:search")).status_code == 404
            assert self.client.get(reverse("audit:search"), {"export": "xlsx"}).status_code == 404
        admin = User.objects.create_superuser("root", password=PASSWORD)
        self.client.force_login(admin)
        assert self.client.get(reverse("audit:search")).status_code == 404
        assert events(Kind.REFUSED, object_type="audit").count() == 7

    def test_anonymous_users_are_sent_to_log_in(self):
        response = self.client.get(reverse("audit:search"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    def test_search_by_user_event_object_outcome_and_dates(self):
        assert self.search(user="bob") == [self.failed]
        assert self.search(event="export") == [self.export]
        assert self.search(object="members") == [self.export]
        assert self.search(outcome="failure") == [self.failed]
        day = timezone.localdate(self.old.time)
        assert self.search(date_from=day.isoformat(), date_to=day.isoformat()) == [self.old]

    def test_a_bad_date_range_shows_an_error_and_nothing(self):
        self.client.force_login(self.auditor)
        response = self.client.get(
            reverse("audit:search"), {"date_from": "2026-05-01", "date_to": "2026-04-01"}
        )
        assert "截止日期不能早于起始日期。" in response.content.decode()
        assert response.context["rows"] == []

    def test_the_page_takes_a_fixed_number_of_queries(self):
        self.client.force_login(self.auditor)
        self.client.get(reverse("audit:search"))
        for n in range(30):
            AuditEvent.objects.create(event=Kind.LOGIN, username=f"u{n}")
        # session, user, assignments, count, page; the notification bell
        with self.assertNumQueries(6):
            self.client.get(reverse("audit:search"))

    def test_the_audit_admin_exports_what_they_searched_and_the_export_is_recorded(self):
        self.client.force_login(self.auditor)
        response = self.client.get(reverse("audit:search"), {"user": "alice", "export": "xlsx"})
        assert response.status_code == 200
        sheet = load_workbook(io.BytesIO(response.content)).active
        assert sheet["B1"].value == "用户"
        assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["alice"] * 2
        row = events(Kind.EXPORT, object_id="audit").get()
        assert row.username == "auditor"
        assert row.detail == {"filters": {"user": ["alice"]}, "rows": 2}


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_database_is_still_flushed_after_audit_rows_are_written():
    """Live-server tests flush every table afterwards; tests/conftest.py lets the flush through
    the SQLite triggers (and puts them back, as the next test shows)."""
    make_event()
    # The browser tests put the data migration's defaults back after each flush: those creates
    # (by nobody) are the only rows an earlier transactional test leaves.
    leftover = AuditEvent.objects.exclude(event=Kind.CREATE, user_id__isnull=True)
    assert leftover.count() == 1


@pytest.mark.django_db
def test_the_triggers_are_back_after_a_transactional_test():
    event = make_event()
    assert refused("DELETE FROM cobuild_auditevent WHERE id = %s", [event.pk])
