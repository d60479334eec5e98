"""Compute the day's county parts (reports.parts) before anyone asks: for cron, after midnight.
The year's dashboard, the compliance summary's lists and the report so far this year."""

import time

from django.core.cache import caches
from django.core.management.base import BaseCommand
from django.utils import timezone

from reports import parts, tasks


class Command(BaseCommand):
    help = (
        "预先计算各县今天的首页和情况汇报数字并放入缓存：本年度首页、制度落实页和本年截至今天的情况汇报初稿。"
        "各县的数字按日期缓存；应用每天收到第一个请求后也会在后台计算一次，本命令供 cron 在零点后运行，"
        "使当天第一次打开全省或全市首页时不必逐县现算。多台应用服务器应设置共享缓存 CACHE_URL，"
        "否则只有运行本命令的进程能用上。"
    )

    def handle(self, **options):
        started = time.perf_counter()
        for name, counties in tasks.warm(timezone.localdate()):
            if counties is None:
                self.stdout.write(f"{name}：不是整县的范围，首页现算，无需预先计算。")
            else:
                self.stdout.write(f"{name}：{counties} 个县的数字已算好。")
        cache = caches[parts.CACHE]
        self.stdout.write(
            f"用时 {time.perf_counter() - started:.1f} 秒（缓存：{cache.__class__.__name__}）。"
        )
