"""The audit log's one writer: `record(event, …)`, and the hooks that call it.

Every row is written in the same transaction as the action it describes, and nothing here
swallows an error: if the row cannot be written, the action fails with it. Sources:
- logins, logouts and failed logins (Django's auth signals), lockouts (django-axes' signal when
  axes is installed; `record_lockout` otherwise), two-factor events (`record_two_factor`);
- every create, change, trash, restore and delete of a history-tracked record, through
  django-simple-history's one signal (role and scope changes are Assignment rows; period
  unlocks are PeriodUnlock rows);
- exports and imports (the views call `record_export` / `record(Kind.IMPORT, …)`), evidence
  downloads, and refused access (access.get_for_user, and every 403 in AuditMiddleware).

The database keeps the rows append-only: PROTECTION_SQL below is installed by migration 0001.
"""

from django.apps import apps
from django.contrib.auth import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import Http404
from simple_history.models import HistoricalRecords
from simple_history.signals import post_create_historical_record

from cobuild.models import AuditEvent

Kind = AuditEvent.Kind
Outcome = AuditEvent.Outcome

# Security events that must outlive the rollback of the request that raised them (a refused
# POST rolls back everything it wrote, its refusal included: AuditMiddleware writes them again).
SURVIVES_ROLLBACK = {Kind.LOGIN_FAILED, Kind.LOCKOUT, Kind.TWO_FACTOR, Kind.REFUSED}

# What the database refuses: any UPDATE, and the DELETE of a row younger than 180 days (the legal
# minimum, fixed here; settings.COBUILD["AUDIT_RETENTION_DAYS"] may only make purge_audit
# stricter). So purge_audit needs no way around the triggers, and nothing else has one.
# TRUNCATE is not a row operation and fires no row trigger: production revokes TRUNCATE on this
# table from the application's role (Django's test flush on PostgreSQL relies on it; on SQLite
# the flush is a DELETE, which tests/conftest.py lets through for transactional tests only).
RETENTION_FLOOR_DAYS = 180
PROTECTION_SQL = {
    "postgresql": (
        [
            """
            CREATE OR REPLACE FUNCTION cobuild_auditevent_protect() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'UPDATE' THEN
                    RAISE EXCEPTION 'audit events are append-only: UPDATE refused';
                END IF;
                IF OLD.time > now() - interval '180 days' THEN
                    RAISE EXCEPTION 'audit events are kept 180 days: DELETE refused';
                END IF;
                RETURN OLD;
            END;
            $$ LANGUAGE plpgsql;
            """,
            """
            CREATE TRIGGER cobuild_auditevent_protect
            BEFORE UPDATE OR DELETE ON cobuild_auditevent
            FOR EACH ROW EXECUTE FUNCTION cobuild_auditevent_protect();
            """,
        ],
        [
            "DROP TRIGGER IF EXISTS cobuild_auditevent_protect ON cobuild_auditevent;",
            "DROP FUNCTION IF EXISTS cobuild_auditevent_protect();",
        ],
    ),
    "sqlite": (
        [
            """
            CREATE TRIGGER cobuild_auditevent_no_update BEFORE UPDATE ON cobuild_auditevent
            BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END;
            """,
            """
            CREATE TRIGGER cobuild_auditevent_no_delete BEFORE DELETE ON cobuild_auditevent
            WHEN OLD.time > datetime('now', '-180 days')
            BEGIN SELECT RAISE(ABORT, 'audit events are kept 180 days: DELETE refused'); END;
            """,
        ],
        [
            "DROP TRIGGER IF EXISTS cobuild_auditevent_no_update;",
            "DROP TRIGGER IF EXISTS cobuild_auditevent_no_delete;",
        ],
    ),
}


def install_protection(schema_editor, *, remove=False):
    """Create (or drop) the append-only triggers on this database."""
    vendor = schema_editor.connection.vendor
    if vendor not in PROTECTION_SQL:
        raise NotImplementedError(f"No append-only protection for the audit log on {vendor}.")
    for statement in PROTECTION_SQL[vendor][1 if remove else 0]:
        schema_editor.execute(statement)


def current_request():
    """The request being served in this thread (django-simple-history's middleware keeps it)."""
    return getattr(HistoricalRecords.context, "request", None)


def _address(request):
    if request is None:
        return None
    from cobuild.security import client_ip  # the one rule for the address behind proxies

    return client_ip(request) or None


def role_label(user):
    """The user's roles as the audit row keeps them (labels joined by 、)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    from pairings import access

    labels = [access.Role(role).label for role in sorted(access.roles_of(user))]
    if user.is_superuser:
        labels.append("超级管理员")
    elif user.is_staff:
        labels.append("系统管理员")
    return "、".join(labels)


def describe(obj):
    """(type, id, text) for an object, read from its own fields: never a query."""
    if obj is None:
        return "", "", ""
    meta = obj._meta
    name = next(
        (
            obj.__dict__[f]
            for f in ("title", "name", "head_name", "username", "original_name", "code")
            if obj.__dict__.get(f)
        ),
        "",
    )
    text = f"{meta.verbose_name}：{name}" if name else f"{meta.verbose_name} #{obj.pk}"
    return meta.label_lower, "" if obj.pk is None else str(obj.pk), text[:200]


def record(
    event,
    *,
    request=None,
    user=None,
    username=None,
    obj=None,
    object_type=None,
    object_id=None,
    object_repr=None,
    outcome=Outcome.SUCCESS,
    **detail,
):
    """Write one audit row now, in the current transaction. Errors propagate: the action fails."""
    request = request if request is not None else current_request()
    if user is None and request is not None:
        candidate = getattr(request, "user", None)
        if candidate is not None and candidate.is_authenticated:
            user = candidate
    described = describe(obj)
    row = AuditEvent(
        event=event,
        user_id=user.pk if user is not None else None,
        username=(username if username is not None else getattr(user, "username", ""))[:150],
        role=role_label(user)[:200],
        ip_address=_address(request),
        object_type=object_type if object_type is not None else described[0],
        object_id=str(object_id if object_id is not None else described[1])[:64],
        object_repr=(object_repr if object_repr is not None else described[2])[:200],
        outcome=outcome,
        detail=detail,
    )
    row.save()
    if request is not None and event in SURVIVES_ROLLBACK and connection.in_atomic_block:
        request.__dict__.setdefault("_audit_survivors", []).append(row)
    if event == Kind.REFUSED and request is not None:
        request._audit_refused = True
    return row


def record_export(request, *, what, title, rows, **detail):
    """An export of list `what` (its Chinese title) with the filters the user chose."""
    query = request.GET.copy()
    for key in ("export", "page"):
        query.pop(key, None)
    filters = query.urlencode()
    return record(
        Kind.EXPORT,
        request=request,
        object_type="list",
        object_id=what,
        object_repr=f"{title}（{filters}）" if filters else title,
        filters={key: query.getlist(key) for key in query},
        rows=rows,
        **detail,
    )


def record_refusal(request=None, *, status, **fields):
    """Access refused by the scope rules (404 out of scope, 403 read-only or wrong role)."""
    request = request if request is not None else current_request()
    where = {"path": request.path, "method": request.method} if request is not None else {}
    return record(
        Kind.REFUSED, request=request, outcome=Outcome.REFUSED, status=status, **where, **fields
    )


def record_lockout(request=None, username="", ip_address=None, **detail):
    """A locked-out account (django-axes' user_locked_out signal calls this)."""
    return record(
        Kind.LOCKOUT,
        request=request,
        username=username or "",
        outcome=Outcome.REFUSED,
        **({"ip": ip_address} if ip_address else {}),
    )


def record_two_factor(request, *, user, action, ok):
    """A two-factor event: action such as "verify", "enrol", "remove"; ok whether it succeeded."""
    return record(
        Kind.TWO_FACTOR,
        request=request,
        user=user,
        outcome=Outcome.SUCCESS if ok else Outcome.FAILURE,
        action=action,
    )


# Signal receivers ------------------------------------------------------------------------------


def _logged_in(sender, request, user, **kwargs):
    record(Kind.LOGIN, request=request, user=user)


def _logged_out(sender, request, user, **kwargs):
    record(Kind.LOGOUT, request=request, user=user)


def _login_failed(sender, credentials, request=None, **kwargs):
    record(
        Kind.LOGIN_FAILED,
        request=request,
        username=str(credentials.get("username", "")),
        outcome=Outcome.FAILURE,
    )


CHANGE_REASON_EVENTS = {"移入回收站": Kind.TRASH, "从回收站恢复": Kind.RESTORE}
HISTORY_ACTIONS = {"+": "create", "~": "change", "-": "delete"}


def _history_recorded(sender, instance, history_instance, history_user, **kwargs):
    """Every create, change and delete of a history-tracked record: the one hook."""
    action = HISTORY_ACTIONS[history_instance.history_type]
    reason = history_instance.history_change_reason or ""
    label = instance._meta.label_lower
    detail = {"action": action, "history_id": history_instance.pk}
    if reason:
        detail["reason"] = reason
    if label == "pairings.assignment":
        event = Kind.ROLE_CHANGE
        detail |= {
            "target_user_id": instance.user_id,
            "role": instance.role,
            "organization_id": instance.organization_id,
        }
    elif label == "activities.periodunlock" and action == "create":
        event = Kind.PERIOD_UNLOCK
        detail |= {"branch_id": instance.branch_id, "period": str(instance.period)}
    elif action == "change":
        event = CHANGE_REASON_EVENTS.get(reason, Kind.CHANGE)
    else:
        event = Kind.CREATE if action == "create" else Kind.DELETE
    record(event, user=history_user, obj=instance, **detail)


USER_PRIVILEGES = ("is_active", "is_staff", "is_superuser")


def _user_saved(sender, instance, created, update_fields=None, **kwargs):
    """Accounts are not history-tracked: their creation and changes are recorded here, with the
    privileges they hold afterwards. A login's last_login stamp is not a change."""
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    record(
        Kind.CREATE if created else Kind.CHANGE,
        obj=instance,
        **{field: getattr(instance, field) for field in USER_PRIVILEGES},
    )


def _user_deleted(sender, instance, **kwargs):
    record(Kind.DELETE, obj=instance)


def _permissions_changed(sender, instance, action, pk_set, model, **kwargs):
    """Groups and permissions given to or taken from a user or group: a role change."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    record(
        Kind.ROLE_CHANGE,
        obj=instance,
        action=action.removeprefix("post_"),
        related=model._meta.label_lower,
        ids=sorted(pk_set or []),
    )


def connect_signals():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user_model = get_user_model()
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="cobuild_audit_user_saved")
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid="cobuild_audit_user_deleted")
    for through in (
        user_model.groups.through,
        user_model.user_permissions.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(
            _permissions_changed, sender=through, dispatch_uid=f"cobuild_audit_{through.__name__}"
        )
    user_logged_in.connect(_logged_in, dispatch_uid="cobuild_audit_login")
    user_logged_out.connect(_logged_out, dispatch_uid="cobuild_audit_logout")
    user_login_failed.connect(_login_failed, dispatch_uid="cobuild_audit_login_failed")
    post_create_historical_record.connect(_history_recorded, dispatch_uid="cobuild_audit_history")
    if not apps.is_installed("axes"):  # django-axes not in use: its lockouts are wired when it is
        return
    from axes.signals import user_locked_out

    user_locked_out.connect(
        lambda sender, **kw: record_lockout(**kw), weak=False, dispatch_uid="cobuild_audit_lockout"
    )


def reads_only(view):
    """Mark a POST view that writes nothing to the database (an import preview): it runs
    outside the request transaction, so on SQLite it does not hold the write lock while it
    parses a workbook."""
    view.reads_only = True
    return view


class AuditMiddleware:
    """Writes run in one transaction with their audit rows, and every 403 is recorded.

    Requests that may write (not GET/HEAD/OPTIONS) run their view in transaction.atomic, so a
    record that cannot be written undoes the action that caused it. A refused request (404 or
    403) rolls back what it wrote; its security rows are written again after the rollback.
    Must come last in MIDDLEWARE: it calls the view itself.
    """

    SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method in self.SAFE_METHODS or getattr(view_func, "reads_only", False):
            return None
        try:
            with transaction.atomic():
                return view_func(request, *view_args, **view_kwargs)
        except (Http404, PermissionDenied) as refusal:
            for row in request.__dict__.pop("_audit_survivors", []):
                row.pk = None
                row.save()
            if isinstance(refusal, PermissionDenied):
                self._refused(request, refusal)
            raise

    def process_exception(self, request, exception):
        if isinstance(exception, PermissionDenied):
            self._refused(request, exception)

    def _refused(self, request, exception):
        if not getattr(request, "_audit_refused", False):
            record_refusal(request, status=403, message=str(exception)[:200])
