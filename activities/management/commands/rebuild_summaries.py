"""Recompute the summary tables from activities, participations and outcomes."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from activities import summaries
from activities.models import ActivitySummary, OutcomeSummary, ParticipantYear
from reports import stamps


class Command(BaseCommand):
    help = (
        "从活动、参加党员和成效记录重新计算汇总表（活动月度汇总、成效月度汇总、党员年度参加月份）。"
        "汇总表由数据库触发器随每次写入同步更新，一般无需运行；--check 只核对不修改，"
        "发现不一致时列出并以状态 1 退出。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="只核对汇总表与重新计算的结果是否一致。"
        )

    def handle(self, *, check, **options):
        started = time.perf_counter()
        if check:
            found = summaries.differences()
            for table, (stored, computed) in found.items():
                self.stdout.write(
                    f"{table}：{sum(stored.values())} 行多余或有误，{sum(computed.values())} 行缺失"
                )
                for row in list(computed)[:5]:
                    self.stdout.write(f"  应为 {row}")
            if found:
                raise CommandError("汇总表与重新计算的结果不一致，请运行 rebuild_summaries 重建。")
            self.stdout.write(
                self.style.SUCCESS(f"汇总表一致（用时 {time.perf_counter() - started:.1f} 秒）。")
            )
            return
        # The stamps' triggers would fire once per rebuilt row; every county is renewed instead.
        with transaction.atomic(), stamps.paused():
            summaries.rebuild()
        self.stdout.write(self.style.SUCCESS("已重建汇总表："))
        for model in (ActivitySummary, OutcomeSummary, ParticipantYear):
            self.stdout.write(f"  {model._meta.verbose_name}：{model.objects.count()} 行")
        self.stdout.write(f"  用时：{time.perf_counter() - started:.1f} 秒")
