"""The role × scope matrix: who may read and change which object (pairings/access.py)."""

import datetime

from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.http import Http404
from django.test import TestCase

from activities.models import (
    Commitment,
    Evidence,
    Inspection,
    InspectionItem,
    InspectionScore,
    Metric,
    Need,
    Outcome,
    Participation,
    PeriodFigure,
    PeriodUnlock,
    Rectification,
    Regime,
)
from pairings import access
from pairings.models import Assignment, HelpPairing, Household, Organization
from tests.factories import (
    make_activity,
    make_branch,
    make_county,
    make_member,
    make_org,
    make_pairing,
    make_user,
)

Role = Assignment.Role
RW, R, NONE = "read+write", "read only", "not found"


def build_side(pairing, member, tag):
    """Every kind of object hanging off one pairing, keyed by a readable name."""
    activity = make_activity(pairing, title=f"活动{tag}")
    participation = Participation.objects.create(activity=activity, member=member)
    outcome = Outcome.objects.create(activity=activity, metric=Metric.objects.first(), value=5)
    inspection_activity = make_activity(
        pairing, regime=Regime.objects.get(code="mutual_inspection"), category="inspection"
    )
    inspection = Inspection.objects.create(
        pairing=pairing,
        activity=inspection_activity,
        year=2025,
        inspector=pairing.helper,
        inspected=pairing.helped,
        date=datetime.date(2025, 3, 5),
    )
    score = InspectionScore.objects.create(
        inspection=inspection, item=InspectionItem.objects.first(), score=10
    )
    rectification = Rectification.objects.create(
        inspection=inspection, description="台账不全", due_date=datetime.date(2025, 6, 30)
    )
    need = Need.objects.create(pairing=pairing, title="灌溉水渠维修", raised_by=pairing.helped)
    commitment = Commitment.objects.create(
        pairing=pairing,
        need=need,
        title="修缮水渠",
        amount=20000,
        due_date=datetime.date(2025, 9, 1),
    )
    evidence = Evidence.objects.create(
        activity=activity, file=ContentFile(b"x", name="a.png"), content_type="image/png", size=1
    )
    household = Household.objects.create(village=pairing.helped, head_name=f"农户{tag}")
    help_pairing = HelpPairing.objects.create(
        member=member, household=household, start_date=datetime.date(2024, 1, 1)
    )
    figure = PeriodFigure.objects.create(
        organization=pairing.helped,
        metric=Metric.objects.get(code="rubber_area"),
        period="2025",
        value=1,
    )
    return {
        "pairing": pairing,
        "activity": activity,
        "participation": participation,
        "outcome": outcome,
        "inspection": inspection,
        "inspection score": score,
        "rectification": rectification,
        "need": need,
        "commitment": commitment,
        "evidence": evidence,
        "village branch": pairing.helped,
        "organ branch": pairing.helper,
        "member": member,
        "household": household,
        "help pairing": help_pairing,
        "period figure": figure,
    }


class ScopeMatrixTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        county = make_county(name="青山县委")
        township1 = make_org(county, kind="committee", sector="rural", name="石门镇党委")
        township2 = make_org(county, kind="committee", sector="rural", name="河口乡党委")
        organs = make_org(county, kind="working_committee", sector="organ", name="县直机关工委")
        organ1 = make_branch(organs, name="县财政局机关党支部")
        organ2 = make_branch(organs, name="县农业农村局党支部")
        village1 = make_branch(township1, sector="rural", name="石门村党支部")
        village3 = make_branch(township2, sector="rural", name="河口村党支部")
        # Pairing A: organ1 helps village1 (in township1). Pairing B: organ2 helps village3.
        cls.a = build_side(make_pairing(organ1, village1), make_member(village1), "A")
        cls.b = build_side(make_pairing(organ2, village3), make_member(village3), "B")
        cls.organ1_member = make_member(organ1)
        cls.unlock = PeriodUnlock.objects.create(
            branch=village1,
            period="2025-01",
            reason="补录",
            unlocked_by=make_user(),
            until=datetime.date(2025, 4, 1),
        )
        cls.users = {
            "county staff": make_user(role=Role.COUNTY_STAFF, org=county),
            "township1 supervisor": make_user(role=Role.SUPERVISOR, org=township1),
            "organs supervisor": make_user(role=Role.SUPERVISOR, org=organs),
            "organ1 secretary": make_user(role=Role.SECRETARY, org=organ1),
            "village1 secretary": make_user(role=Role.SECRETARY, org=village1),
            "leader": make_user(role=Role.VIEWER, org=county),
            "auditor": make_user(role=Role.AUDITOR, org=county),
            "no role": make_user(),
            "superuser": make_user(is_superuser=True, is_staff=True),
        }

    def answer(self, user, obj):
        user = type(user).objects.get(pk=user.pk)  # a fresh user: no cached scope
        queryset = type(obj)._default_manager.all()
        try:
            access.get_for_user(user, queryset, pk=obj.pk)
        except Http404:
            return NONE
        try:
            access.get_for_user(user, queryset, write=True, pk=obj.pk)
        except PermissionDenied:
            return R
        return RW

    def assert_matrix(self, expected):
        wrong = []
        for user_name, by_side in expected.items():
            for side, objects in (("A", self.a), ("B", self.b)):
                for name, obj in objects.items():
                    want = by_side[side]
                    if isinstance(want, dict):
                        want = want.get(name, want["*"])
                    got = self.answer(self.users[user_name], obj)
                    if got != want:
                        wrong.append(f"{user_name} on {name} of pairing {side}: {got}, want {want}")
        assert not wrong, "\n".join(wrong)

    def test_subtree_roles_reach_pairings_with_a_branch_under_them(self):
        self.assert_matrix(
            {
                "county staff": {"A": RW, "B": RW},
                "leader": {"A": R, "B": R},
                # township1 holds village1 only: pairing A, and organ1 as its partner (read only).
                "township1 supervisor": {"A": {"*": RW, "organ branch": R}, "B": NONE},
                # The organs' working committee holds both organ branches, so both pairings;
                # the villages it reaches as partners only.
                "organs supervisor": {
                    "A": {
                        "*": RW,
                        "village branch": R,
                        "member": R,
                        "household": R,
                        "help pairing": R,
                        "period figure": R,
                    },
                    "B": {
                        "*": RW,
                        "village branch": R,
                        "member": R,
                        "household": R,
                        "help pairing": R,
                        "period figure": R,
                    },
                },
            }
        )

    def test_secretaries_reach_their_own_pairings_and_nothing_else(self):
        partner_read_only = {
            "village branch": R,
            "member": R,
            "household": R,
            "help pairing": R,
            "period figure": R,
        }
        self.assert_matrix(
            {
                "organ1 secretary": {"A": {"*": RW, **partner_read_only}, "B": NONE},
                "village1 secretary": {"A": {"*": RW, "organ branch": R}, "B": NONE},
            }
        )

    def test_auditors_users_without_roles_and_superusers_reach_no_domain_data(self):
        self.assert_matrix(
            {
                "auditor": {"A": NONE, "B": NONE},
                "no role": {"A": NONE, "B": NONE},
                "superuser": {"A": NONE, "B": NONE},
            }
        )

    def test_secretary_sees_partner_branch_members_but_changes_only_their_own(self):
        village_secretary = self.users["village1 secretary"]
        assert self.answer(village_secretary, self.organ1_member) == R
        assert self.answer(self.users["organ1 secretary"], self.organ1_member) == RW
        assert self.answer(self.users["township1 supervisor"], self.organ1_member) == R
        assert self.answer(self.users["leader"], self.organ1_member) == R

    def test_period_unlocks_follow_the_branch(self):
        assert self.answer(self.users["village1 secretary"], self.unlock) == RW
        assert self.answer(self.users["organ1 secretary"], self.unlock) == R
        assert self.answer(self.users["county staff"], self.unlock) == RW
        assert self.answer(self.users["auditor"], self.unlock) == NONE

    def test_trashed_objects_are_out_of_everyones_scope(self):
        staff = self.users["county staff"]
        self.a["need"].trash(by=staff)
        assert self.answer(staff, self.a["need"]) == NONE
        self.a["need"].restore(by=staff)
        assert self.answer(staff, self.a["need"]) == RW

    def test_a_pairing_in_the_trash_takes_everything_on_it_out_of_scope(self):
        staff = self.users["county staff"]
        self.a["pairing"].trash(by=staff)
        for name, obj in self.a.items():
            if type(obj)._meta.label_lower in access.PAIRING_SCOPED:
                assert self.answer(staff, obj) == NONE, name
        assert self.answer(staff, self.b["activity"]) == RW

    def test_the_scope_tested_row_by_row_holds_the_same_rows(self):
        # The activity list's wide pages (cobuild/pagination.py) find their keys this way.
        for user_name, user in self.users.items():
            for side in (self.a, self.b):
                for name, obj in side.items():
                    queryset = type(obj)._default_manager.all()
                    fresh = type(user).objects.get(pk=user.pk)
                    indexed = access.readable(fresh, queryset).filter(pk=obj.pk).exists()
                    tested = access.readable(fresh, queryset, row_by_row=True)
                    assert tested.filter(pk=obj.pk).exists() == indexed, (user_name, name)

    def test_the_rows_of_readable_pairings_are_the_readable_rows_on_them(self):
        # A secretary's home finds its lists by the ids of the pairings it shows.
        staff = self.users["county staff"]
        self.a["inspection"].trash(by=staff)  # its scores and rectifications go out with it
        answers = set()
        for user_name, user in self.users.items():
            fresh = type(user).objects.get(pk=user.pk)
            pairings = list(access.visible_pairings(fresh))
            for side in (self.a, self.b):
                for name, obj in side.items():
                    if type(obj)._meta.label_lower not in access.PAIRING_SCOPED:
                        continue
                    queryset = type(obj)._default_manager.all()
                    expected = access.readable(fresh, queryset).filter(pk=obj.pk).exists()
                    found = access.readable_in(pairings, queryset).filter(pk=obj.pk).exists()
                    assert found == expected, (user_name, name)
                    answers.add(found)
        assert answers == {True, False}

    def test_the_scopes_are_the_readable_organizations_above_the_branches(self):
        found = set()
        for user_name, user in self.users.items():
            fresh = type(user).objects.get(pk=user.pk)
            expected = access.visible_organizations(fresh).exclude(
                kind__in=Organization.BRANCH_KINDS
            )
            assert set(access.visible_scopes(fresh)) == set(expected), user_name
            found |= set(expected)
        assert found  # county staff and supervisors read committees

    def test_ended_assignment_organization_in_trash_gives_no_scope(self):
        secretary = self.users["organ1 secretary"]
        self.a["organ branch"].trash(by=self.users["county staff"])
        assert self.answer(secretary, self.a["activity"]) == NONE

    def test_scope_is_read_with_one_query_per_request(self):
        user = type(self.users["county staff"]).objects.get(pk=self.users["county staff"].pk)
        with self.assertNumQueries(1):
            access.scope_of(user)
            access.scope_of(user)

    def test_visible_lists_hold_exactly_the_rows_in_scope(self):
        secretary = self.users["village1 secretary"]
        assert list(access.visible_pairings(secretary)) == [self.a["pairing"]]
        members = set(access.visible_members(secretary))
        assert self.a["member"] in members and self.organ1_member in members
        assert self.b["member"] not in members
        orgs = set(access.visible_organizations(secretary))
        assert orgs == {self.a["village branch"], self.a["organ branch"]}
