"""Reminders: what each user should be reminded of on a day, and sending each reminder once.

`due_reminders(today)` reads everything in a fixed number of queries, whatever the data;
`send(reminders, dry_run=...)` records the new ones as notifications (the bell) and emails each
user at most once per run. A reminder names its thing with a stable key, and the database holds
each (user, key) once, so a reminder is never sent twice however often cron runs.

Restraint (DOMAIN.md): reminders are nudges about work still open, worded as such; nothing is
asked twice; nothing is sent about what is already done; only running pairings remind.
Compliance comes from activities.compliance; nobody computes it here.
"""

import datetime
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from activities import compliance, workflow
from activities.models import Activity, Commitment, Rectification
from pairings.models import Assignment, Organization, Pairing
from pairings.templatetags.people import person
from reports.models import Notification, NotificationKind, NotificationPreference

logger = logging.getLogger(__name__)

Kind = NotificationKind
Role = Assignment.Role
KIND_ORDER = {kind: n for n, kind in enumerate(Kind.values)}


class Reminder(NamedTuple):
    user: object
    kind: str
    key: str
    title: str
    body: str
    url: str


def _day(date):
    return f"{date.year}年{date.month}月{date.day}日"


def _start_of(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class Recipients:
    """Who hears about a pairing: the secretaries of its branches, the supervisors over it.

    Secretaries are the users with a secretary assignment at the branch; supervisors hold a
    supervisor assignment at an organization whose subtree holds one of the pairing's branches
    (as in pairings.access). Two queries, however many pairings.
    """

    def __init__(self, pairings):
        self.by_branch = defaultdict(list)
        secretaries = Assignment.objects.filter(
            Q(organization__in=pairings.values("helper_id"))
            | Q(organization__in=pairings.values("helped_id")),
            role=Role.SECRETARY,
            organization__deleted_at__isnull=True,
            user__is_active=True,
        )
        for assignment in secretaries.select_related("user").order_by("user_id"):
            self.by_branch[assignment.organization_id].append(assignment.user)
        self.by_path = defaultdict(list)
        supervisors = Assignment.objects.filter(
            role=Role.SUPERVISOR, organization__deleted_at__isnull=True, user__is_active=True
        ).annotate(path=F("organization__path"))
        for assignment in supervisors.select_related("user").order_by("user_id"):
            self.by_path[assignment.path].append(assignment.user)

    def secretaries(self, *branch_ids):
        return [user for pk in branch_ids for user in self.by_branch.get(pk, [])]

    def supervisors(self, pairing):
        step = Organization.steplen
        return [
            user
            for branch in (pairing.helper, pairing.helped)
            for end in range(step, len(branch.path) + 1, step)
            for user in self.by_path.get(branch.path[:end], [])
        ]


def due_reminders(today):
    """Every reminder due on `today`, for every user, in a fixed number of queries.

    Returns [Reminder(user, kind, key, title, body, url)], one per user and thing, in a stable
    order. Whether each was sent before is `send`'s business, not this function's.
    """
    running = Pairing.objects.alive().active_on(today)
    pairings = {p.pk: p for p in running.select_related("helper", "helped")}
    who = Recipients(running)
    reminders = [
        *_period_ending(running, pairings, who, today),
        *_awaiting_confirmation(running, pairings, who, today),
        *_returned(running, pairings, who, today),
        *_rectifications_overdue(running, pairings, who, today),
        *_commitments_overdue(running, pairings, who, today),
    ]
    unique = {(r.user.pk, r.key): r for r in reminders}
    return sorted(unique.values(), key=lambda r: (r.user.pk, KIND_ORDER[r.kind], r.key))


TITLE_LENGTH = Notification._meta.get_field("title").max_length


def _remind(users, kind, key, title, body, url):
    if len(title) > TITLE_LENGTH:
        title = f"{title[: TITLE_LENGTH - 1]}…"
    return [Reminder(user, kind, key, title, body, url) for user in users]


def _period_ending(running, pairings, who, today):
    """A required regime's current period ends within N days and nothing is submitted for it."""
    within = settings.COBUILD["REMINDER_DAYS_BEFORE_END"]
    for pk, statuses in compliance.current_status(running, today).items():
        pairing = pairings[pk]
        for status in statuses:
            cell = status.current
            if cell.state != compliance.State.CURRENT or cell.count or status.days_left > within:
                continue
            regime, period = status.regime, status.period
            yield from _remind(
                who.secretaries(pairing.helper_id, pairing.helped_id),
                Kind.PERIOD_ENDING,
                f"period_ending:{pk}:{regime.code}:{period.code}",
                f"{regime.short_name}：{period.label}还没有提交活动",
                f"{pairing.helper} ⇄ {pairing.helped}：{period.label}的{regime.name}活动还没有提交，"
                f"本期到{_day(period.end)}结束（提醒时还剩{status.days_left}天）。"
                "已经开展的，请及时登记；还没有开展的，可以和对方支部商量安排。",
                f"{reverse('activities:new')}?pairing={pk}",
            )


def _open_activities(running, today, status):
    """The activities of running pairings in `status` whose period is still open to secretaries.

    A reminder about an activity its secretaries can no longer change (its period is locked,
    workflow.lock_date) would only be noise; a staff unlock is not looked up: whoever asked for
    it knows already. The date filter only narrows the rows read; lock_date decides.
    """
    oldest_open = today - datetime.timedelta(days=settings.COBUILD["LOCK_DELAY_DAYS"] + 31)
    return Activity.objects.alive().filter(
        pairing__in=running.values("pk"), status=status, date__gte=oldest_open
    )


def _locked(activity, today):
    return today > workflow.lock_date(activity.date)


def _awaiting_confirmation(running, pairings, who, today):
    """An activity submitted more than N days ago, still waiting for the partner to confirm it.

    It waits since its last submission: the first submission's stamp (submitted_at is stamped
    once), or, after a return, the resubmission that the activity's history records.
    """
    after = settings.COBUILD["REMINDER_CONFIRM_AFTER_DAYS"]
    history = Activity.history.model.objects
    last_return = history.filter(id=OuterRef("id"), status=Activity.Status.RETURNED)
    resubmitted = history.filter(
        id=OuterRef("pk"),
        status=Activity.Status.SUBMITTED,
        history_date__gt=Subquery(last_return.order_by("-history_date").values("history_date")[:1]),
    )
    waiting = (
        _open_activities(running, today, Activity.Status.SUBMITTED)
        .annotate(
            waiting_since=Coalesce(
                Subquery(resubmitted.order_by("history_date").values("history_date")[:1]),
                "submitted_at",
            )
        )
        .filter(waiting_since__lt=_start_of(today - datetime.timedelta(days=after)))
        .select_related("logged_by_branch")
        .order_by("pk")
    )
    for activity in waiting:
        if _locked(activity, today):
            continue
        pairing = pairings[activity.pairing_id]
        since = timezone.localdate(activity.waiting_since)
        yield from _remind(
            who.secretaries(*(pairing.branch_ids - {activity.logged_by_branch_id})),
            Kind.AWAITING_CONFIRMATION,
            f"awaiting_confirmation:{activity.pk}:{activity.version}",
            f"待您确认：{activity.title}",
            f"{activity.logged_by_branch}登记的活动“{activity.title}”（活动日期{_day(activity.date)}）"
            f"于{_day(since)}提交，已等待{(today - since).days}天。"
            "请核对后确认；如有出入，写明原因退回即可。",
            activity.get_absolute_url(),
        )


def _returned(running, pairings, who, today):
    """An activity the partner returned, not yet resubmitted; each return reminds once."""
    returned = _open_activities(running, today, Activity.Status.RETURNED).order_by("pk")
    for activity in returned:
        if _locked(activity, today):
            continue
        yield from _remind(
            who.secretaries(activity.logged_by_branch_id),
            Kind.RETURNED,
            f"returned:{activity.pk}:{activity.version}",
            f"活动被退回：{activity.title}",
            f"活动“{activity.title}”（活动日期{_day(activity.date)}）被退回，"
            f"退回原因：{activity.return_reason.strip().rstrip('。.')}。修改后重新提交即可。",
            activity.get_absolute_url(),
        )


def _rectifications_overdue(running, pairings, who, today):
    """A rectification item past its due date and not done: the inspected side and supervisors.

    The key holds the due date: if the date is moved and passes again, that reminds again.
    """
    overdue = (
        Rectification.objects.alive()
        .filter(
            inspection__deleted_at__isnull=True,
            inspection__pairing__in=running.values("pk"),
            status__in=[Rectification.Status.OPEN, Rectification.Status.IN_PROGRESS],
            due_date__lt=today,
        )
        .select_related("inspection__inspector", "inspection__inspected")
        .order_by("pk")
    )
    for item in overdue:
        inspection = item.inspection
        pairing = pairings[inspection.pairing_id]
        short = item.description if len(item.description) <= 30 else f"{item.description[:30]}…"
        yield from _remind(
            [*who.secretaries(inspection.inspected_id), *who.supervisors(pairing)],
            Kind.RECTIFICATION_OVERDUE,
            f"rectification_overdue:{item.pk}:{item.due_date.isoformat()}",
            f"整改事项已过期限：{short}",
            f"{inspection.year}年党建互检中{inspection.inspector}对{inspection.inspected}提出的"
            f"整改事项“{item.description}”，整改期限为{_day(item.due_date)}，"
            f"目前状态为“{item.get_status_display()}”。整改完成后，请及时更新状态。",
            reverse("activities:rectification_update", args=[item.pk]),
        )


def _commitments_overdue(running, pairings, who, today):
    """A practical deed past its due date and not done: the helping side and supervisors."""
    overdue = (
        Commitment.objects.alive()
        .filter(
            pairing__in=running.values("pk"),
            status__in=[Commitment.Status.PLANNED, Commitment.Status.IN_PROGRESS],
            due_date__lt=today,
        )
        .order_by("pk")
    )
    for commitment in overdue:
        pairing = pairings[commitment.pairing_id]
        yield from _remind(
            [*who.secretaries(pairing.helper_id), *who.supervisors(pairing)],
            Kind.COMMITMENT_OVERDUE,
            f"commitment_overdue:{commitment.pk}:{commitment.due_date.isoformat()}",
            f"实事承诺已过期限：{commitment.title}",
            f"{pairing.helper}承诺为{pairing.helped}在{_day(commitment.due_date)}前办好的实事"
            f"“{commitment.title}”，目前状态为“{commitment.get_status_display()}”。"
            "办结后请记录进展；需要调整期限的，请与对方支部商定后更新。",
            reverse("activities:pairing", args=[pairing.pk]),
        )


# ---------------------------------------------------------------------------------------------
# Sending: notifications for the bell, and one email per user per run.


@dataclass
class Summary:
    """What a run sent (or, in a dry run, would send)."""

    dry_run: bool
    new: list = field(default_factory=list)  # Reminders recorded now (or that would be)
    already_sent: int = 0  # due reminders skipped because they were sent before
    emailed: dict = field(default_factory=dict)  # user → [Reminder] in their email
    failed: list = field(default_factory=list)  # users whose email could not be sent

    @property
    def email_count(self):
        return len(self.emailed)

    def by_kind(self):
        counts = Counter(r.kind for r in self.new)
        return {Kind(kind).label: counts[kind] for kind in Kind.values if counts[kind]}

    def by_user(self):
        counts = Counter(r.user for r in self.new)
        return sorted(counts.items(), key=lambda item: item[0].pk)


def send(reminders, *, dry_run=False):
    """Record the reminders not sent before and email each user who wants email, once per run.

    The notifications are written in one short transaction (the database refuses a (user, key)
    twice, so concurrent runs cannot both record one); the emails go out after it commits, so a
    slow mail server never holds the database, and `emailed_at` marks those that went.
    A dry run reads the same rows and returns the same summary, and writes and sends nothing.
    """
    reminders = list({(r.user.pk, r.key): r for r in reminders}.values())
    summary = Summary(dry_run=dry_run)
    if not reminders:
        return summary
    if dry_run:
        _plan(reminders, summary)
        return summary
    with transaction.atomic():
        _plan(reminders, summary)
        now = timezone.now()
        rows = Notification.objects.bulk_create(
            Notification(
                user=r.user,
                kind=r.kind,
                key=r.key,
                title=r.title,
                body=r.body,
                url=r.url,
                created_at=now,
            )
            for r in summary.new
        )
    summary.failed = _deliver(
        [(user, _email(user, items)) for user, items in summary.emailed.items()]
    )
    for user in summary.failed:
        del summary.emailed[user]
    row_ids = {(row.user_id, row.key): row.pk for row in rows}
    emailed_ids = [row_ids[(u.pk, r.key)] for u, items in summary.emailed.items() for r in items]
    if emailed_ids:
        Notification.objects.filter(pk__in=emailed_ids).update(emailed_at=timezone.now())
    return summary


def _plan(reminders, summary):
    """Which reminders are new (two queries), and who gets them by email."""
    sent_before = set(
        Notification.objects.filter(key__in={r.key for r in reminders}).values_list(
            "user_id", "key"
        )
    )
    summary.new = [r for r in reminders if (r.user.pk, r.key) not in sent_before]
    summary.already_sent = len(reminders) - len(summary.new)
    email_off = set(
        NotificationPreference.objects.filter(
            user__in={r.user.pk for r in summary.new}, email=False
        ).values_list("user_id", flat=True)
    )
    for reminder in summary.new:
        user = reminder.user
        if user.email and user.pk not in email_off:
            summary.emailed.setdefault(user, []).append(reminder)


def _deliver(messages):
    """Send [(user, message)] over one connection; returns the users whose email failed.

    A failure (SMTP errors are OSErrors too) is logged and reported; the reminder stays in the
    user's list in the platform, and is not emailed again.
    """
    if not messages:
        return []
    connection = mailers.default
    try:
        connection.open()
    except OSError:
        logger.exception("the mail server cannot be reached: no reminder email sent")
        return [user for user, _ in messages]
    failed = []
    try:
        for user, message in messages:
            try:
                connection.send_messages([message])
            except OSError:
                logger.exception("reminder email to user %s failed", user.pk)
                failed.append(user)
    finally:
        connection.close()
    return failed


def _absolute(url):
    return settings.COBUILD["SITE_URL"].rstrip("/") + url


def _email(user, reminders):
    """One plain-text email listing a user's new reminders, with absolute links."""
    lines = [f"{person(user)}，您好：", "", "互助共建管理平台有以下新的提醒：", ""]
    for n, reminder in enumerate(reminders, start=1):
        lines += [
            f"{n}. 【{Kind(reminder.kind).label}】{reminder.title}",
            f"   {reminder.body}",
            f"   {_absolute(reminder.url)}",
            "",
        ]
    lines += [
        "以上提醒在平台右上角的“提醒”中都能看到，不用回复本邮件。",
        f"不想收到提醒邮件，可以在这里关闭：{_absolute(reverse('notifications'))}",
    ]
    return EmailMessage(
        subject=f"互助共建平台提醒（{len(reminders)}条）", body="\n".join(lines), to=[user.email]
    )
