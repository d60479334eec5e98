"""Time the dashboard as a county staff user of an organization sees it."""

import json
import math
import statistics
import time

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pairings.models import Assignment, Organization
from reports import situation
from reports.views import CUSTOM, PERIODS


class Command(BaseCommand):
    help = (
        "测量首页看板的服务器耗时：以某党组织（默认根组织）县委组织部身份渲染看板 N 次"
        "（先预热一次，不计入），每次输出一行 JSON，最后一行给出中位数、P95（毫秒）和 SQL 查询数。"
        "测量用的临时账号在事务中创建，结束时回滚，数据库不留任何改动。"
        "随后同样测量该范围本年度情况汇报的起草和 Word 导出耗时。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", help="党组织编码，默认根组织（县委）。")
        parser.add_argument("--runs", type=int, default=7, help="测量次数，默认 7。")
        parser.add_argument(
            "--period",
            choices=[*PERIODS, CUSTOM],
            default="year",
            help="统计期间，默认本年度。",
        )
        parser.add_argument("--start", help="自定义期间的起始日期（YYYY-MM-DD）。")
        parser.add_argument("--end", help="自定义期间的截止日期（YYYY-MM-DD）。")

    def handle(self, *, org, runs, period, start, end, **options):
        if runs < 1:
            raise CommandError("--runs 至少为 1。")
        organizations = Organization.objects.alive()
        scope = (
            organizations.filter(code=org).first()
            if org
            else organizations.filter(depth=1).order_by("path").first()
        )
        if scope is None:
            raise CommandError(f"没有编码为 {org} 的党组织。" if org else "数据库中没有党组织。")
        params = {"period": period}
        if period == CUSTOM:
            params.update({k: v for k, v in (("start", start), ("end", end)) if v})
        if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        with transaction.atomic():
            user = User.objects.create_user("bench-dashboard-temporary", password=None)
            Assignment.objects.create(
                user=user, organization=scope, role=Assignment.Role.COUNTY_STAFF
            )
            client = Client()
            client.force_login(user)
            url = reverse("home")
            self.get(client, url, params)  # warm-up: templates, URL resolver, connection
            timings = []
            for run in range(1, runs + 1):
                started = time.perf_counter()
                self.get(client, url, params)
                ms = (time.perf_counter() - started) * 1000
                timings.append(ms)
                self.stdout.write(json.dumps({"run": run, "ms": round(ms, 1)}))
            with CaptureQueriesContext(connection) as captured:
                self.get(client, url, params)
            transaction.set_rollback(True)
        ordered = sorted(timings)
        self.stdout.write(
            json.dumps(
                {
                    "org": scope.code,
                    "scope": scope.name,
                    "params": params,
                    "database": connection.vendor,
                    "runs": runs,
                    "median_ms": round(statistics.median(ordered), 1),
                    "p95_ms": round(ordered[math.ceil(0.95 * len(ordered)) - 1], 1),
                    "min_ms": round(ordered[0], 1),
                    "queries": len(captured.captured_queries),
                    "sql_ms": round(
                        sum(float(q["time"]) for q in captured.captured_queries) * 1000, 1
                    ),
                },
                ensure_ascii=False,
            )
        )

        self.bench_report(scope, runs)

    def bench_report(self, scope, runs):
        """The situation report of the scope for this year: the draft, then the .docx."""
        today = timezone.localdate()
        start = today.replace(month=1, day=1)
        draft_ms, docx_ms = [], []
        for _ in range(runs):
            started = time.perf_counter()
            drafted = situation.draft(scope, start, today, today=today)
            middle = time.perf_counter()
            situation.render_docx(drafted.title, drafted.sections, today)
            draft_ms.append((middle - started) * 1000)
            docx_ms.append((time.perf_counter() - middle) * 1000)
        for name, timings in (("report_draft", draft_ms), ("docx_export", docx_ms)):
            ordered = sorted(timings)
            self.stdout.write(
                json.dumps(
                    {
                        "figure": name,
                        "org": scope.code,
                        "database": connection.vendor,
                        "runs": runs,
                        "median_ms": round(statistics.median(ordered), 1),
                        "p95_ms": round(ordered[math.ceil(0.95 * len(ordered)) - 1], 1),
                    }
                )
            )

    def get(self, client, url, params):
        response = client.get(url, params)
        if response.status_code != 200:
            raise CommandError(f"看板返回 {response.status_code}。")
        return response
