"""Identity (等保 2.0 身份鉴别; ASVS V6/V7): passwords, lockout, sessions and the second factor.

Each test drives the real sign-in (the login form, then the code page) unless it says otherwise.
"""

import datetime
import statistics
import time
from importlib import import_module

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from cobuild import security
from cobuild.models import AuditEvent
from pairings.models import Role, UserSecurity, UserSession
from tests.factories import make_county, make_user

PASSWORD = "Cobuild#2026"
NEW_PASSWORD = "Qingshan#2027"
LOCKED_TEXT = "登录失败次数过多"


@pytest.fixture
def county(db):
    return make_county(name="青山县委")


@pytest.fixture
def staff(county):
    return make_user("county", role=Role.COUNTY_STAFF, org=county)


@pytest.fixture
def viewer(county):
    return make_user("leader", role=Role.VIEWER, org=county)


def sign_in(client, username, password=PASSWORD, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def code_for(device, step=0):
    return f"{totp(device.bin_key, t0=device.t0, step=device.step, drift=step):06d}"


def enrolled(user):
    return TOTPDevice.objects.create(user=user, name="验证器")


def session_of(client):
    return client.session


def store(session_key):
    return import_module(django_settings.SESSION_ENGINE).SessionStore(session_key=session_key)


# --- Passwords ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("12345678", "password_entirely_numeric"),
        ("abcdefgh", "password_too_simple"),
        ("Aa1!", "password_too_short"),
        ("P@ssw0rd", "password_too_common"),
        ("county#2026", "password_too_similar"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(db, password, code):
    user = User(username="county#2026x", first_name="张")
    with pytest.raises(ValidationError) as caught:
        validate_password(password, user)
    assert code in [error.code for error in caught.value.error_list]


def test_three_of_four_classes_and_eight_characters_pass(db):
    user = User(username="county")
    for password in ("Qingshan2027", "qingshan#2027", "QINGSHAN#2027", "Qing#Shan#Ab"):
        validate_password(password, user)


def test_the_class_rule_reads_its_number_from_settings(db, settings):
    settings.COBUILD = {**settings.COBUILD, "PASSWORD_MIN_CLASSES": 4}
    with pytest.raises(ValidationError):
        validate_password("Qingshan2027")
    validate_password("Qingshan#2027")


def test_changing_a_password_needs_the_current_one_and_a_strong_new_one(client, viewer):
    client.force_login(viewer)
    url = reverse("password_change")
    response = client.post(
        url, {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    response = client.post(
        url, {"old_password": PASSWORD, "new_password1": "abcdefgh", "new_password2": "abcdefgh"}
    )
    assert "new_password2" in response.context["form"].errors
    assert "至少 3 类" in response.content.decode()
    viewer.refresh_from_db()
    assert viewer.check_password(PASSWORD)

    response = client.post(
        url,
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.check_password(NEW_PASSWORD)
    assert client.get(reverse("home")).status_code == 200  # this session stays signed in


def test_a_password_older_than_the_rotation_period_must_be_changed_first(client, viewer):
    UserSecurity.objects.create(
        user=viewer, password_changed_at=timezone.now() - datetime.timedelta(days=91)
    )
    response = sign_in(client, "leader")
    assert response.status_code == 302
    for url in (reverse("home"), reverse("activities:list"), reverse("compliance")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("password_change"))
    page = client.get(reverse("password_change"))
    assert "已使用超过 90 天" in page.content.decode()
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    state = UserSecurity.objects.get(user=viewer)
    assert timezone.now() - state.password_changed_at < datetime.timedelta(minutes=1)


def test_an_account_created_91_days_ago_without_a_change_must_change_its_password(client, viewer):
    User.objects.filter(pk=viewer.pk).update(
        date_joined=timezone.now() - datetime.timedelta(days=91)
    )
    sign_in(client, "leader")
    assert client.get(reverse("home")).url.startswith(reverse("password_change"))


def test_a_password_89_days_old_is_still_accepted(client, viewer):
    UserSecurity.objects.create(
        user=viewer, password_changed_at=timezone.now() - datetime.timedelta(days=89)
    )
    sign_in(client, "leader")
    assert client.get(reverse("home")).status_code == 200


def test_a_password_issued_by_the_system_admin_works_once_and_must_then_be_changed(client, county):
    admin = User.objects.create_superuser("sysadmin", password=PASSWORD)
    client.force_login(admin)
    response = client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "newclerk",
            "password1": "Issued#2026a",
            "password2": "Issued#2026a",
            "assignments-TOTAL_FORMS": "0",
            "assignments-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()
    clerk = User.objects.get(username="newclerk")
    assert UserSecurity.objects.get(user=clerk).must_change_password

    client.logout()
    sign_in(client, "newclerk", "Issued#2026a")
    response = client.get(reverse("home"))
    assert response.url.startswith(reverse("password_change"))
    page = client.get(reverse("password_change")).content.decode()
    assert "首次登录须改为只有您自己知道的新密码" in page
    client.post(
        reverse("password_change"),
        {
            "old_password": "Issued#2026a",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert client.get(reverse("home")).status_code == 200
    assert not UserSecurity.objects.get(user=clerk).must_change_password


def test_a_password_reset_in_the_admin_is_again_an_issued_password(client, viewer):
    admin = User.objects.create_superuser("sysadmin", password=PASSWORD)
    client.force_login(admin)
    response = client.post(
        reverse("admin:auth_user_password_change", args=[viewer.pk]),
        {"password1": "Reset#2026ab", "password2": "Reset#2026ab"},
    )
    assert response.status_code == 302
    assert UserSecurity.objects.get(user=viewer).must_change_password


# --- Lockout -----------------------------------------------------------------------------------


def fail(client, username, times, **extra):
    return [sign_in(client, username, "Wrong#pass1", **extra) for _ in range(times)]


def test_five_failures_lock_the_username_even_against_the_right_password(client, viewer):
    responses = fail(client, "leader", 5)
    assert [r.status_code for r in responses[:4]] == [200] * 4
    response = sign_in(client, "leader")
    assert response.status_code == 429
    assert LOCKED_TEXT in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("home")).status_code == 302
    # The audit log holds the failures and the lockout (axes' signal).
    failures = AuditEvent.objects.filter(event=AuditEvent.Kind.LOGIN_FAILED, username="leader")
    assert failures.count() >= 5
    assert AuditEvent.objects.filter(event=AuditEvent.Kind.LOCKOUT, username="leader").exists()


def test_rotating_x_forwarded_for_does_not_escape_the_lock(client, viewer):
    for n in range(5):
        sign_in(client, "leader", "Wrong#pass1", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    response = sign_in(client, "leader", HTTP_X_FORWARDED_FOR="10.9.9.9", REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 429


def test_the_lock_lifts_after_the_cool_off(client, viewer):
    fail(client, "leader", 5)
    assert sign_in(client, "leader").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=31))
    assert sign_in(client, "leader").status_code == 302


def test_the_lock_is_29_minutes_later_still_on(client, viewer):
    fail(client, "leader", 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=29))
    assert sign_in(client, "leader").status_code == 429


def _strip_csrf(html):
    import re

    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html).replace(
        "nosuchuser", "leader"
    )


def test_unknown_and_known_usernames_answer_alike(client, viewer):
    known = sign_in(client, "leader", "Wrong#pass1")
    unknown = sign_in(client, "nosuchuser", "Wrong#pass1")
    assert known.status_code == unknown.status_code == 200
    assert _strip_csrf(known.content.decode()) == _strip_csrf(unknown.content.decode())

    fail(client, "leader", 4)
    fail(client, "nosuchuser", 4)
    known, unknown = sign_in(client, "leader"), sign_in(client, "nosuchuser", PASSWORD)
    assert known.status_code == unknown.status_code == 429
    assert known.content == unknown.content


def test_an_unknown_username_still_runs_the_password_hasher(client, viewer, monkeypatch):
    calls = []
    original = MD5PasswordHasher.encode

    def counting(self, password, salt):
        calls.append(password)
        return original(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting)
    sign_in(client, "leader", "Wrong#pass1")
    known_calls = len(calls)
    calls.clear()
    sign_in(client, "nosuchuser", "Wrong#pass1")
    assert known_calls == len(calls) == 1


def test_unknown_and_known_usernames_take_the_same_time(client, viewer):
    """Median latency differs by less than 20 ms (ASVS 6.3.8). The two kinds of attempt
    alternate, so that load from elsewhere on the machine falls on both alike."""
    times = {"leader": [], "nosuchuser": []}
    for _ in range(20):
        for username in times:
            start = time.perf_counter()
            sign_in(client, username, "Wrong#pass1")
            times[username].append(time.perf_counter() - start)
            AccessAttempt.objects.all().delete()
    known, unknown = (statistics.median(t) for t in times.values())
    assert abs(known - unknown) < 0.02


# --- Sessions ----------------------------------------------------------------------------------


def test_signing_in_gives_a_new_session_key_and_the_old_one_is_dead(client, viewer):
    client.get(reverse("login"))
    before = store(None)
    before["planted"] = True
    before.create()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = before.session_key
    sign_in(client, "leader")
    after = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert after != before.session_key
    assert not store(before.session_key).exists(before.session_key)
    assert UserSession.objects.filter(user=viewer, session_key=after).exists()


def test_a_session_idle_for_31_minutes_ends(client, viewer):
    sign_in(client, "leader")
    session = client.session
    session[security.LAST_SEEN] = time.time() - 31 * 60
    session.save()
    response = client.get(reverse("activities:list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert client.get(reverse("home")).status_code == 302


def test_a_session_idle_for_29_minutes_goes_on_and_is_refreshed(client, viewer):
    sign_in(client, "leader")
    session = client.session
    session[security.LAST_SEEN] = time.time() - 29 * 60
    session.save()
    assert client.get(reverse("home")).status_code == 200
    assert time.time() - client.session[security.LAST_SEEN] < 5


def test_the_absolute_cap_ends_even_an_active_session(client, viewer, settings):
    assert django_settings.COBUILD["SESSION_ABSOLUTE_HOURS"] == 12
    sign_in(client, "leader")
    session = client.session
    session[security.LOGIN_AT] = time.time() - 12 * 3600 - 60
    session[security.LAST_SEEN] = time.time()
    session.save()
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_idle_limit_is_the_session_cookie_age(settings):
    assert django_settings.SESSION_COOKIE_AGE == 30 * 60
    assert django_settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


def test_logging_out_kills_the_session_so_the_old_cookie_is_useless(client, viewer):
    sign_in(client, "leader")
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    client.post(reverse("logout"))
    assert not store(key).exists(key)
    client.cookies[django_settings.SESSION_COOKIE_NAME] = key
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert not UserSession.objects.filter(session_key=key).exists()


@pytest.mark.parametrize(
    "engine",
    [
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cache",
        "django.contrib.sessions.backends.cached_db",
    ],
)
def test_disabling_a_user_ends_all_their_sessions(viewer, settings, engine):
    from django.test import Client

    settings.SESSION_ENGINE = engine
    client, other = Client(), Client()
    sign_in(client, "leader")
    sign_in(other, "leader")
    keys = list(UserSession.objects.filter(user=viewer).values_list("session_key", flat=True))
    assert len(keys) == 2
    viewer.is_active = False
    viewer.save()
    assert not any(store(key).exists(key) for key in keys)
    for c in (client, other):
        assert c.get(reverse("home")).status_code == 302


def test_the_system_admin_disabling_a_user_in_the_admin_ends_their_sessions(client, viewer):
    from django.test import Client

    sign_in(client, "leader")
    admin_client = Client()
    admin_client.force_login(User.objects.create_superuser("sysadmin", password=PASSWORD))
    page = admin_client.get(reverse("admin:auth_user_change", args=[viewer.pk]))
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        {
            "is_active": "",
            "date_joined_0": viewer.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": viewer.date_joined.strftime("%H:%M:%S"),
            "assignments-TOTAL_FORMS": "0",
            "assignments-INITIAL_FORMS": "0",
            "groups": [],
            "user_permissions": [],
        }
    )
    data.pop("is_active")
    data.pop("last_login", None)
    response = admin_client.post(reverse("admin:auth_user_change", args=[viewer.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    viewer.refresh_from_db()
    assert not viewer.is_active
    assert client.get(reverse("home")).status_code == 302


def test_changing_ones_password_ends_ones_other_sessions(client, viewer):
    from django.test import Client

    other = Client()
    sign_in(other, "leader")
    sign_in(client, "leader")
    client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert client.get(reverse("home")).status_code == 200
    assert other.get(reverse("home")).status_code == 302
    # The session that changed it lives on under a new key, still indexed for a later disable.
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert list(UserSession.objects.filter(user=viewer).values_list("session_key", flat=True)) == [
        key
    ]


# --- Second factor -----------------------------------------------------------------------------


def test_county_staff_enrol_then_every_page_waits_for_the_code(client, staff):
    response = sign_in(client, "county")
    assert response.status_code == 302
    for url in (reverse("home"), reverse("activities:list"), reverse("report_list")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("otp_verify"))
    page = client.get(reverse("otp_verify"), follow=True)
    assert page.redirect_chain[-1][0].startswith(reverse("otp_setup"))
    html = page.content.decode()
    assert "<svg" in html and 'id="otp-secret"' in html
    device = TOTPDevice.objects.get(user=staff, confirmed=False)

    response = client.post(reverse("otp_setup"), {"code": "000000", "next": "/"})
    assert response.status_code == 400
    assert "验证码不正确" in response.content.decode()
    assert client.get(reverse("home")).status_code == 302

    response = client.post(reverse("otp_setup"), {"code": code_for(device), "next": "/"})
    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(code in response.content.decode() for code in codes)
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get(reverse("home")).status_code == 200
    # The backup codes are shown once: the setup page now leads to the code page.
    assert client.get(reverse("otp_setup")).url.startswith(reverse("otp_verify"))


def test_each_showing_of_the_enrolment_page_brings_a_new_key(client, staff):
    sign_in(client, "county")
    first = client.get(reverse("otp_setup")).context["secret"]
    seen_earlier = TOTPDevice.objects.get(user=staff, confirmed=False)
    second = client.get(reverse("otp_setup")).context["secret"]
    assert first != second
    # A code from the key shown first (say, to someone who knew the issued password) fails.
    response = client.post(reverse("otp_setup"), {"code": code_for(seen_earlier), "next": "/"})
    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(user=staff, confirmed=True).exists()


def test_a_code_cannot_be_used_twice(client, staff):
    device = enrolled(staff)
    code = code_for(device)
    sign_in(client, "county")
    assert client.post(reverse("otp_verify"), {"code": code}).status_code == 302
    assert client.get(reverse("home")).status_code == 200
    client.post(reverse("logout"))
    sign_in(client, "county")
    response = client.post(reverse("otp_verify"), {"code": code})
    assert response.status_code == 400
    assert client.get(reverse("home")).status_code == 302
    # Both attempts are in the audit log: the first a success, the replay a failure.
    rows = AuditEvent.objects.filter(event=AuditEvent.Kind.TWO_FACTOR, username="county")
    assert [(r.outcome, r.detail["action"]) for r in rows.order_by("pk")] == [
        ("success", "verify"),
        ("failure", "verify"),
    ]


def test_a_backup_code_works_once(client, staff):
    from cobuild.account_views import backup_codes

    enrolled(staff)
    _, codes = backup_codes(staff)
    sign_in(client, "county")
    assert client.post(reverse("otp_verify"), {"code": codes[0]}).status_code == 302
    assert client.get(reverse("home")).status_code == 200
    assert not StaticToken.objects.filter(token=codes[0]).exists()
    client.post(reverse("logout"))
    sign_in(client, "county")
    assert client.post(reverse("otp_verify"), {"code": codes[0]}).status_code == 400


def test_five_wrong_codes_lock_the_second_step(client, staff):
    device = enrolled(staff)
    sign_in(client, "county")
    for _ in range(4):
        assert client.post(reverse("otp_verify"), {"code": "000000"}).status_code == 400
    response = client.post(reverse("otp_verify"), {"code": "000000"})
    assert response.status_code == 429
    assert LOCKED_TEXT in response.content.decode()
    lockout = AuditEvent.objects.get(event=AuditEvent.Kind.LOCKOUT, username="county")
    assert (lockout.outcome, lockout.detail) == ("refused", {"step": "two_factor"})
    sign_in(client, "county")
    response = client.post(reverse("otp_verify"), {"code": code_for(device)})
    assert response.status_code == 429
    assert client.get(reverse("home")).status_code == 302
    # After the cool-off the right code is accepted again.
    UserSecurity.objects.filter(user=staff).update(
        otp_failed_at=timezone.now() - datetime.timedelta(minutes=31)
    )
    sign_in(client, "county")
    assert client.post(reverse("otp_verify"), {"code": code_for(device)}).status_code == 302


@pytest.mark.parametrize(
    ("role", "needs_code"),
    [
        (Role.COUNTY_STAFF, True),
        (Role.SUPERVISOR, True),
        (Role.SYSTEM_ADMIN, True),
        (Role.SECURITY_ADMIN, True),
        (Role.AUDITOR, True),
        (Role.SECRETARY, False),
        (Role.VIEWER, False),
    ],
)
def test_who_needs_the_second_factor(client, county, role, needs_code):
    from tests.factories import make_branch

    org = make_branch(county) if role == Role.SECRETARY else county
    make_user("someone", role=role, org=org)
    sign_in(client, "someone")
    response = client.get(reverse("home"))
    if needs_code:
        assert response.status_code == 302 and response.url.startswith(reverse("otp_verify"))
    else:
        assert response.status_code == 200


def test_a_superuser_needs_the_second_factor(client, db):
    User.objects.create_superuser("sysadmin", password=PASSWORD)
    sign_in(client, "sysadmin")
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response.url.startswith(reverse("otp_verify"))


def test_the_second_factor_can_be_off_only_in_development(client, staff, settings):
    settings.COBUILD = {**settings.COBUILD, "OTP_REQUIRED": False}
    sign_in(client, "county")
    assert client.get(reverse("home")).status_code == 200


def test_removing_someones_device_signs_them_out(client, staff):
    device = enrolled(staff)
    sign_in(client, "county")
    client.post(reverse("otp_verify"), {"code": code_for(device)})
    assert client.get(reverse("home")).status_code == 200
    device.delete()
    assert client.get(reverse("home")).status_code == 302
    assert DEVICE_ID_SESSION_KEY not in client.session


def test_the_otp_secret_and_passwords_never_reach_the_logs(client, staff, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    sign_in(client, "county")
    client.get(reverse("otp_setup"))
    device = TOTPDevice.objects.get(user=staff)
    client.post(reverse("otp_setup"), {"code": code_for(device)})
    assert PASSWORD not in caplog.text
    assert device.key not in caplog.text


def test_the_second_factor_comes_before_a_forced_password_change(client, staff):
    """A stolen password alone cannot even change the password."""
    device = enrolled(staff)
    UserSecurity.objects.create(user=staff, must_change_password=True)
    sign_in(client, "county")
    response = client.get(reverse("password_change"))
    assert response.status_code == 302 and response.url.startswith(reverse("otp_verify"))
    client.post(reverse("otp_verify"), {"code": code_for(device)})
    assert client.get(reverse("home")).url.startswith(reverse("password_change"))
    assert client.get(reverse("password_change")).status_code == 200
