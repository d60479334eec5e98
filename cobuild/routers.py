"""Reports read from a read-only copy of the database when one is configured.

With `REPORTS_DATABASE_URL` set, settings add a "reports" alias and this router. Code that only
reads to report (the dashboards, the compliance views, the situation report's draft) runs inside
`reporting()`; there, reads of the domain models (organizations, members, pairings, activities
and what hangs off them) go to the copy. Every write, and every read elsewhere — a secretary's
own pages, sessions, users, the reports' own saved texts — stays on the primary, so nobody
misses what they have just saved.
"""

import contextvars
import functools
from contextlib import contextmanager

ALIAS = "reports"
DOMAIN_APPS = {"pairings", "activities"}

_reporting = contextvars.ContextVar("cobuild_reporting", default=False)


@contextmanager
def reporting():
    token = _reporting.set(True)
    try:
        yield
    finally:
        _reporting.reset(token)


def reads_for_reports(function):
    """Run `function` (a view or a report builder) inside `reporting()`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with reporting():
            return function(*args, **kwargs)

    return wrapper


# Who may see what is decided on the primary: a role taken away counts at once, however far
# the copy lags behind.
ACCESS_MODELS = {"assignment", "usersecurity", "usersession"}


class ReportsRouter:
    def db_for_read(self, model, **hints):
        meta = model._meta
        name = meta.model_name.removeprefix("historical")
        if _reporting.get() and meta.app_label in DOMAIN_APPS and name not in ACCESS_MODELS:
            return ALIAS
        return None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the copy holds the same rows as the primary

    def allow_migrate(self, db, app_label, **hints):
        return db == "default"
