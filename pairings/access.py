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

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404

from pairings.models import Assignment, Member, Organization, Pairing

Role = Assignment.Role
SUBTREE_ROLES = {Role.COUNTY_STAFF, Role.SUPERVISOR, Role.VIEWER}
WRITE_ROLES = {Role.COUNTY_STAFF, Role.SUPERVISOR, Role.SECRETARY}

# How each model reaches its scope: through a pairing, or through an organization.
# The value is the lookup prefix from the model to that pairing or organization.
PAIRING_SCOPED = {
    "pairings.pairing": [""],
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
    "pairings.organization": "",
    "pairings.member": "branch__",
    "pairings.household": "village__",
    "pairings.helppairing": "household__village__",
    "activities.periodfigure": "organization__",
    "activities.periodunlock": "branch__",
}


@dataclass(frozen=True)
class Scope:
    roles: frozenset
    read_paths: tuple  # subtree roots (materialized paths) the user reads
    write_paths: tuple
    read_branches: frozenset  # branch ids a secretary holds
    write_branches: frozenset

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
    rows = list(
        Assignment.objects.filter(user=user, organization__deleted_at__isnull=True).values_list(
            "role", "organization_id", "organization__path"
        )
    )
    roles = frozenset(role for role, _, _ in rows)
    scope = Scope(
        roles=roles,
        read_paths=tuple(sorted({path for role, _, path in rows if role in SUBTREE_ROLES})),
        write_paths=tuple(
            sorted({path for role, _, path in rows if role in SUBTREE_ROLES & WRITE_ROLES})
        ),
        read_branches=frozenset(org for role, org, _ in rows if role == Role.SECRETARY),
        write_branches=frozenset(org for role, org, _ in rows if role == Role.SECRETARY),
    )
    user._cobuild_scope = scope
    return scope


def roles_of(user):
    return scope_of(user).roles


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


def _scope_q(user, model, *, write):
    label = model._meta.label_lower
    if label in PAIRING_SCOPED:
        q = Q(pk__in=[])
        for prefix in PAIRING_SCOPED[label]:
            q |= pairing_q(user, prefix, write=write)
        return q
    if label in ORGANIZATION_SCOPED:
        return organization_q(user, ORGANIZATION_SCOPED[label], write=write)
    raise LookupError(f"No scope rule for {label}")


def _alive(queryset):
    if hasattr(queryset, "alive"):
        return queryset.alive()
    return queryset


def readable(user, queryset):
    """The rows of `queryset` the user may read (trashed rows excluded).

    Every scope lookup follows forward foreign keys only, so no row is duplicated.
    """
    if scope_of(user).is_empty:
        return queryset.none()
    return _alive(queryset).filter(_scope_q(user, queryset.model, write=False))


def writable(user, queryset):
    """The rows of `queryset` the user may change."""
    scope = scope_of(user)
    if not (scope.write_paths or scope.write_branches):
        return queryset.none()
    return _alive(queryset).filter(_scope_q(user, queryset.model, write=True))


def get_for_user(user, queryset, *, write=False, **lookup):
    """One object the user may read (else 404); with write=True, also change (else 403)."""
    obj = get_object_or_404(readable(user, queryset), **lookup)
    if write and not writable(user, queryset).filter(pk=obj.pk).exists():
        raise PermissionDenied("您只能查看，无权修改。")
    return obj


def can_write(user, obj):
    return writable(user, type(obj)._default_manager.all()).filter(pk=obj.pk).exists()


def visible_organizations(user):
    return readable(user, Organization.objects.all())


def visible_pairings(user):
    return readable(user, Pairing.objects.with_branches())


def visible_members(user):
    return readable(user, Member.objects.select_related("branch"))
