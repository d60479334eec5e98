"""Situation report pages: draft from data, edit in versions, compare, refresh, print, export.

County staff and supervisors write the reports of the scopes they oversee; viewers read them;
branch secretaries have none (403). A report outside the user's scope is a 404.
"""

import datetime
import difflib
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.encoding import escape_uri_path
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cobuild import audit
from pairings import access
from pairings.models import Organization
from reports import situation
from reports.compliance_views import BoundedRange
from reports.models import ReportVersion, SituationReport
from reports.xlsx import workbook_response

Role = access.Role
READ_ROLES = {Role.COUNTY_STAFF, Role.SUPERVISOR, Role.VIEWER}
PAGE_SIZE = 30
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _require_reader(user):
    if not access.roles_of(user) & READ_ROLES:
        raise PermissionDenied("情况汇报由县委组织部、上级党组织起草，领导可以查看。")


def _can_write(user, organization):
    """County staff and supervisors write the reports of the scopes under them."""
    return any(organization.path.startswith(p) for p in access.scope_of(user).write_paths)


def _readable_reports(user):
    return SituationReport.objects.alive().filter(
        organization__in=access.visible_organizations(user).values("pk")
    )


def _get_report(user, pk, *, write=False):
    _require_reader(user)
    report = access.get_in_scope(
        user, _readable_reports(user).select_related("organization", "created_by"), pk=pk
    )
    if write and not _can_write(user, report.organization):
        raise PermissionDenied("您只能查看这份汇报，无权修改。")
    return report


def _get_version(report, number=None):
    versions = report.versions.select_related("created_by")
    if number:
        try:
            return versions.get(number=int(number))
        except (ValueError, ReportVersion.DoesNotExist) as error:
            raise Http404("没有这个版本。") from error
    version = versions.order_by("-number").first()
    if version is None:
        raise Http404("这份汇报还没有内容。")
    return version


def _scope_choices(user):
    """The scopes a user may report on: committees they oversee (no branches)."""
    return (
        access.writable(user, Organization.objects.all())
        .exclude(kind__in=Organization.BRANCH_KINDS)
        .order_by("path")
    )


# ---------------------------------------------------------------------------------------------
# The list and a new report.


@require_GET
def report_list(request):
    user = request.user
    _require_reader(user)
    reports = _readable_reports(user).for_list().order_by("-created_at", "-pk")
    # Django's Paginator is kept: reports are written by hand, a few per scope a year, so the
    # count and the offset stay small.
    page = Paginator(reports, PAGE_SIZE).get_page(request.GET.get("page"))
    trashed = []
    if access.is_county_staff(user):
        trashed = list(
            SituationReport.objects.trashed()
            .filter(organization__in=_scope_choices(user).values("pk"))
            .select_related("organization", "deleted_by")
            .order_by("-deleted_at")[:PAGE_SIZE]
        )
    return render(
        request,
        "reports/report_list.html",
        {
            "page": page,
            "can_create": bool(access.scope_of(user).write_paths),
            "trashed": trashed,
        },
    )


class NewReportForm(BoundedRange, forms.Form):
    span_message = "汇报期间最长5年，请缩短起止日期。"

    organization = forms.ModelChoiceField(
        label="汇报范围",
        queryset=None,
        empty_label=None,
        help_text="全县、一个乡镇或机关工委：汇报其下所有共建对子的情况。",
    )
    start = forms.DateField(
        label="起始日期",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="半年汇报从1月1日起，全年汇报也从1月1日起。",
    )
    end = forms.DateField(
        label="截止日期",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="半年汇报到6月30日，全年汇报到12月31日；还没到的日期，数据统计到今天。",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = _scope_choices(user)


@require_http_methods(["GET", "POST"])
def report_new(request):
    user = request.user
    _require_reader(user)
    if not access.scope_of(user).write_paths:
        raise PermissionDenied("您只能查看情况汇报，无权起草。")
    today = timezone.localdate()
    if request.method == "POST":
        form = NewReportForm(request.POST, user=user)
        if form.is_valid():
            report = situation.create_report(
                organization=form.cleaned_data["organization"],
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
                by=user,
                today=today,
            )
            messages.success(
                request, "已根据数据起草第1版。第三、五部分请您撰写，其余各部分可直接修改。"
            )
            return redirect("report_edit", report.pk)
    else:
        form = NewReportForm(
            user=user, initial={"start": datetime.date(today.year, 1, 1), "end": today}
        )
    return render(request, "reports/report_new.html", {"form": form})


# ---------------------------------------------------------------------------------------------
# Reading, editing, refreshing.


@require_GET
def report_detail(request, pk):
    report = _get_report(request.user, pk)
    version = _get_version(report, request.GET.get("version"))
    return render(
        request,
        "reports/report_detail.html",
        {
            "report": report,
            "version": version,
            "latest_number": report.versions.order_by("-number")
            .values_list("number", flat=True)
            .first(),
            "title": report.title,
            "document": situation.document(version.sections),
            "can_write": _can_write(request.user, report.organization),
        },
    )


class EditForm(forms.Form):
    title = forms.CharField(label="标题", max_length=200)
    section1 = forms.CharField(label=situation.HEADINGS[0], required=False, strip=False)
    section2 = forms.CharField(label=situation.HEADINGS[1], required=False, strip=False)
    section3 = forms.CharField(label=situation.HEADINGS[2], required=False, strip=False)
    section4 = forms.CharField(label=situation.HEADINGS[3], required=False, strip=False)
    section5 = forms.CharField(label=situation.HEADINGS[4], required=False, strip=False)
    note = forms.CharField(
        label="修改说明",
        max_length=200,
        required=False,
        help_text="选填，如“补充几点体会”，便于在版本中查找。",
    )
    base = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for number, hint in enumerate(situation.SECTION_HINTS, start=1):
            self.fields[f"section{number}"].widget = forms.Textarea(
                attrs={"rows": 14 if number in (2, 4) else 10, "placeholder": hint}
            )

    @property
    def sections(self):
        return [self.cleaned_data[name] for name in ReportVersion.SECTION_FIELDS]


@dataclass
class SectionField:
    number: int
    field: forms.BoundField
    from_data: bool
    edited: bool
    generated: str
    data_changed: bool  # the last refresh kept the staff's text although the data changed


def _section_fields(form, version, previous):
    rows = []
    for number in range(1, 6):
        from_data = number in ReportVersion.DATA_SECTIONS
        edited = from_data and version.is_edited(number)
        changed = (
            edited
            and version.kind == ReportVersion.Kind.REFRESHED
            and previous is not None
            and previous.generated_text(number) != version.generated_text(number)
        )
        rows.append(
            SectionField(
                number,
                form[f"section{number}"],
                from_data,
                edited,
                version.generated_text(number),
                changed,
            )
        )
    return rows


@require_http_methods(["GET", "POST"])
def report_edit(request, pk):
    user = request.user
    report = _get_report(user, pk, write=True)
    latest, previous, *_ = [*report.versions.select_related("created_by")[:2], None, None]
    if latest is None:
        raise Http404("这份汇报还没有内容。")
    if request.method == "POST":
        form = EditForm(request.POST)
        if form.is_valid():
            base = form.cleaned_data["base"]
            version = situation.save_edit(
                report=report,
                title=form.cleaned_data["title"],
                sections=form.sections,
                note=form.cleaned_data["note"].strip(),
                by=user,
            )
            if version is None:
                messages.info(request, "内容没有变化，没有生成新版本。")
            else:
                if base != latest.number:
                    messages.warning(
                        request,
                        f"您编辑期间已有人保存了第{latest.number}版；您的文字另存为第"
                        f"{version.number}版，没有覆盖任何版本，可在“版本”中对比。",
                    )
                messages.success(request, f"已保存为第{version.number}版。")
            return redirect("report_edit", report.pk)
    else:
        form = EditForm(
            initial={
                "title": report.title,
                "base": latest.number,
                **dict(zip(ReportVersion.SECTION_FIELDS, latest.sections, strict=True)),
            }
        )
    return render(
        request,
        "reports/report_edit.html",
        {
            "report": report,
            "version": latest,
            "form": form,
            "sections": _section_fields(form, latest, previous),
        },
    )


@require_POST
def report_refresh(request, pk):
    report = _get_report(request.user, pk, write=True)
    result = situation.refresh_report(report=report, by=request.user, today=timezone.localdate())
    if result.version is None:
        messages.info(request, "数据没有变化，没有生成新版本。")
        return redirect("report_edit", report.pk)
    names = "、".join(situation.HEADINGS[n - 1] for n in result.replaced)
    text = f"已按最新数据生成第{result.version.number}版"
    messages.success(request, f"{text}，更新了{names}。" if names else f"{text}。")
    for number in result.kept:
        messages.warning(
            request,
            f"{situation.HEADINGS[number - 1]}：数据有变化，但这一部分您修改过，已保留您的文字；"
            "根据新数据生成的文字列在该部分下方，可复制使用。",
        )
    return redirect("report_edit", report.pk)


# ---------------------------------------------------------------------------------------------
# Versions and their comparison.


@dataclass
class DiffRow:
    kind: str  # same, removed, added
    segments: list  # [(op, text)], op: same, del, ins


def _char_segments(old, new, side):
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    segments = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            segments.append(("same", old[i1:i2]))
        elif side == "old" and tag in ("delete", "replace"):
            segments.append(("del", old[i1:i2]))
        elif side == "new" and tag in ("insert", "replace"):
            segments.append(("ins", new[j1:j2]))
    return segments


def diff_paragraphs(old, new):
    """Rows for two lists of paragraphs: unchanged, removed and added, with the changed
    characters of a rewritten paragraph marked."""
    rows = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [DiffRow("same", [("same", p)]) for p in old[i1:i2]]
            continue
        removed, added = old[i1:i2], new[j1:j2]
        pairs = min(len(removed), len(added)) if tag == "replace" else 0
        for a, b in zip(removed[:pairs], added[:pairs], strict=True):
            rows.append(DiffRow("removed", _char_segments(a, b, "old")))
            rows.append(DiffRow("added", _char_segments(a, b, "new")))
        rows += [DiffRow("removed", [("del", p)]) for p in removed[pairs:]]
        rows += [DiffRow("added", [("ins", p)]) for p in added[pairs:]]
    return rows


def compare_versions(old, new):
    """[(heading, rows, changed)] for the five sections of two versions."""
    result = []
    for heading, a, b in zip(situation.HEADINGS, old.sections, new.sections, strict=True):
        rows = diff_paragraphs(situation.paragraphs(a), situation.paragraphs(b))
        result.append((heading, rows, any(row.kind != "same" for row in rows)))
    return result


class CompareForm(forms.Form):
    a = forms.TypedChoiceField(label="旧版本", coerce=int)
    b = forms.TypedChoiceField(label="新版本", coerce=int)

    def __init__(self, *args, numbers, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(n, f"第{n}版") for n in numbers]
        self.fields["a"].choices = choices
        self.fields["b"].choices = choices


@require_GET
def report_versions(request, pk):
    report = _get_report(request.user, pk)
    versions = list(report.versions.select_related("created_by").order_by("-number"))
    numbers = [v.number for v in versions]
    by_number = {v.number: v for v in versions}
    default = {"a": numbers[1] if len(numbers) > 1 else numbers[0], "b": numbers[0]}
    form = CompareForm(request.GET if "a" in request.GET else default, numbers=numbers)
    comparison = None
    if form.is_valid():
        old, new = by_number[form.cleaned_data["a"]], by_number[form.cleaned_data["b"]]
        comparison = (old, new, compare_versions(old, new))
    return render(
        request,
        "reports/report_versions.html",
        {
            "report": report,
            "versions": versions,
            "form": form,
            "comparison": comparison,
            "can_write": _can_write(request.user, report.organization),
        },
    )


# ---------------------------------------------------------------------------------------------
# Print and export.


def _local_date(moment):
    return timezone.localtime(moment).date()


@require_GET
def report_print(request, pk):
    report = _get_report(request.user, pk)
    version = _get_version(report, request.GET.get("version"))
    return render(
        request,
        "reports/report_print.html",
        {
            "report": report,
            "version": version,
            "title": report.title,
            "document": situation.document(version.sections),
            "date_text": situation.date_cn(_local_date(version.created_at)),
        },
    )


def _attachment(content, content_type, filename):
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{escape_uri_path(filename)}"
    return response


def annex_response(drafted, filename):
    """The statistics behind a report as an .xlsx annex, rates with numerator and denominator."""
    rollup = situation.rollup_organizations(drafted.organization)
    return workbook_response(filename, situation.annex_sheets(drafted, rollup))


@require_GET
def report_export(request, pk, fmt):
    report = _get_report(request.user, pk)
    if fmt == "xlsx":
        drafted = situation.draft(
            report.organization, report.start, report.end, today=timezone.localdate(), named=True
        )
        audit.record(audit.Kind.EXPORT, request=request, obj=report, format=fmt)
        return annex_response(drafted, f"{report.title}_统计附表.xlsx")
    version = _get_version(report, request.GET.get("version"))
    if fmt in ("txt", "docx"):
        audit.record(
            audit.Kind.EXPORT, request=request, obj=report, format=fmt, version=version.number
        )
    name = f"{report.title}_第{version.number}版"
    date = _local_date(version.created_at)
    if fmt == "txt":
        text = situation.plain_text(report.title, version.sections, date)
        return _attachment(text.encode("utf-8"), "text/plain; charset=utf-8", f"{name}.txt")
    if fmt == "docx":
        try:
            content = situation.render_docx(report.title, version.sections, date)
        except ImportError as error:
            raise Http404("Word 导出暂不可用。") from error
        return _attachment(content, DOCX, f"{name}.docx")
    raise Http404("不支持的导出格式。")


# ---------------------------------------------------------------------------------------------
# Trash and restore: reports are never hard-deleted.


@require_POST
def report_trash(request, pk):
    report = _get_report(request.user, pk, write=True)
    report.trash(by=request.user)
    messages.success(request, f"已将《{report.title}》移入回收站，县委组织部可以恢复。")
    return redirect("report_list")


@require_POST
def report_restore(request, pk):
    _require_reader(request.user)
    if not access.is_county_staff(request.user):
        raise PermissionDenied("只有县委组织部可以从回收站恢复。")
    report = access.get_in_scope(
        request.user,
        SituationReport.objects.trashed().filter(
            organization__in=_scope_choices(request.user).values("pk")
        ),
        pk=pk,
    )
    report.restore(by=request.user)
    messages.success(request, f"已恢复《{report.title}》。")
    return redirect("report_detail", report.pk)
