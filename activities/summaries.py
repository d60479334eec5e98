"""The summary tables: kept by the database, read by the dashboard, compliance and reports.

ActivitySummary, OutcomeSummary and ParticipantYear (activities/models.py) are derived from
activities, participations and outcomes. Row triggers on those three tables recompute every
summary row a write touches, from the base rows, in the same transaction: whatever writes (a
form, the workflow, the importer's bulk inserts, the admin, a queryset update), the summaries
cannot drift, and a recomputed row equals what `rebuild()` computes from scratch.

The same statements serve SQLite and PostgreSQL; only a few date and comparison expressions
differ (DIALECTS). `paused()` drops the triggers for a bulk load and rebuilds at the end.
"""

import datetime
from collections import Counter
from contextlib import contextmanager
from decimal import Decimal

from django.db import connection, connections

COUNTED = "{a}.status IN ('submitted', 'confirmed') AND {a}.deleted_at IS NULL"

DIALECTS = {
    "sqlite": {
        "month": "date({0}, 'start of month')",
        "next_month": "date({0}, 'start of month', '+1 month')",
        "year": "CAST(strftime('%Y', {0}) AS INTEGER)",
        "year_start": "date({0}, 'start of year')",
        "next_year": "date({0}, 'start of year', '+1 year')",
        "month_bit": "(1 << (CAST(strftime('%m', {0}) AS INTEGER) - 1))",
        "months_mask": "SUM(DISTINCT {0})",  # SQLite has no BIT_OR; the bits are distinct
        "same": "IS",
        "differs": "IS NOT",
    },
    "postgresql": {
        "month": "date_trunc('month', {0}::timestamp)::date",
        "next_month": "(date_trunc('month', {0}::timestamp) + interval '1 month')::date",
        "year": "date_part('year', {0})::integer",
        "year_start": "date_trunc('year', {0}::timestamp)::date",
        "next_year": "(date_trunc('year', {0}::timestamp) + interval '1 year')::date",
        "month_bit": "(1 << (date_part('month', {0})::integer - 1))",
        "months_mask": "BIT_OR({0})",  # hashes; SUM(DISTINCT) sorts every attendance
        "same": "IS NOT DISTINCT FROM",
        "differs": "IS DISTINCT FROM",
    },
}


class _Sql:
    """Format helpers for one dialect: sql.month('NEW.date') → that dialect's expression."""

    def __init__(self, vendor):
        self.d = DIALECTS[vendor]

    def __getattr__(self, name):
        return lambda expr: self.d[name].format(expr)

    @property
    def same(self):
        return self.d["same"]

    @property
    def differs(self):
        return self.d["differs"]


# The recomputations. `r` names the row (NEW or OLD) whose keys are recomputed; `where` narrows
# the from-scratch query in rebuild() to nothing (it recomputes everything).


def activity_key(sql, r):
    """Recompute the ActivitySummary row of row `r`'s pairing, regime, category and month."""
    month, next_month = sql.month(f"{r}.date"), sql.next_month(f"{r}.date")
    return [
        f"""DELETE FROM activities_activitysummary WHERE pairing_id = {r}.pairing_id
            AND month = {month} AND regime_id {sql.same} {r}.regime_id
            AND category = {r}.category""",
        f"""INSERT INTO activities_activitysummary
            (pairing_id, regime_id, category, month, activities, on_time, villagers)
            SELECT {r}.pairing_id, {r}.regime_id, {r}.category, {month}, COUNT(*),
                SUM(CASE WHEN a.on_time THEN 1 ELSE 0 END), SUM(a.villager_count)
            FROM activities_activity a
            WHERE a.pairing_id = {r}.pairing_id AND a.date >= {month} AND a.date < {next_month}
                AND a.regime_id {sql.same} {r}.regime_id AND a.category = {r}.category
                AND {COUNTED.format(a="a")}
            GROUP BY a.pairing_id""",
    ]


def participant_years(sql, members, day):
    """Recompute the ParticipantYear rows of `members` (an SQL list) in the year of `day`, for
    every pairing they took part in."""
    start, stop = sql.year_start(day), sql.next_year(day)
    return [
        f"""DELETE FROM activities_participantyear
            WHERE year = {sql.year(day)} AND member_id IN ({members})""",
        f"""INSERT INTO activities_participantyear (member_id, pairing_id, year, months)
            SELECT p.member_id, a.pairing_id, {sql.year(day)},
                {sql.months_mask(sql.month_bit("a.date"))}
            FROM activities_participation p
            JOIN activities_activity a ON a.id = p.activity_id
            WHERE p.member_id IN ({members}) AND a.date >= {start} AND a.date < {stop}
                AND {COUNTED.format(a="a")}
            GROUP BY p.member_id, a.pairing_id""",
    ]


def outcome_keys(sql, pairing, day, metrics):
    """Recompute the OutcomeSummary rows of `pairing` in the month of `day` for `metrics`."""
    month, next_month = sql.month(day), sql.next_month(day)
    return [
        f"""DELETE FROM activities_outcomesummary WHERE pairing_id = {pairing}
            AND month = {month} AND metric_id IN ({metrics})""",
        f"""INSERT INTO activities_outcomesummary (pairing_id, metric_id, month, total)
            SELECT a.pairing_id, o.metric_id, {month}, SUM(o.value)
            FROM activities_outcome o
            JOIN activities_activity a ON a.id = o.activity_id
            WHERE a.pairing_id = {pairing} AND a.date >= {month} AND a.date < {next_month}
                AND o.metric_id IN ({metrics}) AND {COUNTED.format(a="a")}
            GROUP BY a.pairing_id, o.metric_id""",
    ]


def _changed(sql, columns):
    return " OR ".join(f"OLD.{c} {sql.differs} NEW.{c}" for c in columns)


def triggers(vendor):
    """[(name, table, event, condition or None, [statements])] for this database."""
    sql = _Sql(vendor)
    activity_of = "(SELECT x.{0} FROM activities_activity x WHERE x.id = {1}.activity_id)"
    members_of = "SELECT y.member_id FROM activities_participation y WHERE y.activity_id = {0}.id"
    metrics_of = "SELECT z.metric_id FROM activities_outcome z WHERE z.activity_id = {0}.id"

    def on_activity(r):
        return [
            *activity_key(sql, r),
            *participant_years(sql, members_of.format(r), f"{r}.date"),
            *outcome_keys(sql, f"{r}.pairing_id", f"{r}.date", metrics_of.format(r)),
        ]

    def on_participation(r):
        return participant_years(sql, f"{r}.member_id", activity_of.format("date", r))

    def on_outcome(r):
        return outcome_keys(
            sql,
            activity_of.format("pairing_id", r),
            activity_of.format("date", r),
            f"{r}.metric_id",
        )

    watched = [
        "pairing_id", "regime_id", "category", "date", "status", "deleted_at", "on_time",
        "villager_count",
    ]  # fmt: skip
    return [
        ("summary_activity_insert", "activities_activity", "INSERT", None, on_activity("NEW")),
        (
            "summary_activity_update",
            "activities_activity",
            "UPDATE",
            _changed(sql, watched),
            on_activity("OLD") + on_activity("NEW"),
        ),
        ("summary_activity_delete", "activities_activity", "DELETE", None, on_activity("OLD")),
        (
            "summary_participation_insert",
            "activities_participation",
            "INSERT",
            None,
            on_participation("NEW"),
        ),
        (
            "summary_participation_update",
            "activities_participation",
            "UPDATE",
            _changed(sql, ["activity_id", "member_id"]),
            on_participation("OLD") + on_participation("NEW"),
        ),
        (
            "summary_participation_delete",
            "activities_participation",
            "DELETE",
            None,
            on_participation("OLD"),
        ),
        ("summary_outcome_insert", "activities_outcome", "INSERT", None, on_outcome("NEW")),
        (
            "summary_outcome_update",
            "activities_outcome",
            "UPDATE",
            _changed(sql, ["activity_id", "metric_id", "value"]),
            on_outcome("OLD") + on_outcome("NEW"),
        ),
        ("summary_outcome_delete", "activities_outcome", "DELETE", None, on_outcome("OLD")),
    ]


def install_sql(vendor, found=None):
    """The statements that create the triggers (`found`, by default the summaries')."""
    statements = []
    for name, table, event, condition, body in found or triggers(vendor):
        when = f"WHEN ({condition})" if condition else ""
        steps = ";\n".join(body)
        if vendor == "sqlite":
            statements.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW {when}\n"
                f"BEGIN\n{steps};\nEND"
            )
        else:
            statements.append(
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                f"BEGIN\n{steps};\nRETURN NULL;\nEND $$"
            )
            statements.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW {when} "
                f"EXECUTE FUNCTION {name}()"
            )
    return statements


def remove_sql(vendor, found=None):
    statements = []
    for name, table, *_ in found or triggers(vendor):
        if vendor == "sqlite":
            statements.append(f"DROP TRIGGER IF EXISTS {name}")
        else:
            statements.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            statements.append(f"DROP FUNCTION IF EXISTS {name}()")
    return statements


TABLES = {
    "activities_activitysummary": (
        "pairing_id, regime_id, category, month, activities, on_time, villagers"
    ),
    "activities_outcomesummary": "pairing_id, metric_id, month, total",
    "activities_participantyear": "member_id, pairing_id, year, months",
}


def scratch_sql(vendor):
    """{summary table: the SELECT that computes all of it from the base tables}."""
    sql = _Sql(vendor)
    counted = COUNTED.format(a="a")
    return {
        "activities_activitysummary": f"""SELECT a.pairing_id, a.regime_id, a.category, {sql.month("a.date")}, COUNT(*),
                SUM(CASE WHEN a.on_time THEN 1 ELSE 0 END), SUM(a.villager_count)
            FROM activities_activity a WHERE {counted}
            GROUP BY a.pairing_id, a.regime_id, a.category, {sql.month("a.date")}""",
        "activities_outcomesummary": f"""SELECT a.pairing_id, o.metric_id, {sql.month("a.date")}, SUM(o.value)
            FROM activities_outcome o JOIN activities_activity a ON a.id = o.activity_id
            WHERE {counted}
            GROUP BY a.pairing_id, o.metric_id, {sql.month("a.date")}""",
        "activities_participantyear": f"""SELECT p.member_id, a.pairing_id, {sql.year("a.date")}, {sql.months_mask(sql.month_bit("a.date"))}
            FROM activities_participation p JOIN activities_activity a ON a.id = p.activity_id
            WHERE {counted}
            GROUP BY p.member_id, a.pairing_id, {sql.year("a.date")}""",
    }


# The rebuild inserts in index order (by the columns' positions in TABLES): a btree filled in
# order is written page after page; at province scale, filling the participation months in hash
# order took 2.3 times as long.
REBUILD_ORDER = {
    "activities_activitysummary": "1, 4",
    "activities_outcomesummary": "1, 3",
    "activities_participantyear": "1, 3, 2",
}


def rebuild_sql(vendor, tables=TABLES):
    """Recompute every summary row (of `tables`, by default all) from the base tables."""
    statements = []
    for table, select in scratch_sql(vendor).items():
        if table not in tables:
            continue
        statements.append(f"DELETE FROM {table}")
        statements.append(
            f"INSERT INTO {table} ({TABLES[table]}) {select} ORDER BY {REBUILD_ORDER[table]}"
        )
    return statements


def differences(using=None):
    """{table: (rows only stored, rows only computed)} for every summary that is not what a
    from-scratch computation gives; empty when the summaries are right."""
    db = connections[using or "default"]
    found = {}
    with db.cursor() as cursor:
        for table, select in scratch_sql(db.vendor).items():
            cursor.execute(f"SELECT {TABLES[table]} FROM {table}")
            money = table == "activities_outcomesummary"
            stored = Counter(_normal(row, money) for row in cursor.fetchall())
            cursor.execute(select)
            computed = Counter(_normal(row, money) for row in cursor.fetchall())
            if stored != computed:
                found[table] = (stored - computed, computed - stored)
    return found


def _normal(row, money):
    """A row with dates as ISO text and the sum (the last column of a money row) in cents,
    alike on both databases (SQLite hands back 25, 25.0 or "2025-02-01" as it stored them)."""
    *keys, last = (v.isoformat() if isinstance(v, datetime.date) else v for v in row)
    return (*keys, round(Decimal(str(last)) * 100) if money else last)


def _run(statements, using=None):
    with connections[using or "default"].cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def install(schema_editor, *, remove=False):
    """Create (or drop) the triggers; called by the migration."""
    vendor = schema_editor.connection.vendor
    for statement in (remove_sql if remove else install_sql)(vendor):
        schema_editor.execute(statement)


REBUILD_WORK_MEM = "256MB"


def rebuild(using=None):
    """Recompute the summaries from scratch (in the caller's transaction, if any).

    On PostgreSQL the transaction's sorts and hashes get REBUILD_WORK_MEM: at province scale the
    default 4 MB spills the 33 million attendances' aggregate to disk many times over.
    """
    vendor = connections[using or "default"].vendor
    memory = [f"SET LOCAL work_mem = '{REBUILD_WORK_MEM}'"] if vendor == "postgresql" else []
    _run(memory + rebuild_sql(vendor), using)


@contextmanager
def paused():
    """Drop the triggers for a bulk load, then rebuild the summaries and put them back.

    Use inside the load's transaction, so that nobody ever reads stale summaries.
    """
    vendor = connection.vendor
    _run(remove_sql(vendor))
    try:
        yield
    finally:
        rebuild()
        _run(install_sql(vendor))


# Reading ------------------------------------------------------------------------------------------


def add_months(day, months):
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def month_split(start, end):
    """Split [start, end] into whole months, read from the summaries, and the odd days at
    either end, read from the base rows: ((first month, last month) or None, [(from, to), …])."""
    first = start if start.day == 1 else add_months(start, 1)
    last_month_start = end.replace(day=1)
    last = last_month_start if add_months(end, 1) - datetime.timedelta(days=1) == end else None
    if last is None:
        last = add_months(last_month_start, -1)
    if first > last:
        return None, [(start, end)]
    edges = []
    if start < first:
        edges.append((start, first - datetime.timedelta(days=1)))
    if last < last_month_start:
        edges.append((last_month_start, end))
    return (first, last), edges


def whole_months(start, end):
    """The range (start, end) as the summaries can read it: each odd end widened to its whole
    month when the days this adds hold no counted activity, so the counts cannot change.

    A range that runs to today widens to the end of the month: no activity is dated after today
    (the form, the model and the importer refuse it), and the probe makes sure. At province scale
    the odd days of a report "so far this year" cost seconds read from the base rows; the probe
    is one indexed look-up per odd end, and none for a range of whole months.
    """
    from activities.models import Activity

    one_day = datetime.timedelta(days=1)
    first_day, last_day = start.replace(day=1), add_months(end, 1) - one_day
    counted = Activity.objects.counted()
    if start > first_day and not counted.filter(date__range=(first_day, start - one_day)).exists():
        start = first_day
    if end < last_day and not counted.filter(date__range=(end + one_day, last_day)).exists():
        end = last_day
    return start, end


def _live_months(start_end_pairs, field="date"):
    """The Q of the odd days at either end of a range."""
    from django.db.models import Q

    q = Q()
    for first, last in start_end_pairs:
        q |= Q(**{f"{field}__range": (first, last)})
    return q


def activity_counts(pairings, start, end, fields, by=None):
    """{key: [activities, on time, villagers]} of the counted activities of `pairings` (a
    queryset of pairings) from `start` to `end`, the key being the values of `fields` (some of
    "pairing_id", "regime_id", "category", "month"; month as its first day), after those of
    `by(prefix)` when given: {name: expression} of the pairing at `prefix` (its branches'
    counties, say).

    Whole months come from ActivitySummary; the odd days at either end from the activities.
    """
    from django.db.models import CharField, Count, Q, Sum
    from django.db.models.functions import Cast, Substr

    from activities.models import Activity, ActivitySummary
    from pairings.access import pairing_in

    whole, edges = month_split(start, end)
    totals = {}

    def add(key, n, on_time, villagers):
        row = totals.setdefault(key, [0, 0, 0])
        row[0] += n
        row[1] += on_time or 0
        row[2] += villagers or 0

    keys = by("pairing__") if by else {}
    fields = [*keys, *fields]
    if whole:
        rows = (
            ActivitySummary.objects.filter(pairing_in("pairing", pairings), month__range=whole)
            .annotate(**keys)
            .values_list(*fields)
            .annotate(Sum("activities"), Sum("on_time"), Sum("villagers"))
            .order_by()
        )
        for *key, n, on_time, villagers in rows:
            add(tuple(key), n, on_time, villagers)
    if edges:
        live = [f for f in fields if f != "month"]
        rows = (
            Activity.objects.counted()
            .filter(_live_months(edges), pairing_in("pairing", pairings))
            .annotate(ym=Substr(Cast("date", CharField()), 1, 7), **keys)
            .values_list(*live, "ym")
            .annotate(
                n=Count("pk"), timely=Count("pk", filter=Q(on_time=True)), v=Sum("villager_count")
            )
            .order_by()
        )
        for *key, ym, n, on_time, villagers in rows:
            month = datetime.date(int(ym[:4]), int(ym[5:7]), 1)
            values = dict(zip(live, key, strict=True), month=month)
            add(tuple(values[f] for f in fields), n, on_time, villagers)
    return totals


def outcome_totals(pairings, start, end, by=None):
    """{metric id: total} of the outcomes of the counted activities of `pairings`; with `by`
    (as activity_counts() takes it), {(*its values, metric id): total}."""
    from django.db.models import Sum

    from activities.models import Activity, Outcome, OutcomeSummary
    from pairings.access import pairing_in

    whole, edges = month_split(start, end)
    totals = {}

    def grouped(rows, prefix):
        keys = by(prefix) if by else {}
        return rows.annotate(**keys).values_list(*keys, "metric_id")

    if whole:
        rows = OutcomeSummary.objects.filter(pairing_in("pairing", pairings), month__range=whole)
        for *key, total in grouped(rows, "pairing__").annotate(Sum("total")).order_by():
            key = tuple(key) if by else key[0]
            totals[key] = totals.get(key, 0) + total
    if edges:
        activities = Activity.objects.counted().filter(
            _live_months(edges), pairing_in("pairing", pairings)
        )
        rows = Outcome.objects.filter(activity__in=activities.values("pk"))
        for *key, total in grouped(rows, "activity__pairing__").annotate(Sum("value")).order_by():
            key = tuple(key) if by else key[0]
            totals[key] = totals.get(key, 0) + total
    return {k: Decimal(v).quantize(Decimal("0.01")) for k, v in totals.items()}


def _took_part(rows, start, end, *, in_pairing):
    """`rows` (ParticipantYear) narrowed to the members who took part from start to end: a whole
    month's bit is set, or they took part on the odd days at either end (a lookup of the
    participations, made only for the rows whose months do not already count; in the row's
    pairing only, if `in_pairing`)."""
    from django.db.models import Exists, F, OuterRef, Q

    from activities.models import Participation, counted_q

    whole, edges = month_split(start, end)
    one_year = start.year == end.year  # no year tested twice: the planner would count it twice
    rows = (
        rows.filter(year=start.year)
        if one_year
        else rows.filter(year__range=(start.year, end.year))
    )
    condition = Q()
    if whole:
        first, last = whole
        for year in range(first.year, last.year + 1):
            low = first.month if year == first.year else 1
            high = last.month if year == last.year else 12
            months = F("months").bitand((1 << high) - (1 << (low - 1)))
            rows = rows.alias(**{f"in_{year}": months})
            condition |= (Q() if one_year else Q(year=year)) & ~Q(**{f"in_{year}": 0})
    if edges:
        on_edge = Participation.objects.filter(
            counted_q("activity__"),
            _live_months(edges, "activity__date"),
            member=OuterRef("member"),
        )
        if in_pairing:
            on_edge = on_edge.filter(activity__pairing=OuterRef("pairing"))
        condition |= Exists(on_edge)
    return rows.filter(condition)


def participants(members, start, end):
    """How many of `members` (a queryset) took part in a counted activity from start to end.

    A semi-join of the members with their ParticipantYear rows (a row per member, pairing and
    year): no distinct count over the rows, which at province scale took twice as long.
    """
    return took_part(members, start, end).count()


def took_part(members, start, end):
    """Those of `members` (a queryset) who took part in a counted activity from start to end."""
    from django.db.models import Exists, OuterRef

    from activities.models import ParticipantYear

    rows = ParticipantYear.objects.filter(member=OuterRef("pk"))
    return members.filter(Exists(_took_part(rows, start, end, in_pairing=False)))


def pairing_participants(start, end):
    """For a queryset of pairings, `.annotate(n=pairing_participants(start, end))`: how many
    members (not deleted) took part in each pairing's counted activities from start to end, a
    correlated count over the pairing's ParticipantYear rows (an index leads with the pairing).
    """
    from django.db.models import Count, IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from activities.models import ParticipantYear
    from pairings.models import Member

    rows = ParticipantYear.objects.filter(pairing=OuterRef("pk")).exclude(
        member__in=Member.objects.filter(deleted_at__isnull=False).values("pk")
    )
    # One row per member, pairing and year: within a year there is nothing to make distinct.
    counted = Count("member_id", distinct=start.year != end.year)
    rows = _took_part(rows, start, end, in_pairing=True)
    rows = rows.order_by().values("pairing").annotate(n=counted)
    return Coalesce(Subquery(rows.values("n")[:1]), 0, output_field=IntegerField())
