"""The annual mutual inspection (年度党建互检): recording one, its page, and the rectification
items it opens, moved from open to verified by the two sides."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.db.models import BooleanField, Case, Count, Sum, Value, When
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from activities import workflow
from activities.forms import InspectionForm, RectificationFilterForm, RectificationStepForm
from activities.models import Inspection, Rectification
from cobuild.pagination import bounded_page, filter_query
from cobuild.xlsx import list_export
from pairings import access
from pairings.models import Pairing

PAGE_SIZE = 20
UNFINISHED = [Rectification.Status.OPEN, Rectification.Status.IN_PROGRESS]


@require_http_methods(["GET", "POST"])
def inspection_new(request, pk):
    user = request.user
    pairing = access.get_for_user(user, Pairing.objects.with_branches(), write=True, pk=pk)
    posted = request.method == "POST"
    if posted and "more_rows" in request.POST:
        form = InspectionForm.with_more_rows(request.POST, user=user, pairing=pairing)
    else:
        form = InspectionForm(request.POST if posted else None, user=user, pairing=pairing)
    if not form.sides:
        raise PermissionDenied("只有共建对子双方的支部或指导该对子的上级党组织可以记录互检。")
    if form.is_bound and form.is_valid():
        record = form.record()
        try:
            inspection = workflow.record_inspection(**record, by=user)
        except IntegrityError:
            # The same side recorded this year's inspection at the same moment.
            if not (
                Inspection.objects.alive()
                .filter(pairing=pairing, year=record["year"], inspector=record["inspector"])
                .exists()
            ):
                raise
            form.add_error(None, f"{record['inspector']}：该方本年度已对这个共建对子做过互检。")
        else:
            messages.success(request, "互检已记录，互检活动已提交，等待对方确认。")
            return redirect("activities:inspection_detail", pk=inspection.pk)
    return render(request, "activities/inspection_form.html", {"form": form, "pairing": pairing})


@require_GET
def inspection_detail(request, pk):
    user = request.user
    inspection = access.get_for_user(
        user,
        Inspection.objects.select_related(
            "pairing__helper", "pairing__helped", "inspector", "inspected", "activity"
        ),
        pk=pk,
    )
    scores = inspection.scores.select_related("item").order_by("item__order", "item_id")
    totals = scores.aggregate(total=Sum("score"), maximum=Sum("item__max_score"))
    rectifications = (
        inspection.rectifications.alive()
        .select_related("owner")
        .annotate(evidence_count=Count("evidence"))
        .order_by("due_date", "pk")
    )
    return render(
        request,
        "activities/inspection_detail.html",
        {
            "inspection": inspection,
            "pairing": inspection.pairing,
            "activity": inspection.activity if not inspection.activity.in_trash else None,
            "scores": scores,
            "totals": totals,
            "rectifications": rectifications,
        },
    )


def _sides(user, inspection):
    """Which steps of its rectification items the user may take: (inspected's, inspecting's)."""
    own = access.scope_of(user).write_branches
    inspected = inspection.inspected_id in own
    inspecting = inspection.inspector_id in own or access.oversees(user, inspection.pairing)
    return inspected, inspecting


@require_http_methods(["GET", "POST"])
def rectification_update(request, pk):
    """A rectification item's page; its two sides move it along here.

    Everyone in scope reads it; the inspected side's secretary starts and finishes it, the
    inspecting side (or county staff, a supervisor over the pairing) verifies it or sends it back.
    """
    user = request.user
    rectification = access.get_for_user(
        user,
        Rectification.objects.select_related(
            "inspection__pairing__helper",
            "inspection__pairing__helped",
            "inspection__inspector",
            "inspection__inspected",
            "owner",
        ),
        write=request.method == "POST",
        pk=pk,
    )
    inspection = rectification.inspection
    inspected, inspecting = _sides(user, inspection)
    steps = [
        *(workflow.INSPECTED_STEPS if inspected else ()),
        *(workflow.INSPECTING_STEPS if inspecting else ()),
    ]
    posted_step = request.POST.get("step") if request.method == "POST" else None
    status = 200
    if posted_step is not None:
        if posted_step in workflow.RECTIFICATION_STEPS and posted_step not in steps:
            raise PermissionDenied(
                "整改由被检查方支部办理。"
                if posted_step in workflow.INSPECTED_STEPS
                else "验收由检查方支部或指导该对子的上级党组织办理。"
            )
        if posted_step not in steps:
            status = 400
    forms = {
        step: RectificationStepForm(
            request.POST if step == posted_step else None,
            request.FILES if step == posted_step else None,
            rectification=rectification,
            step=step,
        )
        for step in steps
    }
    posted = forms.get(posted_step)
    if posted is not None and posted.is_valid():
        try:
            workflow.move_rectification(
                rectification=rectification,
                step=posted_step,
                by=user,
                day=posted.cleaned_data.get("day"),
                note=posted.cleaned_data["note"],
                files=posted.processed,
            )
        except ValidationError as error:
            posted.add_error(None, error)
            rectification.refresh_from_db()
        else:
            label = workflow.RECTIFICATION_STEPS[posted_step][2]
            messages.success(request, f"已{label}。")
            return redirect("activities:rectification_update", pk=rectification.pk)
    shown = [
        (step, workflow.RECTIFICATION_STEPS[step][2], form)
        for step, form in forms.items()
        if form is posted or not workflow.rectification_refusal(rectification, step)
    ]
    return render(
        request,
        "activities/rectification_update.html",
        {
            "rectification": rectification,
            "inspection": inspection,
            "pairing": inspection.pairing,
            "step_forms": shown,
            "unknown_step": status == 400,
            "evidence": rectification.evidence.order_by("uploaded_at", "pk"),
            "history": rectification.history.select_related("history_user").order_by(
                "-history_date"
            )[:50],
        },
        status=status,
    )


@require_GET
def rectification_list(request):
    today = timezone.localdate()
    filters = RectificationFilterForm(request.GET or None)
    # The owners (members) come in a second query for the page's rows only: joined, the
    # database would read every member to sort the rectifications of the whole scope.
    rows = access.readable(
        request.user,
        Rectification.objects.select_related(
            "inspection__pairing__helper",
            "inspection__pairing__helped",
            "inspection__inspector",
            "inspection__inspected",
        ).prefetch_related("owner"),
    ).annotate(
        overdue=Case(
            When(status__in=UNFINISHED, due_date__lt=today, then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )
    rows = filters.apply(rows, today).order_by("-overdue", "due_date", "pk")
    if request.GET.get("export") == "xlsx":
        # The whole list: the owners joined (a list of every owner's id would be longer).
        return _export_rectifications(request, rows.prefetch_related(None).select_related("owner"))
    # Overdue first is a computed order, so no cursor: numbered pages over a bounded count.
    page = bounded_page(rows, request, size=PAGE_SIZE)
    return render(
        request,
        "activities/rectification_list.html",
        {"filters": filters, "page": page, "query": filter_query(request).urlencode()},
    )


def _export_rectifications(request, rows):
    return list_export(
        request,
        what="rectifications",
        title="互检整改事项",
        headers=[
            "整改事项",
            "对子编号",
            "检查方",
            "被检查方",
            "互检年度",
            "责任人",
            "整改期限",
            "状态",
            "已逾期",
            "完成日期",
            "验收日期",
        ],
        rows=(
            [
                r.description,
                r.inspection.pairing.code,
                r.inspection.inspector.name,
                r.inspection.inspected.name,
                r.inspection.year,
                r.owner.name if r.owner else "",
                r.due_date,
                r.get_status_display(),
                r.overdue,
                r.done_at,
                r.verified_at,
            ]
            for r in rows
        ),
    )
