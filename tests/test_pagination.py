"""Long lists page without counting or skipping the whole scope (cobuild/pagination.py).

Keyset pages (activities, the trash, needs, pairings, organizations, reminders, the audit log)
walk forward and back by a cursor, stay put when rows are added, and treat a cursor they cannot
read as the first page. Bounded pages (members, rectifications, one-helps-one) number their pages
but never count or skip past COUNT_LIMIT rows.
"""

import base64
import datetime
import json
from unittest import mock

from django.test import TestCase
from django.urls import reverse

from cobuild.models import AuditEvent
from pairings.models import Assignment
from tests.factories import (
    make_activity,
    make_member,
    make_two_pairing_county,
    make_user,
)
from tests.test_query_counts import QUERIES


def _cursor(values):
    text = json.dumps(values).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


class KeysetActivityListTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()
        # 45 activities over 9 days, five a day: pages of 20 split days, so the id breaks ties.
        cls.activities = [
            make_activity(
                cls.w.pairing_a, date=datetime.date(2025, 3, 1 + n // 5), title=f"学习{n}"
            )
            for n in range(45)
        ]
        cls.newest_first = sorted(cls.activities, key=lambda a: (a.date, a.pk), reverse=True)

    def setUp(self):
        self.client.force_login(self.w.staff)

    def get(self, query=""):
        response = self.client.get(f"{reverse('activities:list')}?{query}")
        assert response.status_code == 200
        return response.context["page"]

    def test_next_pages_walk_the_whole_list_once_in_order_and_back(self):
        pages = [self.get()]
        while pages[-1].has_next:
            pages.append(self.get(pages[-1].next_query))
        assert [len(p) for p in pages] == [20, 20, 5]
        assert [a for p in pages for a in p] == self.newest_first
        assert not pages[0].has_previous and pages[1].has_previous and not pages[2].has_next

        back = self.get(pages[2].previous_query)
        assert list(back) == list(pages[1])
        first = self.get(back.previous_query)
        assert list(first) == list(pages[0])
        assert not first.has_previous and first.has_next

    def test_a_row_added_meanwhile_does_not_shift_the_next_page(self):
        first = self.get()
        make_activity(self.w.pairing_a, date=datetime.date(2025, 3, 20), title="新登记的活动")
        second = self.get(first.next_query)
        assert list(second) == self.newest_first[20:40]

    def test_going_back_to_a_start_that_grew_shows_a_whole_first_page(self):
        second = self.get(self.get().next_query)
        newest = make_activity(self.w.pairing_a, date=datetime.date(2025, 3, 20), title="新的")
        back = self.get(second.previous_query)
        assert list(back) == self.newest_first[:20]
        assert back.has_previous  # the new one lies before it
        start = self.get(back.previous_query)
        assert list(start) == [newest, *self.newest_first[:19]]
        assert not start.has_previous

    def test_filters_stay_in_the_page_links(self):
        response = self.client.get(reverse("activities:list"), {"q": "学习", "category": "study"})
        page = response.context["page"]
        assert "q=%E5%AD%A6%E4%B9%A0" in page.next_query and "category=study" in page.next_query
        html = response.content.decode()
        assert f'href="?{page.next_query.replace("&", "&amp;")}" rel="next">下一页' in html
        second = self.get(page.next_query)
        assert "category=study" in second.previous_query
        assert list(second) == self.newest_first[20:40]

    def test_a_cursor_that_does_not_read_is_the_first_page(self):
        first = list(self.get())
        for cursor in (
            "abc",
            "!!!",
            "%00",
            "x" * 600,
            _cursor(["2025-03-05"]),  # one value where two are needed
            _cursor(["2025-13-45", "1"]),
            _cursor(["2025-03-05", "not-a-number"]),
            _cursor(["2025-03-05", str(2**70)]),
            _cursor([20250305, 1]),
            _cursor({"date": "2025-03-05"}),
            base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        ):
            for direction in ("after", "before"):
                page = self.get(f"{direction}={cursor}")
                assert list(page) == first, (direction, cursor)
                assert not page.has_previous

    def test_a_cursor_past_the_end_is_an_empty_page_with_the_way_back(self):
        page = self.get(f"after={_cursor(['2000-01-01', '1'])}")
        assert list(page) == [] and not page.has_next
        assert page.previous_query == ""  # the first page

    def test_a_list_past_the_limit_walks_the_same_pages_by_date(self):
        # Past COUNT_LIMIT the page's keys are found walking the date index, the scope tested
        # row by row; the pages, both ways, and what they leave out are the same.
        other = make_activity(self.w.pairing_b, date=datetime.date(2025, 3, 4), title="河口")
        trashed = make_activity(self.w.pairing_a, date=datetime.date(2025, 3, 4), title="删")
        trashed.trash(by=self.w.staff)
        self.client.force_login(self.w.supervisor_a)  # reads pairing A only
        with mock.patch("cobuild.pagination.COUNT_LIMIT", 10):
            pages = [self.get()]
            assert pages[0].more
            while pages[-1].has_next:
                pages.append(self.get(pages[-1].next_query))
            back = self.get(pages[2].previous_query)
            with self.assertNumQueries(QUERIES["activity-list"] + 1):  # the keys, then the rows
                self.client.get(reverse("activities:list"))
        assert [a for p in pages for a in p] == self.newest_first
        assert other not in self.newest_first and trashed not in self.newest_first
        assert list(back) == list(pages[1])

    def test_the_count_stops_at_the_limit(self):
        with mock.patch("cobuild.pagination.COUNT_LIMIT", 30):
            response = self.client.get(reverse("activities:list"))
        assert response.context["page"].count == 30 and response.context["page"].more
        assert "超过 30 条" in response.content.decode()
        assert "共 45 条" in self.client.get(reverse("activities:list")).content.decode()


class KeysetOtherListsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()
        cls.auditor = make_user(role=Assignment.Role.AUDITOR, org=cls.w.county)

    def walk(self, url, limit=20):
        pages = [self.client.get(url).context["page"]]
        while pages[-1].has_next and len(pages) < limit:
            pages.append(self.client.get(f"{url}?{pages[-1].next_query}").context["page"])
        return pages

    def test_the_audit_log_pages_by_time(self):
        AuditEvent.objects.bulk_create(
            AuditEvent(event=AuditEvent.Kind.LOGIN, username=f"u{n}") for n in range(120)
        )
        self.client.force_login(self.auditor)
        pages = self.walk(reverse("audit:search"))
        rows = [e.pk for p in pages for e in p]
        assert len(rows) == AuditEvent.objects.count() and len(set(rows)) == len(rows)
        assert rows == list(
            AuditEvent.objects.order_by("-time", "-pk").values_list("pk", flat=True)
        )

    def test_organizations_page_in_the_trees_order(self):
        from tests.factories import make_branch

        for _ in range(60):
            make_branch(self.w.township_a, sector="rural")
        self.client.force_login(self.w.staff)
        pages = self.walk(reverse("pairings:organizations"))
        paths = [o.path for p in pages for o in p]
        assert len(pages) == 2 and paths == sorted(paths) and len(set(paths)) == len(paths)


class BoundedPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.w = make_two_pairing_county()
        for n in range(130):
            make_member(cls.w.village_a, name=f"党员{n:03d}")

    def setUp(self):
        self.client.force_login(self.w.staff)

    def test_pages_are_numbered_and_keep_the_filters(self):
        response = self.client.get(reverse("pairings:members"), {"q": "党员"})
        page = response.context["page"]
        assert page.label == "第 1 / 3 页" and page.count == 130 and not page.more
        assert "q=" in page.next_query and "page=2" in page.next_query
        assert "共 130 名" in response.content.decode()

    def test_no_page_lies_past_the_limit(self):
        with mock.patch("cobuild.pagination.COUNT_LIMIT", 60):
            response = self.client.get(reverse("pairings:members"), {"page": "99"})
        page = response.context["page"]
        assert page.label == "第 2 / 2 页" and page.count == 60 and page.more
        assert not page.has_next and len(page) == 10
        assert "超过 60 名，只列出前 60 名，请用筛选缩小范围" in response.content.decode()

    def test_a_page_number_that_does_not_read_is_the_first_page(self):
        for number in ("abc", "-1", "0", "9" * 30):
            page = self.client.get(reverse("pairings:members"), {"page": number}).context["page"]
            assert page.label in ("第 1 / 3 页", "第 3 / 3 页"), number
