"""Ledger import (导入台账) and export (导出台账) for county staff.

Upload → preview (rows to create, update, leave; every problem with its cell and reason) →
confirm → one transaction → summary. Between upload and confirm the file is kept in private
storage under the user's folder, named by its SHA-256; confirming reads and plans it again
against the database as it is then, and refuses if a problem has appeared since.
Only county staff import (403 for others, as other county-staff pages); the import changes only
what lies under their organizations.
"""

import datetime
import re

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.encoding import escape_uri_path
from django.views.decorators.http import require_GET, require_POST

from cobuild import audit
from cobuild.audit import reads_only
from pairings import access
from reports.importer import run_import, sha256_of
from reports.importer.errors import error_workbook
from reports.importer.template import TEMPLATE_NAME, export_workbook, template_workbook
from reports.models import ImportRun
from reports.xlsx import XLSX

PROBLEMS_SHOWN = 500
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _require_staff(user):
    if not access.is_county_staff(user):
        raise PermissionDenied("只有县委组织部可以导入和导出台账。")


def _download(data, filename):
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{escape_uri_path(filename)}"
    return response


def _stored_path(user, digest):
    return f"imports/{user.pk}/{digest}.xlsx"


def _read_stored(user, digest):
    if not SHA256.match(digest or ""):
        raise Http404("没有这个上传文件。")
    path = _stored_path(user, digest)
    if not default_storage.exists(path):
        raise Http404("上传的文件已过期或已导入，请重新上传。")
    with default_storage.open(path, "rb") as file:
        data = file.read()
    if sha256_of(data) != digest:
        raise Http404("上传的文件已损坏，请重新上传。")
    return data


def _forget_old_uploads(user, *, max_age=datetime.timedelta(days=1)):
    """Uploads previewed but never confirmed are kept a day, then deleted at the next upload."""
    folder = f"imports/{user.pk}"
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    cutoff = timezone.now() - max_age
    for name in files:
        path = f"{folder}/{name}"
        if default_storage.get_modified_time(path) < cutoff:
            default_storage.delete(path)


class UploadForm(forms.Form):
    file = forms.FileField(label="台账工作簿（.xlsx）")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.COBUILD["IMPORT_MAX_BYTES"] / 1024 / 1024
        self.fields["file"].help_text = (
            f"按模板填写的 Excel 工作簿（.xlsx，不接受 .xls 和 .csv），不超过 {limit:.0f}MB。"
            "上传后先预检，不会直接写入。"
        )

    def clean_file(self):
        file = self.cleaned_data["file"]
        limit = settings.COBUILD["IMPORT_MAX_BYTES"]
        if file.size > limit:
            raise forms.ValidationError(
                f"文件超过 {limit / 1024 / 1024:.0f}MB 的上限，请分批导入。"
            )
        return file


def _page(request, form, status=200):
    runs = ImportRun.objects.filter(user=request.user)[:10]
    return render(request, "reports/import_home.html", {"form": form, "runs": runs}, status=status)


@require_GET
def import_home(request):
    _require_staff(request.user)
    return _page(request, UploadForm())


def _preview(request, result, *, digest, filename, status=200):
    problems = result.problems
    return render(
        request,
        "reports/import_preview.html",
        {
            "plan": result.plan,
            "sheets": [s for s in result.plan.sheets.values()],
            "problems": problems[:PROBLEMS_SHOWN],
            "problem_count": len(problems),
            "digest": digest,
            "filename": filename,
        },
        status=status,
    )


@require_POST
@reads_only
def import_upload(request):
    _require_staff(request.user)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, status=400)
    upload = form.cleaned_data["file"]
    data = upload.read()
    filename = upload.name[:200]
    result = run_import(data, filename, user=request.user)
    if result.refused:
        form.add_error("file", result.refused)
        return _page(request, form, status=400)
    digest = sha256_of(data)
    _forget_old_uploads(request.user)
    path = _stored_path(request.user, digest)
    if not default_storage.exists(path):
        default_storage.save(path, ContentFile(data))
    return _preview(request, result, digest=digest, filename=filename)


@require_POST
def import_confirm(request):
    _require_staff(request.user)
    digest = request.POST.get("digest", "")
    filename = (request.POST.get("filename") or "台账.xlsx")[:200]
    data = _read_stored(request.user, digest)
    result = run_import(data, filename, user=request.user, apply=True)
    if result.refused:
        messages.error(request, result.refused)
        return redirect("import_home")
    if not result.ok:
        messages.error(
            request, "预检之后数据有了变化，出现了新的问题，未导入任何数据。请查看后重新上传。"
        )
        return _preview(request, result, digest=digest, filename=filename, status=409)
    default_storage.delete(_stored_path(request.user, digest))
    return redirect("import_result", result.run.pk)


@require_GET
def import_errors(request, digest):
    """The uploaded workbook with every problem marked (re-checked now)."""
    _require_staff(request.user)
    data = _read_stored(request.user, digest)
    result = run_import(data, "upload.xlsx", user=request.user)
    if result.refused:
        raise Http404(result.refused)
    stamp = timezone.localtime().strftime("%Y%m%d%H%M")
    audit.record_export(
        request, what="ledger_errors", title="台账导入问题标注", rows=len(result.problems)
    )
    return _download(error_workbook(data, result.problems), f"台账导入问题标注_{stamp}.xlsx")


@require_GET
def import_result(request, pk):
    _require_staff(request.user)
    run = access.get_in_scope(request.user, ImportRun.objects.filter(user=request.user), pk=pk)
    return render(request, "reports/import_result.html", {"run": run})


@require_GET
def import_template(request):
    _require_staff(request.user)
    return _download(template_workbook(), TEMPLATE_NAME)


@require_GET
def export_ledger(request):
    """导出台账: the user's organizations, members, pairings, activities and figures."""
    _require_staff(request.user)
    stamp = timezone.localtime().strftime("%Y%m%d")
    content = export_workbook(request.user)
    audit.record_export(request, what="ledger", title="共建台账", rows=None)
    return _download(content, f"共建台账导出_{stamp}.xlsx")
