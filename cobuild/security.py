"""Identity, sessions and the admin area (等保 2.0 身份鉴别 and 访问控制).

- Passwords: three of four character classes (with Django's length, similarity and common-
  password validators), changed every COBUILD["PASSWORD_MAX_AGE_DAYS"]; a password issued by an
  administrator must be changed at the first sign-in.
- Sessions: a new key at sign-in (Django), an idle limit and an absolute cap, ended by logout,
  by disabling the user and by removing their second-factor device.
- Second factor: county staff, supervisors and the three administrators verify a TOTP code (or a
  backup code) after their password before anything else answers.
- The Django admin: only from COBUILD["ADMIN_ALLOWED_NETWORKS"], and only for the system and
  security administrators; permissions in it come from those roles (RolePermissionBackend).

Every number is a COBUILD setting. What each sign-in step stores lives in the session, so that
these checks add no query to an ordinary page.
"""

import functools
import ipaddress
import time
from importlib import import_module

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY

LOGIN_AT = "cobuild_login_at"
LAST_SEEN = "cobuild_last_seen"
PASSWORD_CHANGED_AT = "cobuild_password_changed_at"
MUST_CHANGE = "cobuild_must_change_password"
# The session's last-seen stamp (and so its idle expiry) is refreshed at most this often.
REFRESH_SECONDS = 60


def rule(name):
    return settings.COBUILD[name]


# ---------------------------------------------------------------------------------------------
# Client address


def client_ip(request):
    """The client's address: REMOTE_ADDR, unless COBUILD["TRUSTED_PROXY_COUNT"] proxies stand in
    front; then the address the outermost trusted proxy saw (the entry that many places from the
    right of X-Forwarded-For). A client-sent X-Forwarded-For is otherwise ignored."""
    remote = request.META.get("REMOTE_ADDR", "")
    count = rule("TRUSTED_PROXY_COUNT")
    if count > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= count:
            candidate = hops[-count]
            try:
                ipaddress.ip_address(candidate)
            except ValueError:
                return remote
            return candidate
    return remote


@functools.cache
def _networks(cidrs):
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def admin_address_allowed(request):
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    networks = _networks(tuple(rule("ADMIN_ALLOWED_NETWORKS")))
    return any(address.version == net.version and address in net for net in networks)


# ---------------------------------------------------------------------------------------------
# Passwords


class CharacterClassValidator:
    """At least COBUILD["PASSWORD_MIN_CLASSES"] of: lower-case letters, upper-case letters,
    digits, symbols. Also records when a password was set (Django calls password_changed after
    every set_password + save), which the rotation rule reads."""

    CLASSES = (
        ("小写字母", str.islower),
        ("大写字母", str.isupper),
        ("数字", str.isdigit),
        ("符号", lambda c: not c.isalnum() and not c.isspace()),
    )

    def __init__(self, min_classes=None):
        self.min_classes = min_classes

    @property
    def required(self):
        return self.min_classes or rule("PASSWORD_MIN_CLASSES")

    def validate(self, password, user=None):
        found = sum(1 for _, test in self.CLASSES if any(test(c) for c in password))
        if found < self.required:
            raise ValidationError(
                f"密码须包含大写字母、小写字母、数字、符号中的至少 {self.required} 类。",
                code="password_too_simple",
            )

    def get_help_text(self):
        return f"密码须包含大写字母、小写字母、数字、符号中的至少 {self.required} 类。"

    def password_changed(self, password, user=None):
        if user is None or user.pk is None:
            return
        from django.utils import timezone

        from pairings.models import UserSecurity

        UserSecurity.objects.update_or_create(
            user=user,
            defaults={"password_changed_at": timezone.now(), "must_change_password": False},
        )


def issue_password(user):
    """An administrator set this user's password: they must change it when they sign in."""
    from pairings.models import UserSecurity

    UserSecurity.objects.update_or_create(user=user, defaults={"must_change_password": True})


def password_change_due(session):
    if session.get(MUST_CHANGE):
        return True
    changed = session.get(PASSWORD_CHANGED_AT)
    max_age = rule("PASSWORD_MAX_AGE_DAYS") * 86400
    return changed is None or time.time() - changed > max_age


def password_changed_in_session(request):
    """After the user changed their own password: the session no longer asks for it."""
    request.session[PASSWORD_CHANGED_AT] = time.time()
    request.session[MUST_CHANGE] = False


# ---------------------------------------------------------------------------------------------
# Roles


def requires_otp(user):
    """County staff, supervisors and the three administrators sign in with a second factor."""
    if not rule("OTP_REQUIRED"):
        return False
    from pairings import access
    from pairings.models import ADMIN_ROLES, Role

    if user.is_staff or user.is_superuser:
        return True
    return bool(access.roles_of(user) & {Role.COUNTY_STAFF, Role.SUPERVISOR, *ADMIN_ROLES})


def otp_verified(session):
    return DEVICE_ID_SESSION_KEY in session


class PasswordBackend(ModelBackend):
    """Django's username and password check, without permissions from groups or user rows:
    in this app permissions come from roles only (RolePermissionBackend)."""

    def get_user_permissions(self, user_obj, obj=None):
        return set()

    def get_group_permissions(self, user_obj, obj=None):
        return set()

    def get_all_permissions(self, user_obj, obj=None):
        return set()


# What the security administrator may do in the Django admin: grant and withdraw roles and
# scopes, look up users and organizations to do so, and look at and lift login lockouts.
SECURITY_ADMIN_PERMISSIONS = frozenset(
    {
        "pairings.view_assignment",
        "pairings.add_assignment",
        "pairings.change_assignment",
        "pairings.delete_assignment",
        "auth.view_user",
        "pairings.view_organization",
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "axes.view_accesslog",
        "axes.view_accessfailurelog",
        # Resetting someone's second factor (they enrol again at their next sign-in).
        "otp_totp.view_totpdevice",
        "otp_totp.delete_totpdevice",
        "otp_static.view_staticdevice",
        "otp_static.delete_staticdevice",
    }
)
# What the system administrator may not do: grant roles.
# The system administrator sets the system up (DOMAIN.md: users, organizations, regimes,
# metrics): only these models, never the campaign's records, roles, audit trail or lockouts.
SYSTEM_ADMIN_MODELS = frozenset(
    {
        ("auth", "user"),
        ("pairings", "organization"),
        ("activities", "regime"),
        ("activities", "regimecadence"),
        ("activities", "metric"),
        ("activities", "inspectionitem"),
    }
)


class RolePermissionBackend(BaseBackend):
    """Django-admin permissions of the system and security administrators (三员分立)."""

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or not user_obj.is_staff or user_obj.is_anonymous:
            return set()
        cached = getattr(user_obj, "_cobuild_role_perms", None)
        if cached is not None:
            return cached
        from django.contrib.auth.models import Permission

        from pairings import access

        perms = set()
        if access.is_security_admin(user_obj):
            perms = set(SECURITY_ADMIN_PERMISSIONS)
        elif access.is_system_admin(user_obj):
            perms = {
                f"{app}.{codename}"
                for app, model, codename in Permission.objects.values_list(
                    "content_type__app_label", "content_type__model", "codename"
                )
                if (app, model) in SYSTEM_ADMIN_MODELS
            }
        user_obj._cobuild_role_perms = perms
        return perms

    def has_perm(self, user_obj, perm, obj=None):
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj, app_label):
        return any(p.startswith(f"{app_label}.") for p in self.get_all_permissions(user_obj))


# ---------------------------------------------------------------------------------------------
# Sessions


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def end_sessions(user, *, keep=None):
    """End every session the user holds (except `keep`, a session key)."""
    from pairings.models import UserSession

    rows = UserSession.objects.filter(user=user)
    if keep:
        rows = rows.exclude(session_key=keep)
    store = _session_store()
    for key in rows.values_list("session_key", flat=True):
        store(session_key=key).delete()
    rows.delete()


def on_login(sender, request, user, **kwargs):
    """Stamp the new session (sign-in time, password state) and index it under the user."""
    session = getattr(request, "session", None)
    if session is None:
        return
    from datetime import timedelta

    from django.utils import timezone

    from pairings.models import UserSecurity, UserSession

    now = time.time()
    state = UserSecurity.objects.filter(user=user).first()
    changed = state.password_changed_at if state else user.date_joined
    session[LOGIN_AT] = now
    session[LAST_SEEN] = now
    session[PASSWORD_CHANGED_AT] = changed.timestamp()
    session[MUST_CHANGE] = bool(state and state.must_change_password)
    if session.session_key is None:
        session.save()
    cutoff = timezone.now() - timedelta(hours=rule("SESSION_ABSOLUTE_HOURS"))
    UserSession.objects.filter(user=user, created_at__lt=cutoff).delete()
    UserSession.objects.get_or_create(session_key=session.session_key, defaults={"user": user})


def on_logout(sender, request, user, **kwargs):
    from pairings.models import UserSession

    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        UserSession.objects.filter(session_key=session.session_key).delete()


def on_user_saved(sender, instance, created, update_fields=None, **kwargs):
    """A disabled user's sessions end at once."""
    if created or instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    end_sessions(instance)


def on_device_deleted(sender, instance, **kwargs):
    """Removing someone's second factor signs them out everywhere."""
    if instance.user_id:
        from django.contrib.auth import get_user_model

        from cobuild import audit

        user = get_user_model()(pk=instance.user_id)
        end_sessions(user)
        if getattr(instance, "confirmed", True):  # a pending enrolment is not a second factor
            audit.record(
                audit.Kind.TWO_FACTOR,
                object_type="auth.user",
                object_id=instance.user_id,
                action="remove",
                device=type(instance).__name__,
            )


def connect_signals():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.signals import user_logged_in, user_logged_out
    from django.db.models.signals import post_delete, post_save
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user_logged_in.connect(on_login, dispatch_uid="cobuild_security_login")
    user_logged_out.connect(on_logout, dispatch_uid="cobuild_security_logout")
    post_save.connect(on_user_saved, sender=get_user_model(), dispatch_uid="cobuild_user_saved")
    for model in (TOTPDevice, StaticDevice):
        post_delete.connect(on_device_deleted, sender=model, dispatch_uid=f"cobuild_{model}")


# ---------------------------------------------------------------------------------------------
# The middleware


def _forbidden(request, message):
    from cobuild import audit

    audit.record_refusal(request, status=403, message=message)
    return render(request, "403.html", {"exception": message}, status=403)


def _safe_next(request):
    return request.get_full_path()


class SessionSecurityMiddleware:
    """After authentication: the admin's address ranges, session timeouts, the second factor,
    the forced password change, and who may enter the admin — in that order."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.check(request) or self.get_response(request)

    def check(self, request):
        path = request.path_info
        in_admin = path.startswith(reverse("admin:index"))
        if in_admin and not admin_address_allowed(request):
            return _forbidden(request, "系统管理只能从指定的网络地址访问。")
        if path == reverse("service_worker"):
            # The offline service worker's script (activities/views_offline.py): no one's data,
            # fetched by the browser itself, so neither a visit nor anything to redirect.
            return None
        user = request.user
        if not user.is_authenticated:
            return None
        session = request.session
        now = time.time()
        login_at, last_seen = session.get(LOGIN_AT), session.get(LAST_SEEN)
        idle = rule("SESSION_IDLE_MINUTES") * 60
        cap = rule("SESSION_ABSOLUTE_HOURS") * 3600
        if login_at is None or last_seen is None or now - last_seen > idle or now - login_at > cap:
            auth.logout(request)
            messages.info(request, "登录已超时，请重新登录。")
            return redirect_to_login(_safe_next(request))
        if now - last_seen > REFRESH_SECONDS:
            session[LAST_SEEN] = now

        logout_path = reverse("logout")
        if path == logout_path:
            return None
        # The second factor first: a stolen password alone cannot even change the password.
        if not otp_verified(session) and requires_otp(user):
            otp_paths = (reverse("otp_verify"), reverse("otp_setup"))
            if path not in otp_paths:
                return redirect(f"{reverse('otp_verify')}?next={_quote(_safe_next(request))}")
            return None
        password_path = reverse("password_change")
        if password_change_due(session):
            if path != password_path:
                return redirect(f"{password_path}?next={_quote(_safe_next(request))}")
            return None
        if in_admin and user.is_staff:
            from pairings import access

            if not (access.is_system_admin(user) or access.is_security_admin(user)):
                return _forbidden(request, "系统管理仅限系统管理员和安全管理员使用。")
        return None


def _quote(value):
    from urllib.parse import quote

    return quote(value, safe="/")


# ---------------------------------------------------------------------------------------------
# Error pages


def csrf_failure(request, reason=""):
    """The CSRF check failed: a Chinese page that says what to do, without the reason's
    internals."""
    return render(request, "403_csrf.html", status=403)
