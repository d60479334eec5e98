"""Shared pieces of the attack modules (tests/test_attacks*.py): the world, and `unchanged()`.

`unchanged()` snapshots every row of every business table (all their fields, in pk order)
before an attack and compares after it: "nothing changed" means literally no row anywhere.
"""

import contextlib
import datetime
from types import SimpleNamespace

from django.apps import apps
from django.core.files.base import ContentFile
from django.utils import timezone

from cobuild.models import AuditEvent
from pairings.models import Role
from tests.factories import (
    TINY_PNG,
    make_commitment,
    make_county,
    make_evidence,
    make_help_pairing,
    make_household,
    make_household_visit,
    make_inspection,
    make_member,
    make_need,
    make_notification,
    make_rectification,
    make_situation_report,
    make_submitted_activity,
    make_two_pairing_county,
    make_user,
)

# Every table a user's request could write: the business apps' models and their history tables,
# plus the accounts. The audit log is left out on purpose: refusals are written there.
WATCHED_APPS = ("pairings", "activities", "reports")
NOT_WATCHED = {"reports.importupload"}  # none expected; kept for the rule's sake


def _watched_models():
    models = [m for app in WATCHED_APPS for m in apps.get_app_config(app).get_models()]
    models.append(apps.get_model("auth", "User"))
    return [m for m in models if m._meta.label_lower not in NOT_WATCHED]


def snapshot():
    """Every row of every watched table, as tuples of all its column values, in pk order."""
    return {
        model._meta.label_lower: list(model._base_manager.order_by("pk").values_list())
        for model in _watched_models()
    }


@contextlib.contextmanager
def unchanged(ignore=()):
    """Assert that the block leaves every watched table (but those in `ignore`) as it was."""
    before = snapshot()
    yield
    after = snapshot()
    changed = {
        label: (len(before[label]), len(after[label]))
        for label in before
        if before[label] != after[label] and label not in ignore
    }
    assert not changed, f"tables changed (rows before, after): {changed}"


def refusals(user, status=None):
    """The audit log's refusal rows for a user (optionally only those with an HTTP status)."""
    rows = AuditEvent.objects.filter(event=AuditEvent.Kind.REFUSED, user_id=user.pk)
    return [r for r in rows if status is None or r.detail.get("status") == status]


def build_world():
    """Two pairings in one county (tests.factories) plus one object of every kind on side B,
    a second county with its own staff, and reports, notifications and import runs."""
    from reports.models import ImportRun

    w = make_two_pairing_county()
    w.today = timezone.localdate()
    w.other_county = make_county(name="白水县委")
    w.other_staff = make_user(role=Role.COUNTY_STAFF, org=w.other_county)
    w.auditor = make_user(role=Role.AUDITOR, org=w.county)
    # Side B: one object of every kind, none of them in reach of pairing A's secretaries.
    b = SimpleNamespace()
    b.activity = make_submitted_activity(
        w.pairing_b, "activity_day", datetime.date(2025, 3, 5), title="河口村集体学习"
    )
    b.draft = make_submitted_activity(
        w.pairing_b,
        "activity_day",
        w.today,
        status="draft",
        title="河口村草稿",
        logged_by_branch=w.organ_b,
    )
    b.evidence = make_evidence(
        activity=b.activity, thumbnail=ContentFile(TINY_PNG, name="thumb.jpg")
    )
    b.inspection = make_inspection(w.pairing_b)
    b.rectification = make_rectification(b.inspection)
    b.need = make_need(w.pairing_b)
    b.commitment = make_commitment(w.pairing_b, need=b.need)
    b.household = make_household(w.village_b, head_name="陈大山")
    b.help_pairing = make_help_pairing(w.village_b_member, b.household)
    b.visit = make_household_visit(b.help_pairing)
    b.report = make_situation_report(w.township_b, by=w.supervisor_b)
    b.trashed_activity = make_submitted_activity(
        w.pairing_b, "activity_day", datetime.date(2025, 4, 5), title="已删除的活动"
    )
    b.trashed_activity.trash(by=w.staff)
    b.trashed_report = make_situation_report(w.township_b, by=w.staff)
    b.trashed_report.trash(by=w.staff)
    b.notification = make_notification(w.organ_b_secretary)
    b.import_run = ImportRun.objects.create(
        user=w.staff, filename="台账.xlsx", sha256="0" * 64, size=100, counts={}
    )
    w.b = b
    # Side A, for the write attacks a secretary of pairing A may legitimately start from.
    a = SimpleNamespace()
    a.draft = make_submitted_activity(
        w.pairing_a,
        "activity_day",
        w.today,
        status="draft",
        title="石门村草稿",
        logged_by_branch=w.organ_a,
    )
    a.need = make_need(w.pairing_a)
    a.member = make_member(w.organ_a, name="孙志远")
    w.a = a
    return w
