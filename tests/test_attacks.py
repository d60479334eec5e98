"""Attack tests, part 1: access by id guessing (IDOR), mass assignment, out-of-scope choices.

ASVS V8 / REFERENCE.md D2 T11–T14 (等保 CES1-09). The product rule: an object outside the
user's scope is a 404 (existence is never revealed), a read-only user trying to write gets a
403; both are written to the audit log as a refusal, and nothing changes.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter

from activities.models import Activity, Commitment, Need
from tests.attack_helpers import build_world, refusals, unchanged

NOT_FOUND = "没有找到您要的内容"  # templates/404.html
READ_ONLY = "您只能查看，无权修改。"


@pytest.fixture
def w(db):
    return build_world()


# --- IDOR: every <int:pk> route, requested by a user of another scope ----------------------------
#
# (test id, URL name, method, attacker, object, extra URL kwargs, POST data)
# The attacker reaches nothing of side B: pairing A's secretary for pairing-scoped objects, the
# other township's supervisor for reports, another user for notifications and import runs, and
# the other county's staff for what only county staff may touch (restores).

IDOR = [
    ("activity-detail", "activities:detail", "get", "organ_a_secretary", "activity", {}, None),
    ("activity-edit-get", "activities:edit", "get", "organ_a_secretary", "draft", {}, None),
    (
        "activity-edit-post",
        "activities:edit",
        "post",
        "organ_a_secretary",
        "draft",
        {},
        {"title": "篡改", "category": "study", "date": "2025-03-05", "client_id": "x"},
    ),
    ("activity-submit", "activities:submit", "post", "organ_a_secretary", "draft", {}, {}),
    ("activity-confirm", "activities:confirm", "post", "village_a_secretary", "activity", {}, {}),
    (
        "activity-return",
        "activities:return",
        "post",
        "village_a_secretary",
        "activity",
        {},
        {"reason": "不合格"},
    ),
    ("activity-trash", "activities:move_to_trash", "post", "organ_a_secretary", "draft", {}, {}),
    ("activity-restore", "activities:restore", "post", "other_staff", "trashed_activity", {}, {}),
    ("evidence-file", "activities:evidence_file", "get", "organ_a_secretary", "evidence", {}, None),
    (
        "evidence-thumbnail",
        "activities:evidence_thumbnail",
        "get",
        "organ_a_secretary",
        "evidence",
        {},
        None,
    ),
    ("pairing-detail", "activities:pairing", "get", "organ_a_secretary", "pairing", {}, None),
    ("pairing-card", "pairing_card", "get", "organ_a_secretary", "pairing", {}, None),
    (
        "need-new",
        "activities:need_new",
        "post",
        "village_a_secretary",
        "pairing",
        {},
        {"title": "冒名需求", "raised_on": "2025-03-01"},
    ),
    (
        "commitment-new",
        "activities:commitment_new",
        "post",
        "organ_a_secretary",
        "pairing",
        {},
        {"title": "冒名承诺", "amount": "1", "due_date": "2025-12-31"},
    ),
    (
        "commitment-progress",
        "activities:commitment_progress",
        "post",
        "organ_a_secretary",
        "commitment",
        {},
        {"status": "done", "progress": "已办结", "done_on": "2025-03-01"},
    ),
    (
        "inspection-new",
        "activities:inspection_new",
        "post",
        "organ_a_secretary",
        "pairing",
        {},
        {"year": "2025", "date": "2025-06-10"},
    ),
    (
        "inspection-detail",
        "activities:inspection_detail",
        "get",
        "organ_a_secretary",
        "inspection",
        {},
        None,
    ),
    (
        "rectification-get",
        "activities:rectification_update",
        "get",
        "organ_a_secretary",
        "rectification",
        {},
        None,
    ),
    (
        "rectification-post",
        "activities:rectification_update",
        "post",
        "organ_a_secretary",
        "rectification",
        {},
        {"step": "done", "day": "2025-07-01", "note": "已整改"},
    ),
    (
        "help-detail",
        "activities:help_detail",
        "get",
        "village_a_secretary",
        "help_pairing",
        {},
        None,
    ),
    (
        "help-visit-post",
        "activities:help_detail",
        "post",
        "village_a_secretary",
        "help_pairing",
        {},
        {"date": "2025-03-05", "summary": "冒名走访", "help_given": ""},
    ),
    ("report-detail", "report_detail", "get", "supervisor_a", "report", {}, None),
    ("report-edit", "report_edit", "get", "supervisor_a", "report", {}, None),
    ("report-refresh", "report_refresh", "post", "supervisor_a", "report", {}, {}),
    ("report-versions", "report_versions", "get", "supervisor_a", "report", {}, None),
    ("report-print", "report_print", "get", "supervisor_a", "report", {}, None),
    ("report-export-docx", "report_export", "get", "supervisor_a", "report", {"fmt": "docx"}, None),
    ("report-trash", "report_trash", "post", "supervisor_a", "report", {}, {}),
    ("report-restore", "report_restore", "post", "other_staff", "trashed_report", {}, {}),
    ("notification-read", "notification_read", "post", "organ_a_secretary", "notification", {}, {}),
    ("import-run", "import_result", "get", "other_staff", "import_run", {}, None),
]


def _target(w, name):
    return w.pairing_b if name == "pairing" else getattr(w.b, name)


@pytest.mark.parametrize(
    ("url_name", "method", "attacker", "target", "kwargs", "data"),
    [pytest.param(*row[1:], id=row[0]) for row in IDOR],
)
def test_an_object_of_another_scope_is_a_404_recorded_and_nothing_changes(
    client, w, url_name, method, attacker, target, kwargs, data
):
    user = getattr(w, attacker)
    obj = _target(w, target)
    client.force_login(user)
    url = reverse(url_name, kwargs={"pk": obj.pk, **kwargs})
    with unchanged():
        response = getattr(client, method)(url, data) if data is not None else client.get(url)
    assert response.status_code == 404
    assert NOT_FOUND in response.content.decode()
    [row] = refusals(user, status=404)
    assert row.detail["path"] == url
    assert row.outcome == "refused"


@pytest.mark.parametrize("pk", [0, 99999999, 2**31 - 1, 2**63 - 1])
def test_guessed_evidence_ids_that_do_not_exist_are_the_same_404(client, w, pk):
    """An id that exists elsewhere and one that exists nowhere answer alike (no oracle)."""
    client.force_login(w.organ_a_secretary)
    with unchanged():
        response = client.get(reverse("activities:evidence_file", kwargs={"pk": pk}))
    assert response.status_code == 404
    assert NOT_FOUND in response.content.decode()
    assert len(refusals(w.organ_a_secretary, status=404)) == 1


def test_the_audit_search_is_a_404_to_everyone_but_the_auditor(client, w):
    for name in ("staff", "organ_a_secretary", "viewer", "supervisor_a"):
        user = getattr(w, name)
        client.force_login(user)
        with unchanged():
            response = client.get(reverse("audit:search"), {"user": "county", "export": "xlsx"})
        assert response.status_code == 404, name
        assert NOT_FOUND in response.content.decode()
        assert len(refusals(user, status=404)) == 1
    client.force_login(w.auditor)
    assert client.get(reverse("audit:search")).status_code == 200


def test_someone_elses_import_error_workbook_is_a_404(client, w):
    client.force_login(w.staff)
    response = client.get(reverse("import_errors", kwargs={"digest": "0" * 64}))
    assert response.status_code == 404


def _pk_routes():
    """The names of every URL pattern that takes an <int:pk> (admin excluded)."""
    found = set()

    def walk(patterns, namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.app_name == "admin":
                    continue
                walk(p.url_patterns, p.namespace or namespace)
            elif isinstance(p, URLPattern):
                converters = getattr(p.pattern, "converters", {})
                if isinstance(converters.get("pk"), IntConverter):
                    found.add(f"{namespace}:{p.name}" if namespace else p.name)

    walk(get_resolver().url_patterns)
    return found


def test_every_route_taking_an_id_has_an_idor_case():
    routes = _pk_routes()
    assert len(routes) >= 25
    missing = routes - {row[1] for row in IDOR}
    assert not missing, f"add an IDOR case for: {sorted(missing)}"


# --- Read-only users trying to write: 403 with the reason, recorded --------------------------------


@pytest.mark.parametrize(
    ("url_name", "target", "data", "message"),
    [
        pytest.param("activities:edit", "activity", {"title": "x"}, READ_ONLY, id="viewer-edit"),
        pytest.param("activities:move_to_trash", "draft", {}, READ_ONLY, id="viewer-trash"),
        pytest.param(
            "activities:commitment_progress",
            "commitment",
            {"status": "done", "progress": "x", "done_on": "2025-03-01"},
            READ_ONLY,
            id="viewer-progress",
        ),
        pytest.param(
            "activities:need_new", "pairing", {"title": "x"}, READ_ONLY, id="viewer-need-new"
        ),
        pytest.param(
            "report_trash",
            "report",
            {},
            "您只能查看这份汇报，无权修改。",
            id="viewer-report-trash",
        ),
    ],
)
def test_a_read_only_leader_writing_gets_a_403_with_the_reason(
    client, w, url_name, target, data, message
):
    client.force_login(w.viewer)
    url = reverse(url_name, kwargs={"pk": _target(w, target).pk})
    with unchanged():
        response = client.post(url, data)
    assert response.status_code == 403
    assert message in response.content.decode()
    assert len(refusals(w.viewer, status=403)) == 1


# --- Mass assignment: extra POST fields are ignored ------------------------------------------------


def _activity_post(activity, **extra):
    data = {
        "regime": activity.regime_id or "",
        "category": activity.category,
        "date": activity.date.isoformat(),
        "place": activity.place,
        "title": activity.title,
        "summary": activity.summary,
        "villager_count": activity.villager_count,
        "client_id": str(activity.client_id),
        "version": activity.version,
    }
    data.update(extra)
    return data


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"status": "confirmed", "confirmed_at": "2025-01-01 10:00"}, id="status"),
        pytest.param({"pairing": "PAIRING_B", "pairing_id": "PAIRING_B"}, id="pairing"),
        pytest.param(
            {"logged_by_branch": "VILLAGE_B", "on_behalf_by": "VILLAGE_B"}, id="owner-branch"
        ),
        pytest.param(
            {"deleted_at": "2025-01-01 10:00", "on_time": "false", "created_by": "1"},
            id="trash-and-stamps",
        ),
    ],
)
def test_extra_fields_posted_to_the_activity_form_change_nothing_they_name(client, w, extra):
    activity = w.a.draft
    names = {"PAIRING_B": w.pairing_b.pk, "VILLAGE_B": w.village_b.pk}
    extra = {k: names.get(v, v) for k, v in extra.items()}
    before = Activity.objects.values().get(pk=activity.pk)
    client.force_login(w.organ_a_secretary)
    response = client.post(
        reverse("activities:edit", kwargs={"pk": activity.pk}), _activity_post(activity, **extra)
    )
    assert response.status_code == 302
    after = Activity.objects.values().get(pk=activity.pk)
    for field in ("status", "pairing_id", "logged_by_branch_id", "on_behalf_by_id", "deleted_at"):
        assert after[field] == before[field], field
    assert after["confirmed_at"] is None and after["on_time"] == before["on_time"]


def test_extra_fields_posted_to_the_need_form_are_ignored(client, w):
    client.force_login(w.village_a_secretary)
    response = client.post(
        reverse("activities:need_new", kwargs={"pk": w.pairing_a.pk}),
        {
            "title": "修缮村部屋顶",
            "raised_on": "2025-03-01",
            "pairing": w.pairing_b.pk,
            "raised_by": w.village_b.pk,
            "status": "done",
            "deleted_at": "2025-01-01",
        },
    )
    assert response.status_code == 302
    need = Need.objects.get(title="修缮村部屋顶")
    assert need.pairing_id == w.pairing_a.pk
    assert need.raised_by_id == w.village_a.pk
    assert need.status == Need._meta.get_field("status").default
    assert need.deleted_at is None


# --- Choice fields holding an out-of-scope id: a form error, nothing saved --------------------------

INVALID_CHOICE = "选择一个有效的选项"


def test_a_participant_from_another_pairing_is_refused(client, w):
    activity = w.a.draft
    client.force_login(w.organ_a_secretary)
    with unchanged():
        response = client.post(
            reverse("activities:edit", kwargs={"pk": activity.pk}),
            _activity_post(activity, participants=[w.organ_b_member.pk], title="改了标题"),
        )
    assert response.status_code == 200
    assert INVALID_CHOICE in response.content.decode()
    assert "participants" in response.context["form"].errors


def test_a_commitment_for_another_pairings_need_is_refused(client, w):
    client.force_login(w.organ_a_secretary)
    with unchanged():
        response = client.post(
            reverse("activities:commitment_new", kwargs={"pk": w.pairing_a.pk}),
            {"need": w.b.need.pk, "title": "修路", "amount": "100", "due_date": "2025-12-31"},
        )
    assert response.status_code == 200
    assert INVALID_CHOICE in response.content.decode()
    assert not Commitment.objects.filter(title="修路").exists()


def test_a_supervisor_logging_for_a_side_outside_the_pairing_is_refused(client, w):
    client.force_login(w.supervisor_a)
    with unchanged():
        response = client.post(
            f"{reverse('activities:new')}?pairing={w.pairing_a.pk}",
            {
                "side": w.village_b.pk,
                "category": "study",
                "date": w.today.isoformat(),
                "title": "代办",
                "villager_count": "0",
                "client_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            },
        )
    assert response.status_code == 200
    assert INVALID_CHOICE in response.content.decode()
    assert "side" in response.context["form"].errors


def test_an_unlock_for_a_branch_of_another_county_is_refused(client, w):
    from tests.factories import make_branch

    stranger = make_branch(w.other_county, name="白水村党支部")
    client.force_login(w.staff)
    with unchanged():
        response = client.post(
            reverse("activities:unlock"),
            {"branch": stranger.pk, "period": "2025-03", "reason": "补录", "until": "2025-12-31"},
        )
    assert response.status_code == 200
    assert INVALID_CHOICE in response.content.decode()


def test_a_report_for_a_scope_outside_the_supervisors_is_refused(client, w):
    client.force_login(w.supervisor_a)
    with unchanged():
        response = client.post(
            reverse("report_new"),
            {"organization": w.township_b.pk, "start": "2025-01-01", "end": "2025-12-31"},
        )
    assert response.status_code == 200
    assert INVALID_CHOICE in response.content.decode()
