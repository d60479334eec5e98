"""Separation of duties (三员分立, GB/T 22239 8.1.4.2 and REFERENCE D1.1).

The system administrator keeps accounts and configuration in the Django admin, the security
administrator grants roles and scopes and handles lockouts, the auditor reads the audit trail;
no account holds two of these, nobody changes their own role, and the Django admin answers only
to the first two, and only from the configured address ranges.
"""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from pairings import access
from pairings.models import Assignment, Role
from tests.factories import make_branch, make_county, make_user

ADMIN_ROLES = [Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR]


@pytest.fixture
def county(db):
    return make_county(name="青山县委")


def account(kind, county):
    """One account per row of the matrix."""
    if kind == "anonymous":
        return None
    if kind == "superuser":
        return User.objects.create_superuser("root_admin", password="Cobuild#2026")
    if kind == "staff_without_role":
        return make_user("staffonly", is_staff=True)
    role = Role(kind)
    org = make_branch(county) if role == Role.SECRETARY else county
    return make_user(kind, role=role, org=org, is_staff=role in ADMIN_ROLES[:2])


ADMIN_LOGIN = "admin-login"
LOGIN = "login"
PAGES = {
    "admin_index": reverse("admin:index"),
    "create_account": reverse("admin:auth_user_add"),
    "list_accounts": reverse("admin:auth_user_changelist"),
    "configure_organizations": reverse("admin:pairings_organization_add"),
    "configure_regimes": reverse("admin:activities_regime_changelist"),
    "grant_role": reverse("admin:pairings_assignment_add"),
    "list_roles": reverse("admin:pairings_assignment_changelist"),
    "lockouts": reverse("admin:axes_accessattempt_changelist"),
    "new_activity": reverse("activities:new"),
    "reports": reverse("report_list"),
}
# (account) → {page: expected status}; 302s name where they lead.
ADMIN_PAGES = [page for page in PAGES if page not in ("new_activity", "reports")]
# Signed-in accounts that are not staff get the admin's own login page.
OUTSIDE = dict.fromkeys(ADMIN_PAGES, ADMIN_LOGIN)
MATRIX = {
    "system_admin": {
        "admin_index": 200,
        "create_account": 200,
        "list_accounts": 200,
        "configure_organizations": 200,
        "configure_regimes": 200,
        "grant_role": 403,
        "list_roles": 200,
        "lockouts": 403,
        "new_activity": 403,
        "reports": 403,
    },
    "security_admin": {
        "admin_index": 200,
        "create_account": 403,
        "list_accounts": 200,
        "configure_organizations": 403,
        "configure_regimes": 403,
        "grant_role": 200,
        "list_roles": 200,
        "lockouts": 200,
        "new_activity": 403,
        "reports": 403,
    },
    "auditor": {**OUTSIDE, "new_activity": 403, "reports": 403},
    "county_staff": {**OUTSIDE, "new_activity": 200, "reports": 200},
    "supervisor": {**OUTSIDE, "new_activity": 200, "reports": 200},
    "secretary": {**OUTSIDE, "new_activity": 200, "reports": 403},
    "viewer": {**OUTSIDE, "new_activity": 403, "reports": 200},
    "staff_without_role": {
        **{p: 403 for p in OUTSIDE},
        "new_activity": 403,
        "reports": 403,
    },
    # The admin's index sends visitors to the admin's login form, every other page to the site's.
    "anonymous": {**dict.fromkeys(PAGES, LOGIN), "admin_index": ADMIN_LOGIN},
}
MATRIX["superuser"] = MATRIX["system_admin"]


@pytest.mark.parametrize(
    ("kind", "page"), [(kind, page) for kind in MATRIX for page in PAGES], ids=lambda v: v
)
def test_role_matrix(client, county, kind, page):
    user = account(kind, county)
    if user is not None:
        client.force_login(user)
    expected = MATRIX[kind][page]
    response = client.get(PAGES[page])
    if expected == ADMIN_LOGIN:
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))
    elif expected == LOGIN:
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    else:
        assert response.status_code == expected


# --- No account holds two of the three ---------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"), [(a, b) for a in ADMIN_ROLES for b in ADMIN_ROLES if a != b]
)
def test_no_account_holds_two_administrator_roles(county, first, second):
    user = make_user(role=first, org=county)
    second_grant = Assignment(user=user, organization=county, role=second)
    with pytest.raises(ValidationError) as caught:
        second_grant.full_clean()
    assert "须由不同的账号担任" in str(caught.value)
    # The database refuses it too, whatever path the row takes.
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(user=user, organization=county, role=second)
    assert access.admin_roles_of(user) == {first}


def test_the_database_refuses_the_same_administrator_role_at_a_second_organization(county):
    other = make_county(name="白石县委")
    user = make_user(role=Role.AUDITOR, org=county)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(user=user, organization=other, role=Role.AUDITOR)


def test_an_administrator_may_also_hold_a_business_role(county):
    user = make_user(role=Role.AUDITOR, org=county)
    grant = Assignment(user=user, organization=county, role=Role.VIEWER)
    grant.full_clean()
    grant.save()


def test_a_superuser_is_the_system_admin_and_cannot_be_made_security_or_audit_admin(county):
    root = User.objects.create_superuser("root_admin", password="Cobuild#2026")
    assert access.is_system_admin(root)
    for role in (Role.SECURITY_ADMIN, Role.AUDITOR):
        with pytest.raises(ValidationError):
            Assignment(user=root, organization=county, role=role).full_clean()


def test_the_system_admin_cannot_make_a_security_admin_a_superuser(client, county):
    security_admin = make_user("sec", role=Role.SECURITY_ADMIN, org=county, is_staff=True)
    client.force_login(User.objects.create_superuser("root_admin", password="Cobuild#2026"))
    url = reverse("admin:auth_user_change", args=[security_admin.pk])
    data = {
        "username": "sec",
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "date_joined_0": security_admin.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": "00:00:00",
        "assignments-TOTAL_FORMS": "0",
        "assignments-INITIAL_FORMS": "0",
    }
    response = client.post(url, data)
    assert response.status_code == 403  # the security admin's account is out of reach
    security_admin.refresh_from_db()
    assert not security_admin.is_superuser


@pytest.mark.parametrize("duty", [Role.SECURITY_ADMIN, Role.AUDITOR])
def test_the_system_admin_cannot_take_over_another_administrators_account(client, county, duty):
    other = make_user("other_admin", role=duty, org=county, is_staff=duty == Role.SECURITY_ADMIN)
    password = other.password
    client.force_login(make_user("sys", role=Role.SYSTEM_ADMIN, org=county, is_staff=True))
    reset = client.post(
        reverse("admin:auth_user_password_change", args=[other.pk]),
        {"password1": "Taken#over2026", "password2": "Taken#over2026"},
    )
    assert reset.status_code == 403
    assert (
        client.post(reverse("admin:auth_user_delete", args=[other.pk]), {"post": "yes"}).status_code
        == 403
    )
    other.refresh_from_db()
    assert other.password == password and other.is_active


def test_the_system_admin_configures_but_never_edits_the_campaigns_records(client, county):
    client.force_login(make_user("sys", role=Role.SYSTEM_ADMIN, org=county, is_staff=True))
    for name in ("activities_metric_changelist", "activities_regimecadence_changelist"):
        assert client.get(reverse(f"admin:{name}")).status_code == 200
    for name in (
        "activities_activity_changelist",
        "pairings_member_changelist",
        "activities_periodfigure_changelist",
        "reports_situationreport_changelist",
    ):
        assert client.get(reverse(f"admin:{name}")).status_code == 403, name


# --- Granting roles ----------------------------------------------------------------------------


def grant(client, user, county, role=Role.VIEWER):
    return client.post(
        reverse("admin:pairings_assignment_add"),
        {"user": user.pk, "organization": county.pk, "role": role},
    )


def test_the_security_admin_grants_a_role_to_someone_else(client, county):
    security_admin = make_user("sec", role=Role.SECURITY_ADMIN, org=county, is_staff=True)
    clerk = make_user("clerk")
    client.force_login(security_admin)
    response = grant(client, clerk, county)
    assert response.status_code == 302
    assert Assignment.objects.filter(user=clerk, role=Role.VIEWER).exists()


def test_the_security_admin_cannot_grant_a_second_administrator_role(client, county):
    security_admin = make_user("sec", role=Role.SECURITY_ADMIN, org=county, is_staff=True)
    auditor = make_user("aud", role=Role.AUDITOR, org=county)
    client.force_login(security_admin)
    response = grant(client, auditor, county, Role.SYSTEM_ADMIN)
    assert response.status_code == 200
    assert "须由不同的账号担任" in response.content.decode()
    assert not Assignment.objects.filter(user=auditor, role=Role.SYSTEM_ADMIN).exists()


def test_nobody_grants_themselves_a_role(client, county):
    security_admin = make_user("sec", role=Role.SECURITY_ADMIN, org=county, is_staff=True)
    client.force_login(security_admin)
    response = grant(client, security_admin, county)
    assert response.status_code == 200
    assert "不能给自己分配或修改角色" in response.content.decode()
    assert security_admin.assignments.count() == 1


def test_nobody_changes_or_removes_their_own_role(client, county):
    security_admin = make_user("sec", role=Role.SECURITY_ADMIN, org=county, is_staff=True)
    own = security_admin.assignments.get()
    client.force_login(security_admin)
    change = reverse("admin:pairings_assignment_change", args=[own.pk])
    response = client.post(
        change, {"user": security_admin.pk, "organization": county.pk, "role": Role.VIEWER}
    )
    assert response.status_code == 403
    delete = reverse("admin:pairings_assignment_delete", args=[own.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    own.refresh_from_db()
    assert own.role == Role.SECURITY_ADMIN


def test_the_system_admin_cannot_change_their_own_powers(client, county):
    root = User.objects.create_superuser("root_admin", password="Cobuild#2026")
    client.force_login(root)
    page = client.get(reverse("admin:auth_user_change", args=[root.pk]))
    readonly = page.context["adminform"].readonly_fields
    for field in ("is_active", "is_staff", "is_superuser", "groups", "user_permissions"):
        assert field in readonly


def test_the_system_admin_sees_roles_on_a_user_page_but_cannot_edit_them(client, county):
    clerk = make_user("clerk", role=Role.VIEWER, org=county)
    client.force_login(User.objects.create_superuser("root_admin", password="Cobuild#2026"))
    page = client.get(reverse("admin:auth_user_change", args=[clerk.pk]))
    inline = page.context["inline_admin_formsets"][0]
    assert not inline.has_add_permission
    assert not inline.has_change_permission
    assert "领导（只读）" in page.content.decode()


def test_the_security_admin_lifts_a_lockout(client, county):
    security_admin = make_user("sec", role=Role.SECURITY_ADMIN, org=county, is_staff=True)
    attempt = AccessAttempt.objects.create(
        username="clerk", ip_address="127.0.0.1", user_agent="t", failures_since_start=5
    )
    client.force_login(security_admin)
    response = client.post(
        reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()


# --- The admin's address ranges ----------------------------------------------------------------


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root_admin", password="Cobuild#2026")


@pytest.mark.parametrize(
    ("address", "status"),
    [("127.0.0.1", 200), ("::1", 200), ("10.20.30.40", 403), ("203.0.113.9", 403)],
)
def test_the_admin_answers_only_from_allowed_addresses(client, root, address, status):
    client.force_login(root)
    response = client.get(reverse("admin:index"), REMOTE_ADDR=address)
    assert response.status_code == status
    if status == 403:
        assert "指定的网络地址" in response.content.decode()


def test_the_allowed_ranges_are_a_setting(client, root, settings):
    settings.COBUILD = {**settings.COBUILD, "ADMIN_ALLOWED_NETWORKS": ["10.20.0.0/16"]}
    client.force_login(root)
    assert client.get(reverse("admin:index"), REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get(reverse("admin:index"), REMOTE_ADDR="127.0.0.1").status_code == 403


def test_the_admin_login_page_is_closed_to_outside_addresses_too(client, db):
    response = client.get(reverse("admin:login"), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403


def test_a_forged_x_forwarded_for_is_ignored_without_a_trusted_proxy(client, root):
    client.force_login(root)
    response = client.get(
        reverse("admin:index"), REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1"
    )
    assert response.status_code == 403


def test_behind_one_trusted_proxy_the_address_it_saw_counts(client, root, settings):
    settings.COBUILD = {**settings.COBUILD, "TRUSTED_PROXY_COUNT": 1}
    client.force_login(root)
    url = reverse("admin:index")
    # The proxy (127.0.0.1) appends the address it saw; what the client sent before is ignored.
    outside = client.get(url, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1, 8.8.8.8")
    assert outside.status_code == 403
    inside = client.get(url, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="8.8.8.8, 127.0.0.1")
    assert inside.status_code == 200


# --- The first security administrator ----------------------------------------------------------


def test_the_first_security_admin_is_granted_from_the_servers_shell(county):
    from io import StringIO

    from django.core.management import CommandError, call_command

    clerk = make_user("clerk")
    out = StringIO()
    call_command("grant_admin_role", "clerk", "security_admin", stdout=out)
    assert "安全管理员" in out.getvalue()
    clerk.refresh_from_db()
    assert clerk.is_staff and access.is_security_admin(clerk)
    with pytest.raises(CommandError, match="须由不同的账号担任"):
        call_command("grant_admin_role", "clerk", "auditor")
    with pytest.raises(CommandError, match="不存在"):
        call_command("grant_admin_role", "nobody", "auditor")
