"""`seed_demo` above one county (a city or province root over many counties) and its bulk writers.

City and province scales take minutes; these tests run the same code on two tiny counties.
"""

import collections
import contextlib
import dataclasses
import datetime
from io import StringIO
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.test import TestCase

from activities.models import (
    Activity,
    Commitment,
    Inspection,
    Need,
    Outcome,
    Participation,
    PeriodFigure,
)
from pairings import access
from pairings.models import Assignment, Household, Member, Organization, Pairing
from reports import demo

TINY_CITY = dataclasses.replace(demo.SCALES["demo"], counties=2, region="city")
TODAY = datetime.date(2026, 3, 15)
POSTGRESQL = connection.vendor == "postgresql"


def county_rows(code):
    """What one county holds, by natural keys."""
    county = Organization.objects.get(code=code)
    return {
        "organizations": list(
            Organization.objects.under(county).values_list("code", "name", "kind", "sector")
        ),
        "members": list(
            Member.objects.filter(branch__path__startswith=county.path)
            .order_by("code")
            .values_list("code", "name", "post", "phone")
        ),
        "pairings": list(
            Pairing.objects.filter(helper__path__startswith=county.path)
            .order_by("code")
            .values_list("code", "helper__code", "helped__code", "start_date", "status")
        ),
        "activities": list(
            Activity.objects.filter(pairing__helper__path__startswith=county.path)
            .order_by("client_id")
            .values_list("client_id", "date", "title", "status", "submitted_at", "on_time")
        ),
    }


class TinyCityTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.seeded = demo.seed(scale=TINY_CITY, today=TODAY)

    def test_one_city_root_above_the_counties(self):
        root = Organization.objects.get(depth=1)
        assert (root.code, root.name, root.kind) == ("QZ", "中共青州市委员会", "committee")
        counties = Organization.objects.filter(kind="county").order_by("code")
        assert [county.code for county in counties] == ["QS", "QZ01"]
        assert counties[0].name == "中共青山县委"
        assert counties[1].name != counties[0].name
        for county in counties:
            assert county.depth == 2
            assert Organization.objects.get_parent(county) == root
        assert root.numchild == 2

    def test_tree_is_consistent_and_needs_no_fixing(self):
        assert Organization.objects.find_problems() == ([], [], [], [], [])
        tree = list(Organization.objects.values_list("pk", "path", "depth", "numchild"))
        Organization.objects.fix_tree(fix_paths=True)
        assert list(Organization.objects.values_list("pk", "path", "depth", "numchild")) == tree

    def test_each_county_has_its_own_codes(self):
        for code, pairings in (("QS", "GJ-0"), ("QZ01", "GJ-QZ01-")):
            county = Organization.objects.get(code=code)
            rows = county_rows(code)
            assert len(rows["organizations"]) == 35
            assert all(row[0].startswith(code) for row in rows["organizations"])
            assert rows["members"]
            assert all(row[0].startswith(f"{code}-") for row in rows["members"])
            assert len(rows["pairings"]) == 15
            assert all(row[0].startswith(pairings) for row in rows["pairings"])
            assert all(row[2].startswith(f"{code}-") for row in rows["pairings"])
            place = Activity.objects.filter(
                pairing__helper__path__startswith=county.path, place__endswith="烈士陵园"
            ).first()
            if place:
                assert (
                    place.place == county.name.removeprefix("中共").removesuffix("委") + "烈士陵园"
                )

    def test_counts_add_up_over_the_counties(self):
        counts = self.seeded.counts
        assert counts["organizations"] == Organization.objects.count() == 1 + 2 * 35
        assert counts["pairings"] == Pairing.objects.count() == 2 * 15
        for label, model in (
            ("members", Member),
            ("activities", Activity),
            ("participations", Participation),
            ("outcomes", Outcome),
            ("inspections", Inspection),
            ("needs", Need),
            ("commitments", Commitment),
            ("households", Household),
            ("period_figures", PeriodFigure),
            ("users", User),
            ("assignments", Assignment),
        ):
            assert counts[label] == model.objects.count(), label
        # Both counties are busy, not one full and one empty.
        by_county = [
            Activity.objects.filter(pairing__helper__code__startswith=f"{code}-").count()
            for code in ("QS", "QZ01")
        ]
        assert min(by_county) > 0.5 * max(by_county)

    def test_the_city_login_sees_both_counties_and_the_county_login_its_own(self):
        root = Organization.objects.get(depth=1)
        city = User.objects.get(username="city")
        assert list(city.assignments.values_list("role", "organization")) == [
            (Assignment.Role.COUNTY_STAFF, root.pk)
        ]
        assert access.visible_pairings(city).count() == 30
        assert access.visible_pairings(User.objects.get(username="county")).count() == 15
        assert self.client.login(username="city", password=demo.DEMO_PASSWORD)
        logins = [login["username"] for login in self.seeded.logins]
        assert logins[0] == "city"
        assert {"county", "township", "organ_secretary", "village_secretary"} <= set(logins)

    def test_demo_logins_stay_in_the_first_county(self):
        qs = Organization.objects.get(code="QS")
        for username in ("county", "township", "organ_secretary", "village_secretary", "leader"):
            org = Assignment.objects.get(user__username=username).organization
            assert org.path.startswith(qs.path), username

    def test_writer_is_copy_on_postgresql_and_bulk_create_elsewhere(self):
        assert self.seeded.writer == ("copy" if POSTGRESQL else "bulk_create")

    def test_ids_run_on_after_the_seed(self):
        """The sequences stand at the largest id written, so ordinary inserts work after it."""
        activity = Activity.objects.order_by("pk").last()
        taken = set(activity.participations.values_list("member_id", flat=True))
        member = Member.objects.filter(branch=activity.pairing.helper).exclude(pk__in=taken)[0]
        largest = Participation.objects.order_by("pk").last().pk
        assert Participation.objects.create(activity=activity, member=member).pk == largest + 1
        largest = Member.objects.order_by("pk").last().pk
        added = Member.objects.create(code="ZZ-001", name="新党员", branch=member.branch)
        assert added.pk == largest + 1

    def test_unique_constraints_hold_after_the_seed(self):
        participation = Participation.objects.first()
        with pytest.raises(IntegrityError), transaction.atomic():
            Participation.objects.create(
                activity_id=participation.activity_id, member_id=participation.member_id
            )

    def test_conflicts_name_the_city_codes(self):
        clashes = demo.conflicts(TINY_CITY)
        assert "组织编码 QZ" in clashes
        assert any(clash.startswith("党员编号") for clash in clashes)

    def test_command_refuses_to_add_a_city_twice(self):
        before = Organization.objects.count()
        with pytest.raises(CommandError, match="重复"):
            call_command("seed_demo", "--scale", "city", "--force", stdout=StringIO())
        assert Organization.objects.count() == before


class CityDrawsTests(TestCase):
    """The first county of a city is the demo county; each county is written on its own."""

    def seeded(self, scale, **patches):
        with transaction.atomic():
            with mock.patch.multiple(demo, **patches) if patches else contextlib.nullcontext():
                demo.seed(scale=scale, today=TODAY)
            rows = county_rows("QS")
            transaction.set_rollback(True)
        return rows

    def test_the_first_county_of_a_city_is_the_demo_county(self):
        assert self.seeded(TINY_CITY) == self.seeded("demo")

    def test_writes_county_by_county(self):
        """The region's root, then each county as one batch: memory holds a county, not all."""
        batches = []
        writer_for = demo.writer_for

        def recording(vendor):
            writer = writer_for(vendor)
            write = writer.write

            def record(run):
                counts = collections.Counter()
                for model, _, rows in run.batch:
                    counts[model] += len(rows)
                batches.append(counts)
                return write(run)

            writer.write = record
            return writer

        self.seeded(TINY_CITY, writer_for=recording)
        assert len(batches) == 3
        assert batches[0][Organization] == 1 and not batches[0][Activity]
        for counts in batches[1:]:
            assert counts[Organization] == 35
            assert counts[Activity] > 0 and counts[Participation] > 0


@pytest.mark.skipif(not POSTGRESQL, reason="COPY and its constraint handling are PostgreSQL's")
class CopyWriterTests(TestCase):
    def schema(self):
        tables = [model._meta.db_table for model in demo.WRITTEN]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                " FROM pg_constraint WHERE conrelid = ANY(%s::regclass[])",
                [tables],
            )
            constraints = set(cursor.fetchall())
            cursor.execute(
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid)"
                " FROM pg_index WHERE indrelid = ANY(%s::regclass[])",
                [tables],
            )
            return constraints, set(cursor.fetchall())

    def test_constraints_and_indexes_are_built_again(self):
        before = self.schema()
        assert before[0] and before[1]
        demo.seed(scale="demo", today=TODAY)
        assert self.schema() == before

    def test_a_failed_seed_leaves_the_schema_and_sequences_as_they_were(self):
        before = self.schema()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sequence_last_value('activities_activity_id_seq')")
            sequence = cursor.fetchone()[0]
        with (
            mock.patch.object(demo, "make_needs", side_effect=RuntimeError("stop")),
            pytest.raises(RuntimeError),
        ):
            demo.seed(scale="demo", today=TODAY)
        assert self.schema() == before
        assert not Activity.objects.exists()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sequence_last_value('activities_activity_id_seq')")
            # Sequences are not transactional: ids once taken stay taken, and are never reused.
            assert (cursor.fetchone()[0] or 0) >= (sequence or 0)


def test_city_and_province_are_counties_under_a_region():
    county = demo.SCALES["county"]
    city, province = demo.SCALES["city"], demo.SCALES["province"]
    assert (city.counties, city.region, city.years) == (10, "city", 5)
    assert (province.counties, province.region, province.years) == (100, "province", 3)
    assert dataclasses.replace(city, counties=1, region="") == county
    assert dataclasses.replace(province, counties=1, region="", years=5) == county
    assert province.counties * province.pairings == 30_000
    codes = [c.code for c in demo.counties_of(province)]
    assert codes[0] == "QS" and len(set(codes)) == 100
    names = [c.name for c in demo.counties_of(province)]
    assert names[0] == "青山县" and len(set(names)) == 100
