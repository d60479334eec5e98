"""Time the pages people wait for, on the data in the database, and print one JSON line each."""

import json
import math
import statistics
import time
import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from activities.models import Activity, Regime
from pairings import access
from pairings.models import Assignment, Organization, Pairing
from reports import parts, situation, tasks

GOAL_MS = 150  # every page at county scale (issue 8)
GOAL_RATIO = 5  # … and within 5 × the trivial page
GOAL_GROWTH = 2  # from county to city scale (10 × the data), no page more than 2 × slower
GOAL_PROVINCE_DASHBOARD_MS = 1000  # the province dashboard, on PostgreSQL
SCALES = ["county", "city", "province"]
PROVINCE_DASHBOARDS = ("dashboard", "dashboard_after_write")
# Figures with no goal of their own: a write, the chore that computes every county's parts, and the
# pages from an empty cache, which that chore spares their readers (docs/scaling.md §3).
NO_GOAL = ("activity_submit", "warm_parts", "dashboard_cold", "report_draft_cold")
QUIET = "django.tasks.backends.dummy.DummyBackend"


class Command(BaseCommand):
    help = (
        "测量各主要页面的服务器耗时：以某党组织（默认根组织）范围内的县委组织部和支部书记身份，"
        "各请求 N 次（先预热一次），每个指标输出一行 JSON：中位数、P95（毫秒）、SQL 查询数，"
        "以及与一个简单登录页面的耗时比。首页和情况汇报初稿先在各县当天数字已缓存时测量，"
        "再在缓存为空时测量（dashboard_cold、report_draft_cold），以及支部书记提交一条活动之后"
        "的首页（dashboard_after_write；提交请求先算好本县本年度的数字再应答，其耗时为 "
        "activity_submit），最后是后台从空缓存算好各县全部数字的耗时（warm_parts：每天第一个请求后"
        "和影响所有县的修改之后在后台运行；缓存为空的页面只出现在它算完之前，故两项 _cold、"
        "warm_parts 和 activity_submit 不设目标）。给出 --baseline（上一次较小规模的输出文件）时，"
        "再输出每个页面的增长"
        "倍数。测量用的临时账号在事务中创建，结束时回滚。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", help="党组织编码，默认根组织。")
        parser.add_argument("--runs", type=int, default=11, help="每个页面的测量次数，默认 11。")
        parser.add_argument(
            "--baseline", help="较小规模时本命令的输出文件（JSON 行），用于计算增长倍数。"
        )
        parser.add_argument(
            "--scale",
            choices=SCALES,
            default="county",
            help="数据库中数据的规模（seed_demo --scale），决定对照的目标：county 每页 150 毫秒以内"
            "且不超过简单页面的 5 倍；city 与 --baseline 给出的 county 结果相比不超过 2 倍；"
            "province 全省首页（PostgreSQL）1 秒以内。",
        )

    def handle(self, *, org, runs, baseline, scale, **options):
        if runs < 1:
            raise CommandError("--runs 至少为 1。")
        scope = self.scope(org)
        if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        self.emit(
            {
                "figure": "data",
                "scale": scale,
                "org": scope.code,
                "database": connection.vendor,
                "organizations": Organization.objects.count(),
                "pairings": Pairing.objects.count(),
                "activities": Activity.objects.count(),
            }
        )
        # The background chores (reports.tasks) would compete with the pages measured: kept, not
        # run. The day's warm the bench's first request marks as started is not marked for the
        # app servers sharing this cache.
        daily = tasks.warm_daily_key(timezone.localdate())
        started = caches["default"].get(daily) is not None
        try:
            with override_settings(TASKS={"default": {"BACKEND": QUIET}}):
                self.measure(scope, runs, scale, baseline)
        finally:
            if not started:
                caches["default"].delete(daily)

    def measure(self, scope, runs, scale, baseline):
        figures = []
        with transaction.atomic():
            staff, secretary = self.users(scope)
            year = {"period": "year"}
            pages = [
                ("trivial", staff, reverse("notifications"), {}),
                ("dashboard", staff, reverse("home"), year),
                # No county's part in the cache: the page computes its counties' parts, all
                # together, and keeps them. Since the background computes them after the day's
                # first request and after a change every county reads, a reader (with a shared
                # cache) meets this only in the seconds before the background is done
                # (warm_parts, below).
                ("dashboard_cold", staff, reverse("home"), year),
                ("compliance_matrix", staff, reverse("compliance_matrix"), year),
                # 制度落实: the rates, and the lists of what this and the last period left undone.
                ("compliance_summary", staff, reverse("compliance"), {}),
                ("activity_list", staff, reverse("activities:list"), {}),
                ("secretary_home", secretary, reverse("home"), {}),
            ]
            for name, user, url, params in pages:
                self.record(figures, self.page(name, user, url, params, runs), scale)
            for figure in self.after_writes(staff, secretary, year, runs):
                self.record(figures, figure, scale)
            transaction.set_rollback(True)
        for figure in self.report(scope, runs):
            self.record(figures, figure, scale)
        self.record(figures, self.warming(), scale)
        if baseline:
            self.growth(figures, baseline)

    def record(self, figures, figure, scale):
        """Judge a figure against its scale's goal and print it at once: a province run is long."""
        if figures:  # the first figure is the trivial page
            figure["ratio_to_trivial"] = round(figure["median_ms"] / figures[0]["median_ms"], 1)
            if figure["figure"] in NO_GOAL:
                pass  # not one of the pages the goals name, as users meet them: printed
            elif scale == "county":
                figure["goal"] = f"< {GOAL_MS} ms, < {GOAL_RATIO} × trivial"
                figure["meets_goal"] = (
                    figure["median_ms"] < GOAL_MS and figure["ratio_to_trivial"] < GOAL_RATIO
                )
            elif scale == "province" and figure["figure"] in PROVINCE_DASHBOARDS:
                figure["goal"] = f"< {GOAL_PROVINCE_DASHBOARD_MS} ms on PostgreSQL"
                figure["meets_goal"] = (
                    figure["median_ms"] < GOAL_PROVINCE_DASHBOARD_MS
                    and connection.vendor == "postgresql"
                )
        figures.append(figure)
        self.emit(figure)

    def scope(self, code):
        organizations = Organization.objects.alive()
        scope = (
            organizations.filter(code=code).first()
            if code
            else organizations.filter(depth=1).order_by("path").first()
        )
        if scope is None:
            raise CommandError(f"没有编码为 {code} 的党组织。" if code else "数据库中没有党组织。")
        return scope

    def users(self, scope):
        """A county staff member of the scope and the secretary of its first pairing's helper."""
        pairing = access.pairings_under(scope).order_by("pk").first()
        if pairing is None:
            raise CommandError("该范围内没有共建对子，无法测量。请先运行 seed_demo。")
        staff = User.objects.create_user("bench-staff-temporary", password=None)
        Assignment.objects.create(user=staff, organization=scope, role=Assignment.Role.COUNTY_STAFF)
        secretary = User.objects.create_user("bench-secretary-temporary", password=None)
        Assignment.objects.create(
            user=secretary, organization=pairing.helper, role=Assignment.Role.SECRETARY
        )
        return staff, secretary

    def client(self, user):
        client = Client()
        client.force_login(user)
        session = client.session  # a completed sign-in, second factor included
        session[DEVICE_ID_SESSION_KEY] = "bench"
        session.save()
        return client

    def after_writes(self, staff, secretary, params, runs):
        """The secretary submits an activity (the request computes the county's year part before
        it answers: reports.middleware), then the staff member opens the dashboard."""
        writer, reader = self.client(secretary), self.client(staff)
        url = reverse("home")
        pairing = access.visible_pairings(secretary).order_by("pk").first()
        with parts.filling():
            self.get(reader, url, params)
        self.submit(writer, pairing)  # warm-up
        self.get(reader, url, params)
        submits, reads = [], []
        for _ in range(runs):
            started = time.perf_counter()
            self.submit(writer, pairing)
            middle = time.perf_counter()
            self.get(reader, url, params)
            submits.append((middle - started) * 1000)
            reads.append((time.perf_counter() - middle) * 1000)
        self.submit(writer, pairing)
        with CaptureQueriesContext(connection) as captured:
            self.get(reader, url, params)
        return [
            {
                "figure": "dashboard_after_write",
                "url": url,
                "database": connection.vendor,
                "runs": runs,
                **summary(reads),
                "queries": len(captured.captured_queries),
            },
            {
                "figure": "activity_submit",
                "url": reverse("activities:new"),
                "database": connection.vendor,
                "runs": runs,
                **summary(submits),
            },
        ]

    def submit(self, client, pairing):
        today = timezone.localdate()
        response = client.post(
            f"{reverse('activities:new')}?pairing={pairing.pk}",
            {
                "regime": Regime.objects.get(code="activity_day").pk,
                "category": "study",
                "date": today.isoformat(),
                "title": "测量用活动",
                "place": "党员活动室",
                "summary": "测量提交活动并计算本县数字的耗时。",
                "villager_count": "0",
                "evidence_kind": "photo",
                "client_id": str(uuid.uuid4()),
                "submit": "1",
            },
        )
        if response.status_code != 302:
            raise CommandError(f"提交活动返回 {response.status_code}。")

    def page(self, name, user, url, params, runs):
        client = self.client(user)
        with parts.filling():  # as after warm_parts: every county's part of the day kept
            self.get(client, url, params)  # warm-up: templates, URL resolver, connection
        timings = []
        for _ in range(runs):
            if name.endswith("_cold"):
                caches[parts.CACHE].clear()
            started = time.perf_counter()
            self.get(client, url, params)
            timings.append((time.perf_counter() - started) * 1000)
        if name.endswith("_cold"):
            caches[parts.CACHE].clear()
        with CaptureQueriesContext(connection) as captured:
            self.get(client, url, params)
        return {
            "figure": name,
            "url": url,
            "database": connection.vendor,
            "runs": runs,
            **summary(timings),
            "queries": len(captured.captured_queries),
        }

    def report(self, scope, runs):
        """The scope's situation report for this year: the draft, then the .docx."""
        today = timezone.localdate()
        start = today.replace(month=1, day=1)
        draft_ms, docx_ms, cold_ms = [], [], []
        for _ in range(runs):
            caches[parts.CACHE].clear()
            started = time.perf_counter()
            situation.draft(scope, start, today, today=today)
            cold_ms.append((time.perf_counter() - started) * 1000)
        with parts.filling():  # as after warm_parts
            situation.draft(scope, start, today, today=today)
        for _ in range(runs):
            started = time.perf_counter()
            drafted = situation.draft(scope, start, today, today=today)
            middle = time.perf_counter()
            situation.render_docx(drafted.title, drafted.sections, today)
            draft_ms.append((middle - started) * 1000)
            docx_ms.append((time.perf_counter() - middle) * 1000)
        return [
            {"figure": name, "database": connection.vendor, "runs": runs, **summary(timings)}
            for name, timings in (
                ("report_draft", draft_ms),
                ("report_draft_cold", cold_ms),
                ("docx_export", docx_ms),
            )
        ]

    def warming(self):
        """reports.tasks.warm() from an empty cache, once: how long after midnight, or after a
        change every county reads, the background takes to compute every county's parts."""
        caches[parts.CACHE].clear()
        started = time.perf_counter()
        tasks.warm(timezone.localdate())
        took = (time.perf_counter() - started) * 1000
        return {"figure": "warm_parts", "database": connection.vendor, "runs": 1, **summary([took])}

    def growth(self, figures, path):
        try:
            with open(path, encoding="utf-8") as lines:
                before = {
                    row["figure"]: row
                    for row in map(json.loads, filter(str.strip, lines))
                    if "median_ms" in row
                }
        except (OSError, ValueError) as error:
            raise CommandError(f"无法读取基准文件 {path}：{error}") from error
        for figure in figures:
            earlier = before.get(figure["figure"])
            if earlier:
                ratio = figure["median_ms"] / earlier["median_ms"]
                row = {
                    "figure": f"growth_{figure['figure']}",
                    "baseline_ms": earlier["median_ms"],
                    "median_ms": figure["median_ms"],
                    "growth": round(ratio, 2),
                }
                if figure["figure"] not in NO_GOAL:
                    row |= {"goal": f"≤ {GOAL_GROWTH} ×", "meets_goal": ratio <= GOAL_GROWTH}
                self.emit(row)

    def get(self, client, url, params):
        response = client.get(url, params)
        if response.status_code != 200:
            raise CommandError(f"{url} 返回 {response.status_code}。")
        return response

    def emit(self, row):
        self.stdout.write(json.dumps(row, ensure_ascii=False))
        self.stdout.flush()


def summary(timings):
    ordered = sorted(timings)
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[math.ceil(0.95 * len(ordered)) - 1], 1),
    }
