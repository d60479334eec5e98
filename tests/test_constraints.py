"""Every model constraint: a bad row is refused by the database, whoever writes it.

Each test writes a violating row straight through the ORM (no full_clean), inside
`transaction.atomic()`, and checks that the database raises IntegrityError, names the broken
constraint, and leaves the table as it was. Then the rules that span fields or tables, which live
in `clean()` and come out as Chinese form errors, and the trash: nothing that holds activities is
ever cascaded away.
"""

import datetime
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import ProtectedError
from django.test import TestCase
from django.utils import timezone

from activities.models import (
    Activity,
    Commitment,
    Evidence,
    Inspection,
    InspectionItem,
    InspectionScore,
    Metric,
    Need,
    Outcome,
    ParticipantYear,
    Participation,
    PeriodFigure,
    PeriodUnlock,
    Rectification,
    Regime,
    RegimeCadence,
)
from pairings.models import (
    Assignment,
    HelpPairing,
    Household,
    HouseholdVisit,
    Member,
    Organization,
    Pairing,
    PairingSuspension,
)
from tests.factories import (
    make_activity,
    make_branch,
    make_commitment,
    make_county,
    make_evidence,
    make_help_pairing,
    make_household,
    make_household_visit,
    make_inspection,
    make_member,
    make_need,
    make_org,
    make_outcome,
    make_pairing,
    make_period_figure,
    make_period_unlock,
    make_rectification,
    make_user,
    metric,
)

JAN_1 = datetime.date(2024, 1, 1)
NOW = timezone.now()


@contextmanager
def refused(model, constraint):
    """The block writes a bad `model` row: the database refuses it and the table is unchanged.

    `constraint` is the constraint's name, or the column, for NOT NULL and the column checks of
    positive integer fields, that the database names in its error.
    """
    before = model._base_manager.count()
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        yield
    assert model._base_manager.count() == before
    message = str(caught.value)
    if (
        connection.vendor == "sqlite"
        and message.startswith("UNIQUE constraint failed: ")
        and ("index" not in message)
    ):
        return  # SQLite names the columns of a unique constraint on columns, not the constraint.
    assert constraint in message, message


def errors_of(obj):
    """`obj.full_clean()` fails, as a form would: its errors by field."""
    with pytest.raises(ValidationError) as caught:
        obj.full_clean()
    return caught.value.message_dict


class County:
    """A small county: an organ branch paired with a village branch, and an activity."""

    @classmethod
    def setUpTestData(cls):
        cls.user = make_user()
        cls.county = make_county()
        cls.township = make_org(cls.county, kind="committee", sector="rural")
        cls.organ = make_branch(cls.county, sector="organ")
        cls.village = make_branch(cls.township, sector="rural")
        cls.other_village = make_branch(cls.township, sector="rural")
        cls.organ_member = make_member(cls.organ)
        cls.village_member = make_member(cls.village)
        cls.pairing = make_pairing(cls.organ, cls.village)
        cls.activity = make_activity(cls.pairing)
        Participation.objects.create(activity=cls.activity, member=cls.organ_member)
        Participation.objects.create(activity=cls.activity, member=cls.village_member)
        cls.inspection = make_inspection(cls.pairing)


class OrganizationConstraintTests(County, TestCase):
    def test_organization_kind_and_sector_must_be_known(self):
        with refused(Organization, "organization_kind_valid"):
            make_org(self.county, kind="bureau")
        with refused(Organization, "organization_sector_valid"):
            make_org(self.county, sector="army")

    def test_organization_code_may_not_be_blank(self):
        with refused(Organization, "organization_code_not_blank"):
            make_org(self.county, code="")

    def test_organization_codes_are_unique(self):
        with refused(Organization, "code"):
            make_org(self.county, code=self.organ.code)

    def test_tree_is_at_most_six_levels_deep(self):
        node = self.township
        for _ in range(4):
            node = make_org(node, kind="committee")
        assert node.depth == 6
        with refused(Organization, "organization_depth_at_most_6"):
            make_org(node)

    def test_member_post_status_and_gender_must_be_known(self):
        with refused(Member, "member_post_valid"):
            make_member(self.organ, post="chairman")
        with refused(Member, "member_status_valid"):
            make_member(self.organ, status="honorary")
        with refused(Member, "member_gender_valid"):
            make_member(self.organ, gender="x")
        make_member(self.organ, gender="")

    def test_member_needs_a_name_a_unique_code_and_a_branch(self):
        with refused(Member, "member_name_not_blank"):
            make_member(self.organ, name="")
        with refused(Member, "code"):
            make_member(self.organ, code=self.organ_member.code)
        with refused(Member, "branch_id"):
            make_member(None)

    def test_household_needs_a_head_and_at_least_one_person(self):
        with refused(Household, "household_head_not_blank"):
            make_household(self.village, head_name="")
        with refused(Household, "household_size_positive"):
            make_household(self.village, size=0)
        with refused(Household, "size"):
            make_household(self.village, size=-1)
        make_household(self.village, size=None)

    def test_help_pairing_may_not_end_before_it_starts(self):
        household = make_household(self.village)
        with refused(HelpPairing, "help_pairing_end_after_start"):
            make_help_pairing(self.organ_member, household, end_date=datetime.date(2023, 12, 31))
        make_help_pairing(self.organ_member, household, end_date=JAN_1)

    def test_member_helps_a_household_once_from_a_given_day(self):
        household = make_household(self.village)
        make_help_pairing(self.organ_member, household)
        with refused(HelpPairing, "help_pairing_unique_start"):
            make_help_pairing(self.organ_member, household)
        make_help_pairing(self.organ_member, household, start_date=datetime.date(2025, 1, 1))

    def test_household_visit_says_what_happened(self):
        help_pairing = make_help_pairing(self.organ_member, make_household(self.village))
        with refused(HouseholdVisit, "household_visit_summary_not_blank"):
            make_household_visit(help_pairing, summary="")
        make_household_visit(help_pairing)

    def test_a_role_is_held_once_and_must_be_known(self):
        Assignment.objects.create(user=self.user, organization=self.organ, role="secretary")
        with refused(Assignment, "assignment_unique"):
            Assignment.objects.create(user=self.user, organization=self.organ, role="secretary")
        with refused(Assignment, "assignment_role_valid"):
            Assignment.objects.create(user=self.user, organization=self.organ, role="king")
        Assignment.objects.create(user=self.user, organization=self.organ, role="viewer")

    def test_an_account_holds_at_most_one_administrator_role(self):
        Assignment.objects.create(user=self.user, organization=self.county, role="auditor")
        with refused(Assignment, "assignment_one_admin_role"):
            Assignment.objects.create(
                user=self.user, organization=self.county, role="security_admin"
            )


class PairingConstraintTests(County, TestCase):
    def test_branch_cannot_pair_with_itself(self):
        with refused(Pairing, "pairing_not_with_itself"):
            make_pairing(self.organ, self.organ)

    def test_branch_cannot_be_updated_into_pairing_with_itself(self):
        with refused(Pairing, "pairing_not_with_itself"):
            Pairing.objects.filter(pk=self.pairing.pk).update(helped=self.organ)
        self.pairing.refresh_from_db()
        assert self.pairing.helped == self.village

    def test_second_active_pairing_between_same_branches_is_refused_whichever_side_helps(self):
        with refused(Pairing, "pairing_one_active_per_two_branches"):
            make_pairing(self.organ, self.village)
        with refused(Pairing, "pairing_one_active_per_two_branches"):
            make_pairing(self.village, self.organ)

    def test_suspended_pairing_can_not_be_reactivated_beside_an_active_one(self):
        suspended = make_pairing(self.village, self.organ, status="suspended")
        with refused(Pairing, "pairing_one_active_per_two_branches"):
            Pairing.objects.filter(pk=suspended.pk).update(status="active")
        suspended.refresh_from_db()
        assert suspended.status == "suspended"

    def test_second_pairing_between_same_branches_is_allowed_once_the_first_has_ended(self):
        Pairing.objects.filter(pk=self.pairing.pk).update(
            status="ended", end_date=datetime.date(2024, 12, 31)
        )
        again = make_pairing(self.village, self.organ, start_date=datetime.date(2025, 1, 1))
        assert again.status == "active"

    def test_second_pairing_between_same_branches_is_allowed_once_the_first_is_in_the_trash(self):
        self.pairing.trash(by=self.user)
        again = make_pairing(self.organ, self.village)
        assert set(Pairing.objects.alive().filter(status="active")) == {again}

    def test_trashed_pairing_is_not_restored_beside_a_new_active_one(self):
        self.pairing.trash(by=self.user)
        make_pairing(self.organ, self.village)
        with refused(Pairing, "pairing_one_active_per_two_branches"):
            self.pairing.restore(by=self.user)
        assert Pairing.objects.get(pk=self.pairing.pk).in_trash

    def test_a_branch_may_pair_with_several_branches(self):
        make_pairing(self.organ, self.other_village)
        make_pairing(self.other_village, self.village)
        assert Pairing.objects.of_branch(self.village).count() == 2

    def test_suspension_has_a_reason_and_resumes_after_it_starts(self):
        with refused(PairingSuspension, "pairing_suspension_end_after_start"):
            PairingSuspension.objects.create(
                pairing=self.pairing,
                start_date=datetime.date(2025, 7, 1),
                end_date=datetime.date(2025, 6, 30),
                reason="换届",
            )
        with refused(PairingSuspension, "pairing_suspension_has_reason"):
            PairingSuspension.objects.create(
                pairing=self.pairing, start_date=datetime.date(2025, 7, 1), reason=""
            )
        PairingSuspension.objects.create(
            pairing=self.pairing, start_date=datetime.date(2025, 7, 1), reason="换届"
        )

    def test_pairing_may_not_end_before_it_starts(self):
        with refused(Pairing, "pairing_end_after_start"):
            make_pairing(self.organ, self.other_village, end_date=datetime.date(2023, 12, 31))
        with refused(Pairing, "pairing_end_after_start"):
            Pairing.objects.filter(pk=self.pairing.pk).update(end_date=datetime.date(2023, 1, 1))
        self.pairing.refresh_from_db()
        assert self.pairing.end_date is None
        make_pairing(self.organ, self.other_village, end_date=JAN_1)

    def test_pairing_status_must_be_known(self):
        with refused(Pairing, "pairing_status_valid"):
            make_pairing(self.organ, self.other_village, status="paused")

    def test_pairing_needs_both_sides_and_a_unique_code(self):
        with refused(Pairing, "helper_id"):
            make_pairing(None, self.other_village)
        with refused(Pairing, "helped_id"):
            make_pairing(self.organ, None)
        with refused(Pairing, "code"):
            make_pairing(self.organ, self.other_village, code=self.pairing.code)


class RegimeAndMetricConstraintTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.regime = Regime.objects.get(code="activity_day")

    def test_regime_cadence_changes_once_a_day_at_most(self):
        first = self.regime.cadences.first()
        with refused(RegimeCadence, "regime_cadence_unique_from"):
            RegimeCadence.objects.create(
                regime=self.regime, valid_from=first.valid_from, cadence="quarter"
            )

    def test_regime_cadence_must_be_known(self):
        with refused(RegimeCadence, "regime_cadence_valid"):
            RegimeCadence.objects.create(regime=self.regime, valid_from=JAN_1, cadence="weekly")

    def test_required_regime_needs_at_least_one_activity_a_period(self):
        with refused(RegimeCadence, "regime_cadence_required_positive"):
            RegimeCadence.objects.create(
                regime=self.regime, valid_from=JAN_1, cadence="month", required=0
            )
        with refused(RegimeCadence, "required"):
            RegimeCadence.objects.create(
                regime=self.regime, valid_from=JAN_1, cadence="none", required=-1
            )
        RegimeCadence.objects.create(
            regime=self.regime, valid_from=JAN_1, cadence="none", required=0
        )

    def test_regime_codes_and_names_are_unique_and_order_is_not_negative(self):
        with refused(Regime, "code"):
            Regime.objects.create(code="activity_day", name="另一个制度", short_name="另一个")
        with refused(Regime, "name"):
            Regime.objects.create(code="another", name=self.regime.name, short_name="另一个")
        with refused(Regime, "order"):
            Regime.objects.filter(pk=self.regime.pk).update(order=-1)

    def test_metric_aggregation_and_style_must_be_known(self):
        with refused(Metric, "metric_aggregation_valid"):
            Metric.objects.create(code="m1", name="指标一", unit="个", aggregation="average")
        with refused(Metric, "metric_style_valid"):
            Metric.objects.create(
                code="m2", name="指标二", unit="个", aggregation="flow", style="roman"
            )

    def test_metric_sanity_bound_is_positive_when_set(self):
        with refused(Metric, "metric_max_positive"):
            Metric.objects.create(
                code="m3", name="指标三", unit="个", aggregation="flow", max_value=0
            )
        Metric.objects.create(code="m4", name="指标四", unit="个", aggregation="flow")

    def test_inspection_item_is_worth_some_points(self):
        with refused(InspectionItem, "inspection_item_max_positive"):
            InspectionItem.objects.create(name="作风建设", max_score=0)


class ActivityConstraintTests(County, TestCase):
    def test_activity_category_and_status_must_be_known(self):
        with refused(Activity, "activity_category_valid"):
            make_activity(self.pairing, category="party")
        with refused(Activity, "activity_status_valid"):
            make_activity(self.pairing, status="approved", submitted_at=NOW, on_time=True)

    def test_submitted_activity_must_be_stamped(self):
        with refused(Activity, "activity_submitted_is_stamped"):
            make_activity(self.pairing, status="submitted")
        with refused(Activity, "activity_submitted_is_stamped"):
            make_activity(self.pairing, status="submitted", submitted_at=NOW)
        with refused(Activity, "activity_submitted_is_stamped"):
            Activity.objects.filter(pk=self.activity.pk).update(status="submitted")
        self.activity.refresh_from_db()
        assert self.activity.status == "draft"
        make_activity(self.pairing, status="submitted", submitted_at=NOW, on_time=False)

    def test_confirmed_activity_must_be_stamped(self):
        with refused(Activity, "activity_confirmed_is_stamped"):
            make_activity(self.pairing, status="confirmed", submitted_at=NOW, on_time=True)
        make_activity(
            self.pairing, status="confirmed", submitted_at=NOW, on_time=True, confirmed_at=NOW
        )

    def test_returned_activity_needs_a_reason(self):
        submitted = make_activity(self.pairing, status="submitted", submitted_at=NOW, on_time=True)
        with refused(Activity, "activity_returned_has_reason"):
            Activity.objects.filter(pk=submitted.pk).update(status="returned")
        submitted.refresh_from_db()
        assert submitted.status == "submitted"
        Activity.objects.filter(pk=submitted.pk).update(status="returned", return_reason="缺签到表")

    def test_activity_needs_a_title_and_a_plausible_date(self):
        with refused(Activity, "activity_title_not_blank"):
            make_activity(self.pairing, title="")
        with refused(Activity, "activity_date_plausible"):
            make_activity(self.pairing, date=datetime.date(1999, 12, 31))
        make_activity(self.pairing, date=datetime.date(2000, 1, 1))

    def test_activity_needs_a_pairing_and_a_side_that_logged_it(self):
        with refused(Activity, "pairing_id"):
            Activity.objects.create(
                category="study", date=JAN_1, title="集体学习", logged_by_branch=self.organ
            )
        with refused(Activity, "logged_by_branch_id"):
            make_activity(self.pairing, logged_by_branch=None)

    def test_counts_and_versions_are_never_negative(self):
        with refused(Activity, "villager_count"):
            make_activity(self.pairing, villager_count=-1)
        with refused(Activity, "version"):
            Activity.objects.filter(pk=self.activity.pk).update(version=-1)

    def test_activity_sent_twice_from_a_phone_is_stored_once(self):
        with refused(Activity, "client_id"):
            make_activity(self.pairing, client_id=self.activity.client_id)

    def test_member_takes_part_in_an_activity_once(self):
        with refused(Participation, "participation_unique"):
            Participation.objects.create(activity=self.activity, member=self.organ_member)

    def test_outcome_is_recorded_once_per_metric(self):
        make_outcome(self.activity, "training")
        with refused(Outcome, "outcome_unique_metric"):
            make_outcome(self.activity, "training")

    def test_negative_outcome_is_refused(self):
        with refused(Outcome, "outcome_value_not_negative"):
            make_outcome(self.activity, "donation_money", value="-1")
        make_outcome(self.activity, "donation_money", value="0")


class FigureAndUnlockConstraintTests(County, TestCase):
    def test_period_figure_is_entered_once_per_organization_metric_and_period(self):
        make_period_figure(self.village, "rubber_area", "2025")
        with refused(PeriodFigure, "period_figure_unique"):
            make_period_figure(self.village, "rubber_area", "2025")
        make_period_figure(self.village, "rubber_area", "2025-H1")
        make_period_figure(self.other_village, "rubber_area", "2025")

    def test_negative_period_figure_is_refused(self):
        with refused(PeriodFigure, "period_figure_not_negative"):
            make_period_figure(self.village, value=Decimal("-0.01"))

    def test_period_figure_span_may_not_end_before_it_starts(self):
        figure = make_period_figure(self.village, period="2025-Q2")
        with refused(PeriodFigure, "period_figure_span_valid"):
            PeriodFigure.objects.filter(pk=figure.pk).update(period_end=datetime.date(2025, 3, 31))
        figure.refresh_from_db()
        assert figure.period_end == datetime.date(2025, 6, 30)

    def test_period_unlock_needs_a_reason_and_who_unlocked(self):
        with refused(PeriodUnlock, "period_unlock_has_reason"):
            make_period_unlock(self.village, self.user, reason="")
        with refused(PeriodUnlock, "unlocked_by_id"):
            make_period_unlock(self.village, None)


class EvidenceConstraintTests(County, TestCase):
    def test_evidence_belongs_to_exactly_one_owner(self):
        commitment = make_commitment(self.pairing)
        with refused(Evidence, "evidence_has_one_owner"):
            make_evidence()
        with refused(Evidence, "evidence_has_one_owner"):
            make_evidence(activity=self.activity, commitment=commitment)
        with refused(Evidence, "evidence_has_one_owner"):
            make_evidence(
                activity=self.activity,
                commitment=commitment,
                rectification=make_rectification(self.inspection),
            )

    def test_evidence_may_belong_to_an_activity_a_commitment_or_a_rectification(self):
        make_evidence(activity=self.activity)
        make_evidence(commitment=make_commitment(self.pairing))
        make_evidence(rectification=make_rectification(self.inspection))
        assert Evidence.objects.count() == 3

    def test_evidence_kind_must_be_known_and_size_not_negative(self):
        with refused(Evidence, "evidence_kind_valid"):
            make_evidence(activity=self.activity, kind="video")
        with refused(Evidence, "size"):
            make_evidence(activity=self.activity, size=-1)


class InspectionConstraintTests(County, TestCase):
    def test_branch_does_not_inspect_itself(self):
        with refused(Inspection, "inspection_not_self"):
            make_inspection(self.pairing, inspector=self.organ, inspected=self.organ, year=2024)

    def test_satisfaction_must_be_known(self):
        with refused(Inspection, "inspection_satisfaction_valid"):
            make_inspection(self.pairing, year=2024, satisfaction="thrilled")

    def test_inspection_year_is_not_negative(self):
        with refused(Inspection, "year"):
            Inspection.objects.filter(pk=self.inspection.pk).update(year=-1)

    def test_side_inspects_its_partner_once_a_year(self):
        with refused(Inspection, "inspection_once_a_year_per_side"):
            make_inspection(self.pairing, year=2025)
        make_inspection(self.pairing, inspector=self.village, year=2025)
        make_inspection(self.pairing, year=2024)

    def test_inspection_may_be_rerecorded_once_the_first_is_trashed(self):
        self.inspection.trash(by=self.user)
        again = make_inspection(self.pairing, year=2025)
        assert list(Inspection.objects.alive()) == [again]

    def test_inspection_needs_its_activity_and_an_activity_records_one_inspection(self):
        with refused(Inspection, "activity_id"):
            Inspection.objects.create(
                pairing=self.pairing,
                year=2024,
                inspector=self.organ,
                inspected=self.village,
                date=datetime.date(2024, 6, 1),
            )
        with refused(Inspection, "activity_id"):
            make_inspection(self.pairing, inspector=self.village, activity=self.inspection.activity)

    def test_item_is_scored_once_and_not_below_zero(self):
        item = InspectionItem.objects.get(name="组织生活")
        InspectionScore.objects.create(inspection=self.inspection, item=item, score=18)
        with refused(InspectionScore, "inspection_score_unique"):
            InspectionScore.objects.create(inspection=self.inspection, item=item, score=19)
        with refused(InspectionScore, "inspection_score_not_negative"):
            InspectionScore.objects.create(
                inspection=self.inspection,
                item=InspectionItem.objects.get(name="制度建设"),
                score=-1,
            )

    def test_rectification_needs_a_description_and_a_known_status(self):
        with refused(Rectification, "rectification_not_blank"):
            make_rectification(self.inspection, description="")
        with refused(Rectification, "rectification_status_valid"):
            make_rectification(self.inspection, status="forgotten")
        with refused(Rectification, "inspection_id"):
            make_rectification(None)

    def test_done_or_verified_rectification_is_dated(self):
        with refused(Rectification, "rectification_done_is_dated"):
            make_rectification(self.inspection, status="done")
        with refused(Rectification, "rectification_done_is_dated"):
            make_rectification(
                self.inspection, status="verified", verified_at=datetime.date(2025, 9, 1)
            )
        with refused(Rectification, "rectification_verified_is_dated"):
            make_rectification(
                self.inspection, status="verified", done_at=datetime.date(2025, 8, 1)
            )
        with refused(Rectification, "rectification_verified_after_done"):
            make_rectification(
                self.inspection,
                status="verified",
                done_at=datetime.date(2025, 8, 1),
                verified_at=datetime.date(2025, 7, 1),
            )
        make_rectification(
            self.inspection,
            status="verified",
            done_at=datetime.date(2025, 8, 1),
            verified_at=datetime.date(2025, 9, 1),
        )


class NeedAndCommitmentConstraintTests(County, TestCase):
    def test_need_needs_a_title_a_pairing_and_a_known_status(self):
        with refused(Need, "need_title_not_blank"):
            make_need(self.pairing, title="")
        with refused(Need, "need_status_valid"):
            make_need(self.pairing, status="ignored")
        with refused(Need, "pairing_id"):
            Need.objects.create(title="修路", raised_by=self.village)

    def test_commitment_needs_a_title_a_pairing_and_a_known_status(self):
        with refused(Commitment, "commitment_title_not_blank"):
            make_commitment(self.pairing, title="")
        with refused(Commitment, "commitment_status_valid"):
            make_commitment(self.pairing, status="forgotten")
        with refused(Commitment, "pairing_id"):
            make_commitment(None)

    def test_commitment_amount_is_not_negative(self):
        with refused(Commitment, "commitment_amount_not_negative"):
            make_commitment(self.pairing, amount=Decimal("-100"))
        make_commitment(self.pairing, amount=None)

    def test_done_commitment_is_dated(self):
        with refused(Commitment, "commitment_done_is_dated"):
            make_commitment(self.pairing, status="done")
        make_commitment(self.pairing, status="done", done_on=datetime.date(2025, 5, 1))


class SummaryConstraintTests(County, TestCase):
    def test_a_member_has_one_participation_row_a_year_and_pairing(self):
        row = {"member": self.organ_member, "pairing": self.pairing}
        ParticipantYear.objects.create(**row, year=2031, months=0b1)
        with refused(ParticipantYear, "participant_year_unique"):
            ParticipantYear.objects.create(**row, year=2031, months=0b10)
        ParticipantYear.objects.create(**row, year=2032, months=0b10)
        other = make_pairing(self.organ, self.other_village)
        ParticipantYear.objects.create(member=self.organ_member, pairing=other, year=2031, months=1)


class ConstraintCoverageTests(TestCase):
    def test_every_declared_constraint_is_tested_in_this_module(self):
        source = Path(__file__).read_text(encoding="utf-8")
        declared = {
            constraint.name
            for app in ("pairings", "activities")
            for model in apps.get_app_config(app).get_models()
            for constraint in model._meta.constraints
        }
        assert len(declared) > 50
        assert {name for name in declared if f'"{name}"' not in source} == set()


class PairingCleanTests(County, TestCase):
    def new_pairing(self, **kwargs):
        fields = {"code": "P-NEW", "helper": self.organ, "helped": self.other_village}
        return Pairing(start_date=JAN_1, **fields | kwargs)

    def test_valid_pairing_passes(self):
        self.new_pairing(helper_liaison=self.organ_member).full_clean()

    def test_both_sides_must_be_branches(self):
        errors = errors_of(self.new_pairing(helper=self.township))
        assert errors["helper"] == ["共建对子的双方必须是党支部或党总支。"]
        errors = errors_of(self.new_pairing(helped=self.county))
        assert errors["helped"] == ["共建对子的双方必须是党支部或党总支。"]

    def test_branch_cannot_pair_with_itself(self):
        errors = errors_of(self.new_pairing(helped=self.organ))
        assert errors["helped"] == ["一个支部不能与自己结对。"]

    def test_pairing_may_not_end_before_it_starts(self):
        errors = errors_of(self.new_pairing(end_date=datetime.date(2023, 12, 31)))
        assert errors["end_date"] == ["结束日期不能早于开始日期。"]

    def test_liaisons_belong_to_their_own_side(self):
        errors = errors_of(
            self.new_pairing(helper_liaison=self.village_member, helped_liaison=self.organ_member)
        )
        assert errors["helper_liaison"] == ["联络员必须是该方支部的党员。"]
        assert errors["helped_liaison"] == ["联络员必须是该方支部的党员。"]


class ActivityCleanTests(County, TestCase):
    def new_activity(self, **kwargs):
        fields = {
            "pairing": self.pairing,
            "category": "study",
            "date": datetime.date(2025, 3, 5),
            "title": "集体学习",
            "logged_by_branch": self.village,
        }
        return Activity(**fields | kwargs)

    def test_valid_activity_passes_and_may_be_dated_today(self):
        self.new_activity().full_clean()
        self.new_activity(date=timezone.localdate()).full_clean()

    def test_activity_may_not_be_dated_in_the_future(self):
        errors = errors_of(
            self.new_activity(date=timezone.localdate() + datetime.timedelta(days=1))
        )
        assert errors["date"] == ["活动日期不能晚于今天。"]

    def test_activity_date_lies_within_the_pairing_dates(self):
        errors = errors_of(self.new_activity(date=datetime.date(2023, 12, 31)))
        assert errors["date"] == ["活动日期必须在共建对子的起止日期之内。"]
        ended = make_pairing(
            self.organ, self.other_village, status="ended", end_date=datetime.date(2024, 6, 30)
        )
        late_date = datetime.date(2024, 7, 1)
        late = self.new_activity(pairing=ended, logged_by_branch=self.organ, date=late_date)
        assert errors_of(late)["date"] == ["活动日期必须在共建对子的起止日期之内。"]
        late.date = datetime.date(2024, 6, 30)
        late.full_clean()

    def test_activity_is_logged_by_one_of_its_sides(self):
        errors = errors_of(self.new_activity(logged_by_branch=self.other_village))
        assert errors["logged_by_branch"] == ["登记方必须是该共建对子的一方。"]

    def test_participants_come_from_the_two_sides(self):
        Participation(activity=self.activity, member=make_member(self.village)).full_clean()
        outsider = make_member(self.other_village)
        errors = errors_of(Participation(activity=self.activity, member=outsider))
        assert errors["member"] == ["参加党员必须属于该共建对子的双方支部。"]

    def test_outcome_above_the_metric_sanity_bound_is_an_input_error(self):
        Outcome(activity=self.activity, metric=metric("training"), value=10000).full_clean()
        errors = errors_of(Outcome(activity=self.activity, metric=metric("training"), value=10001))
        [message] = errors["value"]
        assert message.startswith("数值超过该指标单次上限 10000")
        assert message.endswith("人次。")


class InspectionCleanTests(County, TestCase):
    def new_inspection(self, **kwargs):
        fields = {
            "pairing": self.pairing,
            "activity": make_activity(self.pairing, category="inspection"),
            "year": 2024,
            "inspector": self.village,
            "inspected": self.organ,
            "date": datetime.date(2024, 11, 5),
        }
        return Inspection(**fields | kwargs)

    def test_valid_inspection_passes(self):
        self.new_inspection().full_clean()

    def test_both_sides_of_an_inspection_belong_to_the_pairing(self):
        errors = errors_of(self.new_inspection(inspector=self.other_village))
        assert errors["inspector"] == ["检查方必须是该共建对子的一方。"]
        errors = errors_of(self.new_inspection(inspected=self.other_village))
        assert errors["inspected"] == ["被检查方必须是该共建对子的一方。"]

    def test_inspection_date_lies_in_its_year(self):
        errors = errors_of(self.new_inspection(date=datetime.date(2025, 1, 2)))
        assert errors["date"] == ["检查日期必须在所填年度之内。"]

    def test_score_may_not_exceed_the_item_maximum(self):
        item = InspectionItem.objects.get(name="组织生活")
        InspectionScore(inspection=self.inspection, item=item, score=20).full_clean()
        errors = errors_of(InspectionScore(inspection=self.inspection, item=item, score=20.5))
        assert errors["score"] == ["得分不能超过满分 20.0。"]


class OtherCleanTests(County, TestCase):
    def test_commitment_answers_a_need_of_its_own_pairing(self):
        other = make_pairing(self.organ, self.other_village)
        commitment = make_commitment(self.pairing, need=make_need(self.pairing))
        commitment.full_clean()
        commitment.need = make_need(other)
        errors = errors_of(commitment)
        assert errors["need"] == ["对应需求必须属于同一个共建对子。"]

    def test_member_belongs_to_a_branch(self):
        make_member(self.organ).full_clean()
        errors = errors_of(Member(code="M-NEW", name="张三", branch=self.township))
        assert errors["branch"] == ["党员只能隶属于党支部或党总支。"]

    def test_secretary_is_assigned_to_a_branch(self):
        Assignment(user=self.user, organization=self.organ, role="secretary").full_clean()
        Assignment(user=self.user, organization=self.township, role="supervisor").full_clean()
        errors = errors_of(Assignment(user=self.user, organization=self.township, role="secretary"))
        assert errors["organization"] == ["支部书记/联络员只能分配到党支部或党总支。"]


class TrashTests(County, TestCase):
    """Deleting what holds activities is refused or goes to a trash; nothing is cascaded away."""

    def rows(self):
        return {
            model.__name__: model._base_manager.count()
            for model in (Organization, Member, Pairing, Activity, Participation, Inspection)
        } | {"history": Pairing.history.count() + Member.history.count()}

    def test_trashed_member_keeps_its_activities_and_comes_back(self):
        before = self.rows()
        self.organ_member.trash(by=self.user)

        assert self.rows() == before | {"history": before["history"] + 1}
        assert self.organ_member not in Member.objects.alive()
        assert self.organ_member in Member.objects.trashed()
        assert set(self.activity.participants.all()) == {self.organ_member, self.village_member}
        record = self.organ_member.history.first()
        assert (record.history_user, record.history_change_reason) == (self.user, "移入回收站")

        self.organ_member.restore(by=self.user)
        assert self.organ_member in Member.objects.alive()
        assert self.organ_member.history.first().history_change_reason == "从回收站恢复"

    def test_trashed_pairing_keeps_its_activities_and_comes_back(self):
        self.pairing.trash(by=self.user)
        assert Pairing.objects.get(pk=self.pairing.pk).in_trash
        assert self.pairing.activities.count() == 2
        self.pairing.restore(by=self.user)
        assert not Pairing.objects.get(pk=self.pairing.pk).in_trash

    def test_deleting_a_member_who_took_part_in_activities_is_refused(self):
        before = self.rows()
        with pytest.raises(ProtectedError):
            self.organ_member.delete()
        with pytest.raises(ProtectedError):
            Member.objects.filter(pk=self.village_member.pk).delete()
        assert self.rows() == before

    def test_deleting_a_pairing_with_activities_is_refused(self):
        before = self.rows()
        with pytest.raises(ProtectedError):
            self.pairing.delete()
        with pytest.raises(ProtectedError):
            Pairing.objects.all().delete()
        assert self.rows() == before

    def test_deleting_a_branch_with_activities_is_refused(self):
        before = self.rows()
        with pytest.raises(ProtectedError):
            self.organ.delete()
        with pytest.raises(ProtectedError):
            Organization.objects.filter(pk=self.village.pk).delete()
        assert self.rows() == before

    def test_deleting_a_committee_whose_subtree_holds_activities_is_refused(self):
        before = self.rows()
        numchild = self.county.numchild
        with pytest.raises(ProtectedError):
            self.township.delete()
        with pytest.raises(ProtectedError):
            self.county.delete()
        assert self.rows() == before
        self.county.refresh_from_db()
        assert self.county.numchild == numchild

    def test_raw_sql_delete_of_a_pairing_with_activities_is_refused_by_the_foreign_key(self):
        table = Pairing._meta.db_table
        with refused(Pairing, "pairing"), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [self.pairing.pk])
            # Django declares foreign keys DEFERRABLE INITIALLY DEFERRED, so the database checks
            # them at COMMIT; a test never commits, so run that same check now.
            connection.check_constraints()
        assert Pairing.objects.filter(pk=self.pairing.pk).exists()

    def test_database_enforces_foreign_keys(self):
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA foreign_keys")
                assert cursor.fetchone() == (1,)
            else:
                cursor.execute(
                    "SELECT confdeltype FROM pg_constraint WHERE contype = 'f'"
                    " AND conrelid = %s::regclass AND confrelid = %s::regclass",
                    [Activity._meta.db_table, Pairing._meta.db_table],
                )
                assert cursor.fetchall() == [("a",)]  # NO ACTION: the delete fails

    def test_no_foreign_key_cascades_from_what_holds_activities(self):
        cascading = [
            f"{rel.related_model.__name__}.{rel.field.name}"
            for holder in (Organization, Member, Pairing, Activity)
            for rel in holder._meta.get_fields(include_hidden=True)
            if (rel.one_to_many or rel.one_to_one)
            and rel.auto_created
            and not rel.related_model.__name__.startswith("Historical")
            and rel.on_delete is not models.PROTECT
            # The summaries (activities/summaries.py) hold no constraint: deleting never
            # reaches them, and their rows go only with the counted rows they sum.
            and not (rel.on_delete is models.DO_NOTHING and not rel.field.db_constraint)
        ]
        # An activity's own parts go with it; the activity itself is never deleted by users.
        assert sorted(cascading) == [
            "Evidence.activity",
            "Outcome.activity",
            "Participation.activity",
        ]
