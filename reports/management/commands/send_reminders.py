"""Send the day's reminders once: in the platform (the bell) and, where wanted, by email."""

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from pairings.templatetags.people import person
from reports import reminders


def _date(value):
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"日期格式应为 YYYY-MM-DD：{value}") from error


def _who(user):
    name, username = person(user), user.get_username()
    return username if name == username else f"{name}（{username}）"


class Command(BaseCommand):
    help = (
        "发送提醒（供 cron 每天运行一次）：制度本期将结束仍无活动（提醒双方书记）、活动提交后"
        "超过规定天数未确认（提醒对方书记）、活动被退回未重新提交（提醒登记方书记）、整改事项"
        "和实事承诺过了期限（同时提醒上级党组织）。同一事项对同一用户只提醒一次，重复运行不会"
        "重复发送；每人每次最多一封邮件，关闭了邮件提醒或没有邮箱的用户只收站内提醒。"
        "--dry-run 只列出将要发送的提醒，不写入、不发送。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="只列出将要发送的提醒，不写入、不发送。"
        )
        parser.add_argument(
            "--today",
            type=_date,
            help="按哪一天计算（YYYY-MM-DD），默认今天；用于补发或测试。",
        )

    def handle(self, *, dry_run, today, **options):
        today = today or timezone.localdate()
        summary = reminders.send(reminders.due_reminders(today), dry_run=dry_run)
        if dry_run:
            self.stdout.write(f"演练（--dry-run）：按 {today} 计算，不写入、不发送。")
            for reminder in summary.new:
                mark = "（邮件）" if reminder.user in summary.emailed else ""
                label = reminders.Kind(reminder.kind).label
                self.stdout.write(f"  {_who(reminder.user)}【{label}】{reminder.title}{mark}")
        for label, count in summary.by_kind().items():
            self.stdout.write(f"  {label}：{count} 条")
        for user, count in summary.by_user():
            emailed = "，含邮件" if user in summary.emailed else ""
            self.stdout.write(f"  {_who(user)}：{count} 条{emailed}")
        verb = "将发送" if dry_run else "已发送"
        self.stdout.write(
            f"{verb}：站内提醒 {len(summary.new)} 条，邮件 {summary.email_count} 封"
            f"（此前已提醒、本次跳过 {summary.already_sent} 条）。"
        )
        if summary.failed:
            names = "、".join(user.get_username() for user in summary.failed)
            self.stderr.write(f"邮件发送失败 {len(summary.failed)} 封：{names}（站内提醒已保留）。")
