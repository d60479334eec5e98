"""Headers, deployment settings and error pages (REFERENCE D2 T10, T30, T32, T33 and D3).

Production settings are read in a child process with production's environment (DEBUG off, a
real key, hosts, SMTP), the way a server starts; the rest drives this test run's site.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import path, reverse

from cobuild.urls import urlpatterns as site_urlpatterns
from pairings.models import Role
from tests.factories import (
    make_activity,
    make_branch,
    make_county,
    make_evidence,
    make_pairing,
    make_user,
)

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "cobuild.example.cn",
    "CSRF_TRUSTED_ORIGINS": "https://cobuild.example.cn",
    "EMAIL_URL": "smtp+tls://cobuild:test-only@smtp.example.cn:587",
    "DJANGO_SETTINGS_MODULE": "cobuild.settings",
}


def production(*args, **extra_env):
    env = {**os.environ, **PRODUCTION_ENV, **extra_env}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_passes_with_production_settings():
    result = production("manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


PROBE = """
import json, django
from django.conf import settings
django.setup()
# Pages name static files; production collects them first (collectstatic), this probe does not.
settings.STORAGES["staticfiles"] = {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
from django.test import Client
client = Client()
plain = client.get("/accounts/login/", HTTP_HOST="cobuild.example.cn")
page = client.get("/accounts/login/", HTTP_HOST="cobuild.example.cn", secure=True)
csrf = page.cookies[settings.CSRF_COOKIE_NAME]
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location", "")],
    "headers": dict(page.headers),
    "csrf_cookie": {k: csrf[k] for k in ("secure", "httponly", "samesite")},
    "settings": {name: getattr(settings, name) for name in (
        "DEBUG", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
        "SESSION_COOKIE_AGE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
        "DATA_UPLOAD_MAX_MEMORY_SIZE", "DATA_UPLOAD_MAX_NUMBER_FIELDS",
        "DATA_UPLOAD_MAX_NUMBER_FILES", "FILE_UPLOAD_MAX_MEMORY_SIZE",
    )},
    "otp_required": settings.COBUILD["OTP_REQUIRED"],
}))
"""


@pytest.fixture(scope="module")
def prod():
    # Even told to, production does not turn the second factor off.
    result = production("-c", PROBE, COBUILD_OTP_REQUIRED="false")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_redirects_http_to_https(prod):
    status, location = prod["plain"]
    assert status == 301
    assert location == "https://cobuild.example.cn/accounts/login/"


def test_production_sends_hsts_for_a_year_and_the_other_security_headers(prod):
    headers = {k.lower(): v for k, v in prod["headers"].items()}
    assert headers["strict-transport-security"] == ("max-age=31536000; includeSubDomains; preload")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert "content-security-policy" in headers


def test_production_cookies_are_secure_http_only_and_same_site(prod):
    assert prod["csrf_cookie"]["secure"] is True
    assert prod["csrf_cookie"]["httponly"] is True
    assert prod["csrf_cookie"]["samesite"] == "Lax"
    s = prod["settings"]
    assert s["DEBUG"] is False
    assert s["SESSION_COOKIE_SECURE"] and s["SESSION_COOKIE_HTTPONLY"] and s["CSRF_COOKIE_SECURE"]
    assert s["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert s["SESSION_COOKIE_AGE"] == 1800
    assert s["SECURE_HSTS_SECONDS"] >= 31536000


def test_production_caps_request_sizes_and_always_needs_the_second_factor(prod):
    s = prod["settings"]
    assert s["DATA_UPLOAD_MAX_MEMORY_SIZE"] == 5 * 1024 * 1024
    assert s["DATA_UPLOAD_MAX_NUMBER_FIELDS"] == 2000
    assert s["DATA_UPLOAD_MAX_NUMBER_FILES"] == 20
    assert s["FILE_UPLOAD_MAX_MEMORY_SIZE"] <= 2621440
    assert prod["otp_required"] is True


# --- This run's site ---------------------------------------------------------------------------


def test_every_page_has_a_csp_without_inline_script(client, db):
    response = client.get(reverse("login"))
    csp = response["Content-Security-Policy"]
    directives = dict(
        [*part.split(" ", 1), ""][:2] for part in (p.strip() for p in csp.split(";")) if part
    )
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["script-src"].split()[0] == "'self'"
    assert "script-src" in django_settings.SECURE_CSP
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    html = response.content.decode()
    assert "<script>" not in html and " onclick=" not in html


def test_the_session_cookie_is_http_only_and_same_site(client, db):
    make_user("leader", role=Role.VIEWER, org=make_county())
    response = client.post(reverse("login"), {"username": "leader", "password": "Cobuild#2026"})
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["max-age"]  # ends with the browser; the server ends it after 30 idle minutes


def test_an_oversized_form_post_gets_the_chinese_400_page(client, db):
    response = client.post(reverse("login"), {"username": "x" * (5 * 1024 * 1024 + 1)})
    assert response.status_code == 400
    assert "请求有误" in response.content.decode()


def test_too_many_fields_get_400(client, db):
    response = client.post(reverse("login"), {f"f{n}": "1" for n in range(2001)})
    assert response.status_code == 400


def test_too_many_files_get_400(client, db):
    files = {f"file{n}": ContentFile(b"x", name=f"{n}.txt") for n in range(21)}
    response = client.post(reverse("login"), files)
    assert response.status_code == 400


def test_a_foreign_host_gets_the_chinese_400_page(client, db):
    response = client.get(reverse("login"), HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "请求有误" in response.content.decode()


def test_a_cross_site_post_gets_the_chinese_csrf_page(db):
    response = Client(enforce_csrf_checks=True).post(
        reverse("login"), {"username": "a", "password": "b"}
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert "页面已过期" in html
    assert "CSRF" not in html


def test_a_missing_page_is_the_chinese_404(client, db):
    client.force_login(make_user())
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert 'lang="zh-Hans"' in response.content.decode()


def boom(request):
    raise RuntimeError("secret internals: DATABASE password=hunter2")


urlpatterns = [path("boom/", boom), *site_urlpatterns]


@pytest.mark.urls("tests.test_headers")
def test_an_error_shows_the_chinese_500_page_without_internals(db):
    client = Client(raise_request_exception=False)
    client.force_login(make_user())
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "系统出错了" in html
    for leak in ("Traceback", "RuntimeError", "hunter2", "secret internals", "SECRET_KEY"):
        assert leak not in html


def test_uploaded_html_is_never_served_as_html(client, db):
    county = make_county()
    branch, village = make_branch(county), make_branch(county, sector="rural")
    activity = make_activity(make_pairing(branch, village))
    evidence = make_evidence(
        activity=activity,
        file=ContentFile(b"<html><script>alert(1)</script></html>", name="x.html"),
        original_name="photo.html",
        content_type="text/html",
    )
    client.force_login(make_user(role=Role.COUNTY_STAFF, org=county))
    response = client.get(reverse("activities:evidence_file", args=[evidence.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_media_files_have_no_public_url(client, db):
    client.force_login(make_user())
    assert client.get("/media/evidence/x.png").status_code == 404
