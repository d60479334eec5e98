"""Regimes, activities and their outcomes, inspections, rectifications, needs and commitments."""

import datetime
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from activities.periods import Period
from pairings.models import Member, Organization, Pairing, Trashable, TrashQuerySet


def choice_values(choices):
    return [c.value for c in choices]


class Cadence(models.TextChoices):
    MONTH = "month", "每月"
    QUARTER = "quarter", "每季度"
    HALF = "half", "每半年"
    YEAR = "year", "每年"
    NONE = "none", "不定期（只统计，不考核）"


class Regime(models.Model):
    """One of the five work regimes each pairing keeps (集体活动日制度 …)."""

    code = models.SlugField("制度编码", max_length=32, unique=True)
    name = models.CharField("制度名称", max_length=50, unique=True)
    short_name = models.CharField(
        "简称", max_length=20, help_text="台账和表格中使用的简称，如“集体活动日”。"
    )
    description = models.TextField("说明", blank=True)
    order = models.PositiveSmallIntegerField("排序", default=0)
    is_active = models.BooleanField("启用", default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "工作制度"
        verbose_name_plural = "工作制度"
        ordering = ["order", "pk"]

    def __str__(self):
        return self.name


class RegimeCadence(models.Model):
    """How often a regime is required, from a date on: past periods keep the cadence they had."""

    regime = models.ForeignKey(
        Regime, verbose_name="制度", on_delete=models.CASCADE, related_name="cadences"
    )
    valid_from = models.DateField(
        "生效日期", help_text="从此日期所在期间的下一个期间起生效；已过去的期间保持原频次。"
    )
    cadence = models.CharField("考核周期", max_length=10, choices=Cadence.choices)
    required = models.PositiveSmallIntegerField("每期至少次数", default=1)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "制度频次"
        verbose_name_plural = "制度频次"
        ordering = ["regime", "valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["regime", "valid_from"],
                name="regime_cadence_unique_from",
                violation_error_message="该制度在同一生效日期已有频次设置。",
            ),
            models.CheckConstraint(
                condition=Q(cadence__in=choice_values(Cadence)),
                name="regime_cadence_valid",
                violation_error_message="考核周期无效。",
            ),
            models.CheckConstraint(
                condition=Q(cadence="none") | Q(required__gte=1),
                name="regime_cadence_required_positive",
                violation_error_message="需考核的制度每期至少1次。",
            ),
        ]

    def __str__(self):
        if self.cadence == Cadence.NONE:
            return f"{self.regime}：{self.get_cadence_display()}"
        return f"{self.regime}：{self.get_cadence_display()}至少{self.required}次（{self.valid_from}起）"


class Aggregation(models.TextChoices):
    FLOW = "flow", "流量（按活动累加）"
    STOCK = "stock", "存量（取期间最新值）"


class NumberStyle(models.TextChoices):
    PLAIN = "plain", "整数（如 130人次、73710元）"
    WAN = "wan", "万为单位（1万及以上，如 9.3万亩）"


class Metric(models.Model):
    """An outcome figure: a flow is summed over activities, a stock takes the latest value."""

    Aggregation = Aggregation

    Style = NumberStyle

    code = models.SlugField("指标编码", max_length=32, unique=True)
    name = models.CharField("指标名称", max_length=50, unique=True)
    unit = models.CharField("单位", max_length=10)
    aggregation = models.CharField("汇总方式", max_length=10, choices=Aggregation.choices)
    style = models.CharField("数字写法", max_length=10, choices=Style.choices, default=Style.PLAIN)
    max_value = models.DecimalField(
        "单次上限",
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="单条记录的合理上限，超过即视为录入错误。",
    )
    order = models.PositiveSmallIntegerField("排序", default=0)
    is_active = models.BooleanField("启用", default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "成效指标"
        verbose_name_plural = "成效指标"
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(aggregation__in=choice_values(Aggregation)),
                name="metric_aggregation_valid",
                violation_error_message="汇总方式无效。",
            ),
            models.CheckConstraint(
                condition=Q(style__in=choice_values(NumberStyle)),
                name="metric_style_valid",
                violation_error_message="数字写法无效。",
            ),
            models.CheckConstraint(
                condition=Q(max_value__isnull=True) | Q(max_value__gt=0),
                name="metric_max_positive",
                violation_error_message="单次上限必须大于0。",
            ),
        ]

    def __str__(self):
        return f"{self.name}（{self.unit}）"


def counted_q(prefix=""):
    """The Q of counted activities, through a relation when `prefix` names one ("activity__")."""
    return Q(
        **{
            f"{prefix}deleted_at__isnull": True,
            f"{prefix}status__in": [ActivityStatus.SUBMITTED, ActivityStatus.CONFIRMED],
        }
    )


class ActivityQuerySet(TrashQuerySet):
    def counted(self):
        """Activities that count toward compliance and totals: submitted or confirmed."""
        return self.filter(counted_q())

    def for_list(self):
        return self.select_related("pairing__helper", "pairing__helped", "regime")


class Category(models.TextChoices):
    STUDY = "study", "学习"
    MEETING = "meeting", "会议"
    TRAINING = "training", "培训"
    DONATION = "donation", "捐款捐物"
    PROJECT = "project", "实事项目"
    VISIT = "visit", "走访慰问"
    INSPECTION = "inspection", "检查"
    OTHER = "other", "其他"


class ActivityStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "待确认"
    CONFIRMED = "confirmed", "已确认"
    RETURNED = "returned", "已退回"


class Activity(Trashable):
    Category = Category

    Status = ActivityStatus

    pairing = models.ForeignKey(  # activity_pairing_regime_date leads with it
        Pairing,
        verbose_name="共建对子",
        on_delete=models.PROTECT,
        related_name="activities",
        db_index=False,
    )
    regime = models.ForeignKey(
        Regime,
        verbose_name="所属制度",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="activities",
        help_text="不属于五项制度的活动（如抗旱捐款、培训）选“其他”，留空即可。",
    )
    category = models.CharField("活动类别", max_length=20, choices=Category.choices)
    date = models.DateField("活动日期")
    place = models.CharField("地点", max_length=100, blank=True)
    title = models.CharField("活动主题", max_length=200)
    summary = models.TextField("活动内容", blank=True)
    participants = models.ManyToManyField(
        Member,
        verbose_name="参加党员",
        through="Participation",
        related_name="activities",
        blank=True,
    )
    villager_count = models.PositiveIntegerField("参加群众人数", default=0)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.DRAFT)
    logged_by_branch = models.ForeignKey(
        Organization,
        verbose_name="登记方",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="登记这条活动的一方支部；另一方负责确认。",
    )
    on_behalf_by = models.ForeignKey(
        Organization,
        verbose_name="上级代办",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="由上级党组织代为登记时填写。",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField("登记时间", default=timezone.now, editable=False)
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    on_time = models.BooleanField(
        "按时提交", null=True, blank=True, help_text="提交时判定一次，此后各处直接读取。"
    )
    confirmed_at = models.DateTimeField("确认时间", null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="确认人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    return_reason = models.TextField("退回原因", blank=True)
    version = models.PositiveIntegerField("版本", default=1, editable=False)
    client_id = models.UUIDField("客户端编号", default=uuid.uuid4, unique=True, editable=False)
    imported = models.BooleanField(
        "台账导入", default=False, editable=False, help_text="由Excel台账导入的历史记录。"
    )
    history = HistoricalRecords()

    objects = ActivityQuerySet.as_manager()

    class Meta:
        verbose_name = "活动"
        verbose_name_plural = "活动"
        constraints = [
            models.CheckConstraint(
                condition=Q(category__in=choice_values(Category)),
                name="activity_category_valid",
                violation_error_message="活动类别无效。",
            ),
            models.CheckConstraint(
                condition=Q(status__in=choice_values(ActivityStatus)),
                name="activity_status_valid",
                violation_error_message="状态无效。",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(submitted_at__isnull=False, on_time__isnull=False),
                name="activity_submitted_is_stamped",
                violation_error_message="已提交的活动必须有提交时间和按时判定。",
            ),
            models.CheckConstraint(
                condition=~Q(status="confirmed") | Q(confirmed_at__isnull=False),
                name="activity_confirmed_is_stamped",
                violation_error_message="已确认的活动必须有确认时间。",
            ),
            models.CheckConstraint(
                condition=~Q(status="returned") | ~Q(return_reason=""),
                name="activity_returned_has_reason",
                violation_error_message="退回活动必须填写退回原因。",
            ),
            models.CheckConstraint(
                condition=~Q(title=""),
                name="activity_title_not_blank",
                violation_error_message="活动主题不能为空。",
            ),
            models.CheckConstraint(
                condition=Q(date__gte=datetime.date(2000, 1, 1)),
                name="activity_date_plausible",
                violation_error_message="活动日期不能早于2000年。",
            ),
        ]
        indexes = [
            models.Index(fields=["pairing", "regime", "date"], name="activity_pairing_regime_date"),
            models.Index(fields=["date", "status"], name="activity_date_status"),
            models.Index(fields=["status", "submitted_at"], name="activity_status_submitted"),
            # The trash page: newest first among the few trashed rows.
            models.Index(
                fields=["deleted_at", "id"],
                condition=Q(deleted_at__isnull=False),
                name="activity_trashed",
            ),
        ]

    def __str__(self):
        return f"{self.date} {self.title}"

    def get_absolute_url(self):
        return reverse("activities:detail", args=[self.pk])

    def clean(self):
        errors = {}
        pairing = self.pairing if self.pairing_id else None
        if self.date and self.date > timezone.localdate():
            errors["date"] = "活动日期不能晚于今天。"
        elif pairing and self.date and not pairing.covers(self.date):
            errors["date"] = "活动日期必须在共建对子的起止日期之内。"
        if (
            pairing
            and self.logged_by_branch_id
            and self.logged_by_branch_id not in pairing.branch_ids
        ):
            errors["logged_by_branch"] = "登记方必须是该共建对子的一方。"
        if errors:
            raise ValidationError(errors)


class Participation(models.Model):
    # No index of their own: participation_unique leads with the activity, participation_member
    # with the member (at province scale each would be a 33-million-row index).
    activity = models.ForeignKey(
        Activity,
        verbose_name="活动",
        on_delete=models.CASCADE,
        related_name="participations",
        db_index=False,
    )
    member = models.ForeignKey(
        Member,
        verbose_name="党员",
        on_delete=models.PROTECT,
        related_name="participations",
        db_index=False,
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "参加党员"
        verbose_name_plural = "参加党员"
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "member"],
                name="participation_unique",
                violation_error_message="该党员已在参加名单中。",
            ),
        ]
        indexes = [models.Index(fields=["member", "activity"], name="participation_member")]

    def __str__(self):
        return str(self.member)

    def clean(self):
        if (
            self.activity_id
            and self.member_id
            and (self.member.branch_id not in self.activity.pairing.branch_ids)
        ):
            raise ValidationError({"member": "参加党员必须属于该共建对子的双方支部。"})


class Outcome(models.Model):
    """An activity's figure for one metric (培训 30人次, 捐款 5000元 …)."""

    activity = models.ForeignKey(  # outcome_unique_metric leads with it
        Activity,
        verbose_name="活动",
        on_delete=models.CASCADE,
        related_name="outcomes",
        db_index=False,
    )
    metric = models.ForeignKey(
        Metric, verbose_name="指标", on_delete=models.PROTECT, related_name="outcomes"
    )
    value = models.DecimalField("数值", max_digits=14, decimal_places=2)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "活动成效"
        verbose_name_plural = "活动成效"
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "metric"],
                name="outcome_unique_metric",
                violation_error_message="同一活动的同一指标只能填写一次。",
            ),
            models.CheckConstraint(
                condition=Q(value__gte=0),
                name="outcome_value_not_negative",
                violation_error_message="数值不能为负数。",
            ),
        ]

    def __str__(self):
        return f"{self.metric.name} {self.value}{self.metric.unit}"

    def clean(self):
        if self.metric_id and self.value is not None:
            bound = self.metric.max_value
            if bound is not None and self.value > bound:
                raise ValidationError(
                    {"value": f"数值超过该指标单次上限 {bound}{self.metric.unit}。"}
                )


class PeriodCoded(models.Model):
    """A row about one period, given by its code (2025, 2025-H1, 2025-Q4, 2025-06).

    The code is stored normalised, with the dates it spans, so queries filter on dates.
    """

    period = models.CharField(
        "期间", max_length=7, help_text="如 2025、2025-H1、2025-Q4、2025-06。"
    )
    period_start = models.DateField("期间开始", editable=False)
    period_end = models.DateField("期间结束", editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        period = Period.parse(self.period)
        self.period, self.period_start, self.period_end = period.code, period.start, period.end
        super().save(*args, **kwargs)

    def clean(self):
        try:
            self.period = Period.parse(self.period).code
        except ValidationError as error:
            raise ValidationError({"period": error.messages}) from error


class PeriodFigure(PeriodCoded):
    """A figure entered by staff for an organization and a period (stocks, county-wide flows)."""

    organization = models.ForeignKey(
        Organization, verbose_name="党组织", on_delete=models.PROTECT, related_name="period_figures"
    )
    metric = models.ForeignKey(
        Metric, verbose_name="指标", on_delete=models.PROTECT, related_name="period_figures"
    )
    value = models.DecimalField("数值", max_digits=14, decimal_places=2)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="填报人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "期间统计数据"
        verbose_name_plural = "期间统计数据"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "metric", "period"],
                name="period_figure_unique",
                violation_error_message="该组织在该期间已有此指标的数据。",
            ),
            models.CheckConstraint(
                condition=Q(value__gte=0),
                name="period_figure_not_negative",
                violation_error_message="数值不能为负数。",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")),
                name="period_figure_span_valid",
                violation_error_message="期间起止日期无效。",
            ),
        ]
        indexes = [
            models.Index(fields=["metric", "period_end"], name="period_figure_metric_end"),
        ]

    def __str__(self):
        return f"{self.organization} {self.period} {self.metric.name}"


class PeriodUnlock(PeriodCoded):
    """County staff reopen one branch's locked period; the unlock itself is the record."""

    branch = models.ForeignKey(
        Organization, verbose_name="支部", on_delete=models.PROTECT, related_name="period_unlocks"
    )
    reason = models.TextField("解锁原因")
    unlocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="解锁人", on_delete=models.PROTECT, related_name="+"
    )
    unlocked_at = models.DateTimeField("解锁时间", default=timezone.now)
    until = models.DateField("解锁至", help_text="此日期之后该期间重新锁定。")
    history = HistoricalRecords()

    class Meta:
        verbose_name = "期间解锁记录"
        verbose_name_plural = "期间解锁记录"
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason=""),
                name="period_unlock_has_reason",
                violation_error_message="请填写解锁原因。",
            ),
        ]
        indexes = [models.Index(fields=["branch", "period_start"], name="period_unlock_branch")]

    def __str__(self):
        return f"{self.branch} {self.period}"


class EvidenceKind(models.TextChoices):
    PHOTO = "photo", "照片"
    SIGN_IN = "sign_in", "签到表"
    MINUTES = "minutes", "会议记录"
    OTHER = "other", "其他"


class Evidence(models.Model):
    """A photo, sign-in sheet or minutes attached to an activity, commitment or rectification."""

    Kind = EvidenceKind

    activity = models.ForeignKey(
        Activity,
        verbose_name="活动",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="evidence",
    )
    commitment = models.ForeignKey(
        "Commitment",
        verbose_name="实事承诺",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="evidence",
    )
    rectification = models.ForeignKey(
        "Rectification",
        verbose_name="整改事项",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="evidence",
    )
    kind = models.CharField("类型", max_length=10, choices=Kind.choices, default=Kind.PHOTO)
    file = models.FileField("文件", upload_to="evidence/%Y/%m/")
    thumbnail = models.FileField("缩略图", upload_to="evidence/thumbs/%Y/%m/", blank=True)
    original_name = models.CharField("原文件名", max_length=200, blank=True)
    content_type = models.CharField("文件类型", max_length=50)
    size = models.PositiveIntegerField("大小（字节）")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="上传人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    uploaded_at = models.DateTimeField("上传时间", default=timezone.now)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "佐证材料"
        verbose_name_plural = "佐证材料"
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(activity__isnull=False, commitment__isnull=True, rectification__isnull=True)
                    | Q(activity__isnull=True, commitment__isnull=False, rectification__isnull=True)
                    | Q(activity__isnull=True, commitment__isnull=True, rectification__isnull=False)
                ),
                name="evidence_has_one_owner",
                violation_error_message="佐证材料必须且只能属于一条活动、实事承诺或整改事项。",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=choice_values(EvidenceKind)),
                name="evidence_kind_valid",
                violation_error_message="材料类型无效。",
            ),
        ]

    def __str__(self):
        return self.original_name or self.file.name


class InspectionItem(models.Model):
    """A line of the annual mutual-inspection checklist (组织生活, 制度建设 …)."""

    name = models.CharField("检查项目", max_length=50, unique=True)
    description = models.TextField("检查内容", blank=True)
    max_score = models.DecimalField("满分", max_digits=5, decimal_places=1)
    order = models.PositiveSmallIntegerField("排序", default=0)
    is_active = models.BooleanField("启用", default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "互检项目"
        verbose_name_plural = "互检项目"
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_score__gt=0),
                name="inspection_item_max_positive",
                violation_error_message="满分必须大于0。",
            ),
        ]

    def __str__(self):
        return f"{self.name}（{self.max_score}分）"


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", "满意"
    BASIC = "basic", "基本满意"
    UNSATISFIED = "unsatisfied", "不满意"


class Inspection(Trashable):
    """One side of a pairing inspects the other's party building for a year (年度党建互检)."""

    Satisfaction = Satisfaction

    pairing = models.ForeignKey(
        Pairing, verbose_name="共建对子", on_delete=models.PROTECT, related_name="inspections"
    )
    activity = models.OneToOneField(
        Activity,
        verbose_name="互检活动",
        on_delete=models.PROTECT,
        related_name="inspection",
        help_text="记录互检即登记一条“年度党建互检制度”活动。",
    )
    year = models.PositiveSmallIntegerField("年度")
    inspector = models.ForeignKey(
        Organization, verbose_name="检查方", on_delete=models.PROTECT, related_name="+"
    )
    inspected = models.ForeignKey(
        Organization, verbose_name="被检查方", on_delete=models.PROTECT, related_name="+"
    )
    date = models.DateField("检查日期")
    findings = models.TextField("检查发现", blank=True)
    satisfaction = models.CharField(
        "群众满意度", max_length=20, choices=Satisfaction.choices, blank=True
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "党建互检"
        verbose_name_plural = "党建互检"
        constraints = [
            models.CheckConstraint(
                condition=~Q(inspector=F("inspected")),
                name="inspection_not_self",
                violation_error_message="检查方和被检查方不能相同。",
            ),
            models.CheckConstraint(
                condition=Q(satisfaction__in=["", *choice_values(Satisfaction)]),
                name="inspection_satisfaction_valid",
                violation_error_message="满意度无效。",
            ),
            models.UniqueConstraint(
                fields=["pairing", "year", "inspector"],
                condition=Q(deleted_at__isnull=True),
                name="inspection_once_a_year_per_side",
                violation_error_message="该方本年度已对这个共建对子做过互检。",
            ),
        ]

    def __str__(self):
        return f"{self.year}年 {self.inspector}检查{self.inspected}"

    def clean(self):
        errors = {}
        if self.pairing_id:
            branches = self.pairing.branch_ids
            if self.inspector_id and self.inspector_id not in branches:
                errors["inspector"] = "检查方必须是该共建对子的一方。"
            if self.inspected_id and self.inspected_id not in branches:
                errors["inspected"] = "被检查方必须是该共建对子的一方。"
        if self.date and self.year and self.date.year != self.year:
            errors["date"] = "检查日期必须在所填年度之内。"
        if "inspector" not in errors and self.pairing_id and self.inspector_id and self.year:
            # The database refuses a second one (inspection_once_a_year_per_side), but a form
            # cannot check that constraint: its condition reads deleted_at, which no form edits.
            same = Inspection.objects.alive().filter(
                pairing=self.pairing_id, year=self.year, inspector=self.inspector_id
            )
            if not self.in_trash and same.exclude(pk=self.pk).exists():
                errors["inspector"] = "该方本年度已对这个共建对子做过互检。"
        if errors:
            raise ValidationError(errors)


class InspectionScore(models.Model):
    inspection = models.ForeignKey(
        Inspection, verbose_name="互检", on_delete=models.CASCADE, related_name="scores"
    )
    item = models.ForeignKey(
        InspectionItem, verbose_name="检查项目", on_delete=models.PROTECT, related_name="scores"
    )
    score = models.DecimalField("得分", max_digits=5, decimal_places=1)
    remark = models.CharField("扣分说明", max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "互检得分"
        verbose_name_plural = "互检得分"
        constraints = [
            models.UniqueConstraint(
                fields=["inspection", "item"],
                name="inspection_score_unique",
                violation_error_message="同一互检的同一项目只能评分一次。",
            ),
            models.CheckConstraint(
                condition=Q(score__gte=0),
                name="inspection_score_not_negative",
                violation_error_message="得分不能为负数。",
            ),
        ]

    def __str__(self):
        return f"{self.item.name} {self.score}"

    def clean(self):
        if self.item_id and self.score is not None and self.score > self.item.max_score:
            raise ValidationError({"score": f"得分不能超过满分 {self.item.max_score}。"})


class RectificationStatus(models.TextChoices):
    OPEN = "open", "待整改"
    IN_PROGRESS = "in_progress", "整改中"
    DONE = "done", "已完成"
    VERIFIED = "verified", "已验收"


class Rectification(Trashable):
    """A rectification item (整改事项) opened by an inspection."""

    Status = RectificationStatus

    inspection = models.ForeignKey(
        Inspection, verbose_name="互检", on_delete=models.PROTECT, related_name="rectifications"
    )
    description = models.TextField("整改事项")
    owner = models.ForeignKey(
        Member,
        verbose_name="责任人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rectifications",
    )
    due_date = models.DateField("整改期限")
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.OPEN)
    done_at = models.DateField("完成日期", null=True, blank=True)
    verified_at = models.DateField("验收日期", null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "整改事项"
        verbose_name_plural = "整改事项"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=choice_values(RectificationStatus)),
                name="rectification_status_valid",
                violation_error_message="状态无效。",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["done", "verified"]) | Q(done_at__isnull=False),
                name="rectification_done_is_dated",
                violation_error_message="已完成的整改事项必须填写完成日期。",
            ),
            models.CheckConstraint(
                condition=~Q(status="verified") | Q(verified_at__isnull=False),
                name="rectification_verified_is_dated",
                violation_error_message="已验收的整改事项必须填写验收日期。",
            ),
            models.CheckConstraint(
                condition=Q(verified_at__isnull=True)
                | Q(done_at__isnull=True)
                | Q(verified_at__gte=F("done_at")),
                name="rectification_verified_after_done",
                violation_error_message="验收日期不能早于完成日期。",
            ),
            models.CheckConstraint(
                condition=~Q(description=""),
                name="rectification_not_blank",
                violation_error_message="整改事项不能为空。",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_date"], name="rectification_status_due")]

    def __str__(self):
        return self.description[:30]

    @property
    def is_overdue(self):
        return self.status in (self.Status.OPEN, self.Status.IN_PROGRESS) and (
            self.due_date < timezone.localdate()
        )


class NeedStatus(models.TextChoices):
    OPEN = "open", "待解决"
    COMMITTED = "committed", "已承诺"
    DONE = "done", "已解决"
    CLOSED = "closed", "已关闭"


class Need(Trashable):
    """A need or difficulty the village side raises (困难: irrigation, a road, a training)."""

    Status = NeedStatus

    pairing = models.ForeignKey(
        Pairing, verbose_name="共建对子", on_delete=models.PROTECT, related_name="needs"
    )
    title = models.CharField("需求或困难", max_length=200)
    description = models.TextField("具体情况", blank=True)
    raised_by = models.ForeignKey(
        Organization, verbose_name="提出方", on_delete=models.PROTECT, related_name="+"
    )
    raised_on = models.DateField("提出日期", default=timezone.localdate)
    source_activity = models.ForeignKey(
        Activity,
        verbose_name="来源活动",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="raised_needs",
        help_text="在联席会等活动中提出的问题，在此注明。",
    )
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.OPEN)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "需求与困难"
        verbose_name_plural = "需求与困难"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=choice_values(NeedStatus)),
                name="need_status_valid",
                violation_error_message="状态无效。",
            ),
            models.CheckConstraint(
                condition=~Q(title=""),
                name="need_title_not_blank",
                violation_error_message="需求或困难不能为空。",
            ),
        ]

    def __str__(self):
        return self.title


class CommitmentStatus(models.TextChoices):
    PLANNED = "planned", "已承诺"
    IN_PROGRESS = "in_progress", "推进中"
    DONE = "done", "已办结"
    CANCELLED = "cancelled", "已取消"


class Commitment(Trashable):
    """A practical deed (实事) the helping side commits to, with an amount and a due date."""

    Status = CommitmentStatus

    pairing = models.ForeignKey(
        Pairing, verbose_name="共建对子", on_delete=models.PROTECT, related_name="commitments"
    )
    need = models.ForeignKey(
        Need,
        verbose_name="对应需求",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="commitments",
    )
    title = models.CharField("实事内容", max_length=200)
    amount = models.DecimalField(
        "金额（元）", max_digits=14, decimal_places=2, null=True, blank=True
    )
    due_date = models.DateField("承诺完成日期")
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.PLANNED)
    progress = models.TextField("进展情况", blank=True)
    done_on = models.DateField("办结日期", null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "实事承诺"
        verbose_name_plural = "实事承诺"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=choice_values(CommitmentStatus)),
                name="commitment_status_valid",
                violation_error_message="状态无效。",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0),
                name="commitment_amount_not_negative",
                violation_error_message="金额不能为负数。",
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(done_on__isnull=False),
                name="commitment_done_is_dated",
                violation_error_message="已办结的实事必须填写办结日期。",
            ),
            models.CheckConstraint(
                condition=~Q(title=""),
                name="commitment_title_not_blank",
                violation_error_message="实事内容不能为空。",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_date"], name="commitment_status_due")]

    def __str__(self):
        return self.title

    def clean(self):
        if self.need_id and self.pairing_id and self.need.pairing_id != self.pairing_id:
            raise ValidationError({"need": "对应需求必须属于同一个共建对子。"})

    @property
    def is_overdue(self):
        return self.status in (self.Status.PLANNED, self.Status.IN_PROGRESS) and (
            self.due_date < timezone.localdate()
        )


# Summaries ----------------------------------------------------------------------------------------
# Derived tables that the database keeps current in the same transaction as every write to the
# rows they count (triggers installed by activities/summaries.py); `manage.py rebuild_summaries`
# recomputes them from scratch. Only counted activities (submitted or confirmed, out of the trash)
# are summed. No history, no foreign-key constraints: they are a cache that SQL can aggregate.


class ActivitySummary(models.Model):
    """Counted activities of a pairing by regime, category and month."""

    # Read by pairing and month (the indexes below); no index of their own on the keys.
    pairing = models.ForeignKey(
        Pairing,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    regime = models.ForeignKey(
        Regime,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        related_name="+",
    )
    category = models.CharField(max_length=20)
    month = models.DateField()  # the first day of the month
    activities = models.PositiveIntegerField()
    on_time = models.PositiveIntegerField()
    villagers = models.PositiveIntegerField()

    class Meta:
        verbose_name = "活动月度汇总"
        verbose_name_plural = "活动月度汇总"
        indexes = [
            models.Index(fields=["pairing", "month"], name="activity_summary_pairing"),
            models.Index(fields=["month"], name="activity_summary_month"),
        ]

    def __str__(self):
        return f"{self.pairing_id} {self.month:%Y-%m} {self.regime_id} {self.category}"


class OutcomeSummary(models.Model):
    """Outcome totals of a pairing's counted activities by metric and month."""

    pairing = models.ForeignKey(
        Pairing,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    metric = models.ForeignKey(
        Metric,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    month = models.DateField()
    total = models.DecimalField(max_digits=18, decimal_places=2)

    class Meta:
        verbose_name = "成效月度汇总"
        verbose_name_plural = "成效月度汇总"
        indexes = [
            models.Index(fields=["pairing", "month"], name="outcome_summary_pairing"),
            models.Index(fields=["month"], name="outcome_summary_month"),
        ]

    def __str__(self):
        return f"{self.pairing_id} {self.month:%Y-%m} {self.metric_id}"


class ParticipantYear(models.Model):
    """The months of a year in which a member took part in a counted activity of a pairing: bit
    m-1 of `months` is set for month m. Twelve months of participations in one row, so "who took
    part between these months" is a bit test over one row per member and pairing, not a distinct
    count over every attendance; by pairing, it gives each pairing's participants."""

    member = models.ForeignKey(  # the unique constraint's index leads with it
        Member,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    pairing = models.ForeignKey(  # participant_year_pairing leads with it
        Pairing,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    year = models.PositiveSmallIntegerField()
    months = models.PositiveIntegerField()

    class Meta:
        verbose_name = "党员年度参加月份"
        verbose_name_plural = "党员年度参加月份"
        constraints = [
            models.UniqueConstraint(
                fields=["member", "year", "pairing"], name="participant_year_unique"
            )
        ]
        indexes = [
            models.Index(fields=["year", "member"], name="participant_year_year"),
            models.Index(fields=["pairing", "year"], name="participant_year_pairing"),
        ]

    def __str__(self):
        return f"{self.member_id} {self.pairing_id} {self.year} {self.months:012b}"
