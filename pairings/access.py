"""Who may see and change what: the one place every view, export, download and report asks.

A user's scope comes from their assignments (organization + role):
- county staff, supervisors and viewers reach everything under their organization, and every
  pairing one of whose branches lies there;
- a branch secretary reaches their branch, its pairings, and the partner branches of those;
- auditors reach no domain data at all (they read the audit trail only).
County staff, supervisors and secretaries may change what they reach; viewers only read.
Out of scope is a 404 (existence is never revealed); in scope but read-only is a 403.
"""

from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet, PermissionDenied
from django.db import connections
from django.db.models import F, Func, Q
from django.db.models.lookups import In
from django.http import Http404
from django.shortcuts import get_object_or_404

from cobuild import audit
from pairings.models import ADMIN_ROLES, Assignment, Member, Organization, Pairing

Role = Assignment.Role
SUBTREE_ROLES = {Role.COUNTY_STAFF, Role.SUPERVISOR, Role.VIEWER}
WRITE_ROLES = {Role.COUNTY_STAFF, Role.SUPERVISOR, Role.SECRETARY}

# How each model reaches its scope: through a pairing, or through an organization.
# The value is the lookup prefix from the model to that pairing or organization.
PAIRING_SCOPED = {
    "pairings.pairing": [""],
    "pairings.pairingsuspension": ["pairing__"],
    "activities.activity": ["pairing__"],
    "activities.participation": ["activity__pairing__"],
    "activities.outcome": ["activity__pairing__"],
    "activities.inspection": ["pairing__"],
    "activities.inspectionscore": ["inspection__pairing__"],
    "activities.rectification": ["inspection__pairing__"],
    "activities.need": ["pairing__"],
    "activities.commitment": ["pairing__"],
    "activities.evidence": [
        "activity__pairing__",
        "commitment__pairing__",
        "rectification__inspection__pairing__",
    ],
}
ORGANIZATION_SCOPED = {
    "pairings.organization": [""],
    "pairings.member": ["branch__"],
    "pairings.household": ["village__"],
    # One-helps-one: the household's village, or the helping member's own branch.
    "pairings.helppairing": ["household__village__", "member__branch__"],
    "pairings.householdvisit": [
        "help_pairing__household__village__",
        "help_pairing__member__branch__",
    ],
    "activities.periodfigure": ["organization__"],
    "activities.periodunlock": ["branch__"],
}


@dataclass(frozen=True)
class Scope:
    roles: frozenset
    read_paths: tuple  # subtree roots (materialized paths) the user reads
    write_paths: tuple
    read_branches: frozenset  # branch ids a secretary holds
    write_branches: frozenset
    titles: tuple = ()  # (organization name, role label) of each assignment, for the greeting

    @property
    def is_empty(self):
        return not (self.read_paths or self.read_branches)


def scope_of(user):
    """The user's scope, read once per request (cached on the user object)."""
    if not user.is_authenticated or not user.is_active:
        return Scope(frozenset(), (), (), frozenset(), frozenset())
    cached = getattr(user, "_cobuild_scope", None)
    if cached is not None:
        return cached
    assigned = list(
        Assignment.objects.filter(user=user, organization__deleted_at__isnull=True)
        .order_by("pk")
        .values_list("role", "organization_id", "organization__path", "organization__name")
    )
    rows = [(role, org, path) for role, org, path, _ in assigned]
    roles = frozenset(role for role, _, _ in rows)
    scope = Scope(
        roles=roles,
        read_paths=tuple(sorted({path for role, _, path in rows if role in SUBTREE_ROLES})),
        write_paths=tuple(
            sorted({path for role, _, path in rows if role in SUBTREE_ROLES & WRITE_ROLES})
        ),
        read_branches=frozenset(org for role, org, _ in rows if role == Role.SECRETARY),
        write_branches=frozenset(org for role, org, _ in rows if role == Role.SECRETARY),
        titles=tuple((name, Role(role).label) for role, _, _, name in assigned),
    )
    user._cobuild_scope = scope
    return scope


def roles_of(user):
    return scope_of(user).roles


# The 三员 (separation of duties): the system administrator keeps accounts and configuration in
# the Django admin (a superuser counts as one), the security administrator grants roles and
# scopes; the auditor (审计管理员) reads the audit trail. One account holds at most one of them.
def admin_roles_of(user):
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    roles = scope_of(user).roles & set(ADMIN_ROLES)
    if user.is_superuser:
        roles |= {Role.SYSTEM_ADMIN}
    return frozenset(roles)


def is_system_admin(user):
    return Role.SYSTEM_ADMIN in admin_roles_of(user)


def is_security_admin(user):
    return Role.SECURITY_ADMIN in admin_roles_of(user)


def _paths_q(field, paths):
    q = Q(pk__in=[])
    for path in paths:
        q |= Q(**{f"{field}__path__startswith": path}) if field else Q(path__startswith=path)
    return q


def pairing_q(user, prefix="", *, write=False):
    """A filter for pairings (reached through `prefix`) that the user may read or change."""
    scope = scope_of(user)
    paths = scope.write_paths if write else scope.read_paths
    branches = scope.write_branches if write else scope.read_branches
    q = _paths_q(f"{prefix}helper", paths) | _paths_q(f"{prefix}helped", paths)
    if branches:
        q |= Q(**{f"{prefix}helper__in": branches}) | Q(**{f"{prefix}helped__in": branches})
    return q


def organization_q(user, prefix="", *, write=False):
    """A filter for organizations (reached through `prefix`) that the user may read or change.

    Readers also reach the partner branches of the pairings they read; writers change only what
    lies under their own organization or is their own branch.
    """
    scope = scope_of(user)
    paths = scope.write_paths if write else scope.read_paths
    branches = scope.write_branches if write else scope.read_branches
    field = prefix.removesuffix("__")
    q = _paths_q(field, paths)
    if branches:
        q |= Q(**{f"{prefix}pk__in" if prefix else "pk__in": branches})
    if not write and not scope.is_empty:
        partners = Pairing.objects.alive().filter(pairing_q(user))
        id_field = f"{prefix}pk__in" if prefix else "pk__in"
        q |= Q(**{id_field: partners.values("helper_id")}) | Q(
            **{id_field: partners.values("helped_id")}
        )
    return q


class _Unindexed(Func):
    """A column tested row by row: SQLite's unary `+`, which keeps its planner from picking the
    column's index (on PostgreSQL, whose planner weighs the alternatives, the column itself)."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="+%(expressions)s", **extra)


def _alive_chain_q(model, prefix):
    """Every row on the way from `model` through `prefix` is out of the trash."""
    q = Q()
    path = ""
    for name in prefix.removesuffix("__").split("__") if prefix else []:
        model = model._meta.get_field(name).related_model
        path += f"{name}__"
        if any(f.name == "deleted_at" for f in model._meta.fields):
            q &= Q(**{f"{path}deleted_at__isnull": True})
    return q


def _scope_q(user, model, *, write, row_by_row=False):
    """Rows reached through any of the model's routes to a pairing or organization in scope.

    Along a route, every owner must be out of the trash: the evidence of an activity in the
    trash, or the activities of a pairing in the trash, are out of everyone's scope. A route
    through a pairing tests the pairing's id against the alive pairings in scope, which also
    keeps the trashed pairing out (with no join to it). `row_by_row`: see `readable`.
    """
    label = model._meta.label_lower
    if label in PAIRING_SCOPED:
        routes, scope_of_route = PAIRING_SCOPED[label], pairing_q
    elif label in ORGANIZATION_SCOPED:
        routes, scope_of_route = ORGANIZATION_SCOPED[label], organization_q
    else:
        raise LookupError(f"No scope rule for {label}")
    q = Q(pk__in=[])
    for prefix in routes:
        if scope_of_route is pairing_q and prefix:
            # Through the pairing's id: the database walks the (indexed) foreign key from a
            # short list of pairings instead of joining every row to its pairing.
            pairings = Pairing.objects.alive().filter(pairing_q(user, write=write))
            column = prefix.removesuffix("__")
            if row_by_row:
                route = Q(In(_Unindexed(F(column)), pairings.values("pk")))
            else:
                route = Q(**{f"{column}__in": pairings.values("pk")})
            owners = prefix.removesuffix("pairing__")  # the pairing is alive by the subquery
        else:
            route = scope_of_route(user, prefix, write=write)
            owners = prefix
        q |= route & _alive_chain_q(model, owners)
    return q


def _alive(queryset):
    if hasattr(queryset, "alive"):
        return queryset.alive()
    return queryset


def readable(user, queryset, *, row_by_row=False):
    """The rows of `queryset` the user may read (trashed rows excluded).

    Every scope lookup follows forward foreign keys only, so no row is duplicated.
    `row_by_row=True` tests the scope's pairings on each row instead of looking the rows up by
    them: for a list that walks another index (the newest first) through a scope so wide that
    SQLite would otherwise read all of its rows by pairing and sort them (cobuild/pagination.py).
    """
    if scope_of(user).is_empty:
        return queryset.none()
    scope = _scope_q(user, queryset.model, write=False, row_by_row=row_by_row)
    return _alive(queryset).filter(scope)


def writable(user, queryset):
    """The rows of `queryset` the user may change."""
    scope = scope_of(user)
    if not (scope.write_paths or scope.write_branches):
        return queryset.none()
    return _alive(queryset).filter(_scope_q(user, queryset.model, write=True))


def trashed(user, queryset):
    """Rows in the trash that the user may restore: county staff, within their scope."""
    if not is_county_staff(user):
        return queryset.none()
    return queryset.trashed().filter(_scope_q(user, queryset.model, write=True))


def get_for_user(user, queryset, *, write=False, **lookup):
    """One object the user may read (else 404); with write=True, also change (else 403).

    Either refusal is written to the audit log before it is raised.
    """
    obj = get_in_scope(user, readable(user, queryset), **lookup)
    if write and not writable(user, queryset).filter(pk=obj.pk).exists():
        audit.record_refusal(status=403, user=user, obj=obj)
        raise PermissionDenied("您只能查看，无权修改。")
    return obj


def get_in_scope(user, queryset, **lookup):
    """One object of a queryset already narrowed to what the user may reach, else a 404 that is
    written to the audit log (for objects outside the pairing and organization rules: reports,
    the trash, one's own reminders and imports)."""
    try:
        return get_object_or_404(queryset, **lookup)
    except Http404:
        audit.record_refusal(
            status=404,
            user=user,
            object_type=queryset.model._meta.label_lower,
            object_id=",".join(str(v) for v in lookup.values()),
            object_repr=str(queryset.model._meta.verbose_name),
        )
        raise


def supervising_org_id(user, pairing):
    """The deepest organization over `pairing` where the user is county staff or supervisor."""
    paths = (pairing.helper.path, pairing.helped.path)
    best = None
    for org_id, path in Assignment.objects.filter(
        user=user, role__in=[Role.COUNTY_STAFF, Role.SUPERVISOR]
    ).values_list("organization_id", "organization__path"):
        if any(p.startswith(path) for p in paths) and (best is None or len(path) > len(best[1])):
            best = (org_id, path)
    return best[0] if best else None


def can_write(user, obj):
    return writable(user, type(obj)._default_manager.all()).filter(pk=obj.pk).exists()


def pairings_under(org, pairings=None):
    """The pairings (of `pairings`, out of the trash) one of whose branches lies under `org`."""
    pairings = Pairing.objects.all() if pairings is None else pairings
    return pairings.alive().filter(
        Q(helper__path__startswith=org.path) | Q(helped__path__startswith=org.path)
    )


def whole_subtrees(user, org=None):
    """The paths whose subtrees hold exactly the pairings the user reads (under `org`, if
    given), or None when they do not: the user also reads a branch of their own (a secretary),
    or `org` lies outside the subtrees the user reads."""
    scope = scope_of(user)
    if org is not None:
        return (org.path,) if any(org.path.startswith(p) for p in scope.read_paths) else None
    return None if scope.read_branches else scope.read_paths


def pairing_ids_under(*orgs):
    """The ids of the pairings under any of `orgs` (pairings_under(org) of each), in one query
    that reads the subtrees' organizations by their path index instead of joining every pairing
    to both branches (a province's 30,000), and the pairings of each side by its branch index:
    as one test of either side, PostgreSQL read all of a province's pairings for each county
    (9 ms; 2–4 ms so)."""
    subtree = Organization.objects.under(*orgs).order_by().values("pk")
    alive = Pairing.objects.alive()
    helping = alive.filter(helper__in=subtree).values_list("pk", flat=True)
    helped = alive.filter(helped__in=subtree).values_list("pk", flat=True)
    return list(helping.union(helped))


# A list of ids as one parameter, and the subquery that yields them back.
ID_LISTS = {
    "postgresql": ("{{{}}}", "SELECT unnest(%s::bigint[])"),
    "sqlite": ("[{}]", "SELECT value FROM json_each(%s)"),
}


def _id_list(ids, vendor):
    """(subquery SQL, parameter) yielding `ids`: an array for PostgreSQL, JSON for SQLite."""
    text, sql = ID_LISTS[vendor]
    return sql, text.format(",".join(str(int(pk)) for pk in ids))


class _AnyOf(In):
    """`in` a list of ids, sent as one parameter (PostgreSQL's `= ANY(array)`, SQLite's
    `json_each`): a county's 300 ids, in each of a part's fifteen queries, cost more to compile,
    quote and parse as separate parameters than the queries took to run."""

    def as_postgresql(self, compiler, connection):
        if not self.rhs:
            return super().as_sql(compiler, connection)  # nothing matches, as for `in`
        lhs, params = self.process_lhs(compiler, connection)
        _, ids = _id_list(self.rhs, connection.vendor)
        return f"{lhs} = ANY(%s::bigint[])", (*params, ids)

    def as_sqlite(self, compiler, connection):
        if not self.rhs:
            return super().as_sql(compiler, connection)
        lhs, params = self.process_lhs(compiler, connection)
        sql, ids = _id_list(self.rhs, connection.vendor)
        return f"{lhs} IN ({sql})", (*params, ids)


def pairings_with_ids(ids):
    """The pairings whose ids are in `ids` (a list), as a queryset that pairing_in() knows."""
    pairings = Pairing.objects.filter(_AnyOf(F("pk"), ids))
    pairings.listed_ids = ids  # a filtered copy does not carry them: it holds fewer pairings
    return pairings


def pairing_in(field, pairings):
    """The condition that `field` (a pairing's id) is one of `pairings` (a queryset). Over the
    pairings of pairings_with_ids it tests the ids themselves, which an index leading with
    `field` serves: as a subquery of the pairings, PostgreSQL met a county's summaries in a
    city by reading the whole city's months (a county's activity counts 26 → 6.5 ms)."""
    ids = getattr(pairings, "listed_ids", None)
    if ids is not None:
        return _AnyOf(F(field), ids)
    return Q(**{f"{field}__in": pairings.values("pk")})


def pairing_ids_sql(pairings, using):
    """(SQL, params) of a subquery that yields the ids of `pairings` (a queryset), for raw SQL.
    Over the pairings of pairings_with_ids it yields the ids themselves, as pairing_in() tests
    them: as a subquery of the pairings, SQLite met a county's roll-up in a city by reading the
    city's summaries (139 ms where the county alone took 23). Raises EmptyResultSet for none."""
    ids = getattr(pairings, "listed_ids", None)
    if ids is None:
        return pairings.values("pk").query.get_compiler(using).as_sql()
    if not ids:
        raise EmptyResultSet
    sql, param = _id_list(ids, connections[using].vendor)
    return sql, [param]


def readable_in(pairings, queryset):
    """The rows of `queryset` that belong to `pairings`: pairings the user reads, as loaded from
    visible_pairings(user). They are the rows readable(user, queryset) holds of those pairings,
    found by the pairings' ids alone: the user's scope, already applied to the pairings, is not
    applied again (a secretary's home spent more time planning its lists' scope joins than
    running them)."""
    model = queryset.model
    ids = [pairing.pk for pairing in pairings]
    q = Q(pk__in=[])
    for prefix in PAIRING_SCOPED[model._meta.label_lower]:
        column = prefix.removesuffix("__") or "pk"
        q |= Q(_AnyOf(F(column), ids)) & _alive_chain_q(model, prefix.removesuffix("pairing__"))
    return _alive(queryset).filter(q)


def organizations_under_scope(user):
    """The organizations under the user's subtree roles (not partners, not a secretary's branch)."""
    return Organization.objects.alive().filter(_paths_q("", scope_of(user).read_paths))


def visible_scopes(user):
    """The organizations above the branches that the user reads (the county, townships,
    committees): the scopes of the dashboard and the compliance pages. The partners a reader
    reaches through pairings are branches (Pairing.clean), so these are the non-branch
    organizations under the user's subtrees, found without a look at the pairings."""
    return organizations_under_scope(user).exclude(kind__in=Organization.BRANCH_KINDS)


def visible_organizations(user):
    return readable(user, Organization.objects.all())


def visible_pairings(user):
    return readable(user, Pairing.objects.with_branches())


def visible_members(user):
    return readable(user, Member.objects.select_related("branch"))


def oversees(user, pairing):
    """Whether the user changes this pairing as county staff or supervisor (not as secretary)."""
    paths = scope_of(user).write_paths
    return any(
        branch.path.startswith(path)
        for path in paths
        for branch in (pairing.helper, pairing.helped)
    )


def can_commit(user, pairing):
    """Practical deeds are committed by the helping side (or by those who oversee the pairing)."""
    return pairing.helper_id in scope_of(user).write_branches or oversees(user, pairing)


def is_county_staff(user):
    return Role.COUNTY_STAFF in scope_of(user).roles


def is_audit_admin(user):
    """The audit administrator (审计管理员): the only one who searches and exports the audit log."""
    return Role.AUDITOR in scope_of(user).roles


def phone_for(user, member):
    """A member's phone as this user may see it, on pages and in exports alike.

    County staff and the secretaries of the member's own branch see the number; everyone else
    sees it masked (138****5678).
    """
    if not member.phone:
        return ""
    scope = scope_of(user)
    if Role.COUNTY_STAFF in scope.roles or member.branch_id in scope.write_branches:
        return member.phone
    return member.masked_phone


@dataclass(frozen=True)
class ActivityPermissions:
    edit: bool = False
    confirm: bool = False
    trash: bool = False
    restore: bool = False


def activity_permissions(user, activity, *, locked):
    """What the user may do with an activity they can read.

    The logging side edits and submits drafts and returned activities; the other side confirms or
    returns what was submitted; supervisors and county staff over the pairing may do both, also in
    a locked period. Secretaries cannot change a locked period. Only county staff restore.
    """
    scope = scope_of(user)
    over = oversees(user, activity.pairing)
    own = scope.write_branches
    logger_side = activity.logged_by_branch_id in own
    partner_side = bool((activity.pairing.branch_ids - {activity.logged_by_branch_id}) & own)
    open_for_user = over or not locked
    Status = type(activity).Status
    editable = activity.status in (Status.DRAFT, Status.RETURNED)
    if activity.in_trash:
        return ActivityPermissions(restore=is_county_staff(user) and over)
    return ActivityPermissions(
        edit=editable and (logger_side or over) and open_for_user,
        confirm=activity.status == Status.SUBMITTED and (partner_side or over) and open_for_user,
        trash=(
            (editable and logger_side and not locked)
            or (over and (activity.status != Status.CONFIRMED or is_county_staff(user)))
        ),
    )
