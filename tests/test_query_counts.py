"""Every page's query count, pinned, and the same with more data.

The pages are those of reports/pages.py (shared with `manage.py explain_pages`); each is
requested as its role in a two-pairing county with one object of every kind on side B
(tests/attack_helpers.py), then again after the county has grown several times over around
those same objects. Both times every page must run exactly the queries pinned in QUERIES.

When a page's count changes on purpose, change its one number here and say why in the commit.
"""

import datetime
from decimal import Decimal

from django.core.cache import caches
from django.core.files.base import ContentFile
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cobuild.models import AuditEvent
from reports.models import ImportRun
from reports.pages import (
    ANONYMOUS,
    AUDITOR,
    NOT_PAGES,
    PAGES,
    SECRETARY,
    STAFF,
    SUPERVISOR,
    VIEWER,
    get_routes,
    url_of,
)
from tests.attack_helpers import build_world
from tests.factories import (
    TINY_PNG,
    make_branch,
    make_commitment,
    make_evidence,
    make_help_pairing,
    make_household,
    make_household_visit,
    make_inspection,
    make_member,
    make_need,
    make_notification,
    make_outcome,
    make_pairing,
    make_participation,
    make_period_figure,
    make_rectification,
    make_situation_report,
    make_submitted_activity,
)

# The pinned counts: page case (reports/pages.py) → queries. Most pages start with the session,
# the user and their assignments (3), and end with the notification bell (1).
QUERIES = {
    # The dashboard and the report read the summaries and the compliance roll-up (one query),
    # here with no county's part in the cache: the stamps, where the counties are and the
    # county's pairing ids (3 more), its part computed as any number of counties' are
    # (figures.compute_split: the pairings with their branches, members and participants by
    # branch);
    # the staff home is the dashboard plus the set-up checklist (7) while set-up is pending.
    "home/staff": 33,
    "home/supervisor": 27,
    "home/viewer": 26,
    "home/secretary": 14,
    # The compliance summary: its lists (with the branches' names) computed with the county's
    # lists part (the county's pairing ids, the lists, those with a branch in another county)
    # after the stamps and the layout; its rates the dashboard's roll-up when the county's part
    # is kept, here none, so rolled up live in one query. The supervisor's (a township: no
    # parts) rolled up and listed live.
    "compliance": 14,
    "compliance/supervisor": 12,
    "compliance-matrix": 10,
    "pairing-card": 25,
    "pairing-card/secretary": 25,
    "report-list": 7,
    "report-new": 7,
    "report-detail": 7,
    "report-edit": 6,
    "report-versions": 6,
    "report-print": 5,
    "report-docx": 6,
    "report-xlsx": 25,
    # Set-up, reminders, the ledger.
    "setup": 11,
    "setup-regimes": 7,
    "setup-metrics": 7,
    "setup-accounts": 6,
    "notifications": 6,
    "import-home": 5,
    "import-result": 6,
    "import-template": 5,
    "ledger-export": 13,
    # Activities: lists are the bounded count and the page's rows; exports one query for the rows.
    "activity-list": 9,
    "activity-list/filtered": 9,
    "activity-list/secretary": 9,
    "activity-list-xlsx": 7,
    "activity-new/choose": 6,
    "activity-new": 9,
    "activity-trash": 6,
    "activity-detail": 12,
    "activity-detail/secretary": 12,
    "activity-edit": 12,
    "unlock": 5,
    "evidence-file": 5,
    "evidence-thumbnail": 4,
    # Pairings, needs and deeds, one-helps-one, inspections.
    "pairing-list": 6,
    "pairing-list-xlsx": 5,
    "need-list": 7,
    "need-list-xlsx": 5,
    "pairing": 14,
    "pairing/secretary": 14,
    "need-new": 6,
    "commitment-new": 7,
    "commitment-progress": 7,
    "help-list": 6,
    "help-detail": 7,
    "inspection-new": 10,
    "inspection-detail": 8,
    "rectification-list": 7,
    "rectification-list-xlsx": 5,
    "rectification": 7,
    # Rosters, the audit log, accounts.
    "organizations": 7,
    "organizations-xlsx": 6,
    "members": 7,
    "members-xlsx": 5,
    "audit": 6,
    "audit-xlsx": 5,
    "login": 0,
    "password-change": 4,
}


def _users(w):
    return {
        STAFF: w.staff,
        SUPERVISOR: w.supervisor_b,
        VIEWER: w.viewer,
        SECRETARY: w.organ_b_secretary,
        AUDITOR: w.auditor,
        ANONYMOUS: None,
    }


def _targets(w):
    b = w.b
    return {
        "pairing": w.pairing_b,
        "report": b.report,
        "import_run": b.import_run,
        "activity": b.activity,
        "draft": b.draft,
        "evidence": b.evidence,
        "commitment": b.commitment,
        "help_pairing": b.help_pairing,
        "inspection": b.inspection,
        "rectification": b.rectification,
    }


def grow(w, times=3):
    """More of everything around the same objects: pairings with activities, members, outcomes,
    evidence, needs, deeds, inspections, households, reminders, reports, audit rows."""
    b = w.b
    for n in range(times):
        for township in (w.township_a, w.township_b):
            village = make_branch(township, sector="rural")
            pairing = make_pairing(w.organ_b, village)
            member = make_member(village)
            for month in (1, 4, 7, 10):
                activity = make_submitted_activity(
                    pairing, "joint_meeting", datetime.date(2025, month, 9), status="confirmed"
                )
                make_participation(activity, member)
                make_outcome(activity, "training", "10")
            make_need(pairing)
            make_commitment(pairing, due_date=datetime.date(2025, 2, 1))
            make_rectification(make_inspection(pairing), due_date=datetime.date(2025, 3, 1))
            make_period_figure(village, "rubber_area", "2025", value=Decimal("12000"))
            household = make_household(village)
            make_household_visit(make_help_pairing(member, household))
        # Side B's own objects get more of what hangs off them.
        for branch in (w.organ_b, w.village_b):
            make_participation(b.activity, make_member(branch))
        make_outcome(b.activity, ("donation_money", "projects", "sugarcane")[n], str(100 + n))
        make_evidence(activity=b.activity, thumbnail=ContentFile(TINY_PNG, name="t.jpg"))
        make_submitted_activity(w.pairing_b, "activity_day", datetime.date(2025, 5, 5 + n))
        make_rectification(b.inspection)
        make_evidence(commitment=b.commitment)
        make_need(w.pairing_b)
        make_household_visit(b.help_pairing, date=datetime.date(2025, 4, 1 + n))
        b.draft.title = f"石门村草稿（第{n + 2}次修改）"
        b.draft.save()
        trashed = make_submitted_activity(w.pairing_b, "activity_day", datetime.date(2025, 6, 1))
        trashed.trash(by=w.staff)
        for user in (w.staff, w.organ_b_secretary, w.supervisor_b):
            make_notification(user)
        make_situation_report(w.township_b, by=w.supervisor_b)
        ImportRun.objects.create(
            user=w.staff, filename=f"台账{n}.xlsx", sha256=f"{n}" * 64, size=100, counts={}
        )
        AuditEvent.objects.create(event=AuditEvent.Kind.LOGIN, username=f"user{n}")
    b.draft.refresh_from_db()


class QueryCountTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = build_world()
        cls.w.today = timezone.localdate()
        # With an owner, as most have: the rectification list reads the owners of its page in
        # a query of their own (none when no row on the page has one).
        cls.w.b.rectification.owner = cls.w.village_b_member
        cls.w.b.rectification.save()

    def measure(self):
        """{page case: queries} for every page, each requested as its role."""
        users, targets = _users(self.w), _targets(self.w)
        counts, failures = {}, {}
        for page in PAGES:
            user = users[page.role]
            if user is None:
                self.client.logout()
            else:
                self.client.force_login(user)
            url = url_of(page, targets.get(page.target))
            caches["parts"].clear()  # the counties' figures computed, not read from the cache
            with CaptureQueriesContext(connection) as queries:
                response = self.client.get(url)
            if response.status_code != 200:
                failures[page.case] = (url, response.status_code)
            counts[page.case] = len(queries)
        assert not failures, f"pages that did not answer 200: {failures}"
        return counts

    def test_every_page_runs_its_pinned_queries_with_little_and_with_more_data(self):
        assert self.measure() == QUERIES
        grow(self.w)
        assert self.measure() == QUERIES


def test_every_get_route_is_pinned_or_said_not_to_be_a_page():
    routes = get_routes()
    pinned = {page.url_name for page in PAGES}
    assert len(routes) >= 60
    missing = routes - pinned - set(NOT_PAGES)
    assert not missing, f"pin the query count of (reports/pages.py): {sorted(missing)}"
    assert not (set(NOT_PAGES) - routes), "NOT_PAGES names a route that is gone"
    assert not (pinned & set(NOT_PAGES)), "a route both pinned and excluded"


def test_every_page_has_one_pinned_number():
    cases = [page.case for page in PAGES]
    assert len(cases) == len(set(cases))
    assert set(QUERIES) == set(cases)
