import pytest
from django.conf import settings as django_settings


@pytest.fixture(autouse=True, scope="session")
def _test_settings(tmp_path_factory):
    """Settings for the whole run, in place before any setUpTestData.

    Tests make many users, and hashing their passwords at full strength takes long; uploaded
    files land in a temporary folder, never in the project's media.
    """
    django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    django_settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


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
                install_protection(editor)
