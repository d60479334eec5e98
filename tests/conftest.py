import importlib
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.http import HttpRequest
from django.test import Client, override_settings
from django_otp import DEVICE_ID_SESSION_KEY

# The session marker `force_login` leaves: "this session passed the second factor".
FORCE_LOGIN_DEVICE = "tests.force_login"


@pytest.fixture(autouse=True, scope="session")
def _test_settings(tmp_path_factory):
    """Settings for the whole run, in place before any setUpTestData.

    Tests make many users, and hashing their passwords at full strength takes long; uploaded
    files land in a temporary folder, never in the project's media. Two-factor sign-in is on,
    as in production, whatever the development .env says.
    """
    django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    django_settings.COBUILD = {**django_settings.COBUILD, "OTP_REQUIRED": True}
    # Tasks are kept, not run: a test that runs them says so (tests/test_tasks.py).
    override_settings(
        TASKS={"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    ).enable()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, the test database is a file, not Django's shared in-memory one.

    With an in-memory database the live server's request threads and the test all use one
    connection object, with no lock: requests served at once (a page's and the service worker's)
    share one transaction state. A browser test failed once on CI with a 404 for a pairing its
    fixture had just made, which it never did here; a file gives each thread its own connection,
    as in production, and rules that sharing out.
    """
    database = django_settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        folder = tmp_path_factory.mktemp("database")
        database.setdefault("TEST", {})["NAME"] = str(folder / "test.sqlite3")


@pytest.fixture(autouse=True, scope="session")
def _force_login_passes_the_second_factor():
    """`client.force_login(user)` stands for a completed sign-in: password and, where the role
    needs it, the second factor. (tests/test_identity.py drives the real steps.)"""
    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        session = self.session
        session[DEVICE_ID_SESSION_KEY] = FORCE_LOGIN_DEVICE
        session.save()

    original_login = Client.login

    def login(self, **credentials):
        """`client.login(...)` checks the password through the real backends (axes needs the
        request), and then likewise stands for a completed second factor."""
        credentials.setdefault("request", HttpRequest())
        if not original_login(self, **credentials):
            return False
        session = self.session
        session[DEVICE_ID_SESSION_KEY] = FORCE_LOGIN_DEVICE
        session.save()
        return True

    Client.force_login = force_login
    Client.login = login
    yield
    Client.force_login = original
    Client.login = original_login


@pytest.fixture(autouse=True)
def _no_parts_from_another_test():
    """Each test starts with no county's figures in the cache (reports.parts). A test's own
    writes renew the stamps, but a TestCase rolls back to the same stamps for each of its tests,
    and a page's query count must not depend on which test ran before."""
    from django.core.cache import caches

    caches["parts"].clear()


def _create_defaults():
    """The regimes, metrics and checklist that activities' data migration 0002 writes."""
    from django.apps import apps

    migration = importlib.import_module("activities.migrations.0002_default_regimes_metrics")
    migration.create_defaults(apps, None)


@pytest.fixture
def migration_rows(transactional_db, django_db_blocker, request):
    """Transactional tests (the live server's among them): Django flushes every table after each
    one, taking the data migration's rows with it. Put them in first, and back after the flush
    (below)."""
    _create_defaults()
    request.node.restore_migration_rows = django_db_blocker


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Transactional (live-server) tests end with Django flushing every table. On SQLite that is a
    DELETE, which the audit log's triggers refuse for young rows (on PostgreSQL it is a TRUNCATE,
    which they do not see): lift the triggers for the flush only, and put them back after it."""
    marker = item.get_closest_marker("django_db")
    transactional = {"transactional_db", "live_server"} & set(item.fixturenames) or (
        marker is not None and marker.kwargs.get("transaction")
    )
    if not transactional:
        return (yield)
    try:
        return (yield from _flushed(item, nextitem))
    finally:
        # After the flush, put the data migration's rows back for whatever test runs next (with
        # no next test, the test database is gone by now: nothing to restore).
        blocker = getattr(item, "restore_migration_rows", None)
        if blocker is not None and nextitem is not None:
            with blocker.unblock():
                _create_defaults()


def _flushed(item, nextitem):
    from django.db import connection
    from pytest_django.plugin import blocking_manager_key

    from cobuild.audit import install_protection

    blocker = item.config.stash[blocking_manager_key]
    sqlite = connection.vendor == "sqlite"
    if sqlite:
        with blocker.unblock(), connection.schema_editor() as editor:
            install_protection(editor, remove=True)
    try:
        return (yield)
    finally:
        if sqlite and nextitem is not None:
            with blocker.unblock(), connection.schema_editor() as editor:
                # This connection may have read the schema before the triggers were dropped, and
                # SQLite checks a CREATE against the schema it last read ("already exists"): a read
                # of the schema table first makes it read the current one.
                editor.execute("SELECT count(*) FROM sqlite_master")
                install_protection(editor)


# -- screenshots for the guides (docs/) ------------------------------------------------------------


def pytest_addoption(parser):
    parser.addoption(
        "--screenshots",
        metavar="DIR",
        default=None,
        help="save the guides' screenshots (tests/browser/test_guide_screens.py) into DIR",
    )


@pytest.fixture
def guide_shots(request):
    """`guide_shots(page, "name.png", ...)` saves a named screenshot into --screenshots DIR when
    the option is given, and does nothing otherwise (the test's assertions run either way)."""
    folder = request.config.getoption("--screenshots")

    def save(page, name, *, locator=None, full_page=False):
        if folder is None:
            return
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        target = locator if locator is not None else page
        if locator is not None:
            target.screenshot(path=path / name, animations="disabled")
        else:
            target.screenshot(path=path / name, full_page=full_page, animations="disabled")

    return save
