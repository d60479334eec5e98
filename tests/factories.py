"""Small `make_*` helpers for tests: each makes one valid row, with overrides by keyword."""

import base64
import datetime
import itertools
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.files.base import ContentFile

from activities.models import (
    Activity,
    Commitment,
    Evidence,
    Inspection,
    Metric,
    Need,
    Outcome,
    PeriodFigure,
    PeriodUnlock,
    Rectification,
    Regime,
)
from pairings.models import (
    Assignment,
    HelpPairing,
    Household,
    HouseholdVisit,
    Member,
    Organization,
    Pairing,
)

_seq = itertools.count(1)


def _n():
    return next(_seq)


def make_county(**kwargs):
    n = _n()
    fields = {"code": f"C{n}", "name": f"测试县委{n}", "kind": "county", "sector": "other"}
    fields.update(kwargs)
    return Organization.objects.add_root(fields)


def make_org(parent, **kwargs):
    n = _n()
    fields = {"code": f"O{n}", "name": f"党组织{n}", "kind": "branch", "sector": "organ"}
    fields.update(kwargs)
    return Organization.objects.add_child(parent, fields)


def make_branch(parent, sector="organ", **kwargs):
    return make_org(parent, kind="branch", sector=sector, **kwargs)


def make_member(branch, **kwargs):
    n = _n()
    fields = {"code": f"M{n}", "name": f"党员{n}", "branch": branch}
    fields.update(kwargs)
    return Member.objects.create(**fields)


def make_pairing(helper, helped, **kwargs):
    n = _n()
    fields = {
        "code": f"P{n}",
        "helper": helper,
        "helped": helped,
        "start_date": datetime.date(2024, 1, 1),
    }
    fields.update(kwargs)
    return Pairing.objects.create(**fields)


def make_activity(pairing, **kwargs):
    n = _n()
    fields = {
        "pairing": pairing,
        "regime": Regime.objects.get(code="activity_day"),
        "category": "study",
        "date": datetime.date(2025, 3, 5),
        "title": f"集体学习{n}",
        "logged_by_branch": pairing.helper,
    }
    fields.update(kwargs)
    return Activity.objects.create(**fields)


def make_user(username=None, *, role=None, org=None, **kwargs):
    user = User.objects.create_user(username or f"user{_n()}", password="Cobuild#2026", **kwargs)
    if role:
        Assignment.objects.create(user=user, organization=org, role=role)
    return user


def metric(code):
    return Metric.objects.get(code=code)


# A 1×1 greyscale PNG: the smallest real image an evidence row can carry.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGP4DwABAQEAsTj2FAAAAABJRU5ErkJggg=="
)


def make_household(village, **kwargs):
    fields = {"village": village, "head_name": f"户主{_n()}", "size": 4}
    fields.update(kwargs)
    return Household.objects.create(**fields)


def make_help_pairing(member, household, **kwargs):
    fields = {"member": member, "household": household, "start_date": datetime.date(2024, 1, 1)}
    fields.update(kwargs)
    return HelpPairing.objects.create(**fields)


def make_household_visit(help_pairing, **kwargs):
    fields = {
        "help_pairing": help_pairing,
        "date": datetime.date(2025, 3, 5),
        "summary": "了解春耕准备情况，送去化肥两袋。",
    }
    fields.update(kwargs)
    return HouseholdVisit.objects.create(**fields)


def make_outcome(activity, metric_code="training", value="30", **kwargs):
    fields = {"activity": activity, "metric": metric(metric_code), "value": Decimal(value)}
    fields.update(kwargs)
    return Outcome.objects.create(**fields)


def make_inspection(pairing, *, inspector=None, year=2025, **kwargs):
    """An inspection with the 年度党建互检 activity that records it."""
    inspector = inspector or pairing.helper
    date = kwargs.pop("date", datetime.date(year, 6, 10))
    activity = kwargs.pop("activity", None) or make_activity(
        pairing,
        regime=Regime.objects.get(code="mutual_inspection"),
        category="inspection",
        date=date,
        title=f"{year}年度党建互检",
        logged_by_branch=inspector,
    )
    fields = {
        "pairing": pairing,
        "activity": activity,
        "year": year,
        "inspector": inspector,
        "inspected": pairing.partner_of(inspector),
        "date": date,
    }
    fields.update(kwargs)
    return Inspection.objects.create(**fields)


def make_rectification(inspection, **kwargs):
    fields = {
        "inspection": inspection,
        "description": f"整改事项{_n()}：完善台账资料",
        "due_date": datetime.date(2025, 9, 30),
    }
    fields.update(kwargs)
    return Rectification.objects.create(**fields)


def make_need(pairing, **kwargs):
    fields = {"pairing": pairing, "title": f"需求{_n()}：修缮灌溉水渠", "raised_by": pairing.helped}
    fields.update(kwargs)
    return Need.objects.create(**fields)


def make_commitment(pairing, **kwargs):
    fields = {
        "pairing": pairing,
        "title": f"实事{_n()}：修缮灌溉水渠",
        "amount": Decimal("5000"),
        "due_date": datetime.date(2025, 12, 31),
    }
    fields.update(kwargs)
    return Commitment.objects.create(**fields)


def make_evidence(*, activity=None, commitment=None, rectification=None, **kwargs):
    """A photo attached to exactly one owner; the file lands in MEDIA_ROOT."""
    fields = {
        "activity": activity,
        "commitment": commitment,
        "rectification": rectification,
        "file": ContentFile(TINY_PNG, name="photo.png"),
        "original_name": "photo.png",
        "content_type": "image/png",
        "size": len(TINY_PNG),
    }
    fields.update(kwargs)
    return Evidence.objects.create(**fields)


def make_period_figure(organization, metric_code="rubber_area", period="2025", **kwargs):
    fields = {
        "organization": organization,
        "metric": metric(metric_code),
        "period": period,
        "value": Decimal("1200"),
    }
    fields.update(kwargs)
    return PeriodFigure.objects.create(**fields)


def make_period_unlock(branch, unlocked_by, period="2025-03", **kwargs):
    fields = {
        "branch": branch,
        "period": period,
        "reason": "补录遗漏的活动记录",
        "unlocked_by": unlocked_by,
        "until": datetime.date(2025, 6, 30),
    }
    fields.update(kwargs)
    return PeriodUnlock.objects.create(**fields)
