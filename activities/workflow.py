"""Activity workflows: each writes several rows, so each is one function under one transaction.

draft → submitted → confirmed | returned → (fixed) → submitted …
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from activities import compliance
from activities.models import (
    Activity,
    Commitment,
    Evidence,
    Inspection,
    InspectionScore,
    Outcome,
    Participation,
    PeriodUnlock,
    Rectification,
    Regime,
)

Status = Activity.Status


class EditConflict(Exception):
    """Someone else saved the activity since this edit began."""

    def __init__(self, current):
        super().__init__("activity changed")
        self.current = current


def lock_date(day):
    """The last day on which secretaries may still change activities dated `day`."""
    month_end = (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return (
        month_end
        - datetime.timedelta(days=1)
        + datetime.timedelta(days=settings.COBUILD["LOCK_DELAY_DAYS"])
    )


def is_locked(*, pairing, day, today=None):
    """Whether `day`'s period is closed to secretaries for this pairing (no unlock in force)."""
    today = today or timezone.localdate()
    if today <= lock_date(day):
        return False
    return not PeriodUnlock.objects.filter(
        branch__in=[pairing.helper_id, pairing.helped_id],
        period_start__lte=day,
        period_end__gte=day,
        until__gte=today,
    ).exists()


def _stamp_submission(activity):
    """Stamp submission once: a resubmission after a return keeps the first stamp."""
    activity.status = Status.SUBMITTED
    if activity.submitted_at is None:
        activity.submitted_at = timezone.now()
        activity.on_time = compliance.is_on_time(
            activity, timezone.localdate(activity.submitted_at)
        )


def _write_details(activity, *, participants, outcomes, by):
    """Make the participants and outcome figures exactly these (rows added and removed)."""
    wanted = {member.pk for member in participants}
    current = set(activity.participations.values_list("member_id", flat=True))
    for participation in activity.participations.filter(member_id__in=current - wanted):
        participation._history_user = by
        participation.delete()
    bulk_create_with_history(
        [Participation(activity=activity, member_id=pk) for pk in sorted(wanted - current)],
        Participation,
        default_user=by,
    )
    existing = {o.metric_id: o for o in activity.outcomes.all()}
    new = []
    for metric, value in outcomes.items():
        row = existing.pop(metric.pk, None)
        if value is None:
            if row:
                existing[metric.pk] = row  # removed below
            continue
        if row is None:
            new.append(Outcome(activity=activity, metric=metric, value=value))
        elif row.value != value:
            row.value = value
            row._history_user = by
            row.save(update_fields=["value"])
    for row in existing.values():
        row._history_user = by
        row.delete()
    bulk_create_with_history(new, Outcome, default_user=by)


EVIDENCE_OWNER = {Activity: "activity", Commitment: "commitment", Rectification: "rectification"}


def _attach_evidence(owner, files, *, by):
    """Store processed uploads as evidence of an activity, a commitment or a rectification."""
    field = EVIDENCE_OWNER[type(owner)]
    for processed in files:
        Evidence.objects.create(
            **{field: owner},
            kind=processed.kind,
            file=processed.file,
            thumbnail=processed.thumbnail or "",
            original_name=processed.original_name,
            content_type=processed.content_type,
            size=processed.size,
            uploaded_by=by,
        )


@transaction.atomic
def create_activity(*, activity, participants, outcomes, files, by, submit):
    """Save a new activity with its participants, figures and evidence; submit it if asked."""
    activity.created_by = by
    activity._history_user = by
    if submit:
        _stamp_submission(activity)
    activity.save()
    _write_details(activity, participants=participants, outcomes=outcomes, by=by)
    _attach_evidence(activity, files, by=by)
    return activity


@transaction.atomic
def update_activity(*, activity, version, participants, outcomes, files, by, submit):
    """Save an edit begun at `version`; refuse it if someone saved in between."""
    claimed = Activity.objects.filter(pk=activity.pk, version=version).update(
        version=F("version") + 1
    )
    if not claimed:
        raise EditConflict(Activity.objects.get(pk=activity.pk))
    activity.version = version + 1
    if submit:
        _stamp_submission(activity)
    activity._history_user = by
    activity.save()
    _write_details(activity, participants=participants, outcomes=outcomes, by=by)
    _attach_evidence(activity, files, by=by)
    return activity


def _transition(activity, *, by, allowed_from, **changes):
    updated = Activity.objects.filter(pk=activity.pk, status__in=allowed_from).update(
        version=F("version") + 1
    )
    if not updated:
        raise ValidationError("该活动的状态已经改变，请刷新后再试。")
    for field, value in changes.items():
        setattr(activity, field, value)
    activity.version += 1
    activity._history_user = by
    activity.save()
    return activity


@transaction.atomic
def submit_activity(*, activity, by):
    _stamp_submission(activity)
    return _transition(
        activity,
        by=by,
        allowed_from=[Status.DRAFT, Status.RETURNED],
        status=Status.SUBMITTED,
    )


@transaction.atomic
def confirm_activity(*, activity, by):
    return _transition(
        activity,
        by=by,
        allowed_from=[Status.SUBMITTED],
        status=Status.CONFIRMED,
        confirmed_at=timezone.now(),
        confirmed_by=by,
    )


@transaction.atomic
def return_activity(*, activity, by, reason):
    return _transition(
        activity,
        by=by,
        allowed_from=[Status.SUBMITTED],
        status=Status.RETURNED,
        return_reason=reason,
    )


@transaction.atomic
def trash_activity(*, activity, by):
    """Move an activity to the trash, with the inspection it records (if any)."""
    activity.trash(by=by)
    inspection = Inspection.objects.alive().filter(activity=activity).first()
    if inspection is not None:
        inspection.trash(by=by)


@transaction.atomic
def restore_activity(*, activity, by):
    activity.restore(by=by)
    inspection = Inspection.objects.trashed().filter(activity=activity).first()
    if inspection is not None:
        inspection.restore(by=by)


@transaction.atomic
def commit_to_need(*, commitment, by):
    """Record a practical deed the helping side commits to; its need becomes committed."""
    commitment._history_user = by
    commitment.save()
    need = commitment.need
    if need is not None and need.status == need.Status.OPEN:
        need.status = need.Status.COMMITTED
        need._history_user = by
        need.save(update_fields=["status"])
    return commitment


@transaction.atomic
def record_progress(*, commitment, files, by):
    """Save a commitment's progress; once every deed for a need is done, the need is solved."""
    commitment._history_user = by
    commitment.save()
    _attach_evidence(commitment, files, by=by)
    need = commitment.need
    if (
        need is not None
        and commitment.status == commitment.Status.DONE
        and not need.commitments.alive().exclude(status__in=["done", "cancelled"]).exists()
    ):
        need.status = need.Status.DONE
        need._history_user = by
        need.save(update_fields=["status"])
    return commitment


# ---------------------------------------------------------------------------------------------
# The annual mutual inspection (年度党建互检) and its rectification items (整改事项).

MUTUAL_INSPECTION = "mutual_inspection"


def inspection_title(year, inspector, inspected):
    return f"{year}年度党建互检：{inspector}检查{inspected}"[:200]


def _inspection_summary(scores, satisfaction, findings, rectifications):
    """What the partner reads on the activity page when confirming the inspection."""
    total = sum(scores.values(), Decimal(0))
    maximum = sum((item.max_score for item in scores), Decimal(0))
    lines = [f"检查得分：{total.normalize():f}分（满分{maximum.normalize():f}分）。"]
    if satisfaction:
        lines.append(f"群众满意度：{Inspection.Satisfaction(satisfaction).label}。")
    if rectifications:
        lines.append(f"提出整改事项{len(rectifications)}项。")
    if findings:
        lines.append(f"检查发现：{findings}")
    return "\n".join(lines)


@transaction.atomic
def record_inspection(
    *,
    pairing,
    inspector,
    inspected,
    year,
    date,
    scores,
    findings,
    satisfaction,
    rectifications,
    by,
    submit=True,
    on_behalf_by_id=None,
):
    """Record one side's annual inspection of the other.

    Logs the 年度党建互检 activity (which makes the year's mutual_inspection regime met once
    submitted or confirmed; the partner confirms it like any activity), attaches the inspection
    to it, and writes the scores ({InspectionItem: Decimal}) and the rectification items
    ([{description, owner, due_date}]) it opens. A second inspection by the same side in a year
    is refused by the database (inspection_once_a_year_per_side): IntegrityError.
    """
    activity = Activity(
        pairing=pairing,
        regime=Regime.objects.get(code=MUTUAL_INSPECTION),
        category=Activity.Category.INSPECTION,
        date=date,
        title=inspection_title(year, inspector, inspected),
        summary=_inspection_summary(scores, satisfaction, findings, rectifications),
        logged_by_branch=inspector,
        on_behalf_by_id=on_behalf_by_id,
    )
    create_activity(activity=activity, participants=[], outcomes={}, files=[], by=by, submit=submit)
    inspection = Inspection(
        pairing=pairing,
        activity=activity,
        year=year,
        inspector=inspector,
        inspected=inspected,
        date=date,
        findings=findings,
        satisfaction=satisfaction,
    )
    inspection._history_user = by
    inspection.save()
    bulk_create_with_history(
        [
            InspectionScore(inspection=inspection, item=item, score=score)
            for item, score in scores.items()
        ],
        InspectionScore,
        default_user=by,
    )
    bulk_create_with_history(
        [Rectification(inspection=inspection, **row) for row in rectifications],
        Rectification,
        default_user=by,
    )
    return inspection


RStatus = Rectification.Status

# step → (the statuses it may start from, the status it leads to, what it is called).
# The inspected side starts and finishes an item (a quick fix may go straight to done); the
# inspecting side, or those over the pairing, verify it or send it back.
RECTIFICATION_STEPS = {
    "start": ((RStatus.OPEN,), RStatus.IN_PROGRESS, "开始整改"),
    "done": ((RStatus.OPEN, RStatus.IN_PROGRESS), RStatus.DONE, "整改完成"),
    "verify": ((RStatus.DONE,), RStatus.VERIFIED, "验收通过"),
    "reopen": ((RStatus.DONE,), RStatus.IN_PROGRESS, "退回重新整改"),
}
INSPECTED_STEPS = ("start", "done")
INSPECTING_STEPS = ("verify", "reopen")


def rectification_refusal(rectification, step):
    """Why `step` cannot be taken from the item's current status, or None when it can."""
    allowed_from, _, label = RECTIFICATION_STEPS[step]
    if rectification.status in allowed_from:
        return None
    return f"该整改事项当前为“{rectification.get_status_display()}”，不能{label}。"


@transaction.atomic
def move_rectification(*, rectification, step, by, day=None, note="", files=()):
    """Take one step of a rectification item; the note is kept in its history.

    Refuses (ValidationError) a step its current status does not allow, read under a row lock,
    so two people acting at once cannot both move it.
    """
    current = Rectification.objects.select_for_update().get(pk=rectification.pk)
    refusal = rectification_refusal(current, step)
    if refusal:
        raise ValidationError(refusal)
    _, to, label = RECTIFICATION_STEPS[step]
    rectification.status = to
    if step == "done":
        rectification.done_at = day
    elif step == "verify":
        rectification.verified_at = day
    elif step == "reopen":
        rectification.done_at = None
    rectification._history_user = by
    rectification._change_reason = (f"{label}：{note}" if note else label)[:100]
    rectification.save(update_fields=["status", "done_at", "verified_at"])
    _attach_evidence(rectification, files, by=by)
    return rectification
