"""Draft a situation report from the command line, as the report pages do (nothing is saved)."""

import datetime
from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.management.base import BaseCommand, CommandError
from django.template.loader import render_to_string
from django.utils import timezone

from pairings.models import Organization
from reports import situation


def _date(value):
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"日期格式应为 YYYY-MM-DD：{value}") from error


class Command(BaseCommand):
    help = (
        "根据数据起草“互助共建”活动开展情况汇报（与网页中的初稿相同，不保存版本）。"
        "--format txt 输出纯文本（逐部分），html 输出可打印的网页（A4、公文页边距），"
        "docx 输出 Word 文档。--output 省略或为 - 时 txt 和 html 输出到屏幕。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--org", required=True, help="汇报范围的组织编码（县委、乡镇党委或工委）。"
        )
        parser.add_argument("--start", required=True, type=_date, help="起始日期 YYYY-MM-DD。")
        parser.add_argument("--end", required=True, type=_date, help="截止日期 YYYY-MM-DD。")
        parser.add_argument(
            "--format",
            dest="fmt",
            choices=["docx", "html", "txt"],
            default="txt",
            help="输出格式。",
        )
        parser.add_argument("--output", default="-", help="输出文件路径；- 表示屏幕。")
        parser.add_argument(
            "--today", type=_date, help="按哪一天判断逾期和本期（YYYY-MM-DD），默认今天。"
        )

    def handle(self, *, org, start, end, fmt, output, today, **options):
        organization = Organization.objects.alive().filter(code=org).first()
        if organization is None:
            raise CommandError(f"找不到组织编码为 {org} 的党组织。")
        if organization.is_branch:
            raise CommandError("汇报范围应是县委、乡镇党委或工委，不能是党支部。")
        if end < start:
            raise CommandError("截止日期不能早于起始日期。")
        today = today or timezone.localdate()
        drafted = situation.draft(organization, start, end, today=today)
        if fmt == "txt":
            content = situation.plain_text(drafted.title, drafted.sections, today).encode()
        elif fmt == "html":
            css = Path(finders.find("css/report.css")).read_text(encoding="utf-8")
            content = render_to_string(
                "reports/report_print.html",
                {
                    "title": drafted.title,
                    "document": situation.document(drafted.sections),
                    "date_text": situation.date_cn(today),
                    "inline_css": css,
                },
            ).encode()
        else:
            if output == "-":
                raise CommandError("Word 文档请用 --output 指定文件路径。")
            try:
                content = situation.render_docx(drafted.title, drafted.sections, today)
            except ImportError as error:
                raise CommandError("Word 导出暂不可用（缺少 reports.docx）。") from error
        if output == "-":
            self.stdout.write(content.decode(), ending="")
            return
        Path(output).write_bytes(content)
        self.stdout.write(f"已写入 {output}（{drafted.title}，{len(content)} 字节）。")
