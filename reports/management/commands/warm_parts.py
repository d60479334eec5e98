"""Compute the day's county parts (reports.parts) before anyone asks: for cron, after midnight.
The year's dashboard, the compliance summary's lists and the report so far this year."""

import time

from django.core.cache import caches
from django.core.management.base import BaseCommand
from django.utils import timezone

from pairings import access
from pairings.models import Organization
from reports import parts, situation
from reports.compliance_views import SUMMARY_LIST_LIMIT


class Command(BaseCommand):
    help = (
        "预先计算各县今天的首页和情况汇报数字并放入缓存（供 cron 每天零点后运行一次）："
        "本年度首页、制度落实页和本年截至今天的情况汇报初稿。各县的数字按日期缓存，当天第一次打开全省或全市首页时"
        "不必逐县现算。多台应用服务器应设置共享缓存 CACHE_URL，否则只有运行本命令的进程能用上。"
    )

    def handle(self, **options):
        started = time.perf_counter()
        today = timezone.localdate()
        year = parts.year_of(today)
        cache = caches[parts.CACHE]
        for root in Organization.objects.alive().filter(depth=1).order_by("path"):
            plan = parts.plan((root.path,))
            if plan is None:
                self.stdout.write(f"{root.name}：不是整县的范围，首页现算，无需预先计算。")
                continue
            with parts.filling():
                parts.compute(
                    (root.path,),
                    access.pairings_under(root),
                    *year,
                    today=today,
                    organizations=Organization.objects.alive().under(root),
                )
                parts.short_lists(
                    plan, access.pairings_under(root), today, limit=SUMMARY_LIST_LIMIT
                )
                situation.draft(root, year[0], today, today=today)
            self.stdout.write(f"{root.name}：{len(plan.counties)} 个县的数字已算好。")
        self.stdout.write(
            f"用时 {time.perf_counter() - started:.1f} 秒（缓存：{cache.__class__.__name__}）。"
        )
