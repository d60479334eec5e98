from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.decorators.debug import sensitive_post_parameters

from activities.views_offline import service_worker
from cobuild import account_views

admin.site.site_header = "互助共建管理平台 · 系统管理"
admin.site.site_title = "互助共建管理平台"
admin.site.index_title = "系统设置"

# A database outage anywhere in a request answers 503 with a Chinese page (cobuild/outage.py).
handler500 = "cobuild.outage.server_error"

urlpatterns = [
    path("", include("reports.urls")),
    path("activities/", include("activities.urls")),
    path("", include("pairings.urls")),
    path("audit/", include("cobuild.audit_urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        sensitive_post_parameters()(account_views.PasswordChangeView.as_view()),
        name="password_change",
    ),
    path("accounts/otp/", account_views.OtpVerifyView.as_view(), name="otp_verify"),
    path("accounts/otp/setup/", account_views.OtpSetupView.as_view(), name="otp_setup"),
    path("admin/", admin.site.urls),
    path("sw.js", service_worker, name="service_worker"),
]
