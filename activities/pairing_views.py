"""A pairing's workspace: its needs and practical deeds, and the one-helps-one visits."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from activities import compliance, workflow
from activities.forms import CommitmentForm, NeedForm, ProgressForm, VisitForm
from activities.models import Activity, Commitment, Need
from cobuild.pagination import bounded_page, filter_query, keyset_page
from cobuild.xlsx import list_export
from pairings import access
from pairings.models import HelpPairing, Pairing

PAGE_SIZE = 20
NEED_ORDER = ("-raised_on", "-pk")  # newest first, and the keyset pages' cursor


def _pairing(user, pk, *, write=False):
    return access.get_for_user(user, Pairing.objects.with_branches(), write=write, pk=pk)


class PairingFilterForm(forms.Form):
    q = forms.CharField(label="搜索", required=False, max_length=100)
    status = forms.ChoiceField(
        label="状态", required=False, choices=[("", "全部状态"), *Pairing.Status.choices]
    )

    def apply(self, pairings):
        if not self.is_bound:
            return pairings
        if not self.is_valid():
            return pairings.none()
        data = self.cleaned_data
        if data["q"]:
            pairings = pairings.filter(
                Q(code__icontains=data["q"])
                | Q(helper__name__icontains=data["q"])
                | Q(helped__name__icontains=data["q"])
            )
        if data["status"]:
            pairings = pairings.filter(status=data["status"])
        return pairings


def _query(request):
    """The list's query string without paging and export: for the export link."""
    return filter_query(request).urlencode()


@require_GET
def pairing_list(request):
    """Pairings by code: keyset pages on the (unique) code, thousands at city scale."""
    filters = PairingFilterForm(request.GET or None)
    pairings = filters.apply(access.visible_pairings(request.user))
    listed = pairings.annotate(
        open_needs=Count("needs", filter=Q(needs__status="open", needs__deleted_at=None)),
    )
    if request.GET.get("export") == "xlsx":
        return _export_pairings(request, listed.order_by("code"))
    page = keyset_page(listed, request, ordering=("code",), size=PAGE_SIZE, count_queryset=pairings)
    return render(
        request,
        "activities/pairing_list.html",
        {"page": page, "filters": filters, "query": _query(request)},
    )


def _export_pairings(request, pairings):
    user = request.user
    pairings = pairings.select_related("helper_liaison", "helped_liaison")

    def liaison(member):
        return (member.name, access.phone_for(user, member)) if member else ("", "")

    return list_export(
        request,
        what="pairings",
        title="共建对子",
        headers=[
            "对子编号",
            "帮扶支部",
            "受帮扶支部",
            "开始日期",
            "结束日期",
            "状态",
            "待解决需求",
            "帮扶方联络员",
            "帮扶方联络员电话",
            "受帮扶方联络员",
            "受帮扶方联络员电话",
        ],
        rows=(
            [
                p.code,
                p.helper.name,
                p.helped.name,
                p.start_date,
                p.end_date,
                p.get_status_display(),
                p.open_needs,
                *liaison(p.helper_liaison),
                *liaison(p.helped_liaison),
            ]
            for p in pairings
        ),
    )


class NeedFilterForm(forms.Form):
    q = forms.CharField(label="搜索", required=False, max_length=100)
    status = forms.ChoiceField(
        label="状态", required=False, choices=[("", "全部状态"), *Need.Status.choices]
    )
    pairing = forms.ModelChoiceField(label="共建对子", queryset=None, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pairing"].queryset = access.visible_pairings(user).order_by("code")
        self.fields["pairing"].empty_label = "全部对子"

    def apply(self, needs):
        if not self.is_bound:
            return needs
        if not self.is_valid():
            return needs.none()
        data = self.cleaned_data
        if data["q"]:
            needs = needs.filter(
                Q(title__icontains=data["q"]) | Q(description__icontains=data["q"])
            )
        if data["status"]:
            needs = needs.filter(status=data["status"])
        if data["pairing"]:
            needs = needs.filter(pairing=data["pairing"])
        return needs


@require_GET
def need_list(request):
    """Every need and difficulty the user can read, across their pairings."""
    filters = NeedFilterForm(request.GET or None, user=request.user)
    needs = filters.apply(
        access.readable(
            request.user,
            Need.objects.select_related("pairing__helper", "pairing__helped", "raised_by"),
        )
    ).order_by(*NEED_ORDER)
    if request.GET.get("export") == "xlsx":
        return list_export(
            request,
            what="needs",
            title="需求与困难",
            headers=[
                "需求或困难",
                "具体情况",
                "对子编号",
                "帮扶支部",
                "受帮扶支部",
                "提出方",
                "提出日期",
                "状态",
            ],
            rows=(
                [
                    n.title,
                    n.description,
                    n.pairing.code,
                    n.pairing.helper.name,
                    n.pairing.helped.name,
                    n.raised_by.name,
                    n.raised_on,
                    n.get_status_display(),
                ]
                for n in needs
            ),
        )
    page = keyset_page(needs, request, ordering=NEED_ORDER, size=PAGE_SIZE)
    return render(
        request,
        "activities/need_list.html",
        {"filters": filters, "page": page, "query": _query(request)},
    )


@require_GET
def pairing_detail(request, pk):
    user = request.user
    pairing = _pairing(user, pk)
    today = timezone.localdate()
    activities = access.readable(user, Activity.objects.for_list()).filter(pairing=pairing)
    return render(
        request,
        "activities/pairing_detail.html",
        {
            "pairing": pairing,
            "can_write": access.can_write(user, pairing),
            "can_commit": access.can_commit(user, pairing),
            "statuses": compliance.current_status([pairing], today)[pairing.pk],
            "recent": activities.order_by("-date", "-pk")[:5],
            "needs": access.readable(user, Need.objects.select_related("raised_by"))
            .filter(pairing=pairing)
            .order_by("status", "-raised_on"),
            "commitments": access.readable(user, Commitment.objects.select_related("need"))
            .filter(pairing=pairing)
            .order_by("status", "due_date"),
            "help_pairings": access.readable(
                user, HelpPairing.objects.select_related("member__branch", "household")
            )
            .filter(household__village__in=[pairing.helper_id, pairing.helped_id])
            .order_by("household__head_name"),
            "today": today,
        },
    )


@require_http_methods(["GET", "POST"])
def need_new(request, pk):
    pairing = _pairing(request.user, pk, write=True)
    form = NeedForm(request.POST or None, pairing=pairing)
    if request.method == "POST" and form.is_valid():
        need = form.save(commit=False)
        need.pairing = pairing
        own = access.scope_of(request.user).write_branches & pairing.branch_ids
        need.raised_by_id = min(own) if own else pairing.helped_id
        need._history_user = request.user
        need.save()
        messages.success(request, "需求已登记。")
        return redirect("activities:pairing", pk=pairing.pk)
    return render(
        request,
        "activities/simple_form.html",
        {"form": form, "pairing": pairing, "title": "提出需求或困难"},
    )


@require_http_methods(["GET", "POST"])
def commitment_new(request, pk):
    pairing = _pairing(request.user, pk, write=True)
    if not access.can_commit(request.user, pairing):
        raise PermissionDenied("实事承诺由帮扶方支部登记。")
    form = CommitmentForm(
        request.POST or None, pairing=pairing, initial={"need": request.GET.get("need")}
    )
    if request.method == "POST" and form.is_valid():
        workflow.commit_to_need(commitment=form.save(commit=False), by=request.user)
        messages.success(request, "实事承诺已登记。")
        return redirect("activities:pairing", pk=pairing.pk)
    return render(
        request,
        "activities/simple_form.html",
        {"form": form, "pairing": pairing, "title": "承诺办一件实事"},
    )


@require_http_methods(["GET", "POST"])
def commitment_progress(request, pk):
    commitment = access.get_for_user(
        request.user,
        Commitment.objects.select_related("pairing__helper", "pairing__helped", "need"),
        write=True,
        pk=pk,
    )
    form = ProgressForm(request.POST or None, request.FILES or None, instance=commitment)
    if request.method == "POST" and form.is_valid():
        workflow.record_progress(
            commitment=form.save(commit=False), files=form.processed, by=request.user
        )
        messages.success(request, "进展已保存。")
        return redirect("activities:pairing", pk=commitment.pairing_id)
    return render(
        request,
        "activities/simple_form.html",
        {
            "form": form,
            "pairing": commitment.pairing,
            "title": f"记录进展：{commitment.title}",
            "multipart": True,
            "evidence": commitment.evidence.order_by("uploaded_at"),
        },
    )


@require_GET
def help_list(request):
    """One-helps-one pairings by village and household: numbered pages, bounded (the order
    runs through two joins, so it is no cursor)."""
    help_pairings = access.readable(request.user, HelpPairing.objects.all())
    listed = (
        help_pairings.select_related("member__branch", "household__village")
        .annotate(visit_count=Count("visits", filter=Q(visits__deleted_at=None)))
        .order_by("household__village__path", "household__head_name", "pk")
    )
    page = bounded_page(listed, request, size=PAGE_SIZE, count_queryset=help_pairings)
    return render(request, "activities/help_list.html", {"page": page})


@require_http_methods(["GET", "POST"])
def help_detail(request, pk):
    help_pairing = access.get_for_user(
        request.user,
        HelpPairing.objects.select_related("member__branch", "household__village"),
        pk=pk,
    )
    can_write = access.can_write(request.user, help_pairing)
    form = VisitForm(request.POST or None, help_pairing=help_pairing)
    if request.method == "POST":
        if not can_write:
            raise PermissionDenied("您只能查看，无权登记走访。")
        if form.is_valid():
            visit = form.save(commit=False)
            visit.created_by = request.user
            visit._history_user = request.user
            visit.save()
            messages.success(request, "走访已登记。")
            return redirect("activities:help_detail", pk=help_pairing.pk)
    return render(
        request,
        "activities/help_detail.html",
        {
            "help_pairing": help_pairing,
            "visits": help_pairing.visits.alive().select_related("created_by").order_by("-date"),
            "form": form,
            "can_write": can_write,
        },
    )
