"""The county's set-up checklist: what a new county has done, read from its data.

Organizations, members, pairings and accounts tick themselves when the rows exist; the regimes'
cadences and the metrics are admin-defined defaults that county staff confirm once, and the
confirmation is the data (SetupConfirmation).
"""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse

from activities.models import Metric
from pairings import access
from pairings.models import Assignment, Member, Organization, Role
from reports.models import SetupConfirmation, SetupStep

# Where county staff bring organizations, members and pairings in.
IMPORT_URL = "import_home"


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool
    detail: str
    url: str
    action: str


@dataclass(frozen=True)
class Checklist:
    county: Organization
    steps: list

    @property
    def done(self):
        return all(step.done for step in self.steps)

    @property
    def done_count(self):
        return sum(step.done for step in self.steps)


def county_of(user):
    """The highest organization the user holds the county staff role at (annotated with
    `setup_complete`), or None."""
    if not access.is_county_staff(user):
        return None
    return (
        Organization.objects.alive()
        .filter(assignments__user=user, assignments__role=Role.COUNTY_STAFF)
        .annotate(
            setup_complete=Exists(
                SetupConfirmation.objects.filter(
                    organization=OuterRef("pk"), step=SetupStep.COMPLETE
                )
            )
        )
        .order_by("depth", "path")
        .first()
    )


def pending(user):
    """The checklist for the home page while the user's county has not completed it, else None
    (one query once it is complete). The first time every step is done, that is recorded, and
    the checklist stays away even if a step later goes back (the set-up page still shows it)."""
    county = county_of(user)
    if county is None or county.setup_complete:
        return None
    result = checklist(county)
    if result.done:
        SetupConfirmation.objects.get_or_create(
            organization=county, step=SetupStep.COMPLETE, defaults={"confirmed_by": user}
        )
        return None
    return result


def staffed_branch_ids():
    """The branches some active secretary (or liaison) can sign in for."""
    return Assignment.objects.filter(role=Role.SECRETARY, user__is_active=True).values(
        "organization_id"
    )


def checklist(county):
    """The set-up steps for the county (six queries)."""
    below = Organization.objects.alive().filter(
        path__startswith=county.path, depth__gt=county.depth
    )
    orgs = below.aggregate(
        all=Count("pk"), branches=Count("pk", filter=Q(kind__in=Organization.BRANCH_KINDS))
    )
    members = Member.objects.alive().filter(branch__path__startswith=county.path).count()
    pairings = access.pairings_under(county)
    paired = Organization.objects.paired_in(pairings).aggregate(
        branches=Count("pk"), staffed=Count("pk", filter=Q(pk__in=staffed_branch_ids()))
    )
    confirmed = set(
        SetupConfirmation.objects.filter(organization=county).values_list("step", flat=True)
    )
    metrics = Metric.objects.filter(is_active=True).count()
    steps = [
        Step(
            "organizations",
            "导入组织架构",
            orgs["branches"] > 0,
            f"已有 {orgs['all']} 个下级党组织，其中党支部（党总支）{orgs['branches']} 个。",
            reverse(IMPORT_URL),
            "用导入模板的“组织”表导入乡镇党委、机关工委和各党支部。",
        ),
        Step(
            "members",
            "导入党员名册",
            members > 0,
            f"已有党员 {members} 名。",
            reverse(IMPORT_URL),
            "用导入模板的“党员”表导入各支部党员。",
        ),
        Step(
            "pairings",
            "设立共建对子",
            paired["branches"] > 0,
            f"已有共建对子 {pairings.count()} 个。",
            reverse(IMPORT_URL),
            "用导入模板的“共建对子”表，把机关支部与村支部一一结对。",
        ),
        Step(
            "regimes",
            "确认五项制度的频次",
            SetupStep.REGIMES in confirmed,
            "已确认。" if SetupStep.REGIMES in confirmed else "系统已按默认频次设置，请核对。",
            reverse("setup_regimes"),
            "核对集体活动日、交叉学习、季度联席会、年度互检的考核频次。",
        ),
        Step(
            "metrics",
            "确认统计指标",
            SetupStep.METRICS in confirmed,
            "已确认。" if SetupStep.METRICS in confirmed else f"已启用 {metrics} 项指标，请核对。",
            reverse("setup_metrics"),
            "核对活动成效要统计的指标和单位（人次、元、亩……）。",
        ),
        Step(
            "accounts",
            "为支部书记开通账号",
            paired["branches"] > 0 and paired["staffed"] == paired["branches"],
            f"结对支部 {paired['branches']} 个，已开通书记（联络员）账号的 {paired['staffed']} 个。",
            reverse("setup_accounts"),
            "每个结对支部至少一名书记或联络员有账号，才能登记和确认活动。",
        ),
    ]
    return Checklist(county, steps)
