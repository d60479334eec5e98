"""Reminders kept for each user (the bell) and how each user wants them (email on or off).

Notifications are messages about domain records, not domain records themselves, so they keep no
change history (no HistoricalRecords): the records they point to keep theirs.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Max, Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from pairings.models import Trashable, TrashQuerySet


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


# ---------------------------------------------------------------------------------------------
# Situation reports (情况汇报): a scope, a date range, and the staff's versions of the five sections.


class SituationReportQuerySet(TrashQuerySet):
    def for_list(self):
        return self.select_related("organization", "created_by").annotate(
            latest_number=Max("versions__number"), updated_at=Max("versions__created_at")
        )


class SituationReport(Trashable):
    """A situation report for a scope (the county, a township, the organs' working committee)."""

    organization = models.ForeignKey(
        "pairings.Organization",
        verbose_name="汇报范围",
        on_delete=models.PROTECT,
        related_name="situation_reports",
        help_text="县委、乡镇党委或机关工委：汇报其下所有共建对子的情况。",
    )
    start = models.DateField("起始日期")
    end = models.DateField("截止日期")
    title = models.CharField("标题", max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="起草人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField("起草时间", default=timezone.now, editable=False)
    history = HistoricalRecords()

    objects = SituationReportQuerySet.as_manager()

    class Meta:
        verbose_name = "情况汇报"
        verbose_name_plural = "情况汇报"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gte=F("start")),
                name="situation_report_end_after_start",
                violation_error_message="截止日期不能早于起始日期。",
            ),
            models.CheckConstraint(
                condition=~Q(title=""),
                name="situation_report_title_not_blank",
                violation_error_message="标题不能为空。",
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("report_detail", args=[self.pk])

    def latest_version(self):
        return self.versions.order_by("-number").first()


class ReportVersion(models.Model):
    """One saved state of a report's five sections. Versions are only ever added, never changed.

    `generated` keeps what Cobuild wrote from the data for sections 1, 2 and 4 when this version
    was made ({"1": text, "2": text, "4": text}): a section whose text differs from it was edited
    by staff, and "refresh figures" keeps it. The versions are the report's history (who, when,
    what), so they keep no separate change history.
    """

    class Kind(models.TextChoices):
        DRAFTED = "drafted", "根据数据起草"
        EDITED = "edited", "编辑保存"
        REFRESHED = "refreshed", "刷新数据"

    report = models.ForeignKey(
        SituationReport,
        verbose_name="情况汇报",
        on_delete=models.CASCADE,
        related_name="versions",
    )
    number = models.PositiveIntegerField("版本号")
    kind = models.CharField("产生方式", max_length=20, choices=Kind.choices)
    section1 = models.TextField("一、基本情况", blank=True)
    section2 = models.TextField("二、主要做法和成效", blank=True)
    section3 = models.TextField("三、几点体会", blank=True)
    section4 = models.TextField("四、存在问题", blank=True)
    section5 = models.TextField("五、下步打算", blank=True)
    generated = models.JSONField(
        "数据生成的文字",
        default=dict,
        blank=True,
        help_text="本版本形成时根据数据生成的第一、二、四部分文字，用于区分工作人员修改过的部分。",
    )
    note = models.CharField("修改说明", max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="保存人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField("保存时间", default=timezone.now, editable=False)

    SECTION_FIELDS = ("section1", "section2", "section3", "section4", "section5")
    DATA_SECTIONS = (1, 2, 4)  # written from data; 3 and 5 are the staff's own text

    class Meta:
        verbose_name = "汇报版本"
        verbose_name_plural = "汇报版本"
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "number"],
                name="report_version_unique_number",
                violation_error_message="该汇报已有这个版本号。",
            ),
            models.CheckConstraint(
                condition=Q(number__gte=1),
                name="report_version_number_positive",
                violation_error_message="版本号从1开始。",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["drafted", "edited", "refreshed"]),
                name="report_version_kind_valid",
                violation_error_message="产生方式无效。",
            ),
        ]

    def __str__(self):
        return f"{self.report} 第{self.number}版"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("汇报版本只能新增，不能修改。")
        super().save(*args, **kwargs)

    @property
    def sections(self):
        return [getattr(self, name) for name in self.SECTION_FIELDS]

    def generated_text(self, number):
        return self.generated.get(str(number), "")

    def is_edited(self, number):
        """Whether staff changed data section `number` from the text generated from data."""
        return getattr(self, f"section{number}") != self.generated_text(number)


class SetupStep(models.TextChoices):
    REGIMES = "regimes", "制度频次已确认"
    METRICS = "metrics", "统计指标已确认"
    COMPLETE = "complete", "设置清单已完成"


class SetupConfirmation(models.Model):
    """County staff's confirmation of a set-up step that the data alone cannot show."""

    Step = SetupStep

    organization = models.ForeignKey(
        "pairings.Organization", verbose_name="党组织", on_delete=models.PROTECT, related_name="+"
    )
    step = models.CharField("步骤", max_length=20, choices=SetupStep.choices)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="确认人", on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField("确认时间", default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "设置确认"
        verbose_name_plural = "设置确认"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "step"],
                name="setup_confirmation_unique",
                violation_error_message="这一步已经确认过。",
            ),
            models.CheckConstraint(
                condition=Q(step__in=[s.value for s in SetupStep]),
                name="setup_confirmation_step_valid",
                violation_error_message="设置步骤无效。",
            ),
        ]

    def __str__(self):
        return f"{self.organization} {self.get_step_display()}"


class ImportRun(models.Model):
    """One applied import of a ledger workbook: who brought what in, and what it changed.

    The rows an import writes carry their own change history; this is the import as a whole,
    kept even when it changed nothing (a second import of the same file).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="导入人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="从命令行导入时为空。",
    )
    created_at = models.DateTimeField("导入时间", default=timezone.now)
    filename = models.CharField("文件名", max_length=200)
    sha256 = models.CharField("文件SHA-256", max_length=64)
    size = models.PositiveIntegerField("文件大小（字节）")
    counts = models.JSONField("导入结果", default=dict, help_text="每张表新增、更新、未变的行数。")

    class Meta:
        verbose_name = "台账导入记录"
        verbose_name_plural = "台账导入记录"
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.filename}"

    @property
    def total_created(self):
        return sum(c.get("created", 0) for c in self.counts.values())

    @property
    def total_updated(self):
        return sum(c.get("updated", 0) for c in self.counts.values())


class Stamp(models.Model):
    """A county's stamp: a token replaced on every write that may change its figures (see
    reports.stamps); county 0 stands for the whole installation."""

    county = models.IntegerField("县（0为全部）", primary_key=True)
    token = models.CharField("标记", max_length=40)

    class Meta:
        verbose_name = "数据版本标记"
        verbose_name_plural = "数据版本标记"

    def __str__(self):
        return f"{self.county}: {self.token}"
