"""DATABASE_POOL turns on Django's native PostgreSQL connection pool for the app servers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SHOW = """
import json, django
django.setup()
from django.conf import settings
from django.db import connection
options = settings.DATABASES["default"].get("OPTIONS", {})
result = {"pool": options.get("pool"), "max_age": settings.DATABASES["default"]["CONN_MAX_AGE"]}
if QUERY:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        result["answer"] = cursor.fetchone()[0]
        cursor.execute("SHOW jit")
        result["jit"] = cursor.fetchone()[0]
        cursor.execute("SHOW work_mem")
        result["work_mem"] = cursor.fetchone()[0]
    result["pooled"] = connection.pool is not None
print(json.dumps(result))
"""


def settings_with(database_url, pool, *, query=False):
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "cobuild.settings"}
    env.pop("DATABASE_POOL", None)
    if pool is not None:
        env["DATABASE_POOL"] = pool
    done = subprocess.run(
        [sys.executable, "-c", SHOW.replace("QUERY", str(query))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"


@pytest.mark.parametrize(
    ("value", "max_size"), [("true", 5), ("8", 8), ("false", None), (None, None)]
)
def test_the_pool_is_on_when_asked_and_connections_are_not_kept_apart_from_it(value, max_size):
    shown = settings_with(POSTGRES, value)
    assert (shown["pool"] or {}).get("max_size") == max_size
    assert shown["max_age"] == 0  # a pool and persistent connections exclude each other


def test_sqlite_has_no_pool_whatever_is_asked():
    assert settings_with("sqlite:////tmp/cobuild-pool-check.sqlite3", "true")["pool"] is None


def test_a_pooled_connection_answers_on_postgresql():
    # PostgreSQL is there for the suite's second run (.ci/run), whatever this run's database.
    shown = settings_with(POSTGRES, "true", query=True)
    assert shown == {**shown, "answer": 1, "pooled": True, "jit": "off"}


def test_postgresql_sessions_run_without_jit_and_with_memory_for_roll_ups():
    # JIT compiled the city report's aggregates for 1.2 s of its 4.4 s; the roll-ups spilled to
    # disk with the server's 4 MB for each sort or hash (docs/scaling.md).
    shown = settings_with(POSTGRES, None, query=True)
    assert (shown["jit"], shown["work_mem"]) == ("off", "64MB")
