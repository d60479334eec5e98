"""Make the load run's logins in a seeded database and write them to a JSON file for locust.

For each of the first N pairings active today whose two branches have members: a secretary of
the helping branch (logs activities) and one of the helped branch (confirms them). Staff use the
demo's `county` login. Usage (DATABASE_URL set): python loadtest/prepare.py OUT.json [N]
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cobuild.settings")

import django

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import transaction  # noqa: E402
from django.db.models import Exists, OuterRef  # noqa: E402
from django.utils import timezone  # noqa: E402

from pairings.models import Assignment, Member, Pairing  # noqa: E402
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
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={"password": password, "last_name": "压测", "first_name": username},
            )
            Assignment.objects.get_or_create(
                user=user, organization=org, role=Assignment.Role.SECRETARY
            )
            logins[side] = username
        pairs.append({"pairing": pairing.pk, **logins})
    return {"password": DEMO_PASSWORD, "pairs": pairs, "staff": ["county"]}


if __name__ == "__main__":
    out = Path(sys.argv[1])
    plan = prepare(int(sys.argv[2]) if len(sys.argv) > 2 else 10)
    out.write_text(json.dumps(plan, ensure_ascii=False, indent=1))
    print(f"{len(plan['pairs'])} 个共建对子的压测账号已就绪：{out}")
