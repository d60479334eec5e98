"""Write a plan without problems: bulk inserts and updates in batches, in one transaction.

Organizations, members, pairings and period figures get change-history rows written in bulk (who
imported, "Excel导入：file name"), and so does every row an import updates. New activities carry
their own record instead (created_by, created_at, imported=True), and their participants and
outcome figures, the largest tables by far, are inserted as plain rows in batches (as the demo
seed does): the ImportRun says who imported which file and when.
"""

from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Q

from activities.models import Activity, Outcome, Participation, PeriodFigure
from cobuild import audit
from pairings.models import Member, Organization, Pairing
from reports.importer.plan import chunks
from reports.models import ImportRun

BATCH = 1000


def _history(model, objs, *, user, reason, update=False):
    if objs:
        model.history.bulk_history_create(
            objs, batch_size=BATCH, update=update, default_user=user, default_change_reason=reason
        )


def _create(model, objs, *, user, reason):
    model.objects.bulk_create(objs, batch_size=BATCH)
    _history(model, objs, user=user, reason=reason)


def _update(model, objs, fields, *, user, reason):
    if objs:
        model.objects.bulk_update(objs, fields, batch_size=BATCH)
        _history(model, objs, user=user, reason=reason, update=True)


def apply_plan(plan, *, user, filename, sha256, size):
    """Apply `plan` (which must have no problems); returns the ImportRun that records it."""
    assert plan.ok, "a plan with problems is never applied"
    reason = f"Excel导入：{filename}"[:100]
    kw = {"user": user, "reason": reason}
    with transaction.atomic():
        _create(Organization, plan.org_creates, **kw)
        _update(Organization, plan.org_updates, ["name", "kind", "sector", "numchild"], **kw)
        _create(Member, plan.member_creates, **kw)
        _update(
            Member,
            plan.member_updates,
            ["name", "gender", "branch", "post", "in_service", "status", "phone"],
            **kw,
        )
        _create(Pairing, plan.pairing_creates, **kw)
        _update(Pairing, plan.pairing_updates, ["start_date", "end_date", "status"], **kw)
        _apply_activities(plan, **kw)
        _create(PeriodFigure, plan.figure_creates, **kw)
        _update(PeriodFigure, plan.figure_updates, ["value"], **kw)
        run = ImportRun.objects.create(
            user=user, filename=filename[:200], sha256=sha256, size=size, counts=plan.counts
        )
        # In the same transaction: an import whose audit row cannot be written does not happen.
        audit.record(audit.Kind.IMPORT, user=user, obj=run, sha256=sha256, counts=plan.counts)
        return run


def _insert_rows(model, columns, rows, batch=2000):
    """Plain multi-row INSERTs of many join rows, one statement per batch (no model instances)."""
    quote = connection.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(
        quote(model._meta.db_table),
        ", ".join(quote(model._meta.get_field(c).column) for c in columns),
    )
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            cursor.execute(head + ", ".join([one] * len(part)), [v for row in part for v in row])


def _apply_activities(plan, *, user, reason):
    activities = [activity for activity, _, _ in plan.activity_creates]
    Activity.objects.bulk_create(activities, batch_size=BATCH)
    adapt = connection.ops.adapt_decimalfield_value
    participations, outcomes = [], []
    for activity, members, values in plan.activity_creates:
        participations += [(activity.pk, m.pk) for m in members]
        outcomes += [(activity.pk, m.pk, adapt(v, 14, 2)) for m, v in values.items()]
    _insert_rows(Participation, ["activity", "member"], participations)
    _insert_rows(Outcome, ["activity", "metric", "value"], outcomes)
    if not plan.activity_updates:
        return

    changed = []
    for activity, fields, _, _ in plan.activity_updates:
        for attr, value in fields.items():
            setattr(activity, attr, value)
        activity.version += 1
        changed.append(activity)
    _update(
        Activity,
        changed,
        ["category", "place", "villager_count", "version"],
        user=user,
        reason=reason,
    )

    # Participants: remove those no longer listed, add the new ones.
    wanted = {
        a.pk: {m.pk for m in members}
        for a, _, members, _ in plan.activity_updates
        if members is not None
    }
    gone = Q(pk__in=[])
    added = []
    for activity, _, members, _ in plan.activity_updates:
        if members is None:
            continue
        ids = wanted[activity.pk]
        if activity.member_ids - ids:
            gone |= Q(activity_id=activity.pk, member_id__in=activity.member_ids - ids)
        added += [
            Participation(activity_id=activity.pk, member_id=pk) for pk in ids - activity.member_ids
        ]
    for row in Participation.objects.filter(gone):
        row._history_user = user
        row.delete()
    Participation.objects.bulk_create(added, batch_size=BATCH)

    # Outcomes: the changed figures are updated, added or (an emptied cell) removed.
    by_activity = defaultdict(dict)
    ids = [a.pk for a, _, _, values in plan.activity_updates if values]
    for part in chunks(ids):
        for outcome in Outcome.objects.filter(activity_id__in=part):
            by_activity[outcome.activity_id][outcome.metric_id] = outcome
    new, updated, removed = [], [], []
    for activity, _, _, values in plan.activity_updates:
        for metric, value in values.items():
            current = by_activity[activity.pk].get(metric.pk)
            if current is None and value is not None:
                new.append(Outcome(activity_id=activity.pk, metric=metric, value=value))
            elif current is not None and value is None:
                removed.append(current)
            elif current is not None:
                current.value = value
                updated.append(current)
    _create(Outcome, new, user=user, reason=reason)
    _update(Outcome, updated, ["value"], user=user, reason=reason)
    for outcome in removed:
        outcome._history_user = user
        outcome.delete()
