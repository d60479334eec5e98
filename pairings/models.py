"""Organizations, members, households and the pairings between branches."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Greatest, Least
from django.utils import timezone
from simple_history.models import HistoricalRecords
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

code_validator = RegexValidator(r"^[0-9A-Za-z_-]+$", "编码只能包含字母、数字、下划线和短横线。")
phone_validator = RegexValidator(r"^[0-9+\- ]{5,20}$", "请输入有效的联系电话。")


class TrashQuerySet(models.QuerySet):
    """Rows are never hard-deleted by users: they go to a trash and can be restored."""

    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def trashed(self):
        return self.filter(deleted_at__isnull=False)


class Trashable(models.Model):
    deleted_at = models.DateTimeField("移入回收站时间", null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="删除人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    objects = TrashQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def in_trash(self):
        return self.deleted_at is not None

    def trash(self, *, by):
        self.deleted_at = timezone.now()
        self.deleted_by = by
        self._history_user = by
        self._change_reason = "移入回收站"
        self.save(update_fields=["deleted_at", "deleted_by"])

    def restore(self, *, by):
        self.deleted_at = None
        self.deleted_by = None
        self._history_user = by
        self._change_reason = "从回收站恢复"
        self.save(update_fields=["deleted_at", "deleted_by"])


class OrganizationQuerySet(MP_NodeQuerySet, TrashQuerySet):
    def branches(self):
        return self.filter(kind__in=Organization.BRANCH_KINDS)

    def paired_in(self, pairings):
        """The branches on either side of any of `pairings` (a queryset), as a union of ids: the
        planner sizes it, so a pairing's card or a township's page reads its branches' members
        by index, where "either side" made it scan all 1.5 million of a province's (0.7 s)."""
        pairings = pairings.order_by()
        return self.filter(pk__in=pairings.values("helper_id").union(pairings.values("helped_id")))

    def under(self, *orgs):
        """Everything under any of `orgs`, the orgs included: one indexed prefix query."""
        q = Q(pk__in=[])
        for org in orgs:
            q |= Q(path__startswith=org.path)
        return self.filter(q)


class OrganizationManager(MP_NodeManager.from_queryset(OrganizationQuerySet)):
    def get_queryset(self):
        return OrganizationQuerySet(self.model, using=self._db).order_by("path")


class OrgKind(models.TextChoices):
    COUNTY = "county", "县委"
    COMMITTEE = "committee", "党委"
    WORKING_COMMITTEE = "working_committee", "党工委"
    GENERAL_BRANCH = "general_branch", "党总支"
    BRANCH = "branch", "党支部"


class Sector(models.TextChoices):
    ORGAN = "organ", "机关"
    RURAL = "rural", "农村"
    ENTERPRISE = "enterprise", "企业"
    SCHOOL = "school", "学校"
    COMMUNITY = "community", "社区"
    OTHER = "other", "其他"


class Organization(Trashable, MP_Node):
    Kind = OrgKind

    Sector = Sector

    BRANCH_KINDS = (Kind.BRANCH, Kind.GENERAL_BRANCH)

    code = models.CharField("组织编码", max_length=32, unique=True, validators=[code_validator])
    name = models.CharField("组织名称", max_length=100)
    kind = models.CharField("组织类别", max_length=20, choices=Kind.choices)
    sector = models.CharField("所属领域", max_length=20, choices=Sector.choices)
    history = HistoricalRecords()

    node_order_by = ["code"]
    objects = OrganizationManager()

    class Meta:
        verbose_name = "党组织"
        verbose_name_plural = "党组织"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in OrgKind]),
                name="organization_kind_valid",
                violation_error_message="组织类别无效。",
            ),
            models.CheckConstraint(
                condition=Q(sector__in=[s.value for s in Sector]),
                name="organization_sector_valid",
                violation_error_message="所属领域无效。",
            ),
            models.CheckConstraint(
                condition=~Q(code=""),
                name="organization_code_not_blank",
                violation_error_message="组织编码不能为空。",
            ),
            models.CheckConstraint(
                condition=Q(depth__lte=6),
                name="organization_depth_at_most_6",
                violation_error_message="组织层级不能超过6级。",
            ),
        ]
        indexes = [models.Index(fields=["kind", "sector"], name="organization_kind_sector")]

    def __str__(self):
        return self.name

    @property
    def is_branch(self):
        return self.kind in self.BRANCH_KINDS


class Gender(models.TextChoices):
    MALE = "male", "男"
    FEMALE = "female", "女"


class Post(models.TextChoices):
    SECRETARY = "secretary", "书记"
    DEPUTY = "deputy", "副书记"
    COMMITTEE = "committee", "委员"
    MEMBER = "member", "党员"


class MemberStatus(models.TextChoices):
    FULL = "full", "正式党员"
    PROBATIONARY = "probationary", "预备党员"


class Member(Trashable):
    Gender = Gender

    Post = Post

    Status = MemberStatus

    code = models.CharField("党员编号", max_length=32, unique=True, validators=[code_validator])
    name = models.CharField("姓名", max_length=50)
    gender = models.CharField("性别", max_length=10, choices=Gender.choices, blank=True)
    branch = models.ForeignKey(  # member_branch_name leads with it
        Organization,
        verbose_name="所在支部",
        on_delete=models.PROTECT,
        related_name="members",
        db_index=False,
    )
    post = models.CharField("党内职务", max_length=20, choices=Post.choices, default=Post.MEMBER)
    in_service = models.BooleanField(
        "在职党员", default=False, help_text="在机关、企事业单位在职的党员。"
    )
    status = models.CharField(
        "党员状态", max_length=20, choices=Status.choices, default=Status.FULL
    )
    phone = models.CharField(
        "联系电话", max_length=20, blank=True, validators=[phone_validator], help_text="选填。"
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "党员"
        verbose_name_plural = "党员"
        constraints = [
            models.CheckConstraint(
                condition=Q(post__in=[p.value for p in Post]),
                name="member_post_valid",
                violation_error_message="党内职务无效。",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in MemberStatus]),
                name="member_status_valid",
                violation_error_message="党员状态无效。",
            ),
            models.CheckConstraint(
                condition=Q(gender__in=["", *[g.value for g in Gender]]),
                name="member_gender_valid",
                violation_error_message="性别无效。",
            ),
            models.CheckConstraint(
                condition=~Q(name=""),
                name="member_name_not_blank",
                violation_error_message="姓名不能为空。",
            ),
        ]
        indexes = [
            models.Index(fields=["branch", "name"], name="member_branch_name"),
            # The members of some branches, out of the trash: counted by the dashboard, the
            # pairing card and the set-up checklist without reading the table (index only).
            models.Index(
                fields=["branch"], condition=Q(deleted_at__isnull=True), name="member_alive_branch"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def masked_phone(self):
        """The phone as lists and exports show it: 138****5678."""
        digits = self.phone.replace(" ", "")
        if len(digits) < 7:
            return "*" * len(digits)
        return f"{digits[:3]}****{digits[-4:]}"

    def clean(self):
        if self.branch_id and not self.branch.is_branch:
            raise ValidationError({"branch": "党员只能隶属于党支部或党总支。"})


class Household(Trashable):
    """A village household that a member helps (帮扶户). Kept minimal: no ID numbers."""

    village = models.ForeignKey(
        Organization,
        verbose_name="所在村党支部",
        on_delete=models.PROTECT,
        related_name="households",
    )
    head_name = models.CharField("户主姓名", max_length=50)
    group = models.CharField("村民小组", max_length=50, blank=True)
    size = models.PositiveSmallIntegerField("家庭人口", null=True, blank=True)
    situation = models.TextField("家庭情况与困难", blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "帮扶户"
        verbose_name_plural = "帮扶户"
        constraints = [
            models.CheckConstraint(
                condition=~Q(head_name=""),
                name="household_head_not_blank",
                violation_error_message="户主姓名不能为空。",
            ),
            models.CheckConstraint(
                condition=Q(size__isnull=True) | Q(size__gte=1),
                name="household_size_positive",
                violation_error_message="家庭人口至少为1人。",
            ),
        ]

    def __str__(self):
        return f"{self.head_name}户（{self.village}）"


class HelpPairing(Trashable):
    """One-helps-one (一帮一): a member helps a household."""

    member = models.ForeignKey(
        Member, verbose_name="帮扶党员", on_delete=models.PROTECT, related_name="help_pairings"
    )
    household = models.ForeignKey(
        Household, verbose_name="帮扶户", on_delete=models.PROTECT, related_name="help_pairings"
    )
    start_date = models.DateField("开始日期")
    end_date = models.DateField("结束日期", null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "一帮一结对"
        verbose_name_plural = "一帮一结对"
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="help_pairing_end_after_start",
                violation_error_message="结束日期不能早于开始日期。",
            ),
            models.UniqueConstraint(
                fields=["member", "household", "start_date"],
                name="help_pairing_unique_start",
                violation_error_message="该党员与该户在同一开始日期已有结对。",
            ),
        ]

    def __str__(self):
        return f"{self.member} → {self.household}"

    def covers(self, day):
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)


class HouseholdVisit(Trashable):
    """A visit by the helping member to the household (一帮一走访), logged like an activity."""

    help_pairing = models.ForeignKey(
        HelpPairing, verbose_name="一帮一结对", on_delete=models.PROTECT, related_name="visits"
    )
    date = models.DateField("走访日期")
    summary = models.TextField("走访情况", help_text="了解到的困难、送去的帮助、商定的下一步。")
    help_given = models.CharField(
        "帮扶内容", max_length=200, blank=True, help_text="如：送去化肥2袋、联系就业岗位。"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "一帮一走访"
        verbose_name_plural = "一帮一走访"
        constraints = [
            models.CheckConstraint(
                condition=~Q(summary=""),
                name="household_visit_summary_not_blank",
                violation_error_message="请填写走访情况。",
            ),
        ]
        indexes = [models.Index(fields=["help_pairing", "date"], name="household_visit_date")]

    def __str__(self):
        return f"{self.date} 走访{self.help_pairing.household}"


class PairingQuerySet(TrashQuerySet):
    def with_branches(self):
        return self.select_related("helper", "helped")

    def active_on(self, day):
        return self.filter(
            Q(end_date__isnull=True) | Q(end_date__gte=day), start_date__lte=day, status="active"
        )

    def of_branch(self, branch):
        return self.filter(Q(helper=branch) | Q(helped=branch))


class PairingStatus(models.TextChoices):
    ACTIVE = "active", "进行中"
    SUSPENDED = "suspended", "暂停"
    ENDED = "ended", "已结束"


class Pairing(Trashable):
    Status = PairingStatus

    code = models.CharField("对子编号", max_length=32, unique=True, validators=[code_validator])
    helper = models.ForeignKey(
        Organization,
        verbose_name="帮扶支部",
        on_delete=models.PROTECT,
        related_name="helping_pairings",
        help_text="通常是机关党支部。",
    )
    helped = models.ForeignKey(
        Organization,
        verbose_name="受帮扶支部",
        on_delete=models.PROTECT,
        related_name="helped_pairings",
        help_text="通常是农村党支部。",
    )
    start_date = models.DateField("开始日期")
    end_date = models.DateField("结束日期", null=True, blank=True)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.ACTIVE)
    agreement = models.TextField("共建协议", blank=True)
    agreement_file = models.FileField("协议文件", upload_to="agreements/%Y/", blank=True)
    goals = models.TextField("共建目标", blank=True)
    helper_liaison = models.ForeignKey(
        Member,
        verbose_name="帮扶方联络员",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    helped_liaison = models.ForeignKey(
        Member,
        verbose_name="受帮扶方联络员",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    history = HistoricalRecords()

    objects = PairingQuerySet.as_manager()

    class Meta:
        verbose_name = "共建对子"
        verbose_name_plural = "共建对子"
        constraints = [
            models.CheckConstraint(
                condition=~Q(helper=F("helped")),
                name="pairing_not_with_itself",
                violation_error_message="一个支部不能与自己结对。",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="pairing_end_after_start",
                violation_error_message="结束日期不能早于开始日期。",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in PairingStatus]),
                name="pairing_status_valid",
                violation_error_message="状态无效。",
            ),
            # At most one active pairing per two branches, whichever side helps.
            models.UniqueConstraint(
                Least("helper", "helped"),
                Greatest("helper", "helped"),
                condition=Q(status="active", deleted_at__isnull=True),
                name="pairing_one_active_per_two_branches",
                violation_error_message="这两个支部之间已有进行中的共建对子。",
            ),
        ]
        indexes = [
            models.Index(fields=["helper", "status"], name="pairing_helper_status"),
            models.Index(fields=["helped", "status"], name="pairing_helped_status"),
        ]

    def __str__(self):
        return f"{self.helper} ⇄ {self.helped}"

    def clean(self):
        errors = {}
        for field in ("helper", "helped"):
            org = getattr(self, field, None) if getattr(self, f"{field}_id") else None
            if org is not None and not org.is_branch:
                errors[field] = "共建对子的双方必须是党支部或党总支。"
        if self.helper_id and self.helper_id == self.helped_id:
            errors["helped"] = "一个支部不能与自己结对。"
        if self.end_date and self.start_date and self.end_date < self.start_date:
            errors["end_date"] = "结束日期不能早于开始日期。"
        if "helped" not in errors and self.clashes_with_an_active_pairing():
            errors["helped"] = "这两个支部之间已有进行中的共建对子。"
        for field, branch_id in (
            ("helper_liaison", self.helper_id),
            ("helped_liaison", self.helped_id),
        ):
            member = getattr(self, field) if getattr(self, f"{field}_id") else None
            if member is not None and member.branch_id != branch_id:
                errors[field] = "联络员必须是该方支部的党员。"
        if errors:
            raise ValidationError(errors)

    def clashes_with_an_active_pairing(self):
        """Whether this pairing, if active, would be a second active one between its branches.

        The database refuses that (pairing_one_active_per_two_branches), but a form cannot
        check the constraint: its condition reads deleted_at, which no form edits.
        """
        if (
            self.status != self.Status.ACTIVE
            or self.in_trash
            or not self.helper_id
            or not self.helped_id
        ):
            return False
        pair = Q(helper=self.helper_id, helped=self.helped_id) | Q(
            helper=self.helped_id, helped=self.helper_id
        )
        others = Pairing.objects.alive().filter(pair, status=self.Status.ACTIVE)
        return others.exclude(pk=self.pk).exists()

    def covers(self, day):
        """Whether `day` lies within the pairing's start and end dates."""
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)

    @property
    def branch_ids(self):
        return {self.helper_id, self.helped_id}

    def partner_of(self, branch):
        return self.helped if branch.pk == self.helper_id else self.helper


class Role(models.TextChoices):
    COUNTY_STAFF = "county_staff", "县委组织部"
    SUPERVISOR = "supervisor", "上级党组织"
    SECRETARY = "secretary", "支部书记/联络员"
    VIEWER = "viewer", "领导（只读）"
    AUDITOR = "auditor", "审计管理员"
    # The other two of the 三员 (GB/T 22239 8.1.4.2): user accounts and configuration in the
    # Django admin; role and scope grants and security settings.
    SYSTEM_ADMIN = "system_admin", "系统管理员"
    SECURITY_ADMIN = "security_admin", "安全管理员"


# The three administrators (三员): no account may hold two of them.
ADMIN_ROLES = (Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR)


class PairingSuspension(models.Model):
    """A time a pairing was suspended: its periods that touch it are not due."""

    pairing = models.ForeignKey(
        Pairing, verbose_name="共建对子", on_delete=models.PROTECT, related_name="suspensions"
    )
    start_date = models.DateField("暂停日期")
    end_date = models.DateField("恢复日期", null=True, blank=True, help_text="尚未恢复的留空。")
    reason = models.CharField("暂停原因", max_length=200)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "对子暂停记录"
        verbose_name_plural = "对子暂停记录"
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="pairing_suspension_end_after_start",
                violation_error_message="恢复日期不能早于暂停日期。",
            ),
            models.CheckConstraint(
                condition=~Q(reason=""),
                name="pairing_suspension_has_reason",
                violation_error_message="请填写暂停原因。",
            ),
        ]

    def __str__(self):
        return f"{self.pairing} 暂停（{self.start_date}起）"


class Assignment(models.Model):
    """A user's role at an organization; a user may hold several."""

    Role = Role

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="用户",
        on_delete=models.CASCADE,
        related_name="assignments",
    )
    organization = models.ForeignKey(
        Organization, verbose_name="党组织", on_delete=models.PROTECT, related_name="assignments"
    )
    role = models.CharField("角色", max_length=20, choices=Role.choices)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "角色分配"
        verbose_name_plural = "角色分配"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization", "role"],
                name="assignment_unique",
                violation_error_message="该用户在该党组织已有此角色。",
            ),
            models.CheckConstraint(
                condition=Q(role__in=[r.value for r in Role]),
                name="assignment_role_valid",
                violation_error_message="角色无效。",
            ),
            # Separation of duties: at most one administrator role per account.
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(role__in=[r.value for r in ADMIN_ROLES]),
                name="assignment_one_admin_role",
                violation_error_message="系统管理员、安全管理员和审计管理员须由不同的账号担任。",
            ),
        ]

    def __str__(self):
        return f"{self.user} · {self.organization} · {self.get_role_display()}"

    def clean(self):
        if (
            self.role == self.Role.SECRETARY
            and self.organization_id
            and not self.organization.is_branch
        ):
            raise ValidationError({"organization": "支部书记/联络员只能分配到党支部或党总支。"})
        if self.role in ADMIN_ROLES and self.user_id:
            others = (
                Assignment.objects.filter(user_id=self.user_id, role__in=ADMIN_ROLES)
                .exclude(pk=self.pk)
                .exclude(role=self.role)
            )
            superuser_conflict = self.role != Role.SYSTEM_ADMIN and self.user.is_superuser
            if others.exists() or superuser_conflict:
                raise ValidationError(
                    {"role": "系统管理员、安全管理员和审计管理员须由不同的账号担任。"}
                )


class UserSecurity(models.Model):
    """A user's password age and sign-in state (等保 2.0 身份鉴别: rotation, forced change)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name="用户",
        on_delete=models.CASCADE,
        related_name="security",
    )
    password_changed_at = models.DateTimeField("密码修改时间", default=timezone.now)
    must_change_password = models.BooleanField(
        "下次登录须修改密码",
        default=False,
        help_text="管理员设置或重置的初始密码，用户首次登录后必须修改。",
    )
    otp_failures = models.PositiveIntegerField("连续动态码错误次数", default=0)
    otp_failed_at = models.DateTimeField("最近一次动态码错误时间", null=True, blank=True)

    class Meta:
        verbose_name = "账号安全状态"
        verbose_name_plural = "账号安全状态"

    def __str__(self):
        return str(self.user)


class UserSession(models.Model):
    """Which sessions a user holds, so that disabling the user can end them all (this works
    with the database and the cache session engines alike)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="用户",
        on_delete=models.CASCADE,
        related_name="session_index",
    )
    session_key = models.CharField("会话", max_length=40, unique=True)
    created_at = models.DateTimeField("登录时间", default=timezone.now)

    class Meta:
        verbose_name = "登录会话"
        verbose_name_plural = "登录会话"

    def __str__(self):
        return f"{self.user} · {self.created_at:%Y-%m-%d %H:%M}"
