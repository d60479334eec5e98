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
