"""Every page of the app that a signed-in user GETs, as whom, and on what object.

One list for two checks: tests/test_query_counts.py pins each page's query count (and fails when
a GET route is neither listed here nor in NOT_PAGES), and `manage.py explain_pages` requests each
page on a real database and EXPLAINs its statements. A page's `target` names the kind of object
its URL (or its `?pairing=`) takes; the test takes it from its own data, the command from the
database through `find_target`.
"""

from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver

# Who requests a page: the test's users and the command's accounts for each.
STAFF = "staff"  # county staff at the county (the widest scope)
SUPERVISOR = "supervisor"
VIEWER = "viewer"
SECRETARY = "secretary"  # the helping (organ) branch's secretary of a pairing
AUDITOR = "auditor"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Page:
    case: str  # unique: the key of the pinned count
    url_name: str
    role: str
    target: str | None = None  # the object kind whose pk the URL takes
    params: dict = field(default_factory=dict)  # "@target" stands for that object's pk
    kwargs: dict = field(default_factory=dict)
    download: bool = False  # a file, not a page (explain_pages skips it unless --downloads)


PAGES = [
    # The home page: the dashboard of county staff, supervisors and viewers; a secretary's to-do.
    Page("home/staff", "home", STAFF),
    Page("home/supervisor", "home", SUPERVISOR),
    Page("home/viewer", "home", VIEWER),
    Page("home/secretary", "home", SECRETARY),
    Page("setup", "setup", STAFF),
    Page("setup-regimes", "setup_regimes", STAFF),
    Page("setup-metrics", "setup_metrics", STAFF),
    Page("setup-accounts", "setup_accounts", STAFF),
    Page("compliance", "compliance", STAFF),
    Page("compliance/supervisor", "compliance", SUPERVISOR),
    Page("compliance-matrix", "compliance_matrix", STAFF),
    Page("notifications", "notifications", SECRETARY),
    Page("pairing-card", "pairing_card", STAFF, "pairing"),
    Page("pairing-card/secretary", "pairing_card", SECRETARY, "pairing"),
    # Situation reports.
    Page("report-list", "report_list", STAFF),
    Page("report-new", "report_new", STAFF),
    Page("report-detail", "report_detail", STAFF, "report"),
    Page("report-edit", "report_edit", STAFF, "report"),
    Page("report-versions", "report_versions", STAFF, "report"),
    Page("report-print", "report_print", STAFF, "report"),
    Page("report-docx", "report_export", STAFF, "report", kwargs={"fmt": "docx"}, download=True),
    Page("report-xlsx", "report_export", STAFF, "report", kwargs={"fmt": "xlsx"}, download=True),
    # The ledger: import and export.
    Page("import-home", "import_home", STAFF),
    Page("import-result", "import_result", STAFF, "import_run"),
    Page("import-template", "import_template", STAFF, download=True),
    Page("ledger-export", "export_ledger", STAFF, download=True),
    # Activities.
    Page("activity-list", "activities:list", STAFF),
    Page("activity-list/filtered", "activities:list", STAFF, params={"status": "submitted"}),
    Page("activity-list/secretary", "activities:list", SECRETARY),
    Page("activity-list-xlsx", "activities:list", STAFF, params={"export": "xlsx"}, download=True),
    Page("activity-new/choose", "activities:new", STAFF),
    Page("activity-new", "activities:new", SECRETARY, "pairing", params={"pairing": "@pairing"}),
    Page("activity-trash", "activities:trash", STAFF),
    Page("activity-detail", "activities:detail", STAFF, "activity"),
    Page("activity-detail/secretary", "activities:detail", SECRETARY, "activity"),
    Page("activity-edit", "activities:edit", SECRETARY, "draft"),
    Page("unlock", "activities:unlock", STAFF),
    Page("evidence-file", "activities:evidence_file", SECRETARY, "evidence", download=True),
    Page(
        "evidence-thumbnail",
        "activities:evidence_thumbnail",
        SECRETARY,
        "evidence",
        download=True,
    ),
    # Pairings, their needs and deeds, one-helps-one, inspections.
    Page("pairing-list", "activities:pairings", STAFF),
    Page(
        "pairing-list-xlsx", "activities:pairings", STAFF, params={"export": "xlsx"}, download=True
    ),
    Page("need-list", "activities:need_list", STAFF),
    Page("need-list-xlsx", "activities:need_list", STAFF, params={"export": "xlsx"}, download=True),
    Page("pairing", "activities:pairing", STAFF, "pairing"),
    Page("pairing/secretary", "activities:pairing", SECRETARY, "pairing"),
    Page("need-new", "activities:need_new", SECRETARY, "pairing"),
    Page("commitment-new", "activities:commitment_new", SECRETARY, "pairing"),
    Page("commitment-progress", "activities:commitment_progress", SECRETARY, "commitment"),
    Page("help-list", "activities:help_list", STAFF),
    Page("help-detail", "activities:help_detail", SECRETARY, "help_pairing"),
    Page("inspection-new", "activities:inspection_new", SECRETARY, "pairing"),
    Page("inspection-detail", "activities:inspection_detail", STAFF, "inspection"),
    Page("rectification-list", "activities:rectification_list", STAFF),
    Page(
        "rectification-list-xlsx",
        "activities:rectification_list",
        STAFF,
        params={"export": "xlsx"},
        download=True,
    ),
    Page("rectification", "activities:rectification_update", SECRETARY, "rectification"),
    # Rosters and the audit log.
    Page("organizations", "pairings:organizations", STAFF),
    Page(
        "organizations-xlsx",
        "pairings:organizations",
        STAFF,
        params={"export": "xlsx"},
        download=True,
    ),
    Page("members", "pairings:members", STAFF),
    Page("members-xlsx", "pairings:members", STAFF, params={"export": "xlsx"}, download=True),
    Page("audit", "audit:search", AUDITOR),
    Page("audit-xlsx", "audit:search", AUDITOR, params={"export": "xlsx"}, download=True),
    # Accounts.
    Page("login", "login", ANONYMOUS),
    Page("password-change", "password_change", STAFF),
]

# GET routes that are not a signed-in user's page, each with the reason.
NOT_PAGES = {
    # Forms that only take a POST (GET is a 405).
    "activities:submit": "POST only",
    "activities:confirm": "POST only",
    "activities:return": "POST only",
    "activities:move_to_trash": "POST only",
    "activities:restore": "POST only",
    "notification_read": "POST only",
    "notifications_read_all": "POST only",
    "report_refresh": "POST only",
    "report_trash": "POST only",
    "report_restore": "POST only",
    "import_upload": "POST only",
    "import_confirm": "POST only",
    "logout": "POST only",
    # The error workbook of an upload kept in private storage between upload and confirm; its
    # queries are those of the upload (tests/test_import_views.py).
    "import_errors": "needs a stored upload",
    # Sign-in steps of a session that has not passed the second factor yet; a signed-in
    # session is redirected on (tests/test_identity.py drives them).
    "otp_verify": "second-factor sign-in step",
    "otp_setup": "second-factor sign-in step",
    # The offline service worker's script: no data, no query.
    "service_worker": "a static script",
}


def get_routes():
    """The names of every URL pattern of the app (Django's admin excluded: its own pages)."""
    found = set()

    def walk(patterns, namespace=None):
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.app_name == "admin":
                    continue
                walk(p.url_patterns, p.namespace or namespace)
            elif isinstance(p, URLPattern):
                found.add(f"{namespace}:{p.name}" if namespace else p.name)

    walk(get_resolver().url_patterns)
    return found


def find_target(kind, user):
    """An object of `kind` that `user` may open (the newest), from the database, or None."""
    from activities.models import Activity, Commitment, Evidence, Inspection, Rectification
    from pairings import access
    from pairings.models import HelpPairing, Pairing
    from reports.models import ImportRun, SituationReport

    readable = {
        "activity": Activity.objects.filter(status=Activity.Status.CONFIRMED),
        "evidence": Evidence.objects.filter(activity__isnull=False),
        "inspection": Inspection.objects.all(),
        "rectification": Rectification.objects.all(),
        "help_pairing": HelpPairing.objects.all(),
    }
    # A secretary's own: the pairings their branch helps in, the drafts their branch logged.
    own = access.scope_of(user).write_branches
    writable = {
        "pairing": Pairing.objects.filter(helper__in=own) if own else Pairing.objects.all(),
        "draft": Activity.objects.filter(
            status__in=[Activity.Status.DRAFT, Activity.Status.RETURNED],
            **({"logged_by_branch__in": own} if own else {}),
        ),
        "commitment": Commitment.objects.all(),
    }
    if kind in readable:
        rows = access.readable(user, readable[kind])
    elif kind in writable:
        rows = access.writable(user, writable[kind])
    elif kind == "report":
        rows = SituationReport.objects.alive().filter(
            organization__in=access.visible_organizations(user).values("pk")
        )
    elif kind == "import_run":
        rows = ImportRun.objects.filter(user=user)
    else:
        raise LookupError(f"No way to find a {kind}")
    # A draft of the current period (older ones are locked for secretaries).
    return rows.order_by("-date" if kind == "draft" else "-pk", "-pk").first()


def url_of(page, obj=None):
    """The page's URL with `obj` (its target) filled in: as `pk`, or where a param says "@"."""
    from django.urls import reverse
    from django.utils.http import urlencode

    kwargs = dict(page.kwargs)
    params = {k: v for k, v in page.params.items()}
    taken = False
    for name, value in params.items():
        if isinstance(value, str) and value.startswith("@"):
            params[name], taken = obj.pk, True
    if page.target and not taken:
        kwargs["pk"] = obj.pk
    url = reverse(page.url_name, kwargs=kwargs)
    return f"{url}?{urlencode(params)}" if params else url
