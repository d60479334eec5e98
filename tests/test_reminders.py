"""Reminders: who is reminded of what, sending each reminder once, the bell and the list.

Every test computes reminders for a fixed day, TODAY (Thursday 27 March 2025): March and the
first quarter end in five days, so the monthly and quarterly regimes are "ending soon".
"""

import datetime
import io
import smtplib

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django.test import RequestFactory, TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from activities.models import Activity, Regime
from pairings.models import Assignment, Organization
from reports import reminders
from reports.context_processors import notifications
from reports.models import Notification, NotificationPreference
from tests.factories import (
    make_activity,
    make_branch,
    make_commitment,
    make_inspection,
    make_member,
    make_notification,
    make_pairing,
    make_rectification,
    make_two_pairing_county,
    make_user,
)

Kind = Notification.Kind
Role = Assignment.Role
TODAY = datetime.date(2025, 3, 27)


def at(day, hour=18):
    """An aware datetime on `day` (Asia/Shanghai)."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def submitted(pairing, day, submitted_on=None, **kwargs):
    """An activity of the activity-day regime, submitted (on `submitted_on`, default `day`)."""
    fields = {
        "date": day,
        "status": Activity.Status.SUBMITTED,
        "submitted_at": at(submitted_on or day),
        "on_time": True,
    }
    return make_activity(pairing, **fields | kwargs)


def returned(pairing, day, **kwargs):
    fields = {"return_reason": "照片与活动内容不符，请补充后再提交。"}
    return submitted(pairing, day, status=Activity.Status.RETURNED, **fields | kwargs)


def keys_of(user, due, kind=None):
    return {r.key for r in due if r.user == user and kind in (None, r.kind)}


def kinds_of(user, due):
    return {r.kind for r in due if r.user == user}


def cobuild(**overrides):
    return override_settings(COBUILD={**settings.COBUILD, **overrides})


class World(TestCase):
    """Two pairings in two townships, a secretary on each side, a supervisor over each."""

    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()
        cls.organs = Organization.objects.get_parent(cls.w.organ_a)
        cls.organs_supervisor = make_user(role=Role.SUPERVISOR, org=cls.organs)

    def everyone(self):
        w = self.w
        return [
            w.staff,
            w.viewer,
            w.supervisor_a,
            w.supervisor_b,
            self.organs_supervisor,
            w.organ_a_secretary,
            w.village_a_secretary,
            w.organ_b_secretary,
            w.village_b_secretary,
        ]

    def who_gets(self, due, key):
        return {r.user for r in due if r.key == key}


class PeriodEndingTests(World):
    def test_both_secretaries_hear_of_each_regime_ending_with_nothing_submitted(self):
        w = self.w
        submitted(w.pairing_a, datetime.date(2025, 3, 5))  # activity day done in March
        make_activity(  # a draft counts for nothing
            w.pairing_a,
            regime=Regime.objects.get(code="cross_learning"),
            date=datetime.date(2025, 3, 6),
        )
        due = reminders.due_reminders(TODAY)
        pk = w.pairing_a.pk
        expected = {
            f"period_ending:{pk}:cross_learning:2025-03",
            f"period_ending:{pk}:joint_meeting:2025-Q1",
        }
        assert keys_of(w.organ_a_secretary, due, Kind.PERIOD_ENDING) == expected
        assert keys_of(w.village_a_secretary, due, Kind.PERIOD_ENDING) == expected
        for key in expected:
            assert self.who_gets(due, key) == {w.organ_a_secretary, w.village_a_secretary}
        # Pairing B has done nothing: its own secretaries hear of all three, nobody else.
        b = w.pairing_b.pk
        assert keys_of(w.village_b_secretary, due) == {
            f"period_ending:{b}:activity_day:2025-03",
            f"period_ending:{b}:cross_learning:2025-03",
            f"period_ending:{b}:joint_meeting:2025-Q1",
        }
        for user in (w.staff, w.viewer, w.supervisor_a, w.supervisor_b, self.organs_supervisor):
            assert kinds_of(user, due) == set()

    def test_the_reminder_names_the_period_its_end_and_links_to_logging_an_activity(self):
        w = self.w
        due = reminders.due_reminders(TODAY)
        reminder = next(
            r
            for r in due
            if r.user == w.organ_a_secretary and r.key.endswith(":joint_meeting:2025-Q1")
        )
        assert reminder.kind == Kind.PERIOD_ENDING
        assert reminder.title == "季度联席会：2025年第一季度还没有提交活动"
        assert "2025年3月31日结束" in reminder.body and "还剩5天" in reminder.body
        assert reminder.url == f"{reverse('activities:new')}?pairing={w.pairing_a.pk}"

    def test_nothing_is_said_more_than_n_days_before_the_end(self):
        early = datetime.date(2025, 3, 20)  # twelve days left
        assert not any(r.kind == Kind.PERIOD_ENDING for r in reminders.due_reminders(early))
        with cobuild(REMINDER_DAYS_BEFORE_END=12):
            assert any(r.kind == Kind.PERIOD_ENDING for r in reminders.due_reminders(early))

    def test_a_period_that_is_not_due_for_the_pairing_reminds_nobody(self):
        w = self.w
        village = make_branch(w.township_a, sector="rural")
        secretary = make_user(role=Role.SECRETARY, org=village)
        late_starter = make_pairing(w.organ_b, village, start_date=datetime.date(2025, 3, 10))
        due = reminders.due_reminders(TODAY)
        assert kinds_of(secretary, due) == set()
        assert not any(f":{late_starter.pk}:" in key for key in keys_of(w.organ_b_secretary, due))

    def test_ended_or_trashed_pairings_remind_nobody(self):
        w = self.w
        w.pairing_b.status = "ended"
        w.pairing_b.end_date = datetime.date(2025, 3, 1)
        w.pairing_b.save()
        w.pairing_a.trash(by=w.staff)
        commitment = make_commitment(w.pairing_b, due_date=datetime.date(2025, 2, 1))
        due = reminders.due_reminders(TODAY)
        assert due == []
        assert commitment.is_overdue


class ActivityReminderTests(World):
    def test_an_activity_waiting_more_than_n_days_reminds_the_partner_side_only(self):
        w = self.w
        waiting = submitted(w.pairing_a, datetime.date(2025, 3, 10), datetime.date(2025, 3, 23))
        due = reminders.due_reminders(TODAY)
        key = f"awaiting_confirmation:{waiting.pk}:{waiting.version}"
        assert self.who_gets(due, key) == {w.village_a_secretary}
        reminder = next(r for r in due if r.key == key)
        assert reminder.title == f"待您确认：{waiting.title}"
        assert "于2025年3月23日提交，已等待4天" in reminder.body
        assert reminder.url == waiting.get_absolute_url()

    def test_an_activity_waiting_n_days_or_less_is_not_reminded(self):
        w = self.w
        submitted(w.pairing_a, datetime.date(2025, 3, 10), datetime.date(2025, 3, 24))
        submitted(w.pairing_b, datetime.date(2025, 3, 26), logged_by_branch=w.village_b)
        due = reminders.due_reminders(TODAY)
        assert not any(r.kind == Kind.AWAITING_CONFIRMATION for r in due)
        with cobuild(REMINDER_CONFIRM_AFTER_DAYS=2):
            due = reminders.due_reminders(TODAY)
            assert {r.user for r in due if r.kind == Kind.AWAITING_CONFIRMATION} == {
                w.village_a_secretary
            }

    def test_a_resubmitted_activity_waits_from_its_resubmission(self):
        w = self.w
        activity = submitted(w.pairing_a, datetime.date(2025, 3, 3))
        history = Activity.history.filter(id=activity.pk)
        activity.status, activity.return_reason = Activity.Status.RETURNED, "请补充会议记录。"
        activity.save()
        history.filter(status="returned").update(history_date=at(datetime.date(2025, 3, 10)))
        activity.status, activity.version = Activity.Status.SUBMITTED, 3
        activity.save()
        history.filter(status="submitted", history_date__gt=at(datetime.date(2025, 3, 10))).update(
            history_date=at(datetime.date(2025, 3, 25))
        )
        assert not any(r.kind == Kind.AWAITING_CONFIRMATION for r in reminders.due_reminders(TODAY))
        later = reminders.due_reminders(datetime.date(2025, 3, 29))
        assert {r.key for r in later if r.kind == Kind.AWAITING_CONFIRMATION} == {
            f"awaiting_confirmation:{activity.pk}:3"
        }

    def test_a_returned_activity_reminds_the_logging_side(self):
        w = self.w
        activity = returned(w.pairing_a, datetime.date(2025, 3, 20), logged_by_branch=w.village_a)
        due = reminders.due_reminders(TODAY)
        key = f"returned:{activity.pk}:{activity.version}"
        assert self.who_gets(due, key) == {w.village_a_secretary}
        reminder = next(r for r in due if r.key == key)
        assert reminder.body.endswith(
            "退回原因：照片与活动内容不符，请补充后再提交。修改后重新提交即可。"
        )

    def test_a_long_title_is_shortened_to_fit(self):
        w = self.w
        activity = returned(w.pairing_a, datetime.date(2025, 3, 20), title="学" * 200)
        summary = reminders.send(reminders.due_reminders(TODAY))
        title = next(r.title for r in summary.new if r.key.startswith(f"returned:{activity.pk}:"))
        assert len(title) == 200 and title.endswith("学…")

    def test_confirmed_draft_and_trashed_activities_remind_nobody(self):
        w = self.w
        submitted(
            w.pairing_a,
            datetime.date(2025, 3, 2),
            status=Activity.Status.CONFIRMED,
            confirmed_at=at(datetime.date(2025, 3, 4)),
        )
        make_activity(w.pairing_a, date=datetime.date(2025, 3, 2))
        returned(w.pairing_a, datetime.date(2025, 3, 2)).trash(by=w.staff)
        kinds = {r.kind for r in reminders.due_reminders(TODAY)}
        assert kinds == {Kind.PERIOD_ENDING}

    def test_activities_in_a_period_locked_to_secretaries_remind_nobody(self):
        w = self.w
        returned(w.pairing_a, datetime.date(2025, 1, 20))  # January locks on 2 March
        submitted(w.pairing_a, datetime.date(2025, 1, 21))
        returned(w.pairing_a, datetime.date(2025, 2, 20))  # February is open until 30 March
        kinds = [r.kind for r in reminders.due_reminders(TODAY) if r.kind != Kind.PERIOD_ENDING]
        assert kinds == [Kind.RETURNED]


class OverdueTests(World):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        inspection = make_inspection(
            w.pairing_a, inspector=w.organ_a, year=2025, date=datetime.date(2025, 2, 10)
        )
        cls.rectification = make_rectification(
            inspection, due_date=datetime.date(2025, 3, 20), status="in_progress"
        )
        make_rectification(inspection, due_date=TODAY)  # due today: not yet past due
        make_rectification(
            inspection,
            due_date=datetime.date(2025, 3, 1),
            status="done",
            done_at=datetime.date(2025, 3, 1),
        )
        cls.commitment = make_commitment(w.pairing_a, due_date=datetime.date(2025, 3, 1))
        make_commitment(w.pairing_a, due_date=datetime.date(2025, 4, 30))
        make_commitment(
            w.pairing_a,
            due_date=datetime.date(2025, 3, 1),
            status="done",
            done_on=datetime.date(2025, 3, 2),
        )
        make_commitment(w.pairing_a, due_date=datetime.date(2025, 3, 1), status="cancelled")

    def test_an_overdue_rectification_reminds_the_inspected_side_and_the_supervisors(self):
        w = self.w
        due = reminders.due_reminders(TODAY)
        overdue = [r for r in due if r.kind == Kind.RECTIFICATION_OVERDUE]
        key = f"rectification_overdue:{self.rectification.pk}:2025-03-20"
        assert {r.key for r in overdue} == {key}
        # The village was inspected; the township is over the village, the organs' working
        # committee over the organ branch: both supervise the pairing.
        assert {r.user for r in overdue} == {
            w.village_a_secretary,
            w.supervisor_a,
            self.organs_supervisor,
        }
        reminder = overdue[0]
        assert "整改期限为2025年3月20日" in reminder.body and "“整改中”" in reminder.body
        assert reminder.url == reverse(
            "activities:rectification_update", args=[self.rectification.pk]
        )

    def test_an_overdue_commitment_reminds_the_helping_side_and_the_supervisors(self):
        w = self.w
        due = reminders.due_reminders(TODAY)
        overdue = [r for r in due if r.kind == Kind.COMMITMENT_OVERDUE]
        assert {r.key for r in overdue} == {f"commitment_overdue:{self.commitment.pk}:2025-03-01"}
        assert {r.user for r in overdue} == {
            w.organ_a_secretary,
            w.supervisor_a,
            self.organs_supervisor,
        }
        assert overdue[0].url == reverse("activities:pairing", args=[w.pairing_a.pk])

    def test_out_of_scope_users_hear_nothing_of_pairing_a(self):
        w = self.w
        due = reminders.due_reminders(TODAY)
        for user in (w.staff, w.viewer, w.supervisor_b, w.organ_b_secretary, w.village_b_secretary):
            assert not any(f":{w.pairing_a.pk}:" in k for k in keys_of(user, due))
            assert kinds_of(user, due) <= {Kind.PERIOD_ENDING}

    def test_a_moved_due_date_that_passes_again_reminds_again(self):
        reminders.send(reminders.due_reminders(TODAY))
        self.rectification.due_date = datetime.date(2025, 3, 25)
        self.rectification.save()
        again = reminders.send(reminders.due_reminders(TODAY))
        assert {r.kind for r in again.new} == {Kind.RECTIFICATION_OVERDUE}

    def test_inactive_users_and_trashed_items_are_left_out(self):
        w = self.w
        w.supervisor_a.is_active = False
        w.supervisor_a.save()
        self.commitment.trash(by=w.staff)
        due = reminders.due_reminders(TODAY)
        assert kinds_of(w.supervisor_a, due) == set()
        assert not any(r.kind == Kind.COMMITMENT_OVERDUE for r in due)

    def test_due_reminders_run_a_fixed_number_of_queries_whatever_the_data(self):
        w = self.w
        with self.assertNumQueries(11) as small:
            first = reminders.due_reminders(TODAY)
        for _ in range(3):
            village = make_branch(w.township_a, sector="rural")
            make_user(role=Role.SECRETARY, org=village)
            pairing = make_pairing(w.organ_a, village)
            make_member(village)
            submitted(pairing, datetime.date(2025, 3, 2), datetime.date(2025, 3, 3))
            returned(pairing, datetime.date(2025, 3, 4))
            make_commitment(pairing, due_date=datetime.date(2025, 3, 1))
            inspection = make_inspection(pairing, year=2025, date=datetime.date(2025, 2, 10))
            make_rectification(inspection, due_date=datetime.date(2025, 3, 1))
        with self.assertNumQueries(len(small.captured_queries)):
            more = reminders.due_reminders(TODAY)
        assert len(more) > len(first)


class StubbornBackend(BaseEmailBackend):
    """A mail server that refuses everything."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused({})


class SendTests(World):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        w = cls.w
        for user, address in (
            (w.organ_a_secretary, "wangfang@example.org"),
            (w.village_a_secretary, "liqiang@example.org"),
            (w.supervisor_a, "yangfan@example.org"),
        ):
            user.email = address
            user.save()
        cls.returned = returned(w.pairing_a, datetime.date(2025, 3, 20))
        make_commitment(w.pairing_a, due_date=datetime.date(2025, 3, 1), title="硬化进村道路")

    def run_command(self, *args):
        out = io.StringIO()
        call_command("send_reminders", "--today", TODAY.isoformat(), *args, stdout=out)
        return out.getvalue()

    def test_run_twice_sends_each_reminder_once(self):
        output = self.run_command()
        count, emails = Notification.objects.count(), len(mail.outbox)
        assert count > 0 and emails == 3
        assert f"已发送：站内提醒 {count} 条，邮件 3 封" in output
        assert "实事逾期：3 条" in output  # the organ secretary and the two supervisors

        output = self.run_command()
        assert Notification.objects.count() == count
        assert len(mail.outbox) == emails
        assert "已发送：站内提醒 0 条，邮件 0 封" in output
        assert f"本次跳过 {count} 条" in output

    def test_dry_run_creates_nothing_and_sends_nothing(self):
        output = self.run_command("--dry-run")
        assert Notification.objects.count() == 0
        assert mail.outbox == []
        assert "不写入、不发送" in output
        assert f"【被退回待修改】活动被退回：{self.returned.title}（邮件）" in output
        assert "将发送：站内提醒" in output and "邮件 3 封" in output
        # …and a real run afterwards still sends everything.
        self.run_command()
        assert len(mail.outbox) == 3

    def test_each_user_gets_one_email_listing_their_new_reminders_with_full_links(self):
        self.run_command()
        email = next(m for m in mail.outbox if m.to == ["wangfang@example.org"])
        mine = Notification.objects.filter(user=self.w.organ_a_secretary)
        assert email.subject == f"互助共建平台提醒（{mine.count()}条）"
        assert email.body.startswith("王芳，您好：")
        assert "【实事逾期】实事承诺已过期限：硬化进村道路" in email.body
        assert f"http://127.0.0.1:8000/activities/pairings/{self.w.pairing_a.pk}/" in email.body
        assert "http://127.0.0.1:8000/notifications/" in email.body
        assert all(n.emailed_at is not None for n in mine)

    @cobuild(SITE_URL="https://cobuild.example.gov.cn/")
    def test_links_are_made_absolute_from_the_site_url(self):
        self.run_command()
        assert "https://cobuild.example.gov.cn/activities/" in mail.outbox[0].body

    def test_email_off_still_gets_the_notification_but_no_email(self):
        w = self.w
        NotificationPreference.objects.create(user=w.village_a_secretary, email=False)
        self.run_command()
        assert Notification.objects.filter(user=w.village_a_secretary, emailed_at=None).exists()
        assert not Notification.objects.filter(user=w.village_a_secretary).exclude(emailed_at=None)
        assert ["liqiang@example.org"] not in [m.to for m in mail.outbox]
        assert len(mail.outbox) == 2

    def test_a_user_without_email_gets_notifications_only(self):
        w = self.w
        self.run_command()
        assert Notification.objects.filter(user=w.village_b_secretary).exists()
        assert not Notification.objects.filter(user=w.village_b_secretary).exclude(emailed_at=None)
        assert {tuple(m.to) for m in mail.outbox} == {
            ("wangfang@example.org",),
            ("liqiang@example.org",),
            ("yangfan@example.org",),
        }

    def test_a_second_return_of_the_same_activity_reminds_again(self):
        self.run_command()
        activity = self.returned
        activity.version += 2  # resubmitted, then returned again
        activity.save()
        output = self.run_command()
        assert "被退回待修改：1 条" in output
        assert Notification.objects.filter(
            user=self.w.organ_a_secretary, key=f"returned:{activity.pk}:{activity.version}"
        ).exists()

    @override_settings(MAILERS={"default": {"BACKEND": "tests.test_reminders.StubbornBackend"}})
    def test_a_failed_email_is_reported_and_the_reminders_are_kept(self):
        out, err = io.StringIO(), io.StringIO()
        with self.assertLogs("reports.reminders", "ERROR"):
            call_command("send_reminders", "--today", TODAY.isoformat(), stdout=out, stderr=err)
        assert "邮件发送失败 3 封" in err.getvalue()
        assert "邮件 0 封" in out.getvalue()
        assert Notification.objects.exists()
        assert not Notification.objects.exclude(emailed_at=None).exists()

    def test_the_database_refuses_the_same_reminder_twice(self):
        notification = make_notification(self.w.organ_a_secretary, key="returned:1:1")
        with self.assertRaises(IntegrityError):
            make_notification(notification.user, key="returned:1:1")

    def test_a_bad_date_is_refused(self):
        with self.assertRaises(CommandError):
            call_command("send_reminders", "--today", "2025-13-01", stdout=io.StringIO())


class NotificationPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user(last_name="王", first_name="芳")
        cls.other = make_user()
        base = timezone.now()
        cls.old = make_notification(
            cls.user,
            title="活动被退回：三月集体学习",
            created_at=base - datetime.timedelta(days=2),
            read_at=base - datetime.timedelta(days=1),
        )
        cls.new = make_notification(
            cls.user, title="待您确认：春耕技术培训", kind=Kind.AWAITING_CONFIRMATION
        )
        cls.newer = make_notification(
            cls.user, title="实事承诺已过期限：修缮水渠", created_at=base + datetime.timedelta(1)
        )
        cls.theirs = make_notification(cls.other, title="别人的提醒")

    def setUp(self):
        self.client.force_login(self.user)

    def test_the_bell_shows_the_unread_count_with_an_accessible_label(self):
        html = self.client.get(reverse("home")).content.decode()
        assert 'aria-label="提醒（2条未读）"' in html
        assert '<span class="bell-count" aria-hidden="true">2</span>' in html
        assert f'href="{reverse("notifications")}"' in html

    def test_the_bell_has_no_badge_when_all_is_read(self):
        Notification.objects.filter(user=self.user).mark_read()
        html = self.client.get(reverse("home")).content.decode()
        assert 'aria-label="提醒（0条未读）"' in html
        assert "bell-count" not in html

    def test_the_list_shows_own_reminders_newest_first_unread_marked_in_words(self):
        response = self.client.get(reverse("notifications"))
        assert response.status_code == 200
        assert list(response.context["page"]) == [self.newer, self.new, self.old]
        html = response.content.decode()
        assert html.count('<span class="tag tag-unread">未读</span>') == 2
        assert f'href="{self.new.url}"' in html
        assert "别人的提醒" not in html
        assert "全部标为已读" in html

    def test_marking_one_read(self):
        response = self.client.post(reverse("notification_read", args=[self.new.pk]))
        assert response.status_code == 302
        assert response["Location"] == reverse("notifications")
        self.new.refresh_from_db()
        assert self.new.read_at is not None
        self.newer.refresh_from_db()
        assert self.newer.read_at is None

    def test_someone_elses_reminder_is_not_found(self):
        response = self.client.post(reverse("notification_read", args=[self.theirs.pk]))
        assert response.status_code == 404
        self.theirs.refresh_from_db()
        assert self.theirs.read_at is None

    def test_marking_all_read_touches_only_own_unread_reminders(self):
        read_before = self.old.read_at
        response = self.client.post(reverse("notifications_read_all"), follow=True)
        assert "已将 2 条提醒标为已读。" in response.content.decode()
        assert not Notification.objects.filter(user=self.user, read_at=None).exists()
        self.old.refresh_from_db()
        assert self.old.read_at == read_before
        self.theirs.refresh_from_db()
        assert self.theirs.read_at is None

    def test_marking_read_by_get_is_refused(self):
        assert self.client.get(reverse("notification_read", args=[self.new.pk])).status_code == 405
        assert self.client.get(reverse("notifications_read_all")).status_code == 405
        assert Notification.objects.filter(user=self.user, read_at=None).count() == 2

    def test_anonymous_visitors_are_sent_to_log_in(self):
        self.client.logout()
        for method, url in (
            ("get", reverse("notifications")),
            ("post", reverse("notification_read", args=[self.new.pk])),
            ("post", reverse("notifications_read_all")),
        ):
            response = getattr(self.client, method)(url)
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))
        assert Notification.objects.filter(user=self.user, read_at=None).count() == 2

    def test_email_can_be_turned_off_and_on_again(self):
        url = reverse("notifications")
        response = self.client.post(url, {}, follow=True)  # the box unticked
        assert "已关闭邮件提醒" in response.content.decode()
        assert NotificationPreference.objects.get(user=self.user).email is False
        self.client.post(url, {"email": "on"})
        assert NotificationPreference.objects.get(user=self.user).email is True
        assert NotificationPreference.objects.count() == 1

    def test_the_page_says_when_the_account_has_no_email_address(self):
        response = self.client.get(reverse("notifications"))
        assert "您的账号没有登记邮箱" in response.content.decode()
        assert "checked" in str(response.context["form"]["email"])  # email is on by default

    def test_an_empty_list_says_so(self):
        self.client.force_login(make_user())
        html = self.client.get(reverse("notifications")).content.decode()
        assert "暂时没有提醒。" in html and "全部标为已读" not in html

    def test_the_list_runs_a_fixed_number_of_queries_whatever_the_data(self):
        url = reverse("notifications")
        # session, user, scope (roles for the navigation), preference, page, bell (keyset pages:
        # no count)
        with self.assertNumQueries(6):
            self.client.get(url)
        for _ in range(40):
            make_notification(self.user)
        with self.assertNumQueries(6):
            page = self.client.get(url).context["page"]
        assert len(page) == 30 and page.has_next
        with self.assertNumQueries(6):
            self.client.get(f"{url}?{page.next_query}")


class BellContextProcessorTests(TestCase):
    def test_the_unread_count_takes_one_query_and_only_when_used(self):
        user = make_user()
        make_notification(user)
        make_notification(user, read_at=timezone.now())
        request = RequestFactory().get("/")
        request.user = user
        with self.assertNumQueries(0):
            context = notifications(request)
        with self.assertNumQueries(1):
            assert context["unread_notifications"]() == 1
            assert context["unread_notifications"]() == 1

    def test_anonymous_visitors_get_no_bell(self):
        request = RequestFactory().get("/")
        request.user = AnonymousUser()
        with self.assertNumQueries(0):
            assert notifications(request) == {}


class AdminTests(TestCase):
    def test_the_system_admin_can_look_up_reminders_and_preferences(self):
        admin = make_user(is_staff=True, is_superuser=True)
        notification = make_notification(make_user(last_name="李", first_name="强"))
        preference = NotificationPreference.objects.create(user=notification.user, email=False)
        self.client.force_login(admin)
        for model, obj in ((Notification, notification), (NotificationPreference, preference)):
            base = f"admin:reports_{model._meta.model_name}"
            for url in (
                reverse(f"{base}_changelist"),
                reverse(f"{base}_changelist") + "?q=李",
                reverse(f"{base}_add"),
                reverse(f"{base}_change", args=[obj.pk]),
                reverse(f"{base}_history", args=[obj.pk]),
            ):
                assert self.client.get(url).status_code == 200, url
        changelist = self.client.get(reverse("admin:reports_notification_changelist"))
        assert "提醒" in changelist.content.decode()
