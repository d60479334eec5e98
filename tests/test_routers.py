"""With REPORTS_DATABASE_URL, the reports read from the copy and everything else from the primary."""

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from django.contrib.sessions.models import Session

from activities.models import Activity
from cobuild.routers import ReportsRouter, reporting
from pairings.models import Assignment, Pairing
from reports.models import SituationReport

ROOT = Path(__file__).resolve().parent.parent

SETUP = """
import datetime
from django.contrib.auth.models import User
from pairings.models import Assignment, Organization, Pairing, Role
county = Organization.objects.add_root(dict(code="RC", name="中共测试县委", kind="county", sector="other"))
organ = Organization.objects.add_child(county, dict(code="RO", name="县委办党支部", kind="branch", sector="organ"))
village = Organization.objects.add_child(county, dict(code="RV", name="山前村党支部", kind="branch", sector="rural"))
Pairing.objects.create(code="RP1", helper=organ, helped=village, start_date=datetime.date(2024, 1, 1))
staff = User.objects.create_user("staff", password="Cobuild#2026")
Assignment.objects.create(user=staff, organization=county, role=Role.COUNTY_STAFF)
"""

CHECK = """
from django.contrib.auth.models import User
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
client.force_login(User.objects.get(username="staff"))
page = client.get("/", {"period": "year"})
dashboard = page.context["dashboard"]["figures"]
checklist = page.context["checklist"]
print("dashboard pairings", dashboard.pairings)
print("checklist", [s.detail for s in checklist.steps if s.key == "pairings"][0])
client.post("/setup/regimes/")
"""


def manage(*args, env):
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_router_sends_only_report_reads_of_domain_models_to_the_copy():
    router = ReportsRouter()
    assert router.db_for_read(Activity) is None
    with reporting():
        assert router.db_for_read(Activity) == "reports"
        assert router.db_for_read(Pairing) == "reports"
        assert router.db_for_read(SituationReport) is None  # the staff's saved texts
        assert router.db_for_read(Session) is None
        assert router.db_for_read(Assignment) is None  # roles are read on the primary
        assert router.db_for_write(Activity) == "default"
    assert router.db_for_read(Pairing) is None
    assert router.allow_migrate("default", "activities")
    assert not router.allow_migrate("reports", "activities")


def test_a_configured_copy_serves_the_dashboard_and_the_primary_takes_the_writes(tmp_path):
    primary, copy = tmp_path / "primary.sqlite3", tmp_path / "copy.sqlite3"
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "true",
        "COBUILD_OTP_REQUIRED": "false",  # force_login stands for the whole sign-in here
        "DATABASE_URL": f"sqlite:///{primary}",
    }
    manage("migrate", "--noinput", "-v0", env=env)
    manage("shell", "-c", SETUP, env=env)
    shutil.copy(primary, copy)
    with sqlite3.connect(copy) as db:  # the copy lags: there the pairing was trashed
        db.execute("UPDATE pairings_pairing SET deleted_at = '2026-01-01 00:00:00'")

    out = manage("shell", "-c", CHECK, env={**env, "REPORTS_DATABASE_URL": f"sqlite:///{copy}"})
    assert "dashboard pairings 0" in out  # read from the copy
    assert "checklist 已有共建对子 1 个。" in out  # the checklist reads the primary
    count = "SELECT COUNT(*) FROM reports_setupconfirmation"
    with sqlite3.connect(primary) as db:
        assert db.execute(count).fetchone() == (1,)
    with sqlite3.connect(copy) as db:
        assert db.execute(count).fetchone() == (0,)
