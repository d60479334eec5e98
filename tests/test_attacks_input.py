"""Attack tests, part 2: bad input, script payloads, filters outside the list, files, requests.

ASVS V1/V2/V5 and REFERENCE.md D2 T15–T30. Every refused input gets its Chinese message next
to the field and changes no row anywhere (`unchanged()`); accepted odd input (emoji, 𠀀,
SQL-looking text) is stored exactly and shown escaped.
"""

import io
import uuid
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from activities.models import Activity, Evidence, Need
from tests.attack_helpers import build_world, unchanged
from tests.factories import TINY_PNG, make_evidence, make_jpeg, make_rectification

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
IMG_ESCAPED = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
BAD_REQUEST = "请求有误"  # templates/400.html
CSRF_PAGE = "页面已过期"  # templates/403_csrf.html


@pytest.fixture
def w(db):
    return build_world()


def new_activity_url(w):
    return f"{reverse('activities:new')}?pairing={w.pairing_a.pk}"


def activity_data(w, **changes):
    data = {
        "regime": "",
        "category": "study",
        "date": w.today.isoformat(),
        "place": "石门村村委会",
        "title": "学习新党章",
        "summary": "",
        "villager_count": "0",
        "client_id": str(uuid.uuid4()),
    }
    data.update(changes)
    return data


def field_errors(response, field):
    return " ".join(response.context["form"].errors.get(field, []))


def xlsx_cells(response):
    book = load_workbook(io.BytesIO(response.content))
    return [cell for row in book.active.iter_rows() for cell in row]


# --- Bad figures, dates and text in the activity form: a message, nothing saved --------------------

BAD_ACTIVITY_INPUT = [
    ("title-nul", {"title": "学习\x00党章"}, "title", "空字符"),
    ("title-1mb", {"title": "长" * 1_000_000}, "title", "不超过 200 字符"),
    ("place-1mb", {"place": "x" * 1_000_000}, "place", "不超过 100 字符"),
    ("summary-1mb", {"summary": "长" * 1_000_000}, "summary", "不超过 5000 字符"),
    ("title-empty", {"title": "   "}, "title", "这个字段是必填项"),
    ("villagers-negative", {"villager_count": "-1"}, "villager_count", "大于或等于0"),
    ("villagers-huge", {"villager_count": str(10**12)}, "villager_count", "不能超过 10000 人"),
    ("villagers-10001", {"villager_count": "10001"}, "villager_count", "不能超过 10000 人"),
    ("villagers-text", {"villager_count": "十二"}, "villager_count", "输入整数"),
    ("villagers-float", {"villager_count": "1e309"}, "villager_count", "输入整数"),
    ("metric-negative", {"metric_training": "-5"}, "metric_training", "大于或等于0"),
    ("metric-huge", {"metric_training": "1" * 20}, "metric_training", "小于或等于"),
    ("metric-inf", {"metric_training": "1e309"}, "metric_training", ""),
    ("metric-nan", {"metric_training": "NaN"}, "metric_training", "输入一个数字"),
    ("metric-text", {"metric_training": "三十"}, "metric_training", "输入一个数字"),
    ("date-future", {"date": "2999-01-01"}, "date", "活动日期不能晚于今天"),
    ("date-year-1", {"date": "0001-01-01"}, "date", "活动日期必须在共建对子的起止日期"),
    ("date-impossible", {"date": "2025-02-30"}, "date", "输入一个有效的日期"),
    ("date-text", {"date": "yesterday"}, "date", "输入一个有效的日期"),
    ("regime-bad", {"regime": "999999"}, "regime", "选择一个有效的选项"),
    ("category-bad", {"category": "<script>"}, "category", "选择一个有效的选项"),
    ("client-id-bad", {"client_id": "'; DROP TABLE x; --"}, "client_id", "请刷新页面"),
    ("version-bad", {"version": "9e99"}, "version", "请刷新页面"),
]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [pytest.param(*row[1:], id=row[0]) for row in BAD_ACTIVITY_INPUT],
)
def test_bad_activity_input_is_refused_with_a_message_and_nothing_saved(
    client, w, changes, field, message
):
    client.force_login(w.organ_a_secretary)
    with unchanged():
        response = client.post(new_activity_url(w), activity_data(w, **changes))
    assert response.status_code == 200
    errors = field_errors(response, field)
    assert errors, response.context["form"].errors
    assert message in errors
    assert message in response.content.decode()


@pytest.mark.parametrize(
    "title",
    [
        pytest.param("迎新春🎉走访慰问👍", id="emoji"),
        pytest.param("𠀀𪚥𰻞学习会", id="rare-cjk"),
        pytest.param("'; DROP TABLE activities_activity; --", id="sql-drop"),
        pytest.param("1' OR '1'='1", id="sql-or"),
        pytest.param('=HYPERLINK("http://x","点此")', id="formula"),
    ],
)
def test_odd_but_harmless_titles_are_stored_exactly_and_shown_escaped(client, w, title):
    client.force_login(w.organ_a_secretary)
    count = Activity.objects.count()
    response = client.post(new_activity_url(w), activity_data(w, title=title))
    assert response.status_code == 302
    assert Activity.objects.count() == count + 1
    activity = Activity.objects.get(title=title)
    page = client.get(reverse("activities:detail", kwargs={"pk": activity.pk})).content.decode()
    from django.utils.html import escape

    assert escape(title) in page
    export = client.get(reverse("activities:list"), {"export": "xlsx"})
    cells = [c for c in xlsx_cells(export) if c.value == title]
    assert cells and all(c.data_type == "s" for c in cells)


@pytest.mark.parametrize(
    ("url_name", "target", "data", "field", "message"),
    [
        pytest.param(
            "activities:need_new",
            "pairing_a",
            {"title": "x", "raised_on": "2999-01-01"},
            "raised_on",
            "提出日期不能晚于今天",
            id="need-future",
        ),
        pytest.param(
            "activities:need_new",
            "pairing_a",
            {"title": "x", "raised_on": "0001-01-01"},
            "raised_on",
            "提出日期不能早于共建对子的开始日期",
            id="need-year-1",
        ),
        pytest.param(
            "activities:need_new",
            "pairing_a",
            {"title": "需\x00求", "raised_on": "2025-03-01"},
            "title",
            "空字符",
            id="need-nul",
        ),
        pytest.param(
            "activities:commitment_new",
            "pairing_a",
            {"title": "修路", "amount": "-1", "due_date": "2025-12-31"},
            "amount",
            "大于或等于0",
            id="commitment-negative",
        ),
        pytest.param(
            "activities:commitment_new",
            "pairing_a",
            {"title": "修路", "amount": "1e309", "due_date": "2025-12-31"},
            "amount",
            "",
            id="commitment-infinite",
        ),
        pytest.param(
            "activities:commitment_new",
            "pairing_a",
            {"title": "修路", "amount": "五千", "due_date": "2025-12-31"},
            "amount",
            "输入一个数字",
            id="commitment-text",
        ),
        pytest.param(
            "activities:help_detail",
            "help_pairing_a",
            {"date": "0001-01-01", "summary": "走访"},
            "date",
            "走访日期必须在一帮一结对的起止日期之内",
            id="visit-year-1",
        ),
        pytest.param(
            "activities:help_detail",
            "help_pairing_a",
            {"date": "2999-01-01", "summary": "走访"},
            "date",
            "走访日期不能晚于今天",
            id="visit-future",
        ),
    ],
)
def test_bad_figures_and_dates_elsewhere_are_refused(
    client, w, url_name, target, data, field, message
):
    from tests.factories import make_help_pairing, make_household

    if target == "help_pairing_a":
        obj = make_help_pairing(w.village_a_member, make_household(w.village_a))
        user = w.village_a_secretary
    else:
        obj = w.pairing_a
        user = w.organ_a_secretary
    client.force_login(user)
    with unchanged():
        response = client.post(reverse(url_name, kwargs={"pk": obj.pk}), data)
    assert response.status_code == 200
    errors = field_errors(response, field)
    assert errors and message in errors


# --- Script payloads in every text field: escaped on pages, plain text in exports and the .docx ---


def test_script_in_an_activitys_title_place_and_summary_is_escaped_everywhere(client, w):
    client.force_login(w.organ_a_secretary)
    response = client.post(
        new_activity_url(w),
        activity_data(w, title=SCRIPT + IMG, place=IMG, summary=SCRIPT + "\n" + IMG),
    )
    assert response.status_code == 302
    activity = Activity.objects.get(title=SCRIPT + IMG)
    for url in (
        reverse("activities:detail", kwargs={"pk": activity.pk}),
        reverse("activities:list"),
        reverse("activities:edit", kwargs={"pk": activity.pk}),
        reverse("home"),
    ):
        html = client.get(url).content.decode()
        assert SCRIPT not in html and IMG not in html, url
    assert SCRIPT_ESCAPED in client.get(activity.get_absolute_url()).content.decode()
    cells = xlsx_cells(client.get(reverse("activities:list"), {"export": "xlsx"}))
    values = {c.value for c in cells}
    assert SCRIPT + IMG in values and IMG in values
    assert all(c.data_type == "s" for c in cells if c.value in (SCRIPT + IMG, IMG))


def test_script_in_needs_and_commitments_is_escaped_on_pages_and_plain_in_exports(client, w):
    client.force_login(w.village_a_secretary)
    client.post(
        reverse("activities:need_new", kwargs={"pk": w.pairing_a.pk}),
        {"title": SCRIPT, "description": IMG, "raised_on": "2025-03-01"},
    )
    need = Need.objects.get(title=SCRIPT)
    client.force_login(w.organ_a_secretary)
    response = client.post(
        reverse("activities:commitment_new", kwargs={"pk": w.pairing_a.pk}),
        {"need": need.pk, "title": IMG, "amount": "100", "due_date": "2025-12-31"},
    )
    assert response.status_code == 302
    for url in (
        reverse("activities:pairing", kwargs={"pk": w.pairing_a.pk}),
        reverse("activities:need_list"),
        reverse("pairing_card", kwargs={"pk": w.pairing_a.pk}),
        reverse("home"),
    ):
        html = client.get(url).content.decode()
        assert SCRIPT not in html and IMG not in html, url
    cells = xlsx_cells(client.get(reverse("activities:need_list"), {"export": "xlsx"}))
    assert any(c.value == SCRIPT and c.data_type == "s" for c in cells)


def test_script_in_a_rectification_is_escaped_on_pages_and_plain_in_exports(client, w):
    from tests.factories import make_inspection

    inspection = make_inspection(w.pairing_a)
    rectification = make_rectification(inspection, description=SCRIPT + IMG)
    client.force_login(w.staff)
    for url in (
        reverse("activities:rectification_list"),
        reverse("activities:rectification_update", kwargs={"pk": rectification.pk}),
        reverse("activities:inspection_detail", kwargs={"pk": inspection.pk}),
    ):
        html = client.get(url).content.decode()
        assert SCRIPT not in html and IMG not in html, url
        assert SCRIPT_ESCAPED in html, url
    cells = xlsx_cells(client.get(reverse("activities:rectification_list"), {"export": "xlsx"}))
    assert any(c.value == SCRIPT + IMG and c.data_type == "s" for c in cells)


def test_script_in_report_sections_is_escaped_on_pages_and_literal_in_the_docx(client, w):
    from reports.models import SituationReport

    report = SituationReport.objects.get(pk=w.b.report.pk)
    version = report.versions.order_by("-number").first()
    client.force_login(w.supervisor_b)
    sections = dict(zip(version.SECTION_FIELDS, version.sections, strict=True))
    sections["section1"] = SCRIPT + "\n" + IMG
    response = client.post(
        reverse("report_edit", kwargs={"pk": report.pk}),
        {"title": report.title + IMG, "base": version.number, "note": SCRIPT, **sections},
    )
    assert response.status_code == 302
    for name in ("report_detail", "report_print", "report_versions", "report_edit"):
        html = client.get(reverse(name, kwargs={"pk": report.pk})).content.decode()
        assert SCRIPT not in html and IMG not in html, name
        assert SCRIPT_ESCAPED in html, name
    docx = client.get(reverse("report_export", kwargs={"pk": report.pk, "fmt": "docx"}))
    assert docx.status_code == 200
    document = zipfile.ZipFile(io.BytesIO(docx.content)).read("word/document.xml").decode()
    assert SCRIPT not in document  # XML-escaped in the file …
    from docx import Document

    text = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    assert SCRIPT in text and IMG.strip() in text  # … and literal text to Word


def test_script_in_member_and_organization_names_via_the_import_is_escaped(client, db):
    from pairings.models import Member, Organization
    from tests.import_helpers import filled_template, make_small_county_root, small_county_rows

    _, staff = make_small_county_root()
    rows = small_county_rows()
    rows["组织"][5][1] = "东村<script>alert(1)</script>党支部"
    rows["党员"][3][1] = "张<img src=x onerror=alert(1)>"
    client.force_login(staff)
    upload = SimpleUploadedFile("台账.xlsx", filled_template(rows))
    preview = client.post(reverse("import_upload"), {"file": upload})
    assert preview.status_code == 200
    assert SCRIPT not in preview.content.decode()
    digest = preview.context["digest"]
    assert client.post(reverse("import_confirm"), {"digest": digest}).status_code == 302
    assert Organization.objects.filter(name__contains=SCRIPT).exists()
    assert Member.objects.filter(name__contains="<img").exists()
    for url in (reverse("pairings:members"), reverse("pairings:organizations")):
        html = client.get(url).content.decode()
        assert SCRIPT not in html and "<img src=x" not in html, url
    cells = xlsx_cells(client.get(reverse("pairings:members"), {"export": "xlsx"}))
    assert any(c.value == "张<img src=x onerror=alert(1)>" and c.data_type == "s" for c in cells)


# --- Filters and sorting outside the allowed list: ignored or a form error, never 500 or more rows --

FILTERS = [
    ("ordering-password", "activities:list", {"ordering": "created_by__password"}, None),
    ("lookup-injection", "activities:list", {"created_by__password__startswith": "pbkdf2"}, None),
    (
        "connector-or",
        "activities:list",
        {"_connector": "OR", "pairing": "PAIRING_B"},
        "选择一个有效",
    ),
    ("status-bad", "activities:list", {"status": "<script>"}, "选择一个有效"),
    ("pairing-missing", "activities:list", {"pairing": "99999999"}, "选择一个有效"),
    ("pairing-other", "activities:list", {"pairing": "PAIRING_B"}, "选择一个有效"),
    ("pairing-sql", "activities:list", {"pairing": "1 OR 1=1"}, "选择一个有效"),
    ("q-sql", "activities:list", {"q": "' OR 1=1 --"}, None),
    ("date-year-1", "activities:list", {"date_from": "0001-01-01"}, None),
    ("date-bad", "activities:list", {"date_from": "2025-13-45"}, "输入一个有效的日期"),
    ("page-negative", "activities:list", {"page": "-1"}, None),
    ("page-huge", "activities:list", {"page": "99999999999999999999"}, None),
    ("page-text", "activities:list", {"page": "abc"}, None),
    ("needs-status", "activities:need_list", {"status": "x", "ordering": "-id"}, None),
    ("rect-status", "activities:rectification_list", {"status": "'--"}, None),
    ("pairings-filter", "activities:pairings", {"status": "zzz", "page": "-5"}, None),
    (
        "members-filter",
        "pairings:members",
        {"branch": "VILLAGE_B", "ordering": "phone"},
        "选择一个有效",
    ),
    ("orgs-filter", "pairings:organizations", {"parent": "VILLAGE_B", "sort": "x"}, None),
    ("date-max", "activities:list", {"date_to": "9999-12-31", "date_from": "0001-01-01"}, None),
    ("notifications-page", "notifications", {"page": "-1", "kind": "x"}, None),
    ("home-period", "home", {"period": "x", "year": "0", "start": "0001-01-01"}, None),
    ("compliance-period", "compliance", {"period": "x", "year": "abc"}, None),
    ("matrix-period", "compliance_matrix", {"year": "-1", "regime": "x"}, None),
    ("export-unknown", "activities:list", {"export": "csv"}, None),
]


@pytest.mark.parametrize(
    ("url_name", "params", "message"), [pytest.param(*row[1:], id=row[0]) for row in FILTERS]
)
def test_filters_outside_the_list_are_ignored_or_refused_never_a_500_or_more_rows(
    client, w, url_name, params, message
):
    names = {"PAIRING_B": w.pairing_b.pk, "VILLAGE_B": w.village_b.pk}
    params = {k: str(names.get(v, v)) for k, v in params.items()}
    # Pairing A's secretary, or for the rosters (which secretaries do not read) township A's.
    roster = url_name.startswith("pairings:")
    client.force_login(w.supervisor_a if roster else w.organ_a_secretary)
    with unchanged():
        response = client.get(reverse(url_name), params)
    assert response.status_code == 200
    html = response.content.decode()
    assert "河口村" not in html.replace("河口村党支部", "")  # no activity of pairing B
    assert w.b.activity.title not in html
    assert w.village_b_member.name not in html
    if message:
        assert message in html


def test_the_audit_search_with_odd_filters_answers_the_auditor_safely(client, w):
    client.force_login(w.auditor)
    for params in (
        {"date_from": "0001-01-01"},
        {"date_to": "9999-12-31"},
        {"date_from": "0001-01-01", "date_to": "9999-12-31"},
        {"object": "' OR 1=1 --", "event": "x", "page": "-1"},
        {"user": "\x00", "outcome": "<script>"},
    ):
        response = client.get(reverse("audit:search"), params)
        assert response.status_code == 200, params


@pytest.mark.parametrize(
    ("url_name", "params"),
    [
        pytest.param("report_detail", {"version": "abc"}, id="report-version-text"),
        pytest.param(
            "report_detail", {"version": "99999999999999999999"}, id="report-version-huge"
        ),
        pytest.param("report_print", {"version": "-1"}, id="report-version-negative"),
    ],
)
def test_a_version_number_that_does_not_exist_is_a_404(client, w, url_name, params):
    client.force_login(w.supervisor_b)
    with unchanged():
        response = client.get(reverse(url_name, kwargs={"pk": w.b.report.pk}), params)
    assert response.status_code == 404


def test_comparing_versions_outside_the_list_is_a_form_error(client, w):
    client.force_login(w.supervisor_b)
    response = client.get(
        reverse("report_versions", kwargs={"pk": w.b.report.pk}), {"a": "x", "b": "999999"}
    )
    assert response.status_code == 200


def test_an_unknown_export_format_is_a_404(client, w):
    client.force_login(w.supervisor_b)
    url = reverse("report_export", kwargs={"pk": w.b.report.pk, "fmt": "exe"})
    assert client.get(url).status_code == 404


# --- Evidence files -----------------------------------------------------------------------------

PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
HTML_PNG = b"\x89PNG\r\n\x1a\n<html><body><script>alert(1)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'

FORMAT = "不是支持的格式：只能上传 JPEG、PNG、WebP 图片或 PDF 文件"
BAD_FILES = [
    ("html-with-png-header", "photo.png", HTML_PNG, "image/png", FORMAT),
    ("exe-renamed-jpg", "photo.jpg", PE, "image/jpeg", FORMAT),
    ("elf-renamed-jpg", "photo.jpg", ELF, "image/jpeg", FORMAT),
    ("svg-script", "photo.jpg", SVG, "image/jpeg", FORMAT),
    ("html-page", "index.html", b"<html><script>alert(1)</script></html>", "text/html", FORMAT),
    ("empty", "photo.jpg", b"", "image/jpeg", "空文件"),
    ("truncated-jpeg", "photo.jpg", make_jpeg()[:40], "image/jpeg", FORMAT),
]


@pytest.mark.parametrize(
    ("name", "content", "content_type", "message"),
    [pytest.param(*row[1:], id=row[0]) for row in BAD_FILES],
)
def test_files_that_are_not_what_they_claim_are_refused(
    client, w, name, content, content_type, message
):
    client.force_login(w.organ_a_secretary)
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    with unchanged():
        response = client.post(new_activity_url(w), activity_data(w, evidence=[upload]))
    assert response.status_code == 200
    errors = field_errors(response, "evidence")
    assert message in errors
    assert message in response.content.decode()


def test_too_many_evidence_files_are_refused(client, w, settings):
    settings.COBUILD = {**settings.COBUILD, "EVIDENCE_MAX_FILES": 3}
    client.force_login(w.organ_a_secretary)
    files = [SimpleUploadedFile(f"p{i}.jpg", make_jpeg(), "image/jpeg") for i in range(4)]
    with unchanged():
        response = client.post(new_activity_url(w), activity_data(w, evidence=files))
    assert response.status_code == 200
    assert "每条记录最多 3 个佐证材料文件" in field_errors(response, "evidence")


def test_more_files_than_a_request_may_carry_is_a_400(client, w):
    client.force_login(w.organ_a_secretary)
    files = [SimpleUploadedFile(f"p{i}.png", TINY_PNG, "image/png") for i in range(21)]
    with unchanged():
        response = client.post(new_activity_url(w), activity_data(w, evidence=files))
    assert response.status_code == 400
    assert BAD_REQUEST in response.content.decode()


def test_an_oversized_evidence_file_is_refused(client, w, settings):
    settings.COBUILD = {**settings.COBUILD, "EVIDENCE_MAX_BYTES": 2048}
    client.force_login(w.organ_a_secretary)
    big = SimpleUploadedFile("big.jpg", make_jpeg(size=(800, 600)) + b"\x00" * 4096, "image/jpeg")
    with unchanged():
        response = client.post(new_activity_url(w), activity_data(w, evidence=[big]))
    assert response.status_code == 200
    assert "超过 2 KB 的大小限制" in field_errors(response, "evidence")


def test_an_accepted_photo_is_re_encoded_and_served_safely(client, w):
    client.force_login(w.organ_a_secretary)
    payload = make_jpeg() + b"<script>alert(1)</script>"
    upload = SimpleUploadedFile("../../settings.py.jpg", payload, "text/html")
    response = client.post(new_activity_url(w), activity_data(w, evidence=[upload]))
    assert response.status_code == 302
    evidence = Evidence.objects.get(original_name="settings.py.jpg")
    stored = evidence.file.read()
    assert b"<script>" not in stored and stored.startswith(b"\xff\xd8")
    assert ".." not in evidence.file.name
    served = client.get(reverse("activities:evidence_file", kwargs={"pk": evidence.pk}))
    assert served["Content-Type"] == "image/jpeg"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served["Content-Security-Policy"]


def test_a_stored_file_of_an_unexpected_type_is_downloaded_never_rendered(client, w):
    evidence = make_evidence(
        activity=w.a.draft,
        file=SimpleUploadedFile("x.html", b"<script>alert(1)</script>"),
        original_name="x.html",
        content_type="text/html",
    )
    client.force_login(w.organ_a_secretary)
    served = client.get(reverse("activities:evidence_file", kwargs={"pk": evidence.pk}))
    assert served.status_code == 200
    assert served["Content-Type"] == "application/octet-stream"
    assert served["Content-Disposition"].startswith("attachment")
    assert served["X-Content-Type-Options"] == "nosniff"


# --- Request-level attacks ------------------------------------------------------------------------


def test_an_oversized_request_body_is_a_400(client, w):
    client.force_login(w.organ_a_secretary)
    body = "title=" + "x" * (6 * 1024 * 1024)
    with unchanged():
        response = client.post(
            new_activity_url(w), body, content_type="application/x-www-form-urlencoded"
        )
    assert response.status_code == 400
    assert BAD_REQUEST in response.content.decode()


def test_too_many_fields_is_a_400(client, w):
    client.force_login(w.organ_a_secretary)
    body = "&".join(f"f{i}=1" for i in range(2500))
    with unchanged():
        response = client.post(
            new_activity_url(w), body, content_type="application/x-www-form-urlencoded"
        )
    assert response.status_code == 400


@pytest.mark.parametrize("token", ["missing", "other-session"])
def test_a_post_without_this_sessions_csrf_token_is_refused(w, token):
    client = Client(enforce_csrf_checks=True)
    client.force_login(w.organ_a_secretary)
    data = activity_data(w)
    if token == "other-session":
        other = Client(enforce_csrf_checks=True)
        other.force_login(w.organ_b_secretary)
        other.get(reverse("activities:list"))
        data["csrfmiddlewaretoken"] = other.cookies["csrftoken"].value
    with unchanged():
        response = client.post(new_activity_url(w), data)
    assert response.status_code == 403
    assert CSRF_PAGE in response.content.decode()
    with unchanged():
        response = client.post(reverse("activities:submit", kwargs={"pk": w.a.draft.pk}))
    assert response.status_code == 403


def test_state_changes_by_get_are_refused(client, w):
    client.force_login(w.organ_a_secretary)
    with unchanged():
        for name in ("activities:submit", "activities:move_to_trash", "notification_read"):
            assert client.get(reverse(name, kwargs={"pk": w.a.draft.pk})).status_code == 405


def test_a_foreign_host_header_is_a_400(client, w):
    client.force_login(w.organ_a_secretary)
    response = client.get(reverse("activities:list"), HTTP_HOST="evil.example")
    assert response.status_code == 400


def test_a_replayed_totp_code_is_refused(client, w):
    from cobuild.models import AuditEvent
    from tests.test_identity import code_for, enrolled, sign_in

    w.staff.set_password("Cobuild#2026")
    w.staff.save()
    device = enrolled(w.staff)
    code = code_for(device)
    sign_in(client, w.staff.username)
    assert client.post(reverse("otp_verify"), {"code": code}).status_code == 302
    client.post(reverse("logout"))
    sign_in(client, w.staff.username)
    with unchanged(ignore={"pairings.usersecurity"}):  # its failed-code counter goes up
        response = client.post(reverse("otp_verify"), {"code": code})
    assert response.status_code == 400
    assert "验证码不正确" in response.content.decode()
    assert client.get(reverse("activities:list")).status_code == 302
    last = AuditEvent.objects.filter(event=AuditEvent.Kind.TWO_FACTOR).order_by("-pk").first()
    assert last.outcome == "failure"


RANGE = "日期须在2000年至2099年之间"


@pytest.mark.parametrize(
    ("url_name", "params", "message"),
    [
        pytest.param("home", {"period": "custom", "start": "0001-01-01"}, RANGE, id="home-year-1"),
        pytest.param("home", {"period": "custom", "end": "9999-12-31"}, RANGE, id="home-to-9999"),
        pytest.param(
            "home",
            {"period": "custom", "start": "2001-01-01"},
            "自定义期间最长5年",
            id="home-from-2001-on",
        ),
        pytest.param("compliance", {"start": "0001-01-01"}, RANGE, id="compliance-year-1"),
        pytest.param(
            "compliance", {"start": "2001-01-01"}, "查询期间最长5年", id="compliance-from-2001-on"
        ),
        pytest.param("compliance_matrix", {"end": "9999-12-31"}, RANGE, id="matrix-to-9999"),
    ],
)
def test_a_period_from_year_1_is_refused_not_computed(client, w, url_name, params, message):
    import time

    client.force_login(w.staff)
    started = time.monotonic()
    with unchanged():
        response = client.get(reverse(url_name), params)
    assert time.monotonic() - started < 5
    assert response.status_code == 200
    assert message in response.content.decode()


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        pytest.param("0001-01-01", "2025-12-31", "start", RANGE, id="year-1"),
        pytest.param("2025-01-01", "9999-12-31", "end", RANGE, id="year-9999"),
        pytest.param("2001-01-01", "2025-12-31", "end", "期间最长5年", id="25-years"),
        pytest.param("2025-12-31", "2025-01-01", "end", "截止日期不能早于起始日期", id="reversed"),
    ],
)
def test_a_report_over_dates_beyond_reason_is_refused(client, w, start, end, field, message):
    import time

    client.force_login(w.staff)
    started = time.monotonic()
    with unchanged():
        response = client.post(
            reverse("report_new"), {"organization": w.county.pk, "start": start, "end": end}
        )
    assert time.monotonic() - started < 5
    assert response.status_code == 200
    assert message in field_errors(response, field)


@pytest.mark.parametrize(
    ("url_name", "target", "data", "field", "message"),
    [
        pytest.param(
            "activities:commitment_new",
            "pairing",
            {"title": "修路", "amount": "1", "due_date": "0001-01-01"},
            "due_date",
            "不能早于共建对子的开始日期",
            id="commitment-due-year-1",
        ),
        pytest.param(
            "activities:commitment_progress",
            "commitment",
            {"status": "done", "progress": "办结", "done_on": "0001-01-01"},
            "done_on",
            "不能早于共建对子的开始日期",
            id="commitment-done-year-1",
        ),
        pytest.param(
            "activities:commitment_progress",
            "commitment",
            {"status": "done", "progress": "办结", "done_on": "2999-01-01"},
            "done_on",
            "办结日期不能晚于今天",
            id="commitment-done-future",
        ),
    ],
)
def test_commitment_dates_beyond_reason_are_refused(
    client, w, url_name, target, data, field, message
):
    from tests.factories import make_commitment

    obj = w.pairing_a if target == "pairing" else make_commitment(w.pairing_a)
    client.force_login(w.organ_a_secretary)
    with unchanged():
        response = client.post(reverse(url_name, kwargs={"pk": obj.pk}), data)
    assert response.status_code == 200
    assert message in field_errors(response, field)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        pytest.param({"period": "x"}, "period", "", id="period-text"),
        pytest.param({"period": "2025-13"}, "period", "", id="period-month-13"),
        pytest.param({"until": "9999-12-31"}, "until", "解锁最长90天", id="until-9999"),
        pytest.param(
            {"until": "0001-01-01"}, "until", "解锁截止日期不能早于今天", id="until-year-1"
        ),
    ],
)
def test_an_unlock_with_an_impossible_period_or_date_is_refused(client, w, data, field, message):
    client.force_login(w.staff)
    import datetime

    week = (w.today + datetime.timedelta(days=7)).isoformat()
    posted = {"branch": w.organ_a.pk, "period": "2025-03", "reason": "补录", "until": week}
    posted.update(data)
    with unchanged():
        response = client.post(reverse("activities:unlock"), posted)
    assert response.status_code == 200
    errors = field_errors(response, field)
    assert errors and message in errors


def test_script_in_a_return_reason_a_visit_and_a_progress_note_is_escaped(client, w):
    from tests.factories import make_commitment, make_help_pairing, make_household

    activity = make_submitted_activity_a(w)
    client.force_login(w.village_a_secretary)
    response = client.post(
        reverse("activities:return", kwargs={"pk": activity.pk}), {"reason": SCRIPT + IMG}
    )
    assert response.status_code == 302
    help_pairing = make_help_pairing(w.village_a_member, make_household(w.village_a))
    response = client.post(
        reverse("activities:help_detail", kwargs={"pk": help_pairing.pk}),
        {"date": "2025-03-05", "summary": SCRIPT, "help_given": IMG},
    )
    assert response.status_code == 302
    commitment = make_commitment(w.pairing_a)
    client.force_login(w.organ_a_secretary)
    response = client.post(
        reverse("activities:commitment_progress", kwargs={"pk": commitment.pk}),
        {"status": "in_progress", "progress": SCRIPT + IMG},
    )
    assert response.status_code == 302
    for user, url in (
        (w.organ_a_secretary, activity.get_absolute_url()),
        (w.organ_a_secretary, reverse("notifications")),
        (w.organ_a_secretary, reverse("home")),
        (w.organ_a_secretary, reverse("activities:pairing", kwargs={"pk": w.pairing_a.pk})),
        (w.village_a_secretary, reverse("activities:help_detail", kwargs={"pk": help_pairing.pk})),
        (w.staff, reverse("home")),
    ):
        client.force_login(user)
        html = client.get(url).content.decode()
        assert SCRIPT not in html and IMG not in html, url


def make_submitted_activity_a(w):
    from tests.factories import make_submitted_activity

    return make_submitted_activity(
        w.pairing_a, "activity_day", w.today, title="石门村联学", logged_by_branch=w.organ_a
    )


@pytest.mark.parametrize(
    ("sheet", "row", "column", "value", "reason"),
    [
        pytest.param("党员", 1, 1, "王" * 300, "", id="member-name-300-chars"),
        pytest.param("组织", 5, 1, "", "", id="org-name-empty"),
        pytest.param("党员", 1, 7, "<script>", "", id="member-status-script"),
        pytest.param("共建对子", 0, 3, "0001-01-01", "", id="pairing-start-year-1"),
        pytest.param("活动记录", 0, 1, "9999-12-31", "", id="activity-date-9999"),
        pytest.param("活动记录", 0, 7, -5, "", id="activity-villagers-negative"),
        pytest.param("活动记录", 0, 7, 10**12, "", id="activity-villagers-huge"),
        pytest.param("党员", 1, 3, "=1+1", "", id="member-branch-formula"),
    ],
)
def test_bad_names_and_dates_in_an_import_are_listed_and_nothing_is_imported(
    client, db, sheet, row, column, value, reason
):
    from tests.import_helpers import filled_template, make_small_county_root, small_county_rows

    _, staff = make_small_county_root()
    rows = small_county_rows()
    rows[sheet][row][column] = value
    client.force_login(staff)
    with unchanged():
        response = client.post(
            reverse("import_upload"),
            {"file": SimpleUploadedFile("台账.xlsx", filled_template(rows))},
        )
    assert response.status_code in (200, 400)
    html = response.content.decode()
    assert "确认导入" not in html
    assert "<script>" not in html
    assert response.context["problems"], "the bad cell is listed as a problem"
