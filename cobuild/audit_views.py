"""The audit log's page: searched and exported by the audit administrator (审计管理员) alone."""

import datetime

from django import forms
from django.db.models import Q
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from cobuild import audit
from cobuild.models import AuditEvent
from cobuild.pagination import filter_query, keyset_page
from cobuild.xlsx import list_export
from pairings import access

PAGE_SIZE = 50
# Newest first; the log only grows, so its pages are keyset pages (cobuild/pagination.py).
ORDER = ("-time", "-pk")


class AuditFilterForm(forms.Form):
    user = forms.CharField(label="用户", required=False, max_length=150)
    event = forms.ChoiceField(
        label="事件", required=False, choices=[("", "全部事件"), *AuditEvent.Kind.choices]
    )
    object = forms.CharField(label="对象", required=False, max_length=200)
    outcome = forms.ChoiceField(
        label="结果", required=False, choices=[("", "全部结果"), *AuditEvent.Outcome.choices]
    )
    date_from = forms.DateField(
        label="起始日期", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="截止日期", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "截止日期不能早于起始日期。")
        return cleaned

    def apply(self, events):
        if not self.is_bound:
            return events
        if not self.is_valid():
            return events.none()
        data = self.cleaned_data
        if data["user"]:
            events = events.filter(username__icontains=data["user"])
        if data["event"]:
            events = events.filter(event=data["event"])
        if data["object"]:
            events = events.filter(
                Q(object_repr__icontains=data["object"])
                | Q(object_type__icontains=data["object"])
                | Q(object_id=data["object"])
            )
        if data["outcome"]:
            events = events.filter(outcome=data["outcome"])
        day = datetime.timedelta(days=1)
        # The calendar's first and last days mean "from the start" and "to the end": their
        # midnights in UTC would fall outside the years a datetime can hold.
        if data["date_from"] and data["date_from"] > datetime.date.min + day:
            events = events.filter(time__gte=_local_midnight(data["date_from"]))
        if data["date_to"] and data["date_to"] < datetime.date.max - day:
            events = events.filter(time__lt=_local_midnight(data["date_to"] + day))
        return events


def _local_midnight(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


@require_GET
def audit_search(request):
    if not access.is_audit_admin(request.user):
        audit.record_refusal(request, status=404, object_type="audit", object_repr="审计日志")
        raise Http404("页面不存在。")
    filters = AuditFilterForm(request.GET or None)
    events = filters.apply(AuditEvent.objects.all()).order_by(*ORDER)
    if request.GET.get("export") == "xlsx":
        return list_export(
            request,
            what="audit",
            title="审计日志",
            headers=[
                "时间",
                "用户",
                "角色",
                "地址",
                "事件",
                "对象类型",
                "对象ID",
                "对象",
                "结果",
                "详情",
            ],
            rows=(
                [
                    timezone.localtime(e.time).strftime("%Y-%m-%d %H:%M:%S"),
                    e.username,
                    e.role,
                    e.ip_address or "",
                    e.get_event_display(),
                    e.object_type,
                    e.object_id,
                    e.object_repr,
                    e.get_outcome_display(),
                    _detail_text(e.detail),
                ]
                for e in events.iterator(chunk_size=2000)
            ),
        )
    page = keyset_page(events, request, ordering=ORDER, size=PAGE_SIZE)
    return render(
        request,
        "audit/search.html",
        {
            "filters": filters,
            "page": page,
            "rows": [(e, _detail_text(e.detail)) for e in page.object_list],
            "query": filter_query(request).urlencode(),
        },
    )


def _detail_text(detail):
    return "；".join(f"{key}={value}" for key, value in sorted(detail.items()))
