"""Reminders kept for each user (the bell) and how each user wants them (email on or off).

Notifications are messages about domain records, not domain records themselves, so they keep no
change history (no HistoricalRecords): the records they point to keep theirs.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class NotificationKind(models.TextChoices):
    PERIOD_ENDING = "period_ending", "制度期限临近"
    AWAITING_CONFIRMATION = "awaiting_confirmation", "待确认"
    RETURNED = "returned", "被退回待修改"
    RECTIFICATION_OVERDUE = "rectification_overdue", "整改逾期"
    COMMITMENT_OVERDUE = "commitment_overdue", "实事逾期"


class NotificationQuerySet(models.QuerySet):
    def unread(self):
        return self.filter(read_at__isnull=True)

    def mark_read(self):
        """Mark the unread ones read now; returns how many changed."""
        return self.unread().update(read_at=timezone.now())


class Notification(models.Model):
    """One reminder to one user about one thing; `key` names the thing, so it is never sent twice."""

    Kind = NotificationKind

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="接收人",
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField("提醒类型", max_length=30, choices=Kind.choices)
    key = models.CharField(
        "提醒对象",
        max_length=200,
        help_text="所提醒事项的固定标识（如 returned:活动编号:版本），同一事项只提醒一次。",
    )
    title = models.CharField("标题", max_length=200)
    body = models.TextField("内容", blank=True)
    url = models.CharField("链接", max_length=300, help_text="站内路径，如 /activities/12/。")
    created_at = models.DateTimeField("提醒时间", default=timezone.now)
    read_at = models.DateTimeField("已读时间", null=True, blank=True)
    emailed_at = models.DateTimeField("邮件发送时间", null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = "提醒"
        verbose_name_plural = "提醒"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"],
                name="notification_once_per_user_and_thing",
                violation_error_message="该用户已收到过关于这一事项的提醒。",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in NotificationKind]),
                name="notification_kind_valid",
                violation_error_message="提醒类型无效。",
            ),
            models.CheckConstraint(
                condition=Q(url__startswith="/"),
                name="notification_url_is_a_path",
                violation_error_message="链接必须是站内路径（以 / 开头）。",
            ),
        ]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_read")]

    def __str__(self):
        return self.title

    @property
    def is_read(self):
        return self.read_at is not None


class NotificationPreference(models.Model):
    """Whether a user also gets reminders by email; in-app reminders are always on."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name="用户",
        on_delete=models.CASCADE,
        related_name="notification_preference",
    )
    email = models.BooleanField(
        "邮件提醒",
        default=True,
        help_text="开启后，每次的新提醒合并成一封邮件，发到您账号登记的邮箱；站内提醒始终保留。",
    )

    class Meta:
        verbose_name = "提醒设置"
        verbose_name_plural = "提醒设置"

    def __str__(self):
        return f"{self.user}：邮件提醒{'开' if self.email else '关'}"
