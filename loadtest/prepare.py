"""Make the load run's logins in a seeded database and write them to a JSON file for locust.

For each of the first N pairings active today whose two branches have members: a secretary of
the helping branch (logs activities) and one of the helped branch (confirms them); county staff
logins (`load_staff_NN`) and a secretary login for the fault run's probe (`load_probe`). Where
two-factor login is installed (django-otp's TOTP plug-in), each staff login gets a confirmed
authenticator device with a known key, written to the plan so the load can compute its codes;
each staff login is used by one load user only (a TOTP code is accepted once).
Usage (DATABASE_URL set): python loadtest/prepare.py OUT.json [N]
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cobuild.settings")

import django

django.setup()

from django.apps import apps  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import transaction  # noqa: E402
from django.db.models import Exists, OuterRef  # noqa: E402
from django.utils import timezone  # noqa: E402

from pairings.models import Assignment, Member, Organization, Pairing  # noqa: E402

STAFF_LOGINS = 10
from reports.demo import DEMO_PASSWORD  # noqa: E402


def has_members(side):
    return Exists(Member.objects.alive().filter(branch=OuterRef(side)))


@transaction.atomic
def prepare(count):
    today = timezone.localdate()
    pairings = (
        Pairing.objects.alive()
        .active_on(today)
        .filter(has_members("helper"), has_members("helped"))
        .order_by("pk")[:count]
    )
    password = make_password(DEMO_PASSWORD)
    pairs = []
    for number, pairing in enumerate(pairings, start=1):
        logins = {}
        for side, org in (("helper", pairing.helper), ("helped", pairing.helped)):
            username = f"load_{side}_{number:02d}"
            login_for(username, password, org, Assignment.Role.SECRETARY)
            logins[side] = username
        pairs.append({"pairing": pairing.pk, **logins})
    root = Organization.get_root_nodes().first()
    staff, totp = [], {}
    for number in range(1, STAFF_LOGINS + 1):
        username = f"load_staff_{number:02d}"
        user = login_for(username, password, root, Assignment.Role.COUNTY_STAFF)
        staff.append(username)
        if apps.is_installed("django_otp.plugins.otp_totp"):
            from django_otp.plugins.otp_totp.models import TOTPDevice

            device, _ = TOTPDevice.objects.get_or_create(
                user=user, defaults={"name": "压测验证器", "confirmed": True}
            )
            totp[username] = device.key
    probe_branch = pairings[0].helped if pairs else root
    login_for("load_probe", password, probe_branch, Assignment.Role.SECRETARY)
    return {
        "password": DEMO_PASSWORD,
        "pairs": pairs,
        "staff": staff,
        "totp": totp,
        "probe": "load_probe",
    }


def login_for(username, password, org, role):
    user, _ = User.objects.get_or_create(
        username=username,
        defaults={"password": password, "last_name": "压测", "first_name": username},
    )
    Assignment.objects.get_or_create(user=user, organization=org, role=role)
    return user


if __name__ == "__main__":
    out = Path(sys.argv[1])
    plan = prepare(int(sys.argv[2]) if len(sys.argv) > 2 else 10)
    out.write_text(json.dumps(plan, ensure_ascii=False, indent=1))
    print(f"{len(plan['pairs'])} 个共建对子的压测账号已就绪：{out}")
