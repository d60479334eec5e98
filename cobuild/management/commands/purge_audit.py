import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from cobuild.models import AuditEvent


class Command(BaseCommand):
    help = (
        "删除指定日期之前的审计日志。审计日志至少保留 COBUILD['AUDIT_RETENTION_DAYS'] 天"
        "（不少于180天）：日期晚于保留期限时拒绝执行，数据库也拒绝删除更新的记录。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--before",
            required=True,
            type=datetime.date.fromisoformat,
            help="删除该日期（YYYY-MM-DD，当地时间0点）之前的记录。",
        )
        parser.add_argument("--dry-run", action="store_true", help="只统计，不删除。")

    def handle(self, *args, before, dry_run, **options):
        days = settings.COBUILD["AUDIT_RETENTION_DAYS"]
        earliest_allowed = timezone.localdate() - datetime.timedelta(days=days)
        if before > earliest_allowed:
            raise CommandError(
                f"审计日志至少保留{days}天：只能删除{earliest_allowed:%Y-%m-%d}之前的记录，"
                f"不能删除{before:%Y-%m-%d}之前的。"
            )
        cutoff = timezone.make_aware(datetime.datetime.combine(before, datetime.time.min))
        rows = AuditEvent.objects.filter(time__lt=cutoff)
        if dry_run:
            self.stdout.write(f"将删除{rows.count()}条{before:%Y-%m-%d}之前的审计日志。")
            return
        with transaction.atomic():
            deleted, _ = rows.delete()
        self.stdout.write(f"已删除{deleted}条{before:%Y-%m-%d}之前的审计日志。")
