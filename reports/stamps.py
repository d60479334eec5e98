"""Stamps: a token per county that the database replaces whenever the county's figures may change.

reports.parts keeps each county's figures in the cache under its stamp. Row triggers on every
table the figures read give the county of the written row a new random token in the writing
transaction, so a part cached under the old token is never read again: whatever writes (a form,
the workflow, the importer, the admin, a queryset update), no reader sees a stale part.

County 0 is the whole installation's stamp: regimes with their cadences and metrics change every
county's figures, and so does an organization's write that may change which county a branch lies
in (a path, a kind, the trash, a county itself, an organization in no county); any other write to
an organization renews its own county and its partners' counties. County
-1 is the stamp of the figures entered per organization, renewed by every write to them: the
figures a city or province enters for itself lie in no county, and reports.parts keeps a wide
scope's sums, which hold them, under it too.

The same statements serve SQLite and PostgreSQL; only the random token differs.
"""

from contextlib import contextmanager

from django.db import connection

from activities import summaries

GLOBAL = 0
ENTERED = -1

TOKEN = {
    "sqlite": "lower(hex(randomblob(8)))",
    "postgresql": "md5(random()::text || clock_timestamp()::text)",
}

# An organization's county: the county-kind organization whose path begins its path.
_BUMP_COUNTIES = """INSERT INTO reports_stamp (county, token)
    SELECT c.id, {token} FROM pairings_organization c
    WHERE c.kind = 'county' AND EXISTS (
        SELECT 1 FROM pairings_organization o
        WHERE o.id IN ({orgs}) AND substr(o.path, 1, length(c.path)) = c.path)
    ON CONFLICT (county) DO UPDATE SET token = excluded.token"""

_BUMP_GLOBAL = """INSERT INTO reports_stamp (county, token) VALUES ({county}, {token})
    ON CONFLICT (county) DO UPDATE SET token = excluded.token"""

# A county gets its stamp when it is made: a wide scope adds up only counties with a stamp.
_STAMP_NEW_COUNTY = """INSERT INTO reports_stamp (county, token) SELECT NEW.id, {token}
    WHERE NEW.kind = 'county'
    ON CONFLICT (county) DO UPDATE SET token = excluded.token"""

_PAIRING_BRANCHES = (
    "SELECT p.helper_id FROM pairings_pairing p WHERE p.id = {pairing} "
    "UNION SELECT p.helped_id FROM pairings_pairing p WHERE p.id = {pairing}"
)

# A branch and its partners: a county's part counts the members of both branches of its
# pairings, so a member's write changes the counties of every pairing of the member's branch.
_BRANCH_AND_PARTNERS = (
    "SELECT {branch} UNION SELECT p.helped_id FROM pairings_pairing p WHERE p.helper_id = {branch} "
    "UNION SELECT p.helper_id FROM pairings_pairing p WHERE p.helped_id = {branch}"
)

# An organization's write changes every county only when it may change which county a branch
# lies in, or which organizations are counties: the layout reports.parts reads (a row that is a
# county or lies in no county, such as a city; a change of path, kind or trash; a hard delete).
# Any other write (a name, a code, a sector, a child added under it) changes its own county's
# figures and, through pairings across a county line, its partners' counties'.
_BUMP_GLOBAL_WHEN = """INSERT INTO reports_stamp (county, token) SELECT {county}, {token}
    WHERE {condition}
    ON CONFLICT (county) DO UPDATE SET token = excluded.token"""
_COUNTY_OR_NO_COUNTY = (
    "{r}.kind = 'county' OR NOT EXISTS (SELECT 1 FROM pairings_organization c "
    "WHERE c.kind = 'county' AND substr({r}.path, 1, length(c.path)) = c.path)"
)
_LAYOUT_CHANGED = {
    "INSERT": _COUNTY_OR_NO_COUNTY.format(r="NEW"),
    "UPDATE": " OR ".join(
        [
            "OLD.path <> NEW.path",
            "OLD.kind <> NEW.kind",
            "(OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)",
            _COUNTY_OR_NO_COUNTY.format(r="OLD"),
            _COUNTY_OR_NO_COUNTY.format(r="NEW"),
        ]
    ),
    "DELETE": "1 = 1",
}
_ORGANIZATION_AND_PARTNERS = _BRANCH_AND_PARTNERS.format(branch="{r}.id")

# table → the organization ids (SQL, `{r}` the row) whose counties a write to a row changes;
# None for the tables that change every county.
TABLES = {
    "activities_activitysummary": _PAIRING_BRANCHES.format(pairing="{r}.pairing_id"),
    "activities_outcomesummary": _PAIRING_BRANCHES.format(pairing="{r}.pairing_id"),
    # A member's months count where the member is now (their branch and its partners), whatever
    # the pairing they took part in.
    "activities_participantyear": _PAIRING_BRANCHES.format(pairing="{r}.pairing_id")
    + " UNION "
    + _BRANCH_AND_PARTNERS.format(
        branch="(SELECT m.branch_id FROM pairings_member m WHERE m.id = {r}.member_id)"
    ),
    "activities_commitment": _PAIRING_BRANCHES.format(pairing="{r}.pairing_id"),
    "activities_inspection": _PAIRING_BRANCHES.format(pairing="{r}.pairing_id"),
    "activities_rectification": _PAIRING_BRANCHES.format(
        pairing="(SELECT i.pairing_id FROM activities_inspection i WHERE i.id = {r}.inspection_id)"
    ),
    "pairings_pairingsuspension": _PAIRING_BRANCHES.format(pairing="{r}.pairing_id"),
    "pairings_pairing": "{r}.helper_id, {r}.helped_id",
    "pairings_member": _BRANCH_AND_PARTNERS.format(branch="{r}.branch_id"),
    "activities_periodfigure": "{r}.organization_id",
    "pairings_organization": _ORGANIZATION_AND_PARTNERS,
    "activities_regime": None,
    "activities_regimecadence": None,
    "activities_metric": None,
}

EVENTS = {"INSERT": ["NEW"], "UPDATE": ["OLD", "NEW"], "DELETE": ["OLD"]}


def triggers(vendor):
    """[(name, table, event, None, [statements])] for this database, as summaries.triggers()."""
    token = TOKEN[vendor]
    found = []
    for table, orgs in TABLES.items():
        for event, rows in EVENTS.items():
            if orgs is None:
                body = [_BUMP_GLOBAL.format(county=GLOBAL, token=token)]
            elif table == "pairings_organization":
                body = [
                    _BUMP_GLOBAL_WHEN.format(
                        county=GLOBAL, token=token, condition=_LAYOUT_CHANGED[event]
                    )
                ]
                if event != "DELETE":  # a deleted row is gone: the installation's stamp only
                    body.append(_BUMP_COUNTIES.format(token=token, orgs=orgs.format(r="NEW")))
                    body.append(_STAMP_NEW_COUNTY.format(token=token))
            else:
                body = [_BUMP_COUNTIES.format(token=token, orgs=orgs.format(r=r)) for r in rows]
                if table == "activities_periodfigure":
                    body.append(_BUMP_GLOBAL.format(county=ENTERED, token=token))
            found.append((f"stamp_{table}_{event.lower()}", table, event, None, body))
    return found


def install_sql(vendor):
    return summaries.install_sql(vendor, triggers(vendor))


def remove_sql(vendor):
    return summaries.remove_sql(vendor, triggers(vendor))


def renew_all_sql(vendor):
    """Give every county and the installation a new token (after a load with triggers off)."""
    token = TOKEN[vendor]
    return [
        "DELETE FROM reports_stamp",
        f"INSERT INTO reports_stamp (county, token) VALUES ({GLOBAL}, {token})",
        f"INSERT INTO reports_stamp (county, token) VALUES ({ENTERED}, {token})",
        f"INSERT INTO reports_stamp (county, token) SELECT id, {token} FROM pairings_organization "
        "WHERE kind = 'county'",
    ]


def install(schema_editor, *, remove=False):
    """Create (or drop) the triggers and stamp every county; called by the migration."""
    vendor = schema_editor.connection.vendor
    statements = remove_sql(vendor) if remove else install_sql(vendor) + renew_all_sql(vendor)
    for statement in statements:
        schema_editor.execute(statement)


def _run(statements):
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


@contextmanager
def paused():
    """Drop the triggers for a bulk load (a rebuild of the summaries fires them once per row),
    then put them back and give everything a new token. Use inside the load's transaction."""
    vendor = connection.vendor
    _run(remove_sql(vendor))
    try:
        yield
    finally:
        _run(install_sql(vendor) + renew_all_sql(vendor))


def read(using=None):
    """{county id (0 for the installation, -1 for entered figures): token} of every stamp, in
    one query."""
    from reports.models import Stamp

    return dict(Stamp.objects.using(using).values_list("county", "token"))
