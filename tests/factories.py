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


def make_jpeg(size=(40, 30), color=(200, 60, 40)):
    """The bytes of a small valid JPEG photo, made in memory."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


def make_two_pairing_county():
    """One county with a pairing in each of two townships, and a user for every role.

    Pairing A: 县财政局机关党支部 helps 石门村党支部 (石门镇). Pairing B: 县农业农村局党支部 helps
    河口村党支部 (河口乡). Neither pairing's secretaries reach the other; the township A supervisor
    oversees pairing A only.
    """
    from types import SimpleNamespace

    role = Assignment.Role
    w = SimpleNamespace()
    w.county = make_county(name="青山县委")
    w.township_a = make_org(w.county, kind="committee", sector="rural", name="石门镇党委")
    w.township_b = make_org(w.county, kind="committee", sector="rural", name="河口乡党委")
    organs = make_org(w.county, kind="working_committee", sector="organ", name="县直机关工委")
    w.organ_a = make_branch(organs, name="县财政局机关党支部")
    w.organ_b = make_branch(organs, name="县农业农村局党支部")
    w.village_a = make_branch(w.township_a, sector="rural", name="石门村党支部")
    w.village_b = make_branch(w.township_b, sector="rural", name="河口村党支部")
    w.pairing_a = make_pairing(w.organ_a, w.village_a)
    w.pairing_b = make_pairing(w.organ_b, w.village_b)
    w.organ_a_member = make_member(w.organ_a, name="王建国")
    w.village_a_member = make_member(w.village_a, name="李秀英")
    w.organ_b_member = make_member(w.organ_b, name="赵国强")
    w.village_b_member = make_member(w.village_b, name="陈玉兰")
    w.staff = make_user(role=role.COUNTY_STAFF, org=w.county, last_name="周", first_name="敏")
    w.supervisor_a = make_user(
        role=role.SUPERVISOR, org=w.township_a, last_name="杨", first_name="帆"
    )
    w.supervisor_b = make_user(
        role=role.SUPERVISOR, org=w.township_b, last_name="韩", first_name="雪"
    )
    w.viewer = make_user(role=role.VIEWER, org=w.county, last_name="黄", first_name="涛")
    w.organ_a_secretary = make_user(
        role=role.SECRETARY, org=w.organ_a, last_name="王", first_name="芳"
    )
    w.village_a_secretary = make_user(
        role=role.SECRETARY, org=w.village_a, last_name="李", first_name="强"
    )
    w.organ_b_secretary = make_user(
        role=role.SECRETARY, org=w.organ_b, last_name="赵", first_name="磊"
    )
    w.village_b_secretary = make_user(
        role=role.SECRETARY, org=w.village_b, last_name="陈", first_name="静"
    )
    return w


def make_submitted_activity(pairing, regime_code, date, *, on_time=True, **kwargs):
    """An activity of a regime (None for "other") as it stands after submission.

    It is stamped on time or late as given (the stamp is what compliance reads), submitted on
    `submitted_on` (default: the activity's day); status submitted unless given: a confirmed one
    gets its confirmation stamp, a returned one its reason, a draft no stamps at all.
    """
    from django.utils import timezone

    status = kwargs.pop("status", Activity.Status.SUBMITTED)
    submitted_on = kwargs.pop("submitted_on", date)
    fields = {
        "regime": Regime.objects.get(code=regime_code) if regime_code else None,
        "date": date,
        "status": status,
    }
    if status != Activity.Status.DRAFT:
        submitted_at = timezone.make_aware(
            datetime.datetime.combine(submitted_on, datetime.time(18))
        )
        fields.update(submitted_at=submitted_at, on_time=on_time)
        if status == Activity.Status.CONFIRMED:
            fields["confirmed_at"] = submitted_at
        if status == Activity.Status.RETURNED:
            fields["return_reason"] = "照片与活动内容不符，请补充后再提交。"
    fields.update(kwargs)
    return make_activity(pairing, **fields)


def make_notification(user, **kwargs):
    """A reminder in a user's list (the bell), unread unless read_at is given."""
    from reports.models import Notification

    n = _n()
    fields = {
        "user": user,
        "kind": Notification.Kind.RETURNED,
        "key": f"returned:{n}:1",
        "title": f"活动被退回：集体学习{n}",
        "body": "照片与活动内容不符，请补充后再提交。",
        "url": f"/activities/{n}/",
    }
    fields.update(kwargs)
    return Notification.objects.create(**fields)


def make_inspection_score(inspection, item, score="18", **kwargs):
    """One checklist item's score in an inspection (InspectionItem rows come with migrations)."""
    from activities.models import InspectionScore

    fields = {"inspection": inspection, "item": item, "score": Decimal(score)}
    fields.update(kwargs)
    return InspectionScore.objects.create(**fields)


def make_situation_report(organization, *, by=None, **kwargs):
    """A situation report with version 1 drafted from data (as the report pages make it)."""
    from reports import situation

    fields = {
        "start": datetime.date(2025, 1, 1),
        "end": datetime.date(2025, 12, 31),
        "today": datetime.date(2026, 1, 15),
    }
    fields.update(kwargs)
    return situation.create_report(organization=organization, by=by, **fields)


def make_participation(activity, member):
    """A member's attendance at an activity (the member belongs to one of its branches)."""
    from activities.models import Participation

    return Participation.objects.create(activity=activity, member=member)
