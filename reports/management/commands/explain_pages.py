"""Open every page on a real PostgreSQL database and EXPLAIN what it asks: no sequential scan of
the big tables (activities, participations, outcomes, members) on any page.

    DATABASE_URL=postgres://…/city manage.py explain_pages [--username NAME] [--page CASE …]

The pages are those whose query counts tests/test_query_counts.py pins (reports/pages.py). Each
is requested through django.test.Client as its role — county staff as the account with the widest
scope (county staff at a root organization, or --username), the other roles as the first account
that holds them — on the newest object of its kind that account may open. Every statement a page
runs is captured (connection.execute_wrapper on every database alias) and EXPLAINed; a plan
with a Seq Scan on a big table is printed with its statement, and the command exits 1.

Signing in writes a session row for each account; downloads (--downloads) also write their audit
rows, and at city scale an export takes minutes, so they are left out unless asked for.
"""

import json
import logging
import time
from contextlib import ExitStack

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from django.test import Client
from django.test.utils import override_settings
from django_otp import DEVICE_ID_SESSION_KEY

from activities.models import Activity, Outcome, Participation
from pairings.models import Assignment, Member, Pairing
from reports import pages

Role = Assignment.Role
BIG_TABLES = [m._meta.db_table for m in (Activity, Participation, Outcome, Member)]
EXPLAINED = ("SELECT", "WITH", "UPDATE", "DELETE")
# The session marker of a sign-in that passed the second factor (as tests/conftest.py sets it).
SECOND_FACTOR = "explain_pages"


def seq_scans(plan, tables):
    """The Seq Scan nodes on `tables` in an EXPLAIN (FORMAT JSON) plan, depth first."""
    found = []
    stack = [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in tables:
            found.append(node)
        stack.extend(reversed(node.get("Plans", [])))
    return found


def explain(alias, sql, params, *, text=False):
    """The plan of one statement: parsed JSON, or with text=True the lines EXPLAIN prints."""
    with connections[alias].cursor() as cursor:
        cursor.execute(f"EXPLAIN {'' if text else '(FORMAT JSON) '}{sql}", params)
        if text:
            return [row[0] for row in cursor.fetchall()]
        plan = cursor.fetchone()[0]
    return json.loads(plan) if isinstance(plan, str) else plan


class _quiet:
    def __init__(self, logger):
        self.logger = logger

    def __enter__(self):
        self.was = self.logger.disabled
        self.logger.disabled = True

    def __exit__(self, *exc):
        self.logger.disabled = self.was


class Command(BaseCommand):
    help = (
        "在 PostgreSQL 上逐个打开各页面（与查询数测试同一份页面清单），对每条 SQL 做 EXPLAIN，"
        "列出对大表（活动、参加党员、成效、党员）的顺序扫描（Seq Scan）；发现任何一处即以状态 1 "
        "退出。县委组织部页面用根组织上的县委组织部账号（或 --username）打开，其他角色用第一个"
        "持有该角色的账号。会为这些账号各写一条会话记录；导出和下载只在 --downloads 时请求。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", help="县委组织部页面用这个账号打开（默认：范围最大的）")
        parser.add_argument(
            "--page",
            action="append",
            dest="cases",
            metavar="CASE",
            help="只检查这些页面（reports/pages.py 中的名称，可重复），如 activity-list",
        )
        parser.add_argument(
            "--downloads", action="store_true", help="也请求导出和下载（写审计日志，大库上很慢）"
        )
        parser.add_argument(
            "--plans", action="store_true", help="列出每条有顺序扫描的语句的完整查询计划"
        )
        parser.add_argument(
            "--table",
            action="append",
            dest="tables",
            metavar="TABLE",
            help=f"把这张表也算作大表（默认：{'、'.join(BIG_TABLES)}）",
        )

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError(
                "explain_pages 只能在 PostgreSQL 上运行：SQLite 的查询计划说明不了生产库。"
                "请设置 DATABASE_URL=postgres://… 指向一个有数据（并已 ANALYZE）的库。"
            )
        tables = set(BIG_TABLES) | set(options["tables"] or ())
        chosen = [
            p
            for p in pages.PAGES
            if (options["downloads"] or not p.download)
            and (not options["cases"] or p.case in options["cases"])
        ]
        unknown = set(options["cases"] or ()) - {p.case for p in pages.PAGES}
        if unknown:
            raise CommandError(f"没有这些页面：{'、'.join(sorted(unknown))}")
        accounts = self.accounts(options["username"])
        found = 0
        # A page that answers 403 or 404 is reported in the walk, not logged with its traceback.
        request_log = logging.getLogger("django.request")
        with (
            override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]),
            _quiet(request_log),
        ):
            for page in chosen:
                found += self.check_page(page, accounts, tables, plans=options["plans"])
        if found:
            raise CommandError(f"发现 {found} 处大表顺序扫描（{'、'.join(sorted(tables))}）。")
        self.stdout.write(f"{len(chosen)} 个页面，没有大表顺序扫描。")

    def accounts(self, username):
        """role → the account that opens that role's pages (None: no such account here)."""
        assignments = Assignment.objects.filter(
            user__is_active=True, organization__deleted_at=None
        ).select_related("user", "organization")
        if username:
            staff = assignments.filter(user__username=username, role=Role.COUNTY_STAFF).first()
            if staff is None:
                raise CommandError(f"{username} 不是县委组织部账号。")
        else:
            staff = (
                assignments.filter(role=Role.COUNTY_STAFF)
                .order_by("organization__depth", "user_id")
                .first()
            )
        helpers = Pairing.objects.alive().values("helper_id")
        secretary = (
            assignments.filter(role=Role.SECRETARY, organization__in=helpers)
            .order_by("user_id")
            .first()
        )

        def first(role):
            return assignments.filter(role=role).order_by("organization__depth", "user_id").first()

        found = {
            pages.STAFF: staff,
            pages.SUPERVISOR: first(Role.SUPERVISOR),
            pages.VIEWER: first(Role.VIEWER),
            pages.SECRETARY: secretary,
            pages.AUDITOR: first(Role.AUDITOR),
        }
        for role, assignment in found.items():
            if assignment is None:
                self.stdout.write(f"（没有{role}账号：其页面跳过）")
            else:
                self.stdout.write(
                    f"{role}: {assignment.user.username}（{assignment.organization.name}）"
                )
        return {role: a.user if a else None for role, a in found.items()} | {pages.ANONYMOUS: None}

    def client_for(self, user):
        client = Client()
        if user is not None:
            client.force_login(user)
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = SECOND_FACTOR
            session.save()
        return client

    def check_page(self, page, accounts, tables, *, plans=False):
        """Request one page and EXPLAIN its statements; returns how many big seq scans."""
        user = accounts[page.role]
        if user is None and page.role != pages.ANONYMOUS:
            return 0
        target = pages.find_target(page.target, user) if page.target else None
        if page.target and target is None:
            self.stdout.write(f"- {page.case}: 跳过（{user.username} 没有可打开的 {page.target}）")
            return 0
        client = self.client_for(user)
        url = pages.url_of(page, target)
        statements = []

        def capture(execute, sql, params, many, context):
            statements.append((context["connection"].alias, sql, params, many))
            return execute(sql, params, many, context)

        started = time.monotonic()
        with ExitStack() as stack:
            for conn in connections.all():
                stack.enter_context(conn.execute_wrapper(capture))
            try:
                status = client.get(url, secure=True).status_code
            except Exception as error:  # a page that fails is reported, and the walk goes on
                status = f"出错：{type(error).__name__}: {error}"
        elapsed = time.monotonic() - started
        explained, scans = set(), []
        for alias, sql, params, many in statements:
            key = (alias, sql, repr(params))
            if many or key in explained or not sql.lstrip().upper().startswith(EXPLAINED):
                continue
            explained.add(key)
            for node in seq_scans(explain(alias, sql, params), tables):
                scans.append((node, sql, (alias, params)))
        mark = "✗" if scans else "✓"
        self.stdout.write(
            f"{mark} {page.case}  {url}  {status}  {len(statements)} 条语句  {elapsed:.2f}s"
        )
        for node, sql, (alias, params) in scans:
            rows = node.get("Plan Rows")
            where = f"  条件 {node['Filter'][:200]}" if node.get("Filter") else ""
            self.stdout.write(f"    Seq Scan {node['Relation Name']}（估计 {rows} 行）{where}")
            self.stdout.write(f"      {' '.join(sql.split())[:600]}")
            if plans:
                for line in explain(alias, sql, params, text=True):
                    self.stdout.write(f"      | {line}")
        return len(scans)
