import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.db.models import Count
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from activities import workflow
from activities.filters import ActivityFilterForm
from activities.forms import ActivityForm, ReturnForm, UnlockForm
from activities.models import Activity, Inspection
from cobuild.pagination import filter_query, keyset_page
from cobuild.xlsx import list_export
from pairings import access
from pairings.models import Pairing
from pairings.templatetags.people import person

PAGE_SIZE = 20
# Newest first, and the cursor of the keyset pages (cobuild/pagination.py): a list of every
# activity in scope, millions at province scale, pages through an index from the cursor.
LIST_ORDER = ("-date", "-pk")
TRASH_ORDER = ("-deleted_at", "-pk")


def _activity_for(user, pk, queryset=None):
    queryset = queryset if queryset is not None else Activity.objects.all()
    return access.get_for_user(
        user, queryset.select_related("pairing__helper", "pairing__helped", "regime"), pk=pk
    )


def _permissions(user, activity):
    locked = workflow.is_locked(pairing=activity.pairing, day=activity.date)
    return locked, access.activity_permissions(user, activity, locked=locked)


@require_GET
def activity_list(request):
    filters = ActivityFilterForm(request.GET or None, user=request.user)
    activities = filters.apply(access.readable(request.user, Activity.objects.for_list()))
    if request.GET.get("export") == "xlsx":
        return _export_activities(request, activities.order_by(*LIST_ORDER))
    wide = filters.apply(access.readable(request.user, Activity.objects.all(), row_by_row=True))
    page = keyset_page(activities, request, ordering=LIST_ORDER, size=PAGE_SIZE, wide=wide)
    return render(
        request,
        "activities/activity_list.html",
        {"filters": filters, "page": page, "query": filter_query(request).urlencode()},
    )


def _export_activities(request, activities):
    rows = activities.annotate(participant_count=Count("participations"))
    return list_export(
        request,
        what="activities",
        title="活动",
        headers=[
            "活动日期",
            "活动主题",
            "对子编号",
            "帮扶支部",
            "受帮扶支部",
            "所属制度",
            "活动类别",
            "地点",
            "参加党员人数",
            "参加群众人数",
            "状态",
            "按时提交",
        ],
        rows=(
            [
                a.date,
                a.title,
                a.pairing.code,
                a.pairing.helper.name,
                a.pairing.helped.name,
                a.regime.name if a.regime else "其他",
                a.get_category_display(),
                a.place,
                a.participant_count,
                a.villager_count,
                a.get_status_display(),
                a.on_time,
            ]
            for a in rows
        ),
    )


@require_http_methods(["GET", "POST"])
def activity_new(request):
    user = request.user
    pairings = access.writable(user, Pairing.objects.with_branches()).order_by("code")
    pairing_id = request.GET.get("pairing")
    if not pairing_id:
        if not access.scope_of(user).write_paths and not access.scope_of(user).write_branches:
            raise PermissionDenied("您只能查看，无权登记活动。")
        only = pairings.first() if pairings.count() == 1 else None
        if only:
            return redirect(f"{reverse('activities:new')}?pairing={only.pk}")
        return render(request, "activities/choose_pairing.html", {"pairings": pairings})
    if not pairing_id.isdigit():
        raise Http404("没有这个共建对子。")
    pairing = access.get_for_user(user, Pairing.objects.with_branches(), write=True, pk=pairing_id)
    form = ActivityForm(request.POST or None, request.FILES or None, user=user, pairing=pairing)
    wants_json = "application/json" in request.headers.get("Accept", "")
    if request.method == "POST":
        sender = request.headers.get("X-Cobuild-User")
        if wants_json and sender and sender != str(user.pk):
            # Queued on this phone under another account: never log it under this one.
            return JsonResponse(
                {
                    "status": "wrong_user",
                    "message": "这条记录是用另一个账号填写的，请用该账号登录后发送。",
                },
                status=409,
            )
        existing = _already_saved(user, form.data.get("client_id"))
        if existing is not None:
            messages.info(request, "这条活动已经保存过，没有重复登记。")
            return _saved(existing, wants_json, status=200)
        if form.is_valid():
            activity = form.save(commit=False)
            activity.client_id = form.cleaned_data["client_id"]
            activity.logged_by_branch_id = form.logged_by_branch_id()
            activity.on_behalf_by_id = form.on_behalf_org_id()
            submit = "submit" in request.POST
            try:
                workflow.create_activity(
                    activity=activity,
                    participants=form.cleaned_data["participants"],
                    outcomes=form.outcomes(),
                    files=form.processed,
                    by=user,
                    submit=submit,
                )
            except IntegrityError:
                # The same form posted twice at once: the first one won.
                if not Activity.objects.filter(client_id=activity.client_id).exists():
                    raise
                # Out of sight (in the trash, or someone else's id): still not logged twice,
                # and nothing about that activity is told.
                messages.info(request, "这条活动已经保存过，没有重复登记。")
                existing = (
                    access.readable(user, Activity.objects.all())
                    .filter(client_id=activity.client_id)
                    .first()
                )
                return _saved(existing, wants_json, status=200)
            messages.success(request, "活动已提交，等待对方确认。" if submit else "已保存为草稿。")
            return _saved(activity, wants_json, status=201)
        if wants_json:
            return JsonResponse(
                {
                    "status": "invalid",
                    "message": "请修改下面标出的内容后再保存。",
                    "errors": {
                        name: [error["message"] for error in errors]
                        for name, errors in form.errors.get_json_data().items()
                    },
                    "labels": {name: str(field.label) for name, field in form.fields.items()},
                },
                status=400,
            )
    limits = settings.COBUILD
    return render(
        request,
        "activities/activity_form.html",
        {
            "form": form,
            "pairing": pairing,
            "new": True,
            "max_bytes": limits["EVIDENCE_MAX_BYTES"],
            "max_files": limits["EVIDENCE_MAX_FILES"],
        },
    )


def _saved(activity, wants_json, *, status):
    """Where a saved (or already saved) new activity sends the browser: a redirect, or for the
    offline outbox's fetch() a small JSON answer naming the activity (None: one out of sight)."""
    url = activity.get_absolute_url() if activity else reverse("activities:list")
    if not wants_json:
        return redirect(url)
    answer = {"status": "created" if status == 201 else "duplicate", "url": url}
    if activity:
        answer.update(id=activity.pk, client_id=str(activity.client_id))
    return JsonResponse(answer, status=status)


def _already_saved(user, client_id):
    """The activity a repeated post of the same form already created, if any."""
    try:
        client_id = uuid.UUID(str(client_id))
    except ValueError:
        return None
    return access.readable(user, Activity.objects.all()).filter(client_id=client_id).first()


@require_GET
def activity_detail(request, pk):
    activity = _activity_for(request.user, pk)
    locked, can = _permissions(request.user, activity)
    history = activity.history.select_related("history_user").order_by("-history_date")[:50]
    return render(
        request,
        "activities/activity_detail.html",
        {
            "activity": activity,
            "locked": locked,
            "lock_date": workflow.lock_date(activity.date),
            "can": can,
            "participations": activity.participations.select_related("member__branch").order_by(
                "member__branch__path", "member__name"
            ),
            "outcomes": activity.outcomes.select_related("metric").order_by("metric__order"),
            "evidence": activity.evidence.order_by("uploaded_at", "pk"),
            "history": history,
            "return_form": ReturnForm(),
            "inspection": Inspection.objects.alive().filter(activity=activity).first(),
        },
    )


@require_http_methods(["GET", "POST"])
def activity_edit(request, pk):
    activity = _activity_for(request.user, pk)
    locked, can = _permissions(request.user, activity)
    if not can.edit:
        raise PermissionDenied(_refusal(activity, locked, request.user))
    form = ActivityForm(
        request.POST or None,
        request.FILES or None,
        instance=activity,
        user=request.user,
        pairing=activity.pairing,
    )
    conflict = None
    if request.method == "POST" and form.is_valid():
        submit = "submit" in request.POST
        try:
            workflow.update_activity(
                activity=form.save(commit=False),
                version=form.cleaned_data["version"] or 0,
                participants=form.cleaned_data["participants"],
                outcomes=form.outcomes(),
                files=form.processed,
                by=request.user,
                submit=submit,
            )
        except workflow.EditConflict as error:
            conflict = _changes_since(error.current, form.cleaned_data["version"] or 0)
        else:
            messages.success(request, "活动已提交，等待对方确认。" if submit else "修改已保存。")
            return redirect(activity)
    return render(
        request,
        "activities/activity_form.html",
        {"form": form, "pairing": activity.pairing, "activity": activity, "conflict": conflict},
    )


def _changes_since(current, version):
    """What someone else changed since `version`: [(field label, their value), …]."""
    records = list(current.history.filter(version__gte=version).order_by("history_date"))
    if len(records) < 2:
        return [("版本", f"第{current.version}版")]
    changes = records[-1].diff_against(records[0]).changes
    fields = {f.name: f for f in Activity._meta.fields}
    shown = []
    for change in changes:
        if change.field in ("version",) or change.field not in fields:
            continue
        field = fields[change.field]
        value = getattr(current, f"get_{change.field}_display", None)
        shown.append((field.verbose_name, value() if value else getattr(current, field.name)))
    latest = records[-1]
    who = person(latest.history_user)
    return [("修改人", who), *shown] if shown else [("修改人", who)]


def _refusal(activity, locked, user=None):
    if user is not None and not access.can_write(user, activity):
        return "您只能查看，无权修改。"
    if locked:
        return (
            f"{activity.date:%Y年%-m月}的活动已过修改期限（期间结束后"
            f"{workflow.lock_date(activity.date):%Y年%-m月%-d日}锁定），如需修改请联系县委组织部解锁。"
        )
    return f"该活动当前状态为“{activity.get_status_display()}”，您不能修改。"


@require_POST
def activity_submit(request, pk):
    activity = _activity_for(request.user, pk)
    locked, can = _permissions(request.user, activity)
    if not can.edit:
        raise PermissionDenied(_refusal(activity, locked, request.user))
    if _run(request, workflow.submit_activity, activity=activity, by=request.user):
        messages.success(request, "活动已提交，等待对方确认。")
    return redirect(activity)


@require_POST
def activity_confirm(request, pk):
    activity = _activity_for(request.user, pk)
    locked, can = _permissions(request.user, activity)
    if not can.confirm:
        raise PermissionDenied(_refusal(activity, locked, request.user))
    if _run(request, workflow.confirm_activity, activity=activity, by=request.user):
        messages.success(request, "已确认这条活动。")
    return redirect(activity)


@require_POST
def activity_return(request, pk):
    activity = _activity_for(request.user, pk)
    locked, can = _permissions(request.user, activity)
    if not can.confirm:
        raise PermissionDenied(_refusal(activity, locked, request.user))
    form = ReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写退回原因。")
        return redirect(activity)
    if _run(
        request,
        workflow.return_activity,
        activity=activity,
        by=request.user,
        reason=form.cleaned_data["reason"],
    ):
        messages.success(request, "已退回，对方修改后会重新提交。")
    return redirect(activity)


def _run(request, step, **kwargs):
    try:
        step(**kwargs)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return False
    return True


@require_POST
def activity_trash(request, pk):
    activity = _activity_for(request.user, pk)
    locked, can = _permissions(request.user, activity)
    if not can.trash:
        raise PermissionDenied(_refusal(activity, locked, request.user))
    workflow.trash_activity(activity=activity, by=request.user)
    messages.success(request, "已移入回收站，县委组织部可以恢复。")
    return redirect("activities:list")


@require_GET
def trash_list(request):
    if not access.is_county_staff(request.user):
        raise PermissionDenied("只有县委组织部可以查看回收站。")
    activities = access.trashed(request.user, Activity.objects.for_list()).select_related(
        "deleted_by"
    )
    page = keyset_page(activities, request, ordering=TRASH_ORDER, size=PAGE_SIZE)
    return render(request, "activities/trash_list.html", {"page": page})


@require_POST
def activity_restore(request, pk):
    if not access.is_county_staff(request.user):
        raise PermissionDenied("只有县委组织部可以恢复。")
    activity = access.get_in_scope(
        request.user, access.trashed(request.user, Activity.objects.all()), pk=pk
    )
    try:
        workflow.restore_activity(activity=activity, by=request.user)
    except IntegrityError:
        messages.error(request, "恢复失败：与现有记录冲突。")
        return redirect("activities:trash")
    messages.success(request, "已恢复。")
    return redirect(activity)


@require_http_methods(["GET", "POST"])
def unlock_new(request):
    """County staff reopen one branch's locked period for a while; the unlock is the record."""
    if not access.is_county_staff(request.user):
        raise PermissionDenied("只有县委组织部可以解锁已锁定的期间。")
    form = UnlockForm(request.POST or None, user=request.user, initial=request.GET.dict())
    if request.method == "POST" and form.is_valid():
        unlock = form.save(commit=False)
        unlock.unlocked_by = request.user
        unlock._history_user = request.user
        unlock.save()
        messages.success(
            request,
            f"已为{unlock.branch}解锁{unlock.period}，{unlock.until:%Y年%-m月%-d日}前可以修改。",
        )
        return redirect("activities:list")
    return render(
        request, "activities/simple_form.html", {"form": form, "title": "解锁已锁定的期间"}
    )
