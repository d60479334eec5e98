"""Small `make_*` helpers for tests: each makes one valid row, with overrides by keyword."""

import datetime
import itertools

from django.contrib.auth.models import User

from activities.models import Activity, Metric, Regime
from pairings.models import Assignment, Member, Organization, Pairing

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
