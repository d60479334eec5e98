"""`seed_demo`: a fictional county for demonstrations, consistent, repeatable and polite."""

import datetime
import hashlib
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import F, Q
from django.test import TestCase
from django.utils import timezone

from activities import compliance
from activities.models import (
    Activity,
    Commitment,
    Inspection,
    InspectionScore,
    Need,
    Outcome,
    Participation,
    PeriodFigure,
    Rectification,
    Regime,
)
from pairings.models import (
    Assignment,
    HelpPairing,
    Household,
    Member,
    Organization,
    Pairing,
    Role,
)
from reports import demo
from tests.factories import make_county

MODELS = [
    Organization,
    Member,
    Pairing,
    Activity,
    Participation,
    Outcome,
    Inspection,
    Rectification,
    Need,
    Commitment,
    Household,
    HelpPairing,
    PeriodFigure,
    User,
    Assignment,
]
DEMO_USERS = ["county", "township", "organ_secretary", "village_secretary", "leader", "auditor"]


def seed_demo(*args):
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def row_counts():
    return {model.__name__: model.objects.count() for model in MODELS}


def digest():
    """A fingerprint of the demo data by natural keys (never by primary keys)."""
    parts = [
        Organization.objects.order_by("code").values_list("code", "name", "kind", "sector", "path"),
        Member.objects.order_by("code").values_list(
            "code", "name", "gender", "branch__code", "post", "in_service", "status", "phone"
        ),
        Pairing.objects.order_by("code").values_list(
            "code",
            "helper__code",
            "helped__code",
            "start_date",
            "end_date",
            "status",
            "helper_liaison__code",
            "helped_liaison__code",
        ),
        Activity.objects.order_by("client_id").values_list(
            "client_id",
            "pairing__code",
            "regime__code",
            "category",
            "date",
            "place",
            "title",
            "summary",
            "villager_count",
            "status",
            "logged_by_branch__code",
            "on_behalf_by__code",
            "created_at",
            "submitted_at",
            "on_time",
            "confirmed_at",
            "return_reason",
        ),
        Participation.objects.order_by("activity__client_id", "member__code").values_list(
            "activity__client_id", "member__code"
        ),
        Outcome.objects.order_by("activity__client_id", "metric__code").values_list(
            "activity__client_id", "metric__code", "value"
        ),
        InspectionScore.objects.order_by(
            "inspection__activity__client_id", "item__name"
        ).values_list("inspection__activity__client_id", "item__name", "score", "remark"),
        Rectification.objects.order_by(
            "inspection__activity__client_id", "description"
        ).values_list(
            "inspection__activity__client_id",
            "description",
            "owner__code",
            "due_date",
            "status",
            "done_at",
            "verified_at",
        ),
        Need.objects.order_by("pairing__code", "title").values_list(
            "pairing__code", "title", "description", "raised_on", "status"
        ),
        Commitment.objects.order_by("pairing__code", "title", "due_date").values_list(
            "pairing__code", "title", "amount", "due_date", "status", "done_on"
        ),
        HelpPairing.objects.order_by(
            "household__village__code", "household__head_name"
        ).values_list(
            "member__code", "household__head_name", "household__size", "start_date", "end_date"
        ),
        PeriodFigure.objects.order_by("organization__code", "period").values_list(
            "organization__code", "period", "value"
        ),
        User.objects.order_by("username").values_list("username", "first_name", "last_name"),
    ]
    return hashlib.sha256(repr([list(part) for part in parts]).encode()).hexdigest()


class DemoCountyTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.output = seed_demo("--scale", "demo")
        cls.today = timezone.localdate()

    def test_demo_scale_makes_about_the_stated_counts(self):
        assert Organization.objects.filter(kind="county").count() == 1
        assert Organization.objects.filter(kind="working_committee", sector="organ").count() == 1
        assert Organization.objects.filter(kind="committee", sector="rural").count() == 3
        assert Organization.objects.filter(kind="branch", sector="organ").count() == 10
        assert Organization.objects.filter(kind="branch", sector="rural").count() == 20
        assert Pairing.objects.count() == 15
        assert 350 <= Member.objects.count() <= 450
        assert 800 <= Activity.objects.count() <= 1600
        for model in (Participation, Outcome, Inspection, Rectification, Need, Commitment):
            assert model.objects.exists(), model
        for model in (Household, HelpPairing, PeriodFigure):
            assert model.objects.exists(), model

    def test_tree_is_consistent_and_needs_no_fixing(self):
        assert Organization.objects.find_problems() == ([], [], [], [], [])
        tree = list(Organization.objects.values_list("pk", "path", "depth", "numchild"))
        Organization.objects.fix_tree(fix_paths=True)
        assert list(Organization.objects.values_list("pk", "path", "depth", "numchild")) == tree

    def test_organs_sit_under_the_working_committee_and_villages_under_townships(self):
        root = Organization.objects.get(kind="county")
        committee = Organization.objects.get(kind="working_committee")
        assert Organization.objects.get_parent(committee) == root
        for branch in Organization.objects.filter(kind="branch"):
            parent = Organization.objects.get_parent(branch)
            expected = "working_committee" if branch.sector == "organ" else "committee"
            assert parent.kind == expected
            assert branch.code.startswith(parent.code)

    def test_every_branch_has_one_secretary(self):
        for branch in Organization.objects.branches():
            assert branch.members.filter(post="secretary").count() == 1, branch

    def test_rows_pass_model_validation(self):
        querysets = [
            Organization.objects.all(),
            Member.objects.select_related("branch"),
            Pairing.objects.select_related("helper", "helped", "helper_liaison", "helped_liaison"),
            Activity.objects.select_related("pairing"),
            Participation.objects.select_related("member", "activity__pairing"),
            Outcome.objects.select_related("metric"),
            Inspection.objects.select_related("pairing"),
            InspectionScore.objects.select_related("item"),
            Rectification.objects.all(),
            Need.objects.all(),
            Commitment.objects.select_related("need"),
            Household.objects.all(),
            HelpPairing.objects.all(),
            PeriodFigure.objects.all(),
        ]
        for queryset in querysets:
            # Foreign keys are checked by the database; checking them here is a query per row.
            relations = [f.name for f in queryset.model._meta.fields if f.is_relation]
            for row in queryset:
                row.clean_fields(exclude=relations)
                row.clean()

    def test_activities_lie_within_their_pairing_and_before_today(self):
        assert not Activity.objects.filter(date__gte=self.today).exists()
        assert not Activity.objects.filter(date__lt=F("pairing__start_date")).exists()
        assert not Activity.objects.filter(date__gt=F("pairing__end_date")).exists()

    def test_on_time_is_stamped_as_the_workflow_stamps_it(self):
        submitted = Activity.objects.exclude(status="draft")
        assert submitted.filter(on_time=True).count() > 0.8 * submitted.count()
        assert submitted.filter(on_time=False).exists()
        rules = compliance.regime_rules()
        for activity in submitted.only("date", "regime", "submitted_at", "on_time"):
            submitted_on = timezone.localdate(activity.submitted_at)
            regime_rules = rules[activity.regime_id] if activity.regime_id else []
            assert activity.on_time == compliance.is_on_time(activity, submitted_on, regime_rules)
            assert activity.date <= submitted_on < self.today

    def test_late_means_after_the_grace_days_after_the_month(self):
        grace = datetime.timedelta(days=settings.COBUILD["GRACE_DAYS"])
        monthly = Activity.objects.filter(regime__code__in=["activity_day", "cross_learning"])
        for activity in monthly.exclude(status="draft").only("date", "submitted_at", "on_time"):
            deadline = demo.month_end(activity.date) + grace
            assert activity.on_time == (timezone.localdate(activity.submitted_at) <= deadline)

    def test_activities_cover_every_regime_category_and_status(self):
        regimes = set(Activity.objects.values_list("regime__code", flat=True))
        assert regimes == {*Regime.objects.values_list("code", flat=True), None}
        assert set(Activity.objects.values_list("category", flat=True)) == set(Activity.Category)
        assert set(Activity.objects.values_list("status", flat=True)) == set(Activity.Status)
        assert Activity.objects.filter(status="confirmed").count() > 0.8 * Activity.objects.count()
        assert Activity.objects.filter(on_behalf_by__isnull=False).exists()

    def test_participants_come_from_both_branches_of_the_pairing(self):
        outsiders = Participation.objects.exclude(
            Q(member__branch=F("activity__pairing__helper"))
            | Q(member__branch=F("activity__pairing__helped"))
        )
        assert not outsiders.exists()
        for field in ("helper", "helped"):
            lacking = Activity.objects.exclude(
                participations__member__branch=F(f"pairing__{field}")
            )
            assert not lacking.exists(), field

    def test_some_pairings_miss_some_months(self):
        """Compliance is high but not perfect, so the compliance pages have rows to show."""
        last_month = demo.add_months(self.today.replace(day=1), -1)
        due = met = 0
        for pairing in Pairing.objects.filter(status="active"):
            done = {
                (day.year, day.month)
                for day in pairing.activities.counted()
                .filter(regime__code="activity_day")
                .values_list("date", flat=True)
            }
            month = demo.add_months(pairing.start_date, 1 if pairing.start_date.day > 1 else 0)
            while month <= last_month:
                due += 1
                met += (month.year, month.month) in done
                month = demo.add_months(month, 1)
        assert 0.75 * due < met < due

    def test_figures_stay_within_their_bounds(self):
        assert not Outcome.objects.filter(value__gt=F("metric__max_value")).exists()
        assert not InspectionScore.objects.filter(score__gt=F("item__max_score")).exists()
        metrics = set(Outcome.objects.values_list("metric__code", flat=True))
        assert {"training", "donation_money", "donation_goods", "projects"} <= metrics
        assert {"returning_farmland", "sugarcane"} <= metrics
        assert set(PeriodFigure.objects.values_list("metric__code", flat=True)) == {"rubber_area"}

    def test_inspections_are_mutual_inspection_activities_of_their_pairing(self):
        for inspection in Inspection.objects.select_related("activity__regime"):
            assert inspection.activity.pairing_id == inspection.pairing_id
            assert inspection.activity.regime.code == "mutual_inspection"
            assert inspection.activity.category == "inspection"
            assert inspection.activity.date == inspection.date
            assert inspection.activity.logged_by_branch_id == inspection.inspector_id
            assert inspection.scores.count() == 5
        assert Rectification.objects.filter(status="verified").exists()
        overdue = Rectification.objects.filter(
            status__in=["open", "in_progress"], due_date__lt=self.today
        )
        assert overdue.exists()

    def test_needs_and_commitments_include_done_and_overdue_ones(self):
        assert Commitment.objects.filter(status="done", done_on__isnull=False).exists()
        overdue = Commitment.objects.filter(
            status__in=["planned", "in_progress"], due_date__lt=self.today
        )
        assert overdue.exists()
        assert Need.objects.filter(source_activity__regime__code="joint_meeting").exists()

    def test_prints_counts_elapsed_time_and_logins(self):
        for label in ("党组织", "党员", "共建对子", "活动", "整改事项", "帮扶户", "用户", "用时"):
            assert label in self.output
        assert "organ_secretary" in self.output
        assert demo.DEMO_PASSWORD in self.output

    def test_demo_users_can_log_in(self):
        for username in [*DEMO_USERS, "admin"]:
            assert self.client.login(username=username, password=demo.DEMO_PASSWORD), username
            self.client.logout()
        admin = User.objects.get(username="admin")
        assert admin.is_staff and not admin.is_superuser
        assert list(admin.assignments.values_list("role", flat=True)) == [Role.SYSTEM_ADMIN]
        assert not User.objects.filter(username__in=DEMO_USERS, is_staff=True).exists()
        assert not User.objects.filter(first_name="").exists()

    def test_each_role_has_its_demo_user(self):
        roles = dict(Assignment.objects.values_list("user__username", "role"))
        assert roles == {
            "county": "county_staff",
            "township": "supervisor",
            "organ_secretary": "secretary",
            "village_secretary": "secretary",
            "leader": "viewer",
            "auditor": "auditor",
            "admin": "system_admin",
        }
        root = Organization.objects.get(kind="county")
        for username in ("county", "leader", "auditor"):
            assert Assignment.objects.get(user__username=username).organization == root

    def test_the_two_secretaries_are_partners(self):
        organ = Assignment.objects.get(user__username="organ_secretary").organization
        village = Assignment.objects.get(user__username="village_secretary").organization
        assert organ.sector == "organ"
        assert village.sector == "rural"
        assert Pairing.objects.active_on(self.today).filter(helper=organ, helped=village).exists()
        township = Assignment.objects.get(user__username="township").organization
        assert village.is_descendant_of(township)

    def test_refuses_a_database_that_already_holds_data(self):
        before = row_counts()
        with pytest.raises(CommandError, match="已有"):
            seed_demo("--scale", "demo")
        assert row_counts() == before

    def test_if_empty_leaves_a_populated_database_unchanged(self):
        before = row_counts()
        output = seed_demo("--scale", "demo", "--if-empty")
        assert "跳过" in output
        assert row_counts() == before

    def test_force_refuses_to_add_the_same_county_twice(self):
        before = row_counts()
        with pytest.raises(CommandError, match="重复"):
            seed_demo("--scale", "demo", "--force")
        assert row_counts() == before


class SeedRulesTests(TestCase):
    def test_refuses_a_database_holding_only_one_organization(self):
        make_county()
        with pytest.raises(CommandError):
            seed_demo("--scale", "demo")
        assert Organization.objects.count() == 1
        assert not User.objects.exists()

    def test_force_adds_the_county_beside_existing_data(self):
        make_county(code="ZZ")
        seed_demo("--scale", "demo", "--force")
        assert Organization.objects.filter(depth=1).count() == 2
        assert Organization.objects.find_problems() == ([], [], [], [], [])

    def test_keeps_existing_users_and_their_passwords(self):
        User.objects.create_user("admin", password="Another#2026")
        output = seed_demo("--scale", "demo")
        assert "已存在" in output
        assert self.client.login(username="admin", password="Another#2026")

    def test_same_seed_gives_the_same_data(self):
        today = datetime.date(2026, 3, 15)

        def fingerprint(seed):
            with transaction.atomic():
                demo.seed(scale="demo", seed=seed, today=today)
                result = digest()
                transaction.set_rollback(True)
            assert not Organization.objects.exists()
            return result

        first = fingerprint(1)
        assert fingerprint(1) == first
        assert fingerprint(2) != first
