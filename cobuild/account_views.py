"""Sign-in steps after the password: the forced password change and the second factor."""

import base64
import io
import time
from datetime import timedelta

import django_otp
import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import TemplateView
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from cobuild import audit, security
from pairings.models import UserSecurity, UserSession


def _next_url(request):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change one's own password (with the current one). When the password was issued by an
    administrator or is older than the rotation period, every page leads here."""

    template_name = "registration/password_change_form.html"
    success_url = "/"  # form_valid below redirects to `next`

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        session = self.request.session
        context["forced"] = security.password_change_due(session)
        context["must_change"] = bool(session.get(security.MUST_CHANGE))
        context["max_age_days"] = security.rule("PASSWORD_MAX_AGE_DAYS")
        context["next"] = _next_url(self.request)
        return context

    def form_valid(self, form):
        super().form_valid(form)  # saves, and keeps this session (under a new key) signed in
        security.password_changed_in_session(self.request)
        security.end_sessions(self.request.user, keep=self.request.session.session_key)
        UserSession.objects.get_or_create(
            session_key=self.request.session.session_key, defaults={"user": self.request.user}
        )
        messages.success(self.request, "密码已修改。")
        return redirect(_next_url(self.request))


class CodeForm(forms.Form):
    code = forms.CharField(
        label="动态验证码",
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_code(self):
        return "".join(self.cleaned_data["code"].split()).lower()


def _state(user):
    """The user's sign-in state, locked for the rest of the request (a POST runs in one
    transaction): wrong codes sent in parallel each count."""
    UserSecurity.objects.get_or_create(user=user)
    with transaction.atomic():
        return UserSecurity.objects.select_for_update().get(user=user)


def _locked_until(state):
    limit = security.rule("LOGIN_FAILURE_LIMIT")
    if state.otp_failures < limit or state.otp_failed_at is None:
        return None
    until = state.otp_failed_at + timedelta(minutes=security.rule("LOGIN_LOCKOUT_MINUTES"))
    return until if until > timezone.now() else None


def _locked_response(request):
    audit.record(
        audit.Kind.LOCKOUT,
        request=request,
        user=request.user,
        outcome=audit.Outcome.REFUSED,
        step="two_factor",
    )
    auth.logout(request)
    return render(request, "registration/locked.html", status=429)


def _failed(state):
    state.otp_failures = 1 if _expired(state) else state.otp_failures + 1
    state.otp_failed_at = timezone.now()
    state.save(update_fields=["otp_failures", "otp_failed_at"])


def _expired(state):
    return (
        state.otp_failed_at is not None
        and state.otp_failures >= security.rule("LOGIN_FAILURE_LIMIT")
        and _locked_until(state) is None
    )


def _succeeded(request, state, device):
    if state.otp_failures:
        state.otp_failures = 0
        state.otp_failed_at = None
        state.save(update_fields=["otp_failures", "otp_failed_at"])
    django_otp.login(request, device)


@method_decorator([never_cache, sensitive_post_parameters("code")], name="dispatch")
class OtpVerifyView(TemplateView):
    """The second step of signing in: a code from the authenticator app, or a backup code."""

    template_name = "otp/verify.html"

    def dispatch(self, request, *args, **kwargs):
        if security.otp_verified(request.session):
            return redirect(_next_url(request))
        if not TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
            return redirect(f"{reverse('otp_setup')}?{request.GET.urlencode()}")
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        return self.render_to_response({"form": CodeForm(), "next": _next_url(request)})

    def post(self, request, *args, **kwargs):
        form = CodeForm(request.POST)
        state = _state(request.user)
        if _locked_until(state):
            return _locked_response(request)
        if form.is_valid():
            with transaction.atomic():
                device = django_otp.match_token(request.user, form.cleaned_data["code"])
            if device is not None:
                action = "backup_code" if isinstance(device, StaticDevice) else "verify"
                audit.record_two_factor(request, user=request.user, action=action, ok=True)
                _succeeded(request, state, device)
                return redirect(_next_url(request))
            audit.record_two_factor(request, user=request.user, action="verify", ok=False)
            _failed(state)
            if _locked_until(state):
                return _locked_response(request)
            form.add_error("code", "验证码不正确或已使用过，请输入验证器上的最新验证码。")
        return self.render_to_response({"form": form, "next": _next_url(request)}, status=400)


def _qr_svg(url):
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    # The image carries no script and no style attribute; drop the XML prolog to inline it.
    return mark_safe(svg[svg.index("<svg") :])


def backup_codes(user):
    """A new set of single-use backup codes (the old ones stop working)."""
    device, _ = StaticDevice.objects.get_or_create(user=user, defaults={"name": "备用验证码"})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(security.rule("OTP_BACKUP_CODES"))]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return device, codes


@method_decorator([never_cache, sensitive_post_parameters("code")], name="dispatch")
class OtpSetupView(TemplateView):
    """Enrolment: scan the QR code (or type the key) into an authenticator app, confirm one
    code, then write down the backup codes, shown only this once."""

    template_name = "otp/setup.html"

    def dispatch(self, request, *args, **kwargs):
        if TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
            return redirect(f"{reverse('otp_verify')}?{request.GET.urlencode()}")
        self.device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
        if self.device is None:
            self.device = TOTPDevice.objects.create(
                user=request.user, name="验证器", confirmed=False
            )
        return super().dispatch(request, *args, **kwargs)

    def context(self, form):
        secret = base64.b32encode(self.device.bin_key).decode()
        return {
            "form": form,
            "next": _next_url(self.request),
            "qr": _qr_svg(self.device.config_url),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "step_seconds": self.device.step,
        }

    def get(self, request, *args, **kwargs):
        # A new key each time the page is shown: a key someone saw earlier (with an issued
        # password) is never the one the user confirms.
        self.device.key = default_key()
        self.device.save(update_fields=["key"])
        return self.render_to_response(self.context(CodeForm()))

    def post(self, request, *args, **kwargs):
        form = CodeForm(request.POST)
        state = _state(request.user)
        if _locked_until(state):
            return _locked_response(request)
        if form.is_valid() and self.device.verify_token(form.cleaned_data["code"]):
            with transaction.atomic():
                self.device.confirmed = True
                self.device.save(update_fields=["confirmed"])
                _, codes = backup_codes(request.user)
            audit.record_two_factor(request, user=request.user, action="enrol", ok=True)
            _succeeded(request, state, self.device)
            return render(
                request,
                "otp/backup_codes.html",
                {"codes": codes, "next": _next_url(request), "issued_at": time.time()},
            )
        if form.is_valid():
            audit.record_two_factor(request, user=request.user, action="enrol", ok=False)
            _failed(state)
            if _locked_until(state):
                return _locked_response(request)
            form.add_error("code", "验证码不正确，请确认手机时间准确后输入验证器上的最新验证码。")
        return self.render_to_response(self.context(form), status=400)
